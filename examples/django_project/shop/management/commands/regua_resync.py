"""``manage.py regua_resync``: replay recent changes into regua, for what a lost hook missed."""

from __future__ import annotations

from argparse import ArgumentParser
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand
from django.db.models import Q
from django.utils import timezone

from regua.integrations.django import get_repository
from shop.models import Customer, Order
from shop.regua_sync import contact_of, event_of


class Command(BaseCommand):
    """Load the customers and orders changed lately into regua again."""

    help = (
        "Replay into regua the customers changed and the orders placed in the last DAYS "
        "days. Run it nightly: a hook lost between a commit and regua (a process killed "
        "then) is made good, and what regua already has is stored once, never sent twice."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        """``--days``."""
        parser.add_argument("--days", type=int, default=2, help="how far back (default 2)")

    def handle(self, *args: Any, **options: Any) -> None:
        """Replay; print how many events regua was missing."""
        since = timezone.now() - timedelta(days=options["days"])
        orders = Order.objects.filter(placed_at__gte=since)
        customers = Customer.objects.filter(
            Q(updated_at__gte=since) | Q(orders__placed_at__gte=since)
        ).distinct()
        stored = get_repository().bulk_load(
            (contact_of(customer) for customer in customers.iterator(chunk_size=2000)),
            (event_of(order) for order in orders.order_by("pk").iterator(chunk_size=2000)),
        )
        self.stdout.write(f"{stored} missing events stored")
