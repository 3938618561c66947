"""The plain-Python floor: four lifecycle steps' due messages without regua, beside regua.

    python benchmarks/floor.py                          # 200 contacts per history length
    python benchmarks/floor.py --events 10 100 1000 --contacts 500 --rounds 7 --json floor.json
    python benchmarks/floor.py --events 10 1000 --contacts 50 --rounds 3   # a quick look

What is the least a Python program can spend deciding what is due for one contact? The floor
below is what a competent developer would write for four steps of the e-commerce lifecycle
cadence (``examples/ecommerce_lifecycle.py``), with dicts, `datetime` and `zoneinfo`, and no
regua:

* ``order_confirmation``: on ``order_placed``, at once, transactional (no consent needed);
* ``welcome``: on ``signed_up``, two calendar days later (local wall clock), then the next
  10:00 local;
* ``cart_reminder``: on ``cart_abandoned``, two hours later, cancelled by an
  ``order_placed`` after the cart;
* ``birthday``: every year on the ``birth_date`` attribute at 09:00 local, expired 12 hours
  later; never before the contact entered the base, nor in the year of birth.

All four by e-mail, with no quiet hours and no caps. The floor is flat in the length of the
history: the application keeps, per customer, what is still open (the triggering events
whose occurrence has no recorded delivery: an event appends to it, a recorded delivery
removes from it) and the instant of the latest order, and an evaluation walks only that;
deliveries recorded so far are a set of occurrence keys. Building that state from the
history (`customer`) is what the application does as events arrive, and is not timed.

Importing this module imports no regua: only the functions of the regua side do. That side
(below the floor) builds the same four steps as a
`regua.Cadence` and times `regua.plan` on the contact's snapshot (the whole history and
every recorded delivery, as a repository reads it; in the folded regime, what a repository
with a stored fold reads).

The base is seeded and synthetic (the profile of ``planner.py``: five timezones, consents,
birthdays, sign-ups over three years; each contact exactly N events of logins, site visits,
orders placed/shipped/delivered and abandoned carts, a cart followed by an order now and
then, over at least 3N hours of its life). One in twenty contacts has a birthday within a
day of ``now``, so that birthdays are due, waiting and expired at ``now``. Two regimes per
history length:

* **steady state**: what a scheduler running until a day before ``now`` recorded
  (``planner.settle``'s loop at ``now - --settled-hours``, on the events known then: every
  closed occurrence with its reason, every due action as sent at its due instant, when a
  scheduler running all along sends it, these four steps having no caps and no quiet
  hours), and every event since;
* **folded**: the same, as a repository with a fold reads it: the history known at the
  settle instant folded there (`regua.fold`), and the events since on top; regua plans the
  folded snapshot (the floor's side is the steady state's again);
* **first sight**: nothing recorded; the floor then walks every triggering event.

Beside them, in the same rounds, regua with nothing to plan: the first history length's
contacts without their events and birthday, what a plan costs before it computes anything.

Both sides must give the same set of (contact, step, due instant) at ``now``: checked and
printed (``same set: True``) for every row, and, first sight, on a base of the shortest
histories, at ``--check-instants`` seeded instants of the last year and at each contact's
edges (a second before and at its due instants; its birthdays at 00:00, 09:00 and 21:00
local, one contact in seven born on Feb 29). Times are CPU time (`time.process_time`) of a
pass over the contacts, the two sides alternating, `--rounds` rounds; the medians are
reported, per contact.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import statistics
import sys
import time as _time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from regua import Cadence, Snapshot

UTC = timezone.utc
NOW = datetime(2026, 5, 4, 15, 0, tzinfo=UTC)  # planner.NOW: a Monday, 12:00 in Sao Paulo
YEARS = 3
TIMEZONES = (
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/Lisbon",
    "Asia/Kolkata",
    "Australia/Sydney",
)
CHANNELS = ("email", "sms", "whatsapp", "phone")


# --- the synthetic base: plain Python ------------------------------------------------------------


@dataclass(slots=True)
class Person:
    """One customer as the application stores it: a profile and its events."""

    id: str
    timezone: str
    tier: str
    birth_date: date | None
    created_at: datetime
    consents: frozenset[str]
    addresses: dict[str, str]
    preferences: tuple[str, ...]
    # (name, id, instant, data), in the order they happened.
    events: list[tuple[str, str, datetime, dict[str, str] | None]]


def _birth(rng: random.Random, now: datetime) -> date:
    year = rng.randrange(1950, 2006)
    if rng.random() < 0.05:  # a birthday within a day of `now`
        day = now.date() + timedelta(days=rng.randint(-1, 1))
        return date(year, day.month, min(day.day, 28) if day.month == 2 else day.day)
    return date(year, 1, 1) + timedelta(days=rng.randrange(365))


def _order(
    out: list[tuple[str, str, datetime, dict[str, str] | None]],
    rng: random.Random,
    prefix: str,
    at: datetime,
    now: datetime,
) -> None:
    order = f"{prefix}-o{len(out)}"
    data = {"order": order}
    out.append(("order_placed", order, at, data))
    shipped = at + timedelta(hours=rng.uniform(4, 48))
    delivered = shipped + timedelta(days=rng.uniform(1, 6))
    for name, when in (("order_shipped", shipped), ("order_delivered", delivered)):
        if when <= now:
            out.append((name, f"{order}-{name}", when, data))


def person(rng: random.Random, contact_id: str, count: int, now: datetime) -> Person:
    """A customer with exactly `count` events (the first its sign-up), all at or before `now`."""
    span = timedelta(days=365 * YEARS)
    # Sign-ups spread over the three years, a few very recent (welcome still pending); a long
    # history is a long life: at least 3 hours per event (up to the three years).
    age = span * (rng.random() ** 1.5) + timedelta(minutes=rng.randrange(60))
    created_at = now - max(age, min(span, timedelta(hours=3 * count)))
    consents = {channel for channel in CHANNELS if rng.random() < 0.7}
    if rng.random() < 0.8:
        consents.add("email")
    addresses = {}
    if rng.random() < 0.97:
        addresses["email"] = f"{contact_id}@example.com"
    if rng.random() < 0.85:
        addresses["sms"] = addresses["whatsapp"] = f"+55119{rng.randrange(10**8):08d}"
    if rng.random() < 0.3:
        addresses["phone"] = f"+5511{rng.randrange(10**8):08d}"
    preferences = tuple(rng.sample(CHANNELS, k=rng.randrange(0, 3)))
    birth = _birth(rng, now)
    tier = rng.choices(["bronze", "silver", "gold"], weights=[70, 22, 8])[0]

    events: list[tuple[str, str, datetime, dict[str, str] | None]] = [
        ("signed_up", f"{contact_id}-s", created_at, None)
    ]
    alive = (now - created_at).total_seconds()
    # An active life that fades: some contacts lapse after a while.
    lapse = rng.random() < 0.35
    horizon = alive * (rng.uniform(0.2, 0.7) if lapse else 1.0)
    while len(events) < count:
        at = created_at + timedelta(seconds=horizon * rng.random())
        kind = rng.choices(("login", "site_visit", "order", "cart"), weights=(40, 20, 20, 20))[0]
        if kind == "order":
            _order(events, rng, contact_id, at, now)
        elif kind == "cart":
            events.append(("cart_abandoned", f"{contact_id}-c{len(events)}", at, None))
            if rng.random() < 0.3:  # bought after all, sometimes before the reminder
                bought = at + timedelta(hours=rng.uniform(0.2, 6))
                if bought <= now:
                    _order(events, rng, contact_id, bought, now)
        else:
            events.append((kind, f"{contact_id}-e{len(events)}", at, None))
    del events[count:]
    events.sort(key=lambda event: event[2])
    return Person(
        contact_id,
        rng.choice(TIMEZONES),
        tier,
        birth if rng.random() < 0.9 else None,
        created_at,
        frozenset(consents),
        addresses,
        preferences,
        events,
    )


def people(
    count: int, events: int, seed: int, now: datetime, prefix: str = "c", past: bool = False
) -> list[Person]:
    """`count` seeded customers of `events` events each, ids ``<prefix>00000`` on.

    With `past`, each is the customer of `RECENT` events the same seed gives (whatever
    `events` is), with the rest of its events before its sign-up (`with_past`): the same
    recent life, a longer past.
    """
    rng = random.Random(seed)
    if not past:
        return [person(rng, f"{prefix}{i:05d}", events, now) for i in range(count)]
    found = [person(rng, f"{prefix}{i:05d}", min(events, RECENT), now) for i in range(count)]
    return [with_past(p, events, random.Random(f"{seed}-{p.id}")) for p in found]


RECENT = 10
"""The events of a customer's recent life, in a base built with a past (`people`)."""


