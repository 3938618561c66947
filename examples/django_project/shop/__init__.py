"""Loja Bonita's shop: customers and their orders."""
