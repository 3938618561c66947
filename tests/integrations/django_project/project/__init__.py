"""A minimal Django project running regua: a shop with customers and orders."""
