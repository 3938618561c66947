"""regua.report: sent, held out, opens, clicks, conversions and Wilson intervals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from regua import (
    Cadence,
    Channel,
    Delivery,
    DeliveryStatus,
    Event,
    InMemoryRepository,
    Step,
    after_step,
    on_event,
    report,
)
from regua.definitions import Goal
from regua.records import CLICKED, OPENED
from regua.reporting import wilson_interval
from regua.testing import Simulation

START = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
DAY = timedelta(days=1)


def shop(**fields: object) -> Cadence:
    return Cadence(
        "shop",
        channels=[Channel("email")],
        goal=Goal("order_placed", within="7d"),
        steps=[
            Step(
                "cart_1",
                trigger=on_event("cart_abandoned"),
                delay="1h",
                channels=["email"],
                variants={"short": 50, "long": 50},
            ),
            Step("cart_2", trigger=after_step("cart_1"), delay="3d", channels=["email"]),
            Step("newsletter", trigger=on_event("subscribed"), channels=["email"]),
        ],
        **fields,  # type: ignore[arg-type]
    )


def sent(step: str, who: str, key: str, at: datetime, variant: str | None = None) -> Delivery:
    return Delivery("shop", step, who, key, DeliveryStatus.SENT, at, "email", variant=variant)


def test_conversions_are_counted_when_a_purchase_follows_an_open() -> None:
    sim = Simulation(shop(), start=START)
    ids = [f"c{n}" for n in range(40)]
    for who in ids:
        sim.add_contact(who)
        sim.emit(who, "cart_abandoned")
    first = sim.advance("2h")
    assert len(first) == 40
    openers = first[:20]
    for message in openers:
        sim.open(message)
    sim.advance("1h")
    for message in openers[:10]:  # half the openers buy, an hour after opening
        sim.click(message)
        sim.emit(message.contact_id, "order_placed", total=99)
    sim.advance("5d")
    result = sim.report()
    by_variant = {v: result.row("cart_1", v) for v in ("short", "long")}
    for variant, row in by_variant.items():
        mine = [m for m in first if m.variant == variant]
        assert row.sent == len(mine)
        assert row.opened == sum(1 for m in openers if m.variant == variant)
        assert row.clicked == sum(1 for m in openers[:10] if m.variant == variant)
        assert row.conversions == row.clicked
        assert row.conversion_rate == pytest.approx(row.conversions / row.sent)
        assert row.interval == wilson_interval(row.conversions, row.sent)
        assert row.goal == "order_placed"
    assert sum(r.conversions or 0 for r in by_variant.values()) == 10
    # The buyers' cart_2 never went out (exit on goal); the others' did, and did not convert.
    cart_2 = [result.row("cart_2", v) for v in ("short", "long")]
    assert sum(r.sent for r in cart_2) == 30
    assert sum(r.conversions or 0 for r in cart_2) == 0
    # A step with no exposure has no rate.
    newsletter = result.row("newsletter")
    assert (newsletter.sent, newsletter.conversion_rate, newsletter.interval) == (0, None, None)


def test_the_latest_exposure_of_a_step_before_the_goal_gets_the_conversion() -> None:
    t = START
    history = [
        sent("newsletter", "ana", "n1", t, None),
        sent("newsletter", "ana", "n2", t + 2 * DAY, None),
        sent("newsletter", "ana", "n3", t + 3 * DAY, None),
        Event("ana", "order_placed", t + 3 * DAY + timedelta(hours=1), id="o1"),
        Event("ana", "order_placed", t + 4 * DAY, id="o2"),  # n3 again: still one conversion
        # eve: the purchase at the very instant of the message is not after it
        sent("newsletter", "eve", "e1", t, None),
        Event("eve", "order_placed", t, id="o6"),
        # bob: one message, purchases at exactly 7 days (counts) and later (does not)
        sent("newsletter", "bob", "b1", t, None),
        Event("bob", "order_placed", t + 7 * DAY, id="o3"),
        # cid: the purchase comes before the message
        Event("cid", "order_placed", t, id="o4"),
        sent("newsletter", "cid", "c1", t + timedelta(seconds=1), None),
        # dan: the purchase is a second past the window
        sent("newsletter", "dan", "d1", t, None),
        Event("dan", "order_placed", t + 7 * DAY + timedelta(seconds=1), id="o5"),
    ]
    row = report(history, shop()).row("newsletter")
    assert row.sent == 7
    assert row.conversions == 2  # n3 (not n1 nor n2) and b1
    assert row.conversion_rate == pytest.approx(2 / 7)


def test_steps_are_measured_independently() -> None:
    history = [
        sent("cart_1", "ana", "k1", START, "short"),
        sent("cart_2", "ana", "k2", START + DAY, "short"),
        Event("ana", "order_placed", START + 2 * DAY, id="o1"),
    ]
    result = report(history, shop())
    assert result.row("cart_1", "short").conversions == 1
    assert result.row("cart_2", "short").conversions == 1


def test_holdout_exposures_are_counted_and_converted() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        goal=Goal("order_placed", within="7d"),
        steps=[
            Step(
                "winback",
                trigger=on_event("churn_risk"),
                channels=["email"],
                variants={"offer": 80, "control": 20},
                holdout="control",
            )
        ],
    )
    held = Delivery(
        "shop", "winback", "bob", "h1", "skipped", START, reason="holdout", variant="control"
    )
    skipped = Delivery("shop", "winback", "cid", "s1", "skipped", START, reason="no_channel")
    history = [
        sent("winback", "ana", "a1", START, "offer"),
        held,
        skipped,
        Event("bob", "order_placed", START + DAY, id="o1"),
        Event("cid", "order_placed", START + DAY, id="o2"),
    ]
    result = report(history, cadence)
    control = result.row("winback", "control")
    assert (control.sent, control.held_out, control.exposed, control.conversions) == (0, 1, 1, 1)
    offer = result.row("winback", "offer")
    assert (offer.sent, offer.held_out, offer.conversions) == (1, 0, 0)
    assert [(r.step, r.variant) for r in result.rows] == [
        ("winback", "offer"),
        ("winback", "control"),
    ]


def test_a_repository_and_its_history_give_the_same_report() -> None:
    repository = InMemoryRepository()
    sim = Simulation(shop(), start=START, repository=repository)
    for n in range(30):
        sim.add_contact(f"c{n}", timezone="America/Sao_Paulo")
        sim.emit(f"c{n}", "cart_abandoned")
    for message in sim.advance("2h")[:12]:
        sim.open(message)
        sim.emit(message.contact_id, "order_placed")
    sim.advance("4d")
    ids = repository.contact_ids()
    records = [item for who in ids for item in repository.history(who)]
    assert report(records, shop()) == report(repository, shop())
    snapshots = list(repository.load_snapshots(ids).values())
    assert report(snapshots, shop()) == report(repository, shop())


def test_since_and_until_bound_the_exposures_counted() -> None:
    history = [
        sent("newsletter", "ana", "n1", START, None),
        sent("newsletter", "bob", "n2", START + 2 * DAY, None),
        Event("bob", "order_placed", START + 3 * DAY, id="o1"),
    ]
    assert report(history, shop(), until=START + DAY).row("newsletter").sent == 1
    late = report(history, shop(), since=START + DAY).row("newsletter")
    assert (late.sent, late.conversions) == (1, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        report(history, shop(), since=datetime(2026, 3, 2))


def test_steps_and_variants_no_longer_declared_still_get_rows() -> None:
    history = [
        sent("retired_step", "ana", "r1", START, None),
        sent("cart_1", "ana", "k1", START, "medium"),
    ]
    result = report(history, shop())
    assert result.row("retired_step").sent == 1
    assert result.row("retired_step").goal is None
    assert result.row("retired_step").conversions is None
    assert result.row("cart_1", "medium").sent == 1
    with pytest.raises(KeyError, match="no report row for step 'cart_1', variant 'tall'"):
        result.row("cart_1", "tall")


def test_the_report_prints_as_a_table_and_dicts() -> None:
    history = [
        sent("cart_1", "ana", "k1", START, "short"),
        Event("ana", OPENED, START + DAY, ref="k1"),
        Event("ana", CLICKED, START + DAY, ref="k1"),
        Event("ana", "order_placed", START + DAY, id="o1"),
    ]
    result = report(history, shop(), confidence=0.9)
    text = str(result)
    assert text.splitlines()[0].split() == [
        "cadence", "step", "variant", "sent", "held", "out", "opened", "clicked", "goal",
        "conversions", "rate", "90%", "interval",
    ]  # fmt: skip
    assert "shop     cart_1      short" in text
    assert "100.0%" in text
    row = result.as_dicts()[0]
    assert row["opened"] == row["clicked"] == row["conversions"] == 1
    assert row["interval_low"] == pytest.approx(wilson_interval(1, 1, 0.9)[0])
    with pytest.raises(TypeError, match="got str"):
        report(["not a record"], shop())  # type: ignore[list-item]

    class OldRepository:
        def load_snapshots(self, contact_ids: list[str]) -> dict[str, object]:
            return {}

    with pytest.raises(TypeError, match=r"OldRepository lacks methods of regua\.ports\.Repository"):
        report(OldRepository(), shop())  # type: ignore[arg-type]


# --- the Wilson interval -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("successes", "trials", "low", "high"),
    [
        # Values from Newcombe (1998), "Two-sided confidence intervals for the single
        # proportion", Statistics in Medicine 17, table I, method 3 (score, no correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(
    successes: int, trials: int, low: float, high: float
) -> None:
    got = wilson_interval(successes, trials)
    assert got == pytest.approx((low, high), abs=5e-5)


@pytest.mark.slow
def test_wilson_matches_scipy_when_it_is_installed() -> None:
    stats = pytest.importorskip("scipy.stats")
    for successes, trials in [(0, 1), (1, 1), (3, 7), (50, 100), (999, 1000), (12, 10_000)]:
        for confidence in (0.8, 0.95, 0.99):
            expected = stats.binomtest(successes, trials).proportion_ci(confidence, "wilson")
            got = wilson_interval(successes, trials, confidence)
            assert got == pytest.approx((expected.low, expected.high), abs=1e-12)


def test_wilson_bounds_and_errors() -> None:
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == 1.0
    narrow, wide = wilson_interval(50, 100, 0.8), wilson_interval(50, 100, 0.99)
    assert wide[0] < narrow[0] < 0.5 < narrow[1] < wide[1]
    with pytest.raises(ValueError, match="trials must be positive"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="successes must be between 0 and 10"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="confidence must be between 0 and 1"):
        wilson_interval(1, 10, 1.0)
