"""What regua hears of the shop: each change, once the transaction that made it commits."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from regua import Contact, Event
from regua.integrations.django import record_event_on_commit, upsert_contact_on_commit
from shop.models import Customer, Order


def contact_of(customer: Customer) -> Contact:
    """The customer as regua sees them: what the cadences read, nothing more."""
    return Contact(
        str(customer.pk),
        attributes={"name": customer.name, "first_name": customer.name.split()[0]},
        consents={"email"} if customer.marketing_opt_in else set(),
        addresses={"email": customer.email},
    )


def event_of(order: Order) -> Event:
    """The order as an event: its id is the order's, so a replay is stored once."""
    return Event(
        str(order.customer_id),
        "order_placed",
        order.placed_at,
        id=str(order.pk),
        data={"order_id": order.pk, "total": f"{order.total_cents / 100:.2f}"},
    )


@receiver(post_save, sender=Customer)
def customer_saved(sender: type[Customer], instance: Customer, **kwargs: Any) -> None:
    """A new or changed customer: regua gets the new version after the commit."""
    upsert_contact_on_commit(contact_of(instance))


@receiver(post_save, sender=Order)
def order_saved(sender: type[Order], instance: Order, created: bool, **kwargs: Any) -> None:
    """A new order: regua records it after the commit, never if it rolls back."""
    if created:
        record_event_on_commit(event_of(instance))
