"""Hypothesis strategies for random, valid cadences, contacts and histories.

Everything here builds *valid* inputs: cadences pass validation (declared channels, acyclic
``after_step`` chains, deadlines after delays), contacts and events are well-formed records.
The vocabularies are kept small on purpose, so that triggers, conditions, ``cancel_on`` and
engagement events meet each other often.

Reuse them from any test module::

    from tests.planning.strategies import cadences, contacts, histories
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import attrs
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    FrequencyCap,
    Policy,
    QuietHours,
    Step,
    after_step,
    attr,
    clicked,
    event_count,
    has_event,
    on_date,
    on_event,
    on_inactivity,
    on_open,
    on_schedule,
    opened,
)
from regua.definitions import Condition, Digest, EventTrigger, Goal
from regua.definitions.durations import Duration

__all__ = [
    "CADENCE_NAME",
    "CHANNELS",
    "CONTACT_ID",
    "CRONS",
    "EVENT_NAMES",
    "TIMEZONES",
    "Scenario",
    "cadences",
    "capped_scenarios",
    "caps",
    "channels",
    "clocks",
    "conditions",
    "contacts",
    "durations",
    "histories",
    "instants",
    "policies",
    "quiet_hours",
    "scenarios",
    "sends_around",
    "steps",
]

UTC = timezone.utc
CADENCE_NAME = "prop"
CONTACT_ID = "c1"
EVENT_NAMES = ("signed_up", "login", "order_placed", "cart_abandoned", "order_delivered")
TIMEZONES = (
    "America/Sao_Paulo",
    "America/New_York",
    "Europe/Lisbon",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # DST of 30 minutes
    "UTC",
)
CHANNELS = ("email", "sms", "phone")
CRONS = (
    "0 9 * * *",  # daily, a plain morning
    "30 1 * * *",  # daily, ambiguous on fall-back nights in several zones
    "30 2 * * *",  # daily, inside the spring-forward gap in New York and Lisbon
    "0 10 * * MON",
    "0 10 1 * *",
    "0 */12 * * *",  # hourly-style (fires in both halves of a repeated hour)
)
SHORT = ("30m", "90m", "2h", "12h", "1d", "36h", "3d", "1w")
LONG = ("1d", "3d", "1w", "2w", "30d", "60d")
CAP_WINDOWS = ("12h", "1d", "3d", "7d", "1mo")

# All instants are drawn in [EPOCH, EPOCH + SPAN]: nine years over many DST changes, Sao
# Paulo's last ones (it dropped DST in 2019) included.
EPOCH = datetime(2017, 9, 1, tzinfo=UTC)
SPAN_MINUTES = 9 * 366 * 24 * 60


# How far a worker's clock may be from the true instant: a second, ten minutes, an hour
# (a clock stepped back or forward), a day; ahead or behind.
CLOCK_ERRORS = tuple(
    sign * error
    for error in (
        timedelta(seconds=1),
        timedelta(minutes=10),
        timedelta(hours=1),
        timedelta(days=1),
    )
    for sign in (1, -1)
)


def clocks() -> st.SearchStrategy[tuple[timedelta, ...]]:
    """The clock errors of 2 or 3 workers planning one contact in turn (one may be right).

    A worker plans at the true instant plus its error and stamps what it records with it,
    so that each sees events and deliveries stamped after its `now`.
    """
    return st.lists(st.sampled_from((timedelta(0), *CLOCK_ERRORS)), min_size=2, max_size=3).map(
        tuple
    )


def durations(choices: Sequence[str] = SHORT) -> st.SearchStrategy[Duration]:
    """A duration from a small list (calendar and elapsed units mixed)."""
    return st.sampled_from(choices).map(Duration.parse)


def instants(start: datetime = EPOCH, minutes: int = SPAN_MINUTES) -> st.SearchStrategy[datetime]:
    """An aware UTC instant, to the minute, in ``[start, start + minutes]``."""
    return st.integers(0, minutes).map(lambda m: start + timedelta(minutes=m))


_TIMES = st.one_of(
    st.sampled_from([time(0), time(1, 30), time(2, 30), time(7), time(8), time(9), time(21)]),
    st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45])),
)


@st.composite
def quiet_hours(draw: st.DrawFn) -> QuietHours:
    """A quiet window, possibly crossing midnight."""
    start = draw(_TIMES)
    end = draw(_TIMES.filter(lambda t: t != start))
    return QuietHours(start=start, end=end)


def caps() -> st.SearchStrategy[FrequencyCap]:
    """A frequency cap: 1 to 3 messages per window."""
    return st.builds(FrequencyCap, max=st.integers(1, 3), per=st.sampled_from(CAP_WINDOWS))


@st.composite
def channels(draw: st.DrawFn, name: str) -> Channel:
    """A channel with random cost, quiet hours and caps."""
    return Channel(
        name,
        cost={"email": 0.001, "sms": 0.05, "phone": 2.0}.get(name, 1.0),
        kind="task" if name == "phone" else "message",
        quiet_hours=draw(st.none() | quiet_hours()),
        caps=draw(st.lists(caps(), max_size=2)),
    )


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    """Cadence-wide quiet hours and caps (maybe none)."""
    return Policy(
        quiet_hours=draw(st.none() | quiet_hours()),
        caps=draw(st.lists(caps(), max_size=2)),
    )


def conditions(earlier_steps: Sequence[str] = ()) -> st.SearchStrategy[Condition]:
    """A condition from a small set, possibly negated or combined."""
    leaves: list[Condition] = [
        attr("tier") == "gold",
        attr("tier") != "gold",
        attr("tier").in_(["gold", "silver", "bronze"]),
        attr("birth_date").exists(),
        event_count("order_placed") >= 2,
        event_count("login", within="30d") >= 1,
        has_event("order_placed", within="7d"),
        has_event("login"),
    ]
    for name in earlier_steps:
        leaves += [opened(name), clicked(name)]
    leaf = st.sampled_from(leaves)
    return st.one_of(
        leaf,
        leaf.map(lambda c: ~c),
        st.tuples(leaf, leaf).map(lambda p: p[0] & p[1]),
        st.tuples(leaf, leaf).map(lambda p: p[0] | p[1]),
    )


@st.composite
def _trigger(draw: st.DrawFn, earlier_steps: Sequence[str]) -> Any:
    kinds = ["event", "event", "inactivity", "date", "schedule"]
    if earlier_steps:
        kinds += ["after", "after", "engaged"]
    kind = draw(st.sampled_from(kinds))
    if kind == "engaged":  # a message of an earlier step opened (opens come an hour later)
        return on_open(draw(st.sampled_from(list(earlier_steps))))
    if kind == "event":
        return on_event(draw(st.sampled_from(EVENT_NAMES)))
    if kind == "inactivity":
        activity = draw(
            st.none() | st.lists(st.sampled_from(EVENT_NAMES), min_size=1, max_size=3, unique=True)
        )
        return on_inactivity(draw(st.sampled_from(LONG)), activity=activity)
    if kind == "date":
        return on_date("birth_date", every="year")
    if kind == "schedule":
        return on_schedule(draw(st.sampled_from(CRONS)))
    return after_step(
        draw(st.sampled_from(list(earlier_steps))),
        outcome=draw(
            st.sampled_from(["sent", "sent", "expired", "skipped", "failed"])
            | st.sampled_from([("expired", "failed"), ("sent", "failed"), ("failed", "skipped")])
        ),
    )


@st.composite
def steps(draw: st.DrawFn, name: str, earlier_steps: Sequence[str] = ()) -> Step:
    """A valid step named `name`; ``after_step`` only follows `earlier_steps` (no cycles)."""
    delay = draw(st.none() | durations())
    deadline = draw(st.none() | durations(LONG))
    if deadline is not None and deadline.approximate() <= (
        delay.approximate() if delay else timedelta(0)
    ):
        deadline = None
    route: list[tuple[Condition, list[str]]] = []
    routing = draw(st.sampled_from(["none", "none", "tier", "event"]))
    if routing == "tier":  # every occurrence of the step takes the same route
        route = [
            (attr("tier") == "gold", ["phone", "email"]),
            (attr("tier") == "silver", ["sms", "email"]),
        ]
        route = route[: draw(st.integers(1, 2))]
    elif routing == "event":  # occurrences due at different times may take different routes
        route = [(has_event(draw(st.sampled_from(EVENT_NAMES)), within="7d"), ["sms", "email"])]
    kwargs: dict[str, Any] = {
        "trigger": draw(_trigger(earlier_steps)),
        "channels": draw(st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True)),
        "route": route,
        "prefer": draw(st.sampled_from(["order", "cheapest"])),
        "at": draw(st.none() | _TIMES),
        "when": draw(
            st.sampled_from([False, False, True]).flatmap(
                lambda with_condition: conditions(earlier_steps) if with_condition else st.none()
            )
        ),
        "cancel_on": draw(st.lists(st.sampled_from(EVENT_NAMES), max_size=2, unique=True)),
        "repeat": draw(st.sampled_from(["every", "every", "once"])),
        "cooldown": draw(st.none() | durations(LONG)),
        "expires_after": draw(st.none() | durations()),
        "deadline": deadline,
        "transactional": draw(st.booleans()),
        "priority": draw(st.integers(0, 10)),
        "on_cap": draw(st.sampled_from(["defer", "skip"])),
    }
    if delay is not None:
        kwargs["delay"] = delay
    trigger = kwargs["trigger"]
    if (
        isinstance(trigger, EventTrigger)
        and trigger.of_step is None
        and draw(st.integers(0, 3)) == 0
    ):
        kwargs["digest"] = draw(_digests())
        kwargs.pop("delay", None)
        kwargs["at"] = None
        window = kwargs["digest"].window
        if (
            deadline is not None
            and window is not None
            and deadline.approximate() <= (window.approximate())
        ):
            kwargs["deadline"] = None
    if draw(st.integers(0, 3)) == 0:  # an experiment, held out or not
        kwargs["variants"] = {"a": draw(st.integers(0, 3)), "b": draw(st.integers(1, 3))}
        if not kwargs["transactional"] and draw(st.booleans()):
            kwargs["holdout"] = draw(st.sampled_from(["a", "b"]))
    kwargs["goal"] = draw(st.none() | st.none() | goals())
    return Step(name, **kwargs)


def _digests() -> st.SearchStrategy[Digest]:
    return st.one_of(
        durations().map(Digest),
        _TIMES.map(lambda until: Digest(until=until)),
        st.builds(lambda window, until: Digest(window, until=until), durations(), _TIMES),
    )


def goals() -> st.SearchStrategy[Goal]:
    """A goal on one of the scenario's event names, ending the journey or not."""
    return st.builds(
        Goal,
        event=st.sampled_from(EVENT_NAMES),
        within=durations(LONG),
        exit=st.booleans(),
    )


