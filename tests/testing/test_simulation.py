"""The simulation runs the real scheduler on a virtual clock; its assertions read well."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from regua import (
    Cadence,
    Channel,
    Message,
    PermanentFailure,
    Policy,
    QuietHours,
    Step,
    after_step,
    on_event,
    opened,
)
from regua.testing import Simulation, SimulationAssertionError

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)  # 09:00 in Sao Paulo

SHOP = Cadence(
    "shop",
    timezone="America/Sao_Paulo",
    channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05)],
    policy=Policy(quiet_hours=QuietHours(start=time(21), end=time(8))),
    steps=[
        Step("welcome", trigger=on_event("signed_up"), delay="2d", at=time(10), channels=["email"]),
        Step(
            "welcome_sms",
            trigger=after_step("welcome"),
            delay="3d",
            when=~opened("welcome"),
            channels=["sms"],
        ),
        Step(
            "cart",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            channels=["email"],
            cancel_on=["order_placed"],
        ),
    ],
)


def test_sends_at_the_exact_instant_not_at_the_next_step_of_the_clock() -> None:
    sim = Simulation(SHOP, start=START)
    sim.add_contact("ana")
    sim.emit("ana", "signed_up")
    sent = sim.advance("30d")  # one jump: the scheduler still ticks when things are due
    assert [(s.step, s.at) for s in sent] == [
        ("welcome", datetime(2026, 3, 4, 13, tzinfo=UTC)),  # 10:00 local
        ("welcome_sms", datetime(2026, 3, 7, 13, tzinfo=UTC)),
    ]
    assert sim.now == START + timedelta(days=30)
    welcome = sim.assert_sent("welcome", to="ana", local=time(10), channel="email")
    assert welcome.local_at.hour == 10
    sim.assert_sequence(["welcome", "welcome_sms"], to="ana")


def test_engagement_changes_what_follows() -> None:
    sim = Simulation(SHOP, start=START)
    sim.add_contact("ana")
    sim.emit("ana", "signed_up")
    sim.advance("2d2h")
    sim.open(sim.assert_sent("welcome", to="ana"))
    sim.advance("10d")
    sim.assert_not_sent("welcome_sms", to="ana")


def test_naive_datetimes_are_read_in_the_simulation_timezone() -> None:
    sim = Simulation(SHOP, start=datetime(2026, 3, 2, 9), timezone="America/Sao_Paulo")
    assert sim.now == START
    sim.add_contact("ana")
    sim.emit("ana", "cart_abandoned")
    sim.advance_to(datetime(2026, 3, 2, 10, 59))  # the reminder is due at 11:00 local
    sim.assert_not_sent("cart")
    sim.emit("ana", "order_placed")
    sim.advance("1d")
    sim.assert_not_sent("cart")
    with pytest.raises(ValueError, match="cannot go back"):
        sim.advance_to(START)


def test_failure_messages_show_the_timeline_and_the_explanation() -> None:
    sim = Simulation(SHOP, start=START)
    sim.add_contact("ana")
    sim.emit("ana", "signed_up")
    sim.advance("3d")
    with pytest.raises(SimulationAssertionError) as raised:
        sim.assert_sent("welcome", to="ana", at=datetime(2026, 3, 4, 12, tzinfo=UTC))
    message = str(raised.value)
    assert "expected 'welcome' to 'ana' at 2026-03-04T12:00:00+00:00 to have been sent" in message
    assert "2026-03-04T13:00:00Z" in message  # the timeline: when it really went out
    assert "wall-clock rules in America/Sao_Paulo" in message  # the explanation
    with pytest.raises(SimulationAssertionError, match="sent 1 time"):
        sim.assert_not_sent("welcome")
    with pytest.raises(SimulationAssertionError, match=r"expected the sequence .*\['cart'\]"):
        sim.assert_sequence(["cart"], to="ana")
    with pytest.raises(SimulationAssertionError, match="sent 1 time"):
        sim.assert_sent("welcome", times=2)


def test_timeline_formats() -> None:
    sim = Simulation(SHOP, start=START)
    assert sim.timeline() == "(nothing sent)"
    sim.add_contact("ana", timezone="Europe/Lisbon")
    sim.emit("ana", "cart_abandoned")
    sim.advance("1d")
    table = sim.timeline()
    assert "2026-03-02T14:00:00Z" in table
    assert "2026-03-02 14:00 WET" in table  # Lisbon is UTC+0 in March
    assert '"step": "cart"' in sim.timeline(format="json")
    assert sim.timeline(format="csv").splitlines()[0] == (
        "at,local,contact,cadence,step,channel,message"
    )
    with pytest.raises(ValueError, match="format"):
        sim.timeline(format="xml")


def test_custom_senders_and_consent() -> None:
    class Bouncing:
        def send(self, message: Message) -> str | None:
            raise PermanentFailure("no such mailbox")

    fallback = Cadence(
        "news",
        channels=[Channel("email"), Channel("sms")],
        steps=[Step("news", trigger=on_event("e"), channels=["email", "sms"])],
    )
    sim = Simulation(fallback, start=START, senders={"email": Bouncing()})
    sim.add_contact("ana")
    sim.add_contact("bob", consents={"email"})
    sim.emit("ana", "e")
    sim.emit("bob", "e")
    sim.advance("1h")
    sim.assert_sent("news", to="ana", channel="sms")
    sim.assert_not_sent("news", to="bob")
    [failed] = [d for d in sim.deliveries("bob") if d.step == "news"]
    assert failed.status.value == "failed"
    assert "no such mailbox" in (failed.reason or "")


def test_bad_contact_data_fails_the_simulation_loudly() -> None:
    birthday = Cadence(
        "b",
        channels=[Channel("email")],
        steps=[
            Step(
                "birthday",
                trigger=on_event("x"),
                channels=["email"],
                when={"attr": "age", "op": ">", "value": 3},
            )
        ],
    )
    sim = Simulation(birthday, start=START)
    sim.add_contact("ana", age="old")
    sim.emit("ana", "x")
    with pytest.raises(SimulationAssertionError, match="'age'"):
        sim.advance("1h")


pytest_plugins = ["pytester"]


def test_the_pytest_fixture_makes_a_cadence_test_a_few_lines(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from datetime import datetime, timezone
        from regua import Cadence, Channel, Step, on_event

        shop = Cadence("shop", channels=[Channel("email")], steps=[
            Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"])])

        def test_welcome(regua_simulation):
            sim = regua_simulation(shop, start=datetime(2026, 3, 2, 12, tzinfo=timezone.utc))
            sim.add_contact("ana")
            sim.emit("ana", "signed_up")
            sim.advance("3d")
            sim.assert_sent("welcome", to="ana", at=datetime(2026, 3, 4, 12, tzinfo=timezone.utc))

        def test_wrong(regua_simulation):
            sim = regua_simulation(shop, start=datetime(2026, 3, 2, 12, tzinfo=timezone.utc))
            sim.add_contact("ana")
            sim.emit("ana", "signed_up")
            sim.advance("1d")
            sim.assert_sent("welcome", to="ana")
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*expected 'welcome' to 'ana' to have been sent*"])


def test_runs_on_postgresql_with_leases_on_the_virtual_clock(
    postgres_engine: object, postgres_schema: str
) -> None:
    from regua.repositories.sql import SQLRepository

    server_clock = SQLRepository(postgres_engine, schema=postgres_schema)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="open it with lease_clock='caller'"):
        Simulation(SHOP, start=START, repository=server_clock)
    repository = SQLRepository(
        postgres_engine,  # type: ignore[arg-type]
        schema=postgres_schema,
        lease_clock="caller",
    )
    sim = Simulation(SHOP, start=START, repository=repository)
    sim.add_contact("ana")
    sim.emit("ana", "signed_up")
    sim.advance("30d")
    sim.assert_sequence(["welcome", "welcome_sms"], to="ana")
