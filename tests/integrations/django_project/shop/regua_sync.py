"""What regua hears of the shop: each change, once its transaction has committed."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_save
from django.dispatch import receiver

from regua import Contact, Event
from regua.integrations.django import record_event_on_commit, upsert_contact_on_commit
from shop.models import Customer, Order


def contact_of(customer: Customer) -> Contact:
    return Contact(
        str(customer.pk),
        attributes={"name": customer.name, "first_name": customer.name.split()[0]},
        consents={"email"} if customer.email_opt_in else set(),
        addresses={"email": customer.email},
    )


def event_of(order: Order) -> Event:
    return Event(
        str(order.customer_id),
        "order_placed",
        order.placed_at,
        id=str(order.pk),
        data={"order_id": order.pk, "total": order.total_cents / 100},
    )


@receiver(post_save, sender=Customer)
def customer_saved(sender: type[Customer], instance: Customer, **kwargs: Any) -> None:
    upsert_contact_on_commit(contact_of(instance))


@receiver(post_save, sender=Order)
def order_saved(sender: type[Order], instance: Order, created: bool, **kwargs: Any) -> None:
    if created:
        record_event_on_commit(event_of(instance))