@st.composite
def cadences(draw: st.DrawFn, max_steps: int = 4) -> Cadence:
    """A valid cadence of 1 to `max_steps` steps over email, sms and phone."""
    count = draw(st.integers(1, max_steps))
    built: list[Step] = []
    for index in range(count):
        built.append(draw(steps(f"s{index}", [s.name for s in built])))
    return Cadence(
        CADENCE_NAME,
        steps=built,
        channels=[draw(channels(name)) for name in CHANNELS],
        policy=draw(policies()),
        timezone=draw(st.sampled_from(TIMEZONES)),
        goal=draw(st.none() | st.none() | goals()),
    )


_BIRTH_DATES = st.one_of(
    st.dates(date(1950, 1, 1), date(2006, 12, 31)),
    st.just(date(1992, 2, 29)),
)


@st.composite
def contacts(draw: st.DrawFn, created_at: datetime | None = None) -> Contact:
    """A contact with random timezone, consents, addresses, preferences and attributes."""
    # Mostly reachable everywhere, so that the interesting rules (quiet hours, caps, repeat,
    # cancel) get to run; sometimes missing consent or an address for some channels.
    everywhere = frozenset(CHANNELS)
    consents = draw(st.one_of(st.just(everywhere), st.frozensets(st.sampled_from(CHANNELS))))
    reachable = draw(
        st.one_of(
            st.just(everywhere),
            st.sampled_from(CHANNELS).map(lambda c: everywhere - {c}),
            st.frozensets(st.sampled_from(CHANNELS)),
        )
    )
    addresses = {
        "email": f"{CONTACT_ID}@example.com",
        "sms": "+5511999990000",
        "phone": "+15550100",
    }
    attributes: dict[str, Any] = {}
    tier = draw(st.sampled_from([None, "gold", "silver", "bronze"]))
    if tier is not None:
        attributes["tier"] = tier
    if draw(st.booleans()):
        attributes["birth_date"] = draw(_BIRTH_DATES).isoformat()
    return Contact(
        CONTACT_ID,
        attributes=attributes,
        timezone=draw(st.none() | st.sampled_from(TIMEZONES)),
        consents=consents,
        preferences=draw(
            st.permutations(CHANNELS).flatmap(
                lambda p: st.sampled_from([p[:n] for n in range(len(p) + 1)])
            )
        ),
        addresses={name: addresses[name] for name in sorted(reachable)},
        created_at=created_at,
    )