def with_past(p: Person, count: int, rng: random.Random) -> Person:
    """`p` with events before its sign-up, up to `count` in all: a customer for longer.

    The sign-up moves to the start of the past, which holds one event per 3 hours on
    average (logins, site visits, orders, abandoned carts); everything from `p`'s former
    sign-up on is `p`'s, as it was.
    """
    extra = count - len(p.events)
    if extra <= 0:
        return p
    signup, *recent = p.events
    start = p.created_at - timedelta(hours=3 * extra)
    span = (p.created_at - start).total_seconds()
    older: list[tuple[str, str, datetime, dict[str, str] | None]] = []
    while len(older) < extra:
        at = start + timedelta(seconds=span * rng.random())
        kind = rng.choices(("login", "site_visit", "order", "cart"), weights=(40, 20, 20, 20))[0]
        if kind == "order":
            _order(older, rng, f"{p.id}-p", at, p.created_at)
        elif kind == "cart":
            older.append(("cart_abandoned", f"{p.id}-pc{len(older)}", at, None))
        else:
            older.append((kind, f"{p.id}-p{len(older)}", at, None))
    del older[extra:]
    events = [(signup[0], signup[1], start, signup[3]), *sorted(older, key=lambda e: e[2]), *recent]
    return dataclasses.replace(p, created_at=start, events=events)


