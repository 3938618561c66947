"""`regua.forecasting.forecast_diff`: what a cadence change adds, removes or moves in flight."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from regua import Cadence, Channel, Contact, Event, Snapshot, Step, on_event
from regua.forecasting import StepChange, forecast_diff

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)


def shop(*steps: Step) -> Cadence:
    return Cadence("shop", channels=[Channel("email"), Channel("sms")], steps=list(steps))


WELCOME = Step("welcome", trigger=on_event("signed_up"), delay="3d", channels=["email"])
TIPS = Step("tips", trigger=on_event("signed_up"), delay="7d", channels=["email"])


def in_flight(count: int) -> list[Snapshot]:
    """Contacts who signed up in the last days: some welcomes are still pending."""
    snapshots = []
    for n in range(count):
        contact = Contact(f"c{n}", consents={"email", "sms"}, addresses={"email": "e", "sms": "s"})
        signed_up = START - timedelta(days=n % 5)
        snapshots.append(Snapshot(contact, [Event(contact.id, "signed_up", signed_up, id=f"s{n}")]))
    return snapshots


def test_a_shorter_delay_moves_pending_messages_and_sends_overdue_ones_at_once() -> None:
    people = in_flight(10)
    faster = WELCOME.model_copy(update={"delay": WELCOME.delay.parse("1d")})
    change = forecast_diff(shop(WELCOME), shop(faster), people, START, "30d")
    # Signed up 0-4 days ago: with 3 days, the welcome is due in 3, 2, 1 days (moved), or
    # already due (3 and 4 days ago: sent at the start either way, unchanged). With 1 day:
    # due in 1 day (0 days ago) or at once.
    assert change.steps == (StepChange("shop", "welcome", added=0, removed=0, moved=6),)
    assert change.affected == 6
    assert change.old_messages == change.new_messages == 10
    moved = {c.contact_id: (c.old_at, c.new_at) for c in change.sample}
    assert moved["c0"] == (START + timedelta(days=3), START + timedelta(days=1))
    assert moved["c1"] == (START + timedelta(days=2), START)


def test_a_removed_step_and_an_added_one() -> None:
    people = in_flight(4)
    change = forecast_diff(shop(WELCOME), shop(TIPS), people, START, "30d")
    assert change.steps == (
        StepChange("shop", "tips", added=4),
        StepChange("shop", "welcome", removed=4),
    )
    assert (change.added, change.removed, change.moved) == (4, 4, 0)
    kinds = {(c.contact_id, c.step): c.kind for c in change.sample}
    assert kinds[("c0", "welcome")] == "removed"
    assert kinds[("c0", "tips")] == "added"


def test_a_channel_change_is_a_move() -> None:
    by_sms = WELCOME.model_copy(update={"channels": ("sms",)})
    change = forecast_diff(shop(WELCOME), shop(by_sms), in_flight(2), START, "30d")
    assert change.moved == 2
    assert {(c.old_channel, c.new_channel) for c in change.sample} == {("email", "sms")}


def test_no_change_and_the_sample_size() -> None:
    same = forecast_diff(shop(WELCOME), shop(WELCOME), in_flight(5), START, "30d")
    assert same.steps == ()
    assert same.affected == 0
    assert "(no change)" in same.table()
    sampled = forecast_diff(shop(WELCOME), shop(TIPS), in_flight(20), START, "30d", sample=3)
    assert sampled.affected == 20
    assert {c.contact_id for c in sampled.sample} == {"c0", "c1", "c2"}  # the first three
    data = json.loads(sampled.to_json())
    assert data["added"] == 20
    assert data["removed"] == 20
    assert len(data["sample"]) == 6