@st.composite
def histories(
    draw: st.DrawFn, start: datetime, days: int = 90, max_events: int = 25, min_events: int = 0
) -> list[Event]:
    """`min_events` to `max_events` events in ``[start, start + days]``, of the vocabulary.

    Instants are drawn on a half-hour grid; some events share the instant of an earlier one,
    some are exact duplicates of an earlier one (the same event ingested twice). Ids are
    mostly unique and sometimes left out (then derived from name and instant, so that two
    id-less events of one name at one instant are the same event).
    """
    count = draw(st.integers(min_events, max_events))
    events: list[Event] = []
    for index in range(count):
        shape = draw(st.sampled_from(["new"] * 6 + ["same instant", "duplicate"]))
        if events and shape == "duplicate":
            # The same event delivered twice (at-least-once ingestion): same id, name, instant.
            events.append(draw(st.sampled_from(events)))
            continue
        if events and shape == "same instant":
            at = draw(st.sampled_from([e.at for e in events]))
        else:
            at = start + timedelta(
                hours=draw(st.integers(0, days * 24)), minutes=draw(st.sampled_from([0, 0, 30]))
            )
        given_id = draw(st.sampled_from([f"e{index}", f"e{index}", None]))
        events.append(Event(CONTACT_ID, draw(st.sampled_from(EVENT_NAMES)), at, id=given_id))
    return events