# --- the floor: plain Python, no regua -----------------------------------------------------------

CADENCE = "lifecycle_subset"  # the first part of an occurrence key
ORDER_CONFIRMATION, WELCOME, CART_REMINDER, BIRTHDAY = (
    "order_confirmation",
    "welcome",
    "cart_reminder",
    "birthday",
)
TRIGGERS = {
    "order_placed": ORDER_CONFIRMATION,
    "signed_up": WELCOME,
    "cart_abandoned": CART_REMINDER,
}
WELCOME_DAYS = timedelta(days=2)
WELCOME_AT = time(10)
CART_DELAY = timedelta(hours=2)
BIRTHDAY_AT = time(9)
BIRTHDAY_EXPIRES = timedelta(hours=12)


def key(step: str, contact_id: str, source: str) -> str:
    """An occurrence key: ``<cadence>:<step>:<contact>:<source>`` (ids without ``:%/``)."""
    return f"{CADENCE}:{step}:{contact_id}:{source}"


@dataclass(slots=True)
class Customer:
    """What the application keeps per customer to decide what is due."""

    id: str
    tz: ZoneInfo
    birth_date: date | None
    created_at: datetime
    email: bool  # has an e-mail address
    email_consent: bool
    open: list[tuple[str, str, datetime]]  # (step, event id, event instant), not recorded
    last_order_at: datetime | None
    recorded: set[str]  # occurrence keys with a recorded delivery (sent or closed)


def customer(p: Person, recorded: set[str], now: datetime) -> Customer:
    """The state the application has for `p` at `now` (kept as events and deliveries come)."""
    open_: list[tuple[str, str, datetime]] = []
    last_order: datetime | None = None
    for name, event_id, at, _ in p.events:
        if at > now:
            break
        if name == "order_placed" and (last_order is None or at > last_order):
            last_order = at
        step = TRIGGERS.get(name)
        if step is not None and key(step, p.id, f"event={event_id}") not in recorded:
            open_.append((step, event_id, at))
    return Customer(
        p.id,
        ZoneInfo(p.timezone),
        p.birth_date,
        p.created_at,
        bool(p.addresses.get("email")),
        "email" in p.consents,
        open_,
        last_order,
        recorded,
    )


