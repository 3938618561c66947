"""Tell regua about a change once the transaction that made it has committed.

An order saved in a Django transaction must reach regua only if the transaction commits: a
rolled-back order must never be confirmed. Each helper registers the call with
`django.db.transaction.on_commit`: it runs after the commit of the transaction under way on
`using`, never if it rolls back, and at once when no transaction is open (autocommit).

There is a gap, as with every after-commit hook: a process that dies between the commit and
the hook loses the call (the order is saved, regua never hears of it). Close it with a
periodic re-sync that replays what the hooks send (`SQLRepository.bulk_load`, or the same
calls): `record_event` stores an event once per contact, name and id, so a replay stores
only what is missing and sends nothing twice.
"""

from __future__ import annotations

from django.db import transaction

from regua.integrations.django.configuration import get_repository
from regua.records import Contact, Event

__all__ = ["record_event_on_commit", "set_consent_on_commit", "upsert_contact_on_commit"]


def record_event_on_commit(event: Event, *, using: str | None = None, robust: bool = False) -> None:
    """Record `event` in regua (`Repository.record_event`) once the transaction commits.

    Args:
        event: The event. Give it the id of what it stands for (the order's primary key):
            a replay is then recognised and stored once.
        using: The database alias of the transaction to wait for, the one your models are
            saved in; Django's default database when None. It need not be regua's.
        robust: As for `transaction.on_commit`: when True, an error raised by the call is
            logged by Django instead of propagating to the code that committed.

    """
    transaction.on_commit(lambda: get_repository().record_event(event), using=using, robust=robust)


def upsert_contact_on_commit(
    contact: Contact, *, using: str | None = None, robust: bool = False
) -> None:
    """Store `contact` in regua (`Repository.upsert_contact`) once the transaction commits.

    The contact replaces the stored one whole: build it from your committed data. `using`
    and `robust` are as for `record_event_on_commit`.
    """
    transaction.on_commit(
        lambda: get_repository().upsert_contact(contact), using=using, robust=robust
    )


def set_consent_on_commit(
    contact_id: str,
    channel: str,
    granted: bool,
    *,
    using: str | None = None,
    robust: bool = False,
) -> None:
    """Grant or withdraw consent on `channel` (`Repository.set_consent`) after the commit.

    The contact must be in regua by then (`UnknownContactError` otherwise): register its
    `upsert_contact_on_commit` first in the same transaction, the hooks run in order.
    `using` and `robust` are as for `record_event_on_commit`.
    """
    transaction.on_commit(
        lambda: get_repository().set_consent(contact_id, channel, granted),
        using=using,
        robust=robust,
    )
