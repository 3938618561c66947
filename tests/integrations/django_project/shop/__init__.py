"""The shop: customers and their orders, kept in sync with regua."""