def _next_wall(instant: datetime, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant at or after `instant` whose local time is `wall` (in UTC)."""
    local = instant.astimezone(tz)
    candidate = datetime.combine(local.date(), wall, tzinfo=tz).astimezone(UTC)
    if candidate < instant:
        candidate = datetime.combine(local.date() + timedelta(days=1), wall, tzinfo=tz)
        candidate = candidate.astimezone(UTC)
    return candidate


def _anniversary(born: date, year: int) -> date:
    if (
        born.month == 2
        and born.day == 29
        and not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
    ):
        return date(year, 2, 28)
    return born.replace(year=year)


def due_now(c: Customer, now: datetime) -> list[tuple[str, str, datetime]]:
    """(contact, step, due instant) of every message due for `c` at `now`."""
    due: list[tuple[str, str, datetime]] = []
    if not c.email:  # every step goes by e-mail
        return due
    marketing = c.email_consent
    tz = c.tz
    for step, _, at in c.open:
        if step == ORDER_CONFIRMATION:  # transactional: no consent needed
            if at <= now:
                due.append((c.id, step, at))
        elif not marketing:
            continue
        elif step == WELCOME:
            local = at.astimezone(tz) + WELCOME_DAYS  # wall-clock days
            when = _next_wall(local.astimezone(UTC), WELCOME_AT, tz)
            if when <= now:
                due.append((c.id, step, when))
        elif step == CART_REMINDER:
            if c.last_order_at is not None and c.last_order_at > at:
                continue  # bought since: cancelled
            when = at + CART_DELAY
            if when <= now:
                due.append((c.id, step, when))
    born = c.birth_date
    if marketing and born is not None:
        year = now.astimezone(tz).year
        for y in (year, year - 1):  # this year's birthday, or last year's if still ahead
            if y <= born.year:
                break
            day = _anniversary(born, y)
            midnight = datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)
            if midnight > now:
                continue
            if midnight < c.created_at:
                break  # before the customer entered the base
            when = datetime.combine(day, BIRTHDAY_AT, tzinfo=tz).astimezone(UTC)
            if when <= now < when + BIRTHDAY_EXPIRES and (
                key(BIRTHDAY, c.id, f"year={y}") not in c.recorded
            ):
                due.append((c.id, BIRTHDAY, when))
            break
    return due


# --- the regua side ------------------------------------------------------------------------------


def subset_cadence() -> Cadence:
    """The same four steps as a regua `Cadence`."""
    from regua import Cadence, Channel, Step, on_date, on_event

    return Cadence(
        CADENCE,
        timezone="America/Sao_Paulo",
        channels=[Channel("email")],
        steps=[
            Step(
                ORDER_CONFIRMATION,
                trigger=on_event("order_placed"),
                channels=["email"],
                transactional=True,
            ),
            Step(
                WELCOME,
                trigger=on_event("signed_up"),
                delay="2d",
                at=WELCOME_AT,
                channels=["email"],
            ),
            Step(
                CART_REMINDER,
                trigger=on_event("cart_abandoned"),
                delay="2h",
                cancel_on=["order_placed"],
                channels=["email"],
            ),
            Step(
                BIRTHDAY,
                trigger=on_date("birth_date", every="year"),
                at=BIRTHDAY_AT,
                expires_after="12h",
                channels=["email"],
            ),
        ],
    )


def snapshot_of(p: Person, deliveries: Sequence[Any] = ()) -> Snapshot:
    """`p` as regua records: its `Contact`, its `Event`s, and `deliveries`."""
    from regua import Contact, Event, Snapshot

    attributes: dict[str, Any] = {"tier": p.tier}
    if p.birth_date is not None:
        attributes["birth_date"] = p.birth_date
    contact = Contact(
        p.id,
        attributes=attributes,
        timezone=p.timezone,
        consents=p.consents,
        preferences=p.preferences,
        addresses=p.addresses,
        created_at=p.created_at,
    )
    events = [
        Event(p.id, name, at, id=event_id, data=data or {}) for name, event_id, at, data in p.events
    ]
    return Snapshot(contact, events, deliveries)


def settled_at(cadence: Cadence, snapshot: Snapshot, when: datetime) -> Snapshot:
    """`snapshot` with what a scheduler running until `when` recorded (`planner.settle`'s loop).

    The scheduler knew only the events up to `when`; the snapshot keeps every event. Every
    closed occurrence is recorded with its reason and instant, every due action as sent at
    its due instant: with no caps and no quiet hours, that is when a scheduler running all
    along sent it (the instant changes no plan of these four steps; a fold leaves old sends
    out by it).
    """
    from regua import Delivery, DeliveryStatus, Snapshot, plan

    known = [e for e in snapshot.events if e.at <= when]
    recorded: list[Delivery] = []
    for _ in range(8):
        result = plan(cadence, Snapshot(snapshot.contact, known, recorded), when)
        if not result.due and not result.closed:
            break
        recorded += [occurrence.as_delivery() for occurrence in result.closed]
        recorded += [
            Delivery(
                a.cadence,
                a.step,
                a.contact_id,
                a.occurrence_key,
                DeliveryStatus.SENT,
                a.due_at,
                channel=a.channel,
            )
            for a in result.due
        ]
    return Snapshot(snapshot.contact, snapshot.events, recorded)


def folded_at(cadence: Cadence, snapshot: Snapshot, when: datetime) -> Snapshot:
    """`snapshot` as a repository with a fold made at `when` reads it.

    What was known at `when` (the events up to then, every delivery) folded there by
    `regua.fold`, and the events since on top.
    """
    from regua import Snapshot, fold

    known = [e for e in snapshot.events if e.at <= when]
    later = [e for e in snapshot.events if e.at > when]
    folded = fold([cadence], Snapshot(snapshot.contact, known, snapshot.deliveries), when)
    return Snapshot(snapshot.contact, (*folded.events, *later), folded.deliveries, fold=folded.fold)


def regua_due(
    cadence: Cadence, snapshot: Snapshot, now: datetime
) -> list[tuple[str, str, datetime]]:
    """(contact, step, due instant) of every due action of regua's plan."""
    from regua import plan

    return [(a.contact_id, a.step, a.due_at) for a in plan(cadence, snapshot, now).due]


# --- the measurement -----------------------------------------------------------------------------


def cpu_pass(fn: Callable[[Any, datetime], object], items: Sequence[Any], now: datetime) -> float:
    """CPU seconds of calling `fn(item, now)` for every item."""
    started = _time.process_time()
    for item in items:
        fn(item, now)
    return _time.process_time() - started


def compare(
    cadence: Cadence, snapshots: Sequence[Snapshot], states: Sequence[Customer], now: datetime
) -> tuple[set[Any], set[Any]]:
    """The due sets of both sides at `now`."""
    ours = {due for snapshot in snapshots for due in regua_due(cadence, snapshot, now)}
    theirs = {due for state in states for due in due_now(state, now)}
    return ours, theirs


def edge_instants(p: Person, now: datetime) -> list[datetime]:
    """Instants at or before `now` on either side of `p`'s due and expiry instants."""
    tz = ZoneInfo(p.timezone)
    second = timedelta(seconds=1)
    out: list[datetime] = []
    if p.birth_date is not None:
        year = now.astimezone(tz).year
        for y in (year - 1, year):
            day = _anniversary(p.birth_date, y)
            for wall in (time(), time(8, 59, 59), BIRTHDAY_AT, time(20, 59, 59), time(21)):
                out.append(datetime.combine(day, wall, tzinfo=tz).astimezone(UTC))
    carts = 0
    for name, _, at, _ in p.events:
        if name == "signed_up":
            when = _next_wall((at.astimezone(tz) + WELCOME_DAYS).astimezone(UTC), WELCOME_AT, tz)
            out += [when - second, when]
        elif name == "cart_abandoned" and carts < 3:
            carts += 1
            out += [at + CART_DELAY - second, at + CART_DELAY]
    return [instant for instant in out if instant <= now]


def check_instants(
    cadence: Cadence, base: Sequence[Person], count: int, seed: int, now: datetime
) -> dict[str, Any]:
    """Both sides, first sight, at `count` seeded instants of the last year and at the edges.

    The edges: for each contact, a second before and at its welcome's and first carts' due
    instants, and its birthdays of this year and the last at 00:00, 09:00 and 21:00 local
    (the expiry) and a second before the last two. One contact in seven is born on Feb 29.
    """
    rng = random.Random(seed)
    shared = [now - timedelta(seconds=rng.uniform(0, 365 * 86400)) for _ in range(count)]
    same = True
    due = checks = 0
    for index, p in enumerate(base):
        if index % 7 == 0:
            p.birth_date = date(1996, 2, 29)
        snapshot = snapshot_of(p)
        for instant in [*shared, *edge_instants(p, now)]:
            ours = set(regua_due(cadence, snapshot, instant))
            theirs = set(due_now(customer(p, set(), instant), instant))
            same &= ours == theirs
            due += len(ours)
            checks += 1
    return {
        "instants": count,
        "contacts": len(base),
        "checks": checks,
        "due": due,
        "same_set": same,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, nargs="+", default=[10, 100, 1000], help="events per contact"
    )
    parser.add_argument("--contacts", type=int, default=200, help="contacts per history length")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (median)")
    parser.add_argument(
        "--settled-hours",
        type=float,
        default=24,
        help="steady state: what a scheduler recorded until this many hours before now",
    )
    parser.add_argument(
        "--check-instants",
        type=int,
        default=20,
        help="more instants (first sight, last year) at which both sides must agree",
    )
    parser.add_argument("--seed", type=int, default=20260504, help="seed of the synthetic base")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args(argv)
    if args.contacts < 1 or args.rounds < 1:
        parser.error("--contacts and --rounds must be at least 1")

    import planner

    from regua import plan

    cadence = subset_cadence()
    now = NOW
    settle_at = now - timedelta(hours=args.settled_hours)

    # Both regimes of every history length, built before anything is timed.
    rows: list[dict[str, Any]] = []
    # What a plan costs before it has anything to compute: the first history length's
    # contacts without their events and birthday (so without anything to plan).
    empty: list[Snapshot] = []
    for events in args.events:
        base = people(args.contacts, events, args.seed + events, now)
        if not empty:
            empty = [snapshot_of(dataclasses.replace(p, events=[], birth_date=None)) for p in base]
        first = [snapshot_of(p) for p in base]
        steady = [settled_at(cadence, s, settle_at) for s in first]
        folded = [folded_at(cadence, s, settle_at) for s in steady]
        for regime, snapshots, recorded in (
            ("steady state", steady, steady),
            ("folded", folded, steady),
            ("first sight", first, first),
        ):
            # The floor's side: what the application keeps, from the whole record.
            states = [
                customer(p, {d.occurrence_key for d in s.deliveries}, now)
                for p, s in zip(base, recorded, strict=True)
            ]
            ours, theirs = compare(cadence, snapshots, states, now)
            rows.append(
                {
                    "regime": regime,
                    "events": events,
                    "contacts": len(base),
                    "recorded_per_contact": statistics.fmean(len(s.deliveries) for s in snapshots),
                    "events_per_contact": statistics.fmean(len(s.events) for s in snapshots),
                    "open_per_contact": statistics.fmean(len(c.open) for c in states),
                    "due": len(ours),
                    "due_by_step": {
                        step: sum(1 for d in ours if d[1] == step)
                        for step in (ORDER_CONFIRMATION, WELCOME, CART_REMINDER, BIRTHDAY)
                    },
                    "same_set": ours == theirs,
                    "only_regua": sorted(map(str, ours - theirs))[:5],
                    "only_floor": sorted(map(str, theirs - ours))[:5],
                    "_snapshots": snapshots,
                    "_states": states,
                    "regua_s": [],
                    "floor_s": [],
                }
            )

    def regua_plan(snapshot: Snapshot, at: datetime) -> object:
        return plan(cadence, snapshot, at)

    empty_s: list[float] = []

    # Warm-up (the cadence compiled, the calendar caches filled), then alternating rounds.
    for row in rows:
        cpu_pass(regua_plan, row["_snapshots"], now)
        cpu_pass(due_now, row["_states"], now)
    cpu_pass(regua_plan, empty, now)
    for _ in range(args.rounds):
        for row in rows:
            row["regua_s"].append(cpu_pass(regua_plan, row["_snapshots"], now))
            row["floor_s"].append(cpu_pass(due_now, row["_states"], now))
        empty_s.append(cpu_pass(regua_plan, empty, now))

    extra: dict[str, Any] = {}
    if args.check_instants > 0:
        small = people(args.contacts, min(args.events), args.seed - 1, now)
        extra = check_instants(cadence, small, args.check_instants, args.seed, now)

    info = planner.machine()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"the plain-Python floor against regua.plan: 4 steps of the lifecycle cadence, now={now}")
    print(
        f"  {info['implementation']} {info['python']} on {info['platform']}, "
        f"{info['cpus']} CPUs, load average {load[0]:.1f}; CPU time, median of "
        f"{args.rounds} alternating rounds; steady state settled {args.settled_hours:g} h "
        f"before now"
    )
    header = (
        f"  {'regime':<12}  {'events':>6}  {'contacts':>8}  {'recorded':>8}  {'open':>6}  "
        f"{'due':>5}  {'regua µs':>9}  {'floor µs':>9}  {'regua/floor':>11}  same set"
    )
    print(header)
    for row in rows:
        n = row["contacts"]
        row["regua_us"] = statistics.median(row["regua_s"]) / n * 1e6
        row["floor_us"] = statistics.median(row["floor_s"]) / n * 1e6
        row["ratio"] = row["regua_us"] / row["floor_us"]
        print(
            f"  {row['regime']:<12}  {row['events']:>6,}  {n:>8,}  "
            f"{row['recorded_per_contact']:>8.1f}  {row['open_per_contact']:>6.1f}  "
            f"{row['due']:>5,}  {row['regua_us']:>9.1f}  {row['floor_us']:>9.2f}  "
            f"{row['ratio']:>11.0f}  {row['same_set']}"
        )
        if not row["same_set"]:
            print(f"    only regua: {row['only_regua']}\n    only floor: {row['only_floor']}")
    print(
        "  (recorded: deliveries per contact, in the snapshot regua plans; open: occurrences "
        "the floor\n  walks per contact; folded: regua plans the steady state folded at the "
        "settle instant, the\n  events since on top; the floor's side is the steady state's)"
    )
    for row in rows:
        if row["regime"] == "folded":
            whole = next(
                r for r in rows if r["regime"] == "steady state" and r["events"] == row["events"]
            )
            print(
                f"  folded, {row['events']:,} events: {row['events_per_contact']:.1f} events and "
                f"{row['recorded_per_contact']:.1f} deliveries per contact planned, of "
                f"{whole['events_per_contact']:.1f} and {whole['recorded_per_contact']:.1f}; "
                f"regua {row['regua_us'] / whole['regua_us']:.2f}x the steady state's"
            )
    empty_us = statistics.median(empty_s) / len(empty) * 1e6
    nearest = rows[0]  # the first history length's steady state
    print(
        f"  nothing to plan (the {nearest['events']:,}-event contacts without events or "
        f"birthday): regua {empty_us:.1f} µs a contact, {empty_us / nearest['floor_us']:.1f}x "
        f"the floor's steady state at {nearest['events']:,} events: what a plan costs before "
        "it computes anything"
    )
    for row in rows:
        due = ", ".join(f"{step} {n}" for step, n in row["due_by_step"].items() if n)
        print(f"  due at now, {row['regime']}, {row['events']:,} events: {due or 'none'}")
    if extra:
        print(
            f"  first sight, {extra['contacts']} contacts of {min(args.events)} events, each at "
            f"{extra['instants']} instants of the last year and at its edges (due instants, "
            f"birthdays, expiries): {extra['checks']:,} plans, {extra['due']:,} due; "
            f"same set: {extra['same_set']}"
        )
    same = all(row["same_set"] for row in rows) and extra.get("same_set", True)
    print(f"same set: {same}")

    if args.json is not None:
        result = {
            "benchmark": "floor",
            "cadence": CADENCE,
            "now": now.isoformat(),
            "seed": args.seed,
            "rounds": args.rounds,
            "settled_hours": args.settled_hours,
            "machine": {**info, "load_average": load},
            "rows": [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows],
            "nothing_to_plan_regua_us": empty_us,
            "check_instants": extra,
            "same_set": same,
        }
        args.json.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
