"""A forecast counts exactly what the real scheduler, on a virtual clock, sends.

The reference is `Simulation` (the real `Scheduler` and `InMemoryRepository`) playing the same
period with the same scripted events, and senders that fail where the assumptions say so.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    FrequencyCap,
    Policy,
    QuietHours,
    Step,
    after_step,
    attr,
    forecast,
    on_event,
    on_schedule,
)
from regua.forecasting import Assumptions, ChannelFailure, EventRate, project
from regua.records import Snapshot
from tests.forecasting.simulated import example_cadence, simulate
from tests.profiles import examples

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)
TIMEZONES = ["America/Sao_Paulo", "Europe/Lisbon", "America/New_York", "Asia/Tokyo", None]


def sample_contacts(count: int) -> list[Contact]:
    """Contacts in several timezones and tiers, some without consent or an address."""
    tiers = ["gold", "silver", "bronze"]
    contacts = []
    for n in range(count):
        consents = {"email", "sms", "phone", "whatsapp"} if n % 4 != 2 else {"email"}
        addresses = {"email": f"c{n}@example.com"}
        if n % 7 != 3:
            addresses["sms"] = addresses["phone"] = f"+55119{n:08d}"
        contacts.append(
            Contact(
                f"c{n}",
                attributes={
                    "tier": tiers[n % 3],
                    "birth_date": f"19{70 + n % 30}-{n % 12 + 1:02d}-{n % 28 + 1:02d}",
                },
                timezone=TIMEZONES[n % len(TIMEZONES)],
                consents=consents,
                preferences=["sms"] if n % 5 == 0 else [],
                addresses=addresses,
                created_at=START - timedelta(days=30 * (n % 9)),
            )
        )
    return contacts


SHOPPING = Assumptions(
    events=[
        EventRate("signed_up", 0.15, every="30d"),
        EventRate("login", 0.2, every="1w"),
        EventRate("cart_abandoned", 0.25, every="1w"),
        EventRate("order_placed", 0.1, every="1w"),
        EventRate("order_shipped", 0.1, every="1w"),
        EventRate("order_delivered", 0.15, every="1w"),
    ],
    failures=[ChannelFailure("sms", 0.3), ChannelFailure("phone", 0.5)],
    seed=11,
)


@pytest.mark.slow
def test_the_example_cadence_over_90_days_matches_a_simulation() -> None:
    cadence = example_cadence()
    contacts = sample_contacts(48)
    end = START + timedelta(days=90)
    expected = simulate([cadence], contacts, START, end, SHOPPING)
    result = forecast(cadence, contacts, START, end, assumptions=SHOPPING, timezone="UTC")

    assert len(expected) > 300  # the sample exercises the cadence, not an empty run
    steps = {row[3] for row in expected}
    assert {"cart_reminder", "cart_second_reminder", "birthday", "shipping_notice"} <= steps
    # Fallbacks happened: a route's first channel failed and the next one took the message.
    assert {row[4] for row in expected if row[3] == "birthday"} >= {"email", "phone", "sms"}

    per_row = Counter(
        (at.date(), cadence, step, channel) for at, _, cadence, step, channel in expected
    )
    assert {(r.day, r.cadence, r.step, r.channel): r.messages for r in result.rows} == dict(per_row)
    assert dict(result.messages_per_contact) == dict(Counter(row[1] for row in expected))
    assert result.messages == len(expected)


JOURNEYS = {
    # Digests: shipments within a window become one message; late ones open the next.
    "marketplace_digests": Assumptions(
        events=[
            EventRate("order_shipped", 0.6, every="1d"),
            EventRate("price_dropped", 0.3, every="1w", data={"watched": True}),
            EventRate("seller_message", 0.4, every="1w"),
        ],
        seed=5,
    ),
    # An experiment with a holdout and a goal that ends the journey.
    "cart_recovery": Assumptions(
        events=[
            EventRate("cart_abandoned", 0.5, every="1w"),
            EventRate("order_placed", 0.2, every="1w"),
        ],
        seed=6,
    ),
}


@pytest.mark.parametrize(
    "example",
    [
        pytest.param(name, marks=[pytest.mark.slow] if name == "marketplace_digests" else [])
        for name in sorted(JOURNEYS)
    ],
)
def test_digest_and_experiment_examples_match_a_simulation(example: str) -> None:
    cadence = example_cadence(example)
    contacts = sample_contacts(40)
    end = START + timedelta(days=45)
    expected = simulate([cadence], contacts, START, end, JOURNEYS[example])
    result = forecast(cadence, contacts, START, end, assumptions=JOURNEYS[example], timezone="UTC")
    assert len(expected) > 40  # the sample exercises the cadence
    per_row = Counter(
        (at.date(), cadence, step, channel) for at, _, cadence, step, channel in expected
    )
    assert {(r.day, r.cadence, r.step, r.channel): r.messages for r in result.rows} == dict(per_row)
    assert dict(result.messages_per_contact) == dict(Counter(row[1] for row in expected))


def test_each_projection_sends_the_same_messages_at_the_same_instants() -> None:
    cadence = example_cadence()
    contacts = sample_contacts(12)
    end = START + timedelta(days=45)
    expected = simulate([cadence], contacts, START, end, SHOPPING)
    projected = sorted(
        (m.at, m.contact_id, m.cadence, m.step, m.channel)
        for contact in contacts
        for m in project(
            [cadence],
            Snapshot(contact),
            START,
            end,
            events=SHOPPING.events_for(contact.id, START, end),
            fails=SHOPPING.fails,
        ).sent
    )
    assert projected == expected


def test_without_assumptions_the_current_state_is_projected() -> None:
    cadence = example_cadence()
    contacts = sample_contacts(15)
    end = START + timedelta(days=200)
    expected = simulate([cadence], contacts, START, end)
    result = forecast(cadence, contacts, START, end, timezone="UTC")
    assert result.messages == len(expected) > 0
    assert dict(result.messages_per_contact) == dict(Counter(row[1] for row in expected))


# --- property: any small cadence, contacts and assumptions -------------------------------------

HOURS = st.integers(min_value=0, max_value=23)


@st.composite
def cadences(draw: st.DrawFn) -> Cadence:
    quiet = None
    if draw(st.booleans()):
        start, end = draw(HOURS), draw(HOURS)
        if start != end:
            quiet = QuietHours(start=time(start), end=time(end))
    caps = []
    if draw(st.booleans()):
        caps.append(
            FrequencyCap(
                max=draw(st.integers(1, 3)),
                per=draw(st.sampled_from(["1d", "36h", "7d"])),
                scope=draw(st.sampled_from(["cadence", "contact"])),
            )
        )
    sms_quiet = None
    if draw(st.booleans()):
        sms_quiet = QuietHours(start=time(20), end=time(9))
    on_cap = draw(st.sampled_from(["defer", "skip"]))
    steps = [
        Step("confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True),
        Step(
            "nudge",
            trigger=on_event("cart_abandoned"),
            delay=draw(st.sampled_from(["30m", "2h", "1d"])),
            at=draw(st.sampled_from([None, time(9), time(22)])),
            channels=draw(st.sampled_from([["sms", "email"], ["email", "sms"], ["sms"]])),
            cancel_on=["order_placed"],
            expires_after=draw(st.sampled_from([None, "6h", "2d"])),
            on_cap=on_cap,
            prefer=draw(st.sampled_from(["order", "cheapest"])),
        ),
        Step(
            "second_nudge",
            trigger=after_step("nudge"),
            delay="1d",
            channels=["email"],
            cancel_on=["order_placed"],
            on_cap=on_cap,
        ),
        Step(
            "news",
            trigger=on_schedule(
                draw(st.sampled_from(["0 10 * * MON", "0 8 * * *", "30 1 */3 * *"]))
            ),
            channels=["email", "sms"],
            route=[(attr("tier") == "gold", ["sms", "email"])],
            expires_after="1d",
            on_cap=on_cap,
        ),
    ]
    return Cadence(
        "prop",
        channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05, quiet_hours=sms_quiet)],
        policy=Policy(quiet_hours=quiet, caps=caps),
        steps=steps,
        timezone=draw(st.sampled_from(["UTC", "America/Sao_Paulo"])),
    )


@st.composite
def contact_lists(draw: st.DrawFn) -> list[Contact]:
    contacts = []
    for n in range(draw(st.integers(1, 4))):
        consents = draw(st.sets(st.sampled_from(["email", "sms"])))
        addresses = {
            ch: f"c{n}-{ch}" for ch in draw(st.sets(st.sampled_from(["email", "sms"]), min_size=1))
        }
        contacts.append(
            Contact(
                f"c{n}",
                attributes={"tier": draw(st.sampled_from(["gold", "bronze"]))},
                timezone=draw(st.sampled_from(TIMEZONES)),
                consents=consents,
                preferences=draw(st.sampled_from([[], ["sms"], ["email"]])),
                addresses=addresses,
                created_at=START - timedelta(days=draw(st.integers(0, 10))),
            )
        )
    return contacts


@st.composite
def assumption_sets(draw: st.DrawFn) -> Assumptions:
    rates = st.floats(min_value=0, max_value=0.6)
    return Assumptions(
        events=[
            EventRate(
                "cart_abandoned", draw(rates), every=draw(st.sampled_from(["1d", "3d", "1w"]))
            ),
            EventRate("order_placed", draw(rates), every=draw(st.sampled_from(["2d", "1w"]))),
        ],
        failures=[ChannelFailure("sms", draw(st.sampled_from([0.0, 0.5, 1.0])))],
        seed=draw(st.integers(0, 2**16)),
    )


@st.composite
def programs(draw: st.DrawFn) -> list[Cadence]:
    """The property's cadence, and maybe a second one sharing a contact-wide cap with it."""
    first = draw(cadences())
    if not draw(st.booleans()):
        return [first]
    daily = FrequencyCap(max=1, per="1d", scope="contact")
    promo = Cadence(
        "promo",
        channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05)],
        policy=Policy(caps=[daily]),
        steps=[
            Step(
                "coupon",
                trigger=on_event("cart_abandoned"),
                delay="1h",
                channels=["email", "sms"],
                priority=draw(st.integers(0, 1)),
                expires_after=draw(st.sampled_from([None, "1d"])),
            )
        ],
        timezone="America/Sao_Paulo",
    )
    return [first, promo]


@pytest.mark.slow
@settings(max_examples=examples(50), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs(), contacts=contact_lists(), assumptions=assumption_sets())
def test_any_cadence_forecast_equals_the_simulation(
    program: list[Cadence], contacts: list[Contact], assumptions: Assumptions
) -> None:
    end = START + timedelta(days=12)
    expected = simulate(program, contacts, START, end, assumptions)
    result = forecast(program, contacts, START, end, assumptions=assumptions, timezone="UTC")
    per_row = Counter((at.date(), c, step, channel) for at, _, c, step, channel in expected)
    assert {(r.day, r.cadence, r.step, r.channel): r.messages for r in result.rows} == dict(per_row)
    assert dict(result.messages_per_contact) == dict(Counter(row[1] for row in expected))
    # Consent is never bypassed: marketing goes only where the contact consented.
    consents = {c.id: c.consents for c in contacts}
    for _, who, _, step, channel in expected:
        if step != "confirm":
            assert channel in consents[who]
