"""Variant assignment: deterministic, the same everywhere, and stable under re-weighting.

The documented guarantees (regua.planning.experiments):

1. a contact with a recorded assignment keeps it, whatever the weights become;
2. otherwise the contact's BLAKE2b bucket decides, the same in every process; changing
   weights moves only the contacts whose bucket crosses a moved boundary.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    Event,
    Snapshot,
    Step,
    on_event,
    plan,
)
from regua.planning import OccurrenceState, Reason
from regua.planning.experiments import assign_variant, bucket
from tests.profiles import examples

T0 = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)
ROOT = Path(__file__).resolve().parents[2]

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8).map(
    lambda s: "v" + s
)
contact_ids = st.text(min_size=1, max_size=20).filter(lambda s: s.strip() != "")


@st.composite
def weights(draw: st.DrawFn, min_size: int = 2) -> dict[str, int]:
    variant_names = draw(st.lists(names, min_size=min_size, max_size=5, unique=True))
    values = draw(
        st.lists(
            st.integers(0, 1000), min_size=len(variant_names), max_size=len(variant_names)
        ).filter(any)
    )
    return dict(zip(variant_names, values, strict=True))


def cadence(variants: dict[str, int], holdout: str | None = None) -> Cadence:
    return Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "cart",
                trigger=on_event("cart_abandoned"),
                channels=["email"],
                variants=variants,
                holdout=holdout,
            )
        ],
    )


def contact(contact_id: str) -> Contact:
    return Contact(contact_id, consents={"email"}, addresses={"email": "x@example.com"})


def cart(contact_id: str, number: int = 1) -> Event:
    return Event(contact_id, "cart_abandoned", T0 + timedelta(days=number), id=f"cart-{number}")


# --- the bucket --------------------------------------------------------------------------------


def test_bucket_is_blake2b_of_cadence_experiment_and_contact() -> None:
    # The spelled-out rule: an independent computation gives the same buckets.
    for contact_id in ["ana", "bob", "ção-7", "x" * 300]:
        text = f"shop:welcome_copy:{contact_id}".encode()
        digest = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
        assert bucket("shop", "welcome_copy", contact_id, 100) == digest * 100 // 2**64


@given(contact_ids, weights())
def test_assignment_is_deterministic_and_follows_the_bucket(
    contact_id: str, variants: dict[str, int]
) -> None:
    chosen = assign_variant("shop", "cart", contact_id, variants)
    assert chosen == assign_variant("shop", "cart", contact_id, dict(variants))
    point = bucket("shop", "cart", contact_id, sum(variants.values()))
    names_ = list(variants)
    start = sum(variants[n] for n in names_[: names_.index(chosen)])
    assert start <= point < start + variants[chosen]
    assert variants[chosen] > 0


@pytest.mark.slow
def test_assignment_is_the_same_in_other_processes_whatever_their_hash_seed() -> None:
    ids = [f"contact-{n}" for n in range(300)]
    variants = {"short": 50, "long": 30, "control": 20}
    here = [assign_variant("shop", "cart", i, variants) for i in ids]
    script = (
        "import json, sys\n"
        "from regua.planning.experiments import assign_variant\n"
        "ids, variants = json.load(sys.stdin)\n"
        "print(json.dumps([assign_variant('shop', 'cart', i, variants) for i in ids]))\n"
    )
    for seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT / "src")}
        result = subprocess.run(
            [sys.executable, "-c", script],
            input=json.dumps([ids, variants]),
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        assert json.loads(result.stdout) == here


@pytest.mark.slow
@settings(max_examples=examples(50), deadline=None)
@given(
    st.integers(1, 99),
    st.integers(1, 99),
)
def test_moving_weight_between_two_variants_moves_only_the_difference(a1: int, a2: int) -> None:
    before = {"a": a1, "b": 100 - a1}
    after = {"a": a2, "b": 100 - a2}
    ids = [f"c{n}" for n in range(2000)]
    moved = 0
    for contact_id in ids:
        old = assign_variant("shop", "cart", contact_id, before)
        new = assign_variant("shop", "cart", contact_id, after)
        if old != new:
            moved += 1
            # Only towards the variant that gained weight.
            assert new == ("a" if a2 > a1 else "b")
    # Exactly the contacts whose bucket lies between the two boundaries move.
    expected = sum(
        1
        for contact_id in ids
        if min(a1, a2) <= bucket("shop", "cart", contact_id, 100) < max(a1, a2)
    )
    assert moved == expected


def test_ten_thousand_contacts_split_by_weight_within_two_percent() -> None:
    variants = {"short": 50, "long": 30, "control": 20}
    counts = dict.fromkeys(variants, 0)
    for n in range(10_000):
        counts[assign_variant("shop", "cart", f"contact-{n}", variants)] += 1
    for name, weight in variants.items():
        assert abs(counts[name] / 10_000 - weight / 100) < 0.02, counts


# --- in the planner: recorded assignments are kept -----------------------------------------


@pytest.mark.slow
@settings(max_examples=examples(200), deadline=None)
@given(contact_ids, weights(), weights(), st.data())
def test_a_recorded_assignment_survives_any_reweighting(
    contact_id: str, first: dict[str, int], second: dict[str, int], data: st.DataObject
) -> None:
    # The second definition keeps the recorded variant among its variants (possibly at 0).
    recorded = data.draw(st.sampled_from(sorted(first)))
    second = {**second, recorded: second.get(recorded, 0)}
    delivery = Delivery(
        "shop",
        "cart",
        contact_id,
        f"shop:cart:{contact_id}:event=cart-1",
        DeliveryStatus.SENT,
        T0 + timedelta(days=1),
        channel="email",
        variant=recorded,
    )
    snapshot = Snapshot(contact(contact_id), [cart(contact_id, 1), cart(contact_id, 2)], [delivery])
    result = plan(cadence(second), snapshot, T0 + timedelta(days=3))
    (due,) = result.due
    assert due.variant == recorded


def test_a_recorded_variant_the_experiment_dropped_is_assigned_afresh() -> None:
    delivery = Delivery(
        "shop", "cart", "ana", "shop:cart:ana:event=cart-1", "sent", T0, "email", variant="gone"
    )
    snapshot = Snapshot(contact("ana"), [cart("ana", 1), cart("ana", 2)], [delivery])
    variants = {"short": 50, "long": 50}
    (due,) = plan(cadence(variants), snapshot, T0 + timedelta(days=3)).due
    assert due.variant == assign_variant("shop", "cart", "ana", variants)


@pytest.mark.slow
@settings(max_examples=examples(200), deadline=None)
@given(contact_ids, weights(), st.data())
def test_holdout_contacts_get_no_due_action_but_a_recorded_holdout(
    contact_id: str, variants: dict[str, int], data: st.DataObject
) -> None:
    holdout = data.draw(st.sampled_from(sorted(variants)))
    snapshot = Snapshot(contact(contact_id), [cart(contact_id)])
    result = plan(cadence(variants, holdout), snapshot, T0 + timedelta(days=2))
    expected = assign_variant("shop", "cart", contact_id, variants)
    if expected == holdout:
        assert result.due == ()
        (closed,) = result.closed
        assert closed.state is OccurrenceState.SKIPPED
        assert closed.reason is Reason.HOLDOUT
        assert closed.variant == holdout
        delivery = closed.as_delivery()
        assert (delivery.status, delivery.reason, delivery.variant) == (
            DeliveryStatus.SKIPPED,
            "holdout",
            holdout,
        )
    else:
        (due,) = result.due
        assert due.variant == expected
        assert result.closed == ()


def test_repeat_once_and_cooldown_thin_out_the_holdout_like_the_others() -> None:
    variants = {"offer": 50, "control": 50}
    # One contact of each group (assignment is by hash: find one of each).
    ids = [f"c{n}" for n in range(40)]
    held = next(i for i in ids if assign_variant("shop", "cart", i, variants) == "control")
    treated = next(i for i in ids if assign_variant("shop", "cart", i, variants) == "offer")
    for repeat, cooldown in (("once", None), ("every", "5d")):
        once = Cadence(
            "shop",
            channels=[Channel("email")],
            steps=[
                Step(
                    "cart",
                    trigger=on_event("cart_abandoned"),
                    channels=["email"],
                    variants=variants,
                    holdout="control",
                    repeat=repeat,
                    cooldown=cooldown,
                )
            ],
        )
        for who in (held, treated):
            events = [cart(who, 1), cart(who, 2)]
            first = plan(once, Snapshot(contact(who), events[:1]), T0 + timedelta(days=1))
            recorded = [
                *(o.as_delivery() for o in first.closed),
                *(
                    Delivery(
                        "shop",
                        "cart",
                        who,
                        a.occurrence_key,
                        "sent",
                        T0 + timedelta(days=1),
                        "email",
                        variant=a.variant,
                    )
                    for a in first.due
                ),
            ]
            assert len(recorded) == 1
            second = plan(once, Snapshot(contact(who), events, recorded), T0 + timedelta(days=2))
            (closed,) = second.closed
            assert second.due == ()
            assert closed.reason is (Reason.REPEAT_ONCE if repeat == "once" else Reason.COOLDOWN)
