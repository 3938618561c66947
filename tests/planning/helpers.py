"""Small builders shared by the planner tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Plan,
    Snapshot,
    Step,
    plan,
)

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
LISBON = ZoneInfo("Europe/Lisbon")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def local(tz: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=tz, fold=fold).astimezone(UTC)  # type: ignore[misc]


def cadence(*steps: Step, **kwargs: Any) -> Cadence:
    kwargs.setdefault(
        "channels",
        [Channel("email", cost=0.001), Channel("sms", cost=0.05), Channel("phone", cost=2.0)],
    )
    return Cadence("test", steps=list(steps), **kwargs)


def contact(
    contact_id: str = "c1",
    *,
    tz: str | None = None,
    consents: Iterable[str] = ("email", "sms", "phone"),
    created_at: datetime | None = None,
    **attributes: Any,
) -> Contact:
    return Contact(
        contact_id,
        attributes=attributes,
        timezone=tz,
        consents=set(consents),
        addresses={"email": f"{contact_id}@example.com", "sms": "+5511999990000", "phone": "+1"},
        created_at=created_at,
    )


def sent(
    c: Cadence, step: str, contact_id: str, key: str, at: datetime, channel: str = "email"
) -> Delivery:
    return Delivery(c.name, step, contact_id, key, DeliveryStatus.SENT, at, channel=channel)


def sent_as_planned(action: DueAction, at: datetime) -> Delivery:
    """The delivery the scheduler records for `action` sent at `at` on its first channel."""
    return action.outcome(DeliveryStatus.SENT, at, channel=action.channel)


class Journey:
    """Plan a contact forward in time, recording every due action as sent at once."""

    def __init__(self, c: Cadence, who: Contact, events: Iterable[Event] = ()) -> None:
        self.cadence = c
        self.contact = who
        self.events = list(events)
        self.deliveries: list[Delivery] = []

    def plan(self, now: datetime) -> Plan:
        return plan(self.cadence, Snapshot(self.contact, self.events, self.deliveries), now)

    def emit(self, name: str, at: datetime, **data: Any) -> Event:
        event = Event(self.contact.id, name, at, data=data)
        self.events.append(event)
        return event

    def run(self, start: datetime, end: datetime) -> list[tuple[datetime, str, str]]:
        """Wake at every next_wakeup from `start` to `end`; return (instant, step, channel)."""
        out: list[tuple[datetime, str, str]] = []
        now = start
        for _ in range(10_000):
            result = self.plan(now)
            for action in result.due:
                self.deliveries.append(sent_as_planned(action, now))
                out.append((now, action.step, action.channel))
            self.deliveries.extend(o.as_delivery() for o in result.closed)
            if result.due or result.closed:
                continue  # outcomes recorded: re-plan at the same instant (followers)
            if result.next_wakeup is not None:
                assert result.next_wakeup > now
            # A new event wakes the contact too, as the scheduler does.
            upcoming = [e.at for e in self.events if e.at > now]
            wakeups = [t for t in (result.next_wakeup, min(upcoming, default=None)) if t]
            if not wakeups or min(wakeups) > end:
                return out
            now = min(wakeups)
        raise AssertionError("journey did not settle")
