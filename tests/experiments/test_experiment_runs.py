"""Experiments on the real scheduler (Simulation): split, holdout, variants on messages."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Delivery,
    DeliveryStatus,
    InMemoryRepository,
    Message,
    Step,
    after_step,
    on_event,
)
from regua.planning.experiments import assign_variant
from regua.testing import Simulation
from tests.experiments.test_assignment import cadence as cart_cadence
from tests.profiles import examples

START = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)


def welcome(variants: dict[str, int], holdout: str | None = None, **fields: object) -> Cadence:
    return Cadence(
        "onboarding",
        channels=[Channel("email"), Channel("sms")],
        steps=[
            Step(
                "welcome",
                trigger=on_event("signed_up"),
                channels=["email"],
                variants=variants,
                holdout=holdout,
                **fields,  # type: ignore[arg-type]
            ),
            Step("tips", trigger=after_step("welcome"), delay="2d", channels=["email"]),
            Step(
                "nudge_by_sms",
                trigger=after_step("welcome", outcome="skipped"),
                delay="1d",
                channels=["sms"],
            ),
        ],
    )


def sign_up(sim: Simulation, count: int) -> list[str]:
    ids = [f"contact-{n}" for n in range(count)]
    for contact_id in ids:
        sim.add_contact(contact_id)
        sim.emit(contact_id, "signed_up")
    return ids


@pytest.mark.slow
def test_ten_thousand_contacts_split_fifty_fifty_within_two_percent() -> None:
    sim = Simulation(welcome({"short": 50, "long": 50}), start=START)
    sign_up(sim, 10_000)
    sim.advance("1m")
    welcomes = sim.sent("welcome")
    assert len(welcomes) == 10_000
    short = sum(1 for s in welcomes if s.variant == "short")
    long_ = sum(1 for s in welcomes if s.variant == "long")
    assert short + long_ == 10_000
    assert abs(short / 10_000 - 0.5) < 0.02, (short, long_)
    # Recorded on each delivery, as the sender saw it.
    for sent in welcomes[:200]:
        (delivery,) = [d for d in sim.deliveries(sent.contact_id) if d.step == "welcome"]
        assert delivery.variant == sent.variant


def test_the_sender_gets_the_variant_and_followers_inherit_it() -> None:
    received: list[Message] = []

    class Recorder:
        def send(self, message: Message) -> str | None:
            received.append(message)
            return None

    sim = Simulation(welcome({"short": 50, "long": 50}), start=START, senders={"email": Recorder()})
    ids = sign_up(sim, 40)
    sim.advance("3d")
    by_contact: dict[str, dict[str, str | None]] = {}
    for message in received:
        by_contact.setdefault(message.contact.id, {})[message.step] = message.variant
    assert set(by_contact) == set(ids)
    for contact_id, steps in by_contact.items():
        expected = assign_variant("onboarding", "welcome", contact_id, {"short": 50, "long": 50})
        assert steps == {"welcome": expected, "tips": expected}
    assert {m.message for m in received} == {"welcome", "tips"}  # templates pick by variant


def test_explain_shows_the_experiment_and_the_variant() -> None:
    sim = Simulation(welcome({"short": 50, "control": 50}, holdout="control"), start=START)
    ids = sign_up(sim, 20)
    sim.advance("1m")
    sent_to = {s.contact_id for s in sim.sent("welcome")}
    treated = next(i for i in ids if i in sent_to)
    held = next(i for i in ids if i not in sent_to)
    text = str(sim.explain(treated, "welcome"))
    assert "experiment 'welcome': variants short 50, control 50; holdout 'control'" in text
    assert "(variant short)" in text
    held_text = str(sim.explain(held, "welcome"))
    assert (
        "[recorded]: holdout, holdout of experiment 'welcome': no message (variant control)"
        in held_text
    )


@settings(max_examples=examples(15), deadline=None)
@given(
    st.integers(0, 100),
    st.integers(1, 100),
    st.integers(5, 60),
)
def test_holdout_never_receives_a_message(short: int, control: int, count: int) -> None:
    sim = Simulation(welcome({"short": short, "control": control}, holdout="control"), start=START)
    ids = sign_up(sim, count)
    sim.advance("5d")
    for contact_id in ids:
        deliveries = {d.step: d for d in sim.deliveries(contact_id)}
        variant = assign_variant(
            "onboarding", "welcome", contact_id, {"short": short, "control": control}
        )
        if variant == "control":
            # No message of any step of the branch; the assignment is recorded...
            assert sim.sent(to=contact_id) == []
            welcome_ = deliveries["welcome"]
            assert (welcome_.status, welcome_.reason, welcome_.variant) == (
                DeliveryStatus.SKIPPED,
                "holdout",
                "control",
            )
            # ...and a follower of the skipped step is held out too, not sent.
            nudge = deliveries["nudge_by_sms"]
            assert (nudge.status, nudge.reason, nudge.variant) == (
                DeliveryStatus.SKIPPED,
                "holdout",
                "control",
            )
        else:
            assert [s.step for s in sim.sent(to=contact_id)] == ["welcome", "tips"]
            assert {s.variant for s in sim.sent(to=contact_id)} == {"short"}


def test_reweighting_a_live_experiment_does_not_reshuffle_assigned_contacts() -> None:
    repository = InMemoryRepository()
    before = cart_cadence({"short": 50, "long": 50})
    first = Simulation(before, start=START, repository=repository)
    ids = [f"c{n}" for n in range(600)]
    for contact_id in ids:
        first.add_contact(contact_id)
        first.emit(contact_id, "cart_abandoned", id="cart-1")
    first.advance("1m")
    assigned = {s.contact_id: s.variant for s in first.sent("cart")}
    assert len(assigned) == 600

    # 90/10 now, and a third variant: every contact already assigned keeps their variant.
    after = before.model_copy(
        update={
            "steps": (
                before.steps[0].model_copy(
                    update={"variants": {"short": 90, "long": 10, "new": 0}}
                ),
            )
        }
    )
    second = Simulation(after, start=first.now, repository=repository)
    newcomers = [f"n{n}" for n in range(600)]
    for contact_id in newcomers:
        second.add_contact(contact_id)
    for contact_id in ids + newcomers:
        second.emit(contact_id, "cart_abandoned", id="cart-2")
    second.advance("1m")
    again = {s.contact_id: s.variant for s in second.sent("cart")}
    assert {c: again[c] for c in ids} == assigned
    shares = [again[c] for c in newcomers]
    assert abs(shares.count("short") / 600 - 0.9) < 0.05
    assert shares.count("new") == 0


def test_steps_sharing_an_experiment_share_the_assignment() -> None:
    variants = {"a": 50, "b": 50}
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "cart",
                trigger=on_event("cart_abandoned"),
                channels=["email"],
                variants=variants,
                experiment="tone",
            ),
            Step(
                "browse",
                trigger=on_event("product_viewed"),
                channels=["email"],
                variants=variants,
                experiment="tone",
            ),
        ],
    )
    sim = Simulation(cadence, start=START)
    for n in range(100):
        sim.add_contact(f"c{n}")
        sim.emit(f"c{n}", "cart_abandoned")
        sim.emit(f"c{n}", "product_viewed")
    sim.advance("1m")
    for n in range(100):
        variants_seen = {s.variant for s in sim.sent(to=f"c{n}")}
        assert len(variants_seen) == 1


def test_variants_survive_the_sql_repository(tmp_path: Path) -> None:
    from regua.repositories.sql import SQLRepository

    repository = SQLRepository(f"sqlite:///{tmp_path / 'regua.db'}")
    sim = Simulation(
        welcome({"short": 50, "control": 50}, holdout="control"),
        start=START,
        repository=repository,
    )
    ids = sign_up(sim, 30)
    sim.advance("1m")
    stored: list[Delivery] = [
        d
        for i in ids
        for d in repository.history(i)
        if isinstance(d, Delivery) and d.step == "welcome"
    ]
    assert len(stored) == 30
    for delivery in stored:
        expected = assign_variant(
            "onboarding", "welcome", delivery.contact_id, {"short": 50, "control": 50}
        )
        assert delivery.variant == expected
        assert delivery.status is (
            DeliveryStatus.SKIPPED if expected == "control" else DeliveryStatus.SENT
        )
    repository.close()
