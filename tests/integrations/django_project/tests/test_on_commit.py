"""An order reaches regua once its transaction commits, and never when it rolls back."""

from __future__ import annotations

import pytest
from django.db import transaction
from orders import PLACED
from shop.models import Customer, Order
from shop.regua_sync import event_of

from regua import Event, SQLRepository
from regua.integrations.django import record_event_on_commit, set_consent_on_commit


def events(repository: SQLRepository, contact_id: str) -> list[Event]:
    return [item for item in repository.history(contact_id) if isinstance(item, Event)]


def test_a_committed_order_is_recorded_after_the_commit(repository: SQLRepository) -> None:
    with transaction.atomic():
        ana = Customer.objects.create(name="Ana Souza", email="ana@example.com")
        order = Order.objects.create(customer=ana, total_cents=12990, placed_at=PLACED)
        assert repository.get_contact(str(ana.pk)) is None  # not before the commit
    assert repository.get_contact(str(ana.pk)).addresses == {"email": "ana@example.com"}
    [event] = events(repository, str(ana.pk))
    assert (event.name, event.id, event.at, event.data) == (
        "order_placed",
        str(order.pk),
        PLACED,
        {"order_id": order.pk, "total": 129.9},
    )
    # The nightly re-sync replays it: stored once.
    assert repository.record_event(event_of(order)) is False
    assert len(events(repository, str(ana.pk))) == 1


def order_refused(total_cents: int, customer: Customer | None = None) -> None:
    """Save a customer (unless given) and an order, then fail: the transaction rolls back."""
    with transaction.atomic():
        if customer is None:
            customer = Customer.objects.create(name="Ana Souza", email="ana@example.com")
        Order.objects.create(customer=customer, total_cents=total_cents, placed_at=PLACED)
        raise RuntimeError("payment refused")


def test_a_rolled_back_order_is_never_recorded(repository: SQLRepository) -> None:
    with pytest.raises(RuntimeError, match="payment refused"):
        order_refused(12990)
    assert not Customer.objects.exists()
    assert repository.contact_ids() == []


def test_a_rolled_back_savepoint_drops_its_hooks_only(repository: SQLRepository) -> None:
    with transaction.atomic():
        ana = Customer.objects.create(name="Ana Souza", email="ana@example.com")
        with pytest.raises(RuntimeError):
            order_refused(100, ana)  # a savepoint, rolled back
        kept = Order.objects.create(customer=ana, total_cents=200, placed_at=PLACED)
    assert [event.id for event in events(repository, str(ana.pk))] == [str(kept.pk)]


def test_without_a_transaction_the_call_is_immediate(repository: SQLRepository) -> None:
    ana = Customer.objects.create(name="Ana Souza", email="ana@example.com")  # autocommit
    assert repository.get_contact(str(ana.pk)).consents == {"email"}
    with transaction.atomic():
        ana.email_opt_in = False
        ana.save()
        set_consent_on_commit(str(ana.pk), "email", False)
        assert repository.get_contact(str(ana.pk)).consents == {"email"}
    assert repository.get_contact(str(ana.pk)).consents == set()


def test_a_failing_hook_is_logged_when_robust(
    repository: SQLRepository, caplog: pytest.LogCaptureFixture
) -> None:
    unknown = Event("nobody", "order_placed", PLACED, id="1")
    with transaction.atomic():
        Customer.objects.create(name="Ana Souza", email="ana@example.com")
        record_event_on_commit(unknown, robust=True)
    assert "Error calling" in caplog.text
    assert Customer.objects.count() == 1