@st.composite
def sends_around(
    draw: st.DrawFn, cadence: Cadence, now: datetime, max_size: int = 6
) -> list[Delivery]:
    """Sends of `cadence`'s steps recorded from a week before `now` to a day after it.

    Those after `now` were stamped by a worker whose clock is ahead of the one planning at
    `now`. Each has an occurrence key of its own (``sent=<n>``), on one of its step's
    channels.
    """
    offsets = st.one_of(
        st.sampled_from(CLOCK_ERRORS),
        st.integers(-7 * 24 * 60, 24 * 60).map(lambda m: timedelta(minutes=m)),
    )
    sends: list[Delivery] = []
    for index in range(draw(st.integers(0, max_size))):
        step = draw(st.sampled_from(cadence.steps))
        sends.append(
            Delivery(
                cadence.name,
                step.name,
                CONTACT_ID,
                f"{cadence.name}:{step.name}:{CONTACT_ID}:sent={index}",
                DeliveryStatus.SENT,
                now + draw(offsets),
                channel=draw(st.sampled_from(step.channels)),
            )
        )
    return sends


@attrs.frozen
class Scenario:
    """A cadence, a contact and its events, with the period they span."""

    cadence: Cadence
    contact: Contact
    events: tuple[Event, ...]
    start: datetime
    end: datetime
    opens: frozenset[str] = frozenset()
    clicks: frozenset[str] = frozenset()


@st.composite
def scenarios(draw: st.DrawFn, days: int = 90, max_steps: int = 4) -> Scenario:
    """A whole scenario: the contact is created up to 30 days before the first event.

    `opens` and `clicks` name the steps whose deliveries the contact opens (clicks) an hour
    after they are sent, for drivers that simulate engagement.
    """
    base = draw(instants(minutes=SPAN_MINUTES - (days + 30) * 24 * 60))
    created_at = base - timedelta(hours=draw(st.integers(0, 30 * 24)))
    cadence = draw(cadences(max_steps))
    names = [step.name for step in cadence.steps]
    return Scenario(
        cadence=cadence,
        contact=draw(contacts(created_at)),
        events=tuple(draw(histories(base, days))),
        start=created_at,
        end=base + timedelta(days=days + 10),
        opens=draw(st.frozensets(st.sampled_from(names))),
        clicks=draw(st.frozensets(st.sampled_from(names))),
    )


@st.composite
def capped_scenarios(draw: st.DrawFn, days: int = 3) -> Scenario:
    """A scenario where frequency caps are what holds messages back.

    One to three marketing steps fired by events (some delayed, some skipped rather than
    deferred when over a cap), one or two cadence-wide caps and maybe a cap per channel; no
    quiet hours, conditions, cancellations, expiries or goals; a contact reachable on every
    channel; four to 25 events over `days`, so that occurrences compete for the caps.
    """
    built: list[Step] = []
    for index in range(draw(st.integers(1, 3))):
        delay = draw(st.none() | durations())
        built.append(
            Step(
                f"s{index}",
                trigger=on_event(draw(st.sampled_from(EVENT_NAMES))),
                channels=draw(
                    st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=3, unique=True)
                ),
                priority=draw(st.integers(0, 3)),
                on_cap=draw(st.sampled_from(["defer", "defer", "skip"])),
                **({} if delay is None else {"delay": delay}),
            )
        )
    cadence = Cadence(
        CADENCE_NAME,
        steps=built,
        channels=[
            Channel(
                name,
                kind="task" if name == "phone" else "message",
                caps=draw(st.lists(caps(), max_size=1)),
            )
            for name in CHANNELS
        ],
        policy=Policy(caps=draw(st.lists(caps(), min_size=1, max_size=2))),
        timezone=draw(st.sampled_from(TIMEZONES)),
    )
    base = draw(instants(minutes=SPAN_MINUTES - (days + 30) * 24 * 60))
    contact = Contact(
        CONTACT_ID,
        consents=set(CHANNELS),
        addresses={
            "email": f"{CONTACT_ID}@example.com",
            "sms": "+5511999990000",
            "phone": "+15550100",
        },
        created_at=base,
    )
    return Scenario(
        cadence=cadence,
        contact=contact,
        events=tuple(draw(histories(base, days, min_events=4))),
        start=base,
        end=base + timedelta(days=days + 10),
    )
