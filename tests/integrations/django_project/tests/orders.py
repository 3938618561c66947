"""Placing orders, as the shop's views would."""

from __future__ import annotations

from datetime import datetime, timezone

from shop.models import Customer, Order

PLACED = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)


def place_order(name: str = "Ana Souza", email: str = "ana@example.com") -> Order:
    """A new customer and their order, each saved in its own (autocommit) transaction."""
    customer = Customer.objects.create(name=name, email=email)
    return Order.objects.create(customer=customer, total_cents=12990, placed_at=PLACED)
