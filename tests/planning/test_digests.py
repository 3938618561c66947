"""Digests: the events of a window go out as one message, once, under every policy."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    FrequencyCap,
    Message,
    Policy,
    QuietHours,
    Snapshot,
    Step,
    TemporaryFailure,
    after_step,
    explain,
    on_event,
    plan,
)
from regua.definitions import Digest
from regua.planning import OccurrenceState
from regua.testing import Simulation
from tests.profiles import examples

UTC = timezone.utc
SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NEW_YORK = ZoneInfo("America/New_York")
QUIET = QuietHours(start=time(21), end=time(8))


def shop(*steps: Step, **kwargs: object) -> Cadence:
    return Cadence(
        "shop",
        timezone="America/Sao_Paulo",
        channels=[Channel("email"), Channel("sms")],
        steps=list(steps),
        **kwargs,  # type: ignore[arg-type]
    )


def shipping(**changes: object) -> Step:
    fields: dict[str, object] = {
        "trigger": on_event("order_shipped"),
        "digest": Digest("2h"),
        "channels": ["email"],
        "transactional": True,
    }
    fields.update(changes)
    return Step("shipping_digest", **fields)


def local(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)  # type: ignore[misc]


def ids(payload: dict[str, object]) -> list[str]:
    events = payload["events"]
    assert isinstance(events, list)
    return [event["id"] for event in events]


# --- one message per window -------------------------------------------------------------------


def test_five_shipments_within_the_window_are_one_message_listing_all_five_in_order() -> None:
    sim = Simulation(
        shop(shipping(payload={"brand": "acme"})), start=local(SAO_PAULO, 2026, 5, 4, 10)
    )
    sim.add_contact("ana")
    shipped = []
    for number in range(5):
        shipped.append(sim.emit("ana", "order_shipped", order=f"A-{number}", items=number + 1))
        sim.advance("20m")
    sim.advance("1d")

    message = sim.assert_sent("shipping_digest", to="ana", times=1)
    assert message.at == local(SAO_PAULO, 2026, 5, 4, 12)  # 2h after the first shipment
    assert message.payload == {
        "brand": "acme",
        "events": [
            {
                "id": event.id,
                "at": event.at.isoformat().replace("+00:00", "Z"),
                "data": {"order": f"A-{number}", "items": number + 1},
            }
            for number, event in enumerate(shipped)
        ],
    }
    assert message.occurrence_key == f"shop:shipping_digest:ana:digest={shipped[0].id}"


def test_a_late_event_opens_the_next_window_and_the_first_digest_is_not_resent() -> None:
    sim = Simulation(shop(shipping()), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    first = sim.emit("ana", "order_shipped", id="s1")
    sim.advance("2h")  # the window closes and the digest goes out, at this very instant
    late = sim.emit("ana", "order_shipped", id="s2")  # at the instant it was sent: too late
    sim.advance("30m")
    later = sim.emit("ana", "order_shipped", id="s3")
    sim.advance("1d")

    sent = sim.sent("shipping_digest")
    assert [(s.at, ids(s.payload)) for s in sent] == [
        (first.at + timedelta(hours=2), ["s1"]),
        (late.at + timedelta(hours=2), ["s2", "s3"]),
    ]
    assert [s.occurrence_key.rsplit(":", 1)[1] for s in sent] == ["digest=s1", "digest=s2"]
    assert later.at < sent[1].at


def test_events_of_other_contacts_kinds_and_filters_stay_out() -> None:
    step = shipping(trigger=on_event("order_shipped", where={"carrier": "post"}))
    sim = Simulation(shop(step), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    sim.add_contact("bia")
    sim.emit("ana", "order_shipped", id="a1", carrier="post")
    sim.emit("ana", "order_shipped", id="a2", carrier="courier")
    sim.emit("ana", "order_placed", id="a3")
    sim.emit("bia", "order_shipped", id="b1", carrier="post")
    sim.advance("3h")
    assert sorted((s.contact_id, tuple(ids(s.payload))) for s in sim.outbox) == [
        ("ana", ("a1",)),
        ("bia", ("b1",)),
    ]


def test_until_a_local_time_collects_the_day_and_sends_at_that_time() -> None:
    step = shipping(digest=Digest(until=time(18)))
    sim = Simulation(shop(step), start=local(SAO_PAULO, 2026, 5, 4, 9))
    sim.add_contact("ana")
    for hour in (9, 12, 17):
        sim.advance_to(local(SAO_PAULO, 2026, 5, 4, hour))
        sim.emit("ana", "order_shipped", id=f"h{hour}")
    sim.advance_to(local(SAO_PAULO, 2026, 5, 4, 18))
    sim.emit("ana", "order_shipped", id="h18")  # at 18:00 itself: tomorrow's digest
    sim.advance("2d")
    assert [(s.local_at.replace(tzinfo=None), ids(s.payload)) for s in sim.outbox] == [
        (datetime(2026, 5, 4, 18), ["h9", "h12", "h17"]),
        (datetime(2026, 5, 5, 18), ["h18"]),
    ]


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        ((2026, 3, 8), 22),  # spring forward: 18:00 EDT, 23 hours after midnight local
        ((2026, 11, 1), 23),  # fall back: 18:00 EST, 25 hours after midnight local
    ],
)
def test_until_18_on_a_dst_day_is_18_local(day: tuple[int, int, int], utc_hour: int) -> None:
    step = shipping(digest=Digest(until=time(18)))
    cadence = Cadence(
        "shop", timezone="America/New_York", channels=[Channel("email")], steps=[step]
    )
    sim = Simulation(cadence, start=local(NEW_YORK, *day, 0, 30))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="night")  # before the clocks change
    sim.advance_to(local(NEW_YORK, *day, 12))
    sim.emit("ana", "order_shipped", id="noon")
    sim.advance("1d")
    message = sim.assert_sent("shipping_digest", to="ana", times=1, local=time(18))
    assert message.at == datetime(*day, utc_hour, tzinfo=UTC)
    assert ids(message.payload) == ["night", "noon"]


def test_window_and_until_together_close_at_the_first_until_after_the_window() -> None:
    step = shipping(digest=Digest("3h", until=time(18)))
    sim = Simulation(shop(step), start=local(SAO_PAULO, 2026, 5, 4, 16))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")  # 16:00 + 3h = 19:00: past today's 18:00
    sim.advance("2d")
    assert sim.assert_sent("shipping_digest").at == local(SAO_PAULO, 2026, 5, 5, 18)


# --- policy -----------------------------------------------------------------------------------


def marketing(**changes: object) -> Step:
    return shipping(**{"transactional": False, "expires_after": "1d", **changes})


def test_a_digest_closing_in_quiet_hours_waits_and_events_meanwhile_join_it() -> None:
    cadence = shop(marketing(), policy=Policy(quiet_hours=QUIET))
    sim = Simulation(cadence, start=local(SAO_PAULO, 2026, 5, 4, 20))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")  # closes at 22:00, inside quiet hours
    sim.advance_to(local(SAO_PAULO, 2026, 5, 4, 23))
    sim.emit("ana", "order_shipped", id="s2")  # after the close, while the digest waits
    waiting = sim.explain("ana", "shipping_digest").occurrences
    assert [(o.state, o.collected) for o in waiting] == [(OccurrenceState.WAITING, ("s1", "s2"))]
    sim.advance_to(local(SAO_PAULO, 2026, 5, 5, 8))
    sim.emit("ana", "order_shipped", id="s3")  # at the instant it goes out: the next one
    sim.advance("6h")

    first, second = sim.sent("shipping_digest")
    assert first.local_at.replace(tzinfo=None) == datetime(2026, 5, 5, 8)
    assert ids(first.payload) == ["s1", "s2"]
    assert first.occurrence_key.endswith("digest=s1")  # the key did not move as s2 joined
    assert ids(second.payload) == ["s3"]
    assert second.local_at.replace(tzinfo=None) == datetime(2026, 5, 5, 10)


def test_a_transactional_digest_ignores_quiet_hours() -> None:
    cadence = shop(shipping(), policy=Policy(quiet_hours=QUIET))
    sim = Simulation(cadence, start=local(SAO_PAULO, 2026, 5, 4, 20))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped")
    sim.advance("1d")
    assert sim.assert_sent("shipping_digest").local_at.hour == 22


def test_a_capped_digest_waits_for_a_slot_gathering_events() -> None:
    news = Step("news", trigger=on_event("news"), channels=["email"])
    cadence = shop(marketing(), news, policy=Policy(caps=[FrequencyCap(max=1, per="6h")]))
    sim = Simulation(cadence, start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    sim.emit("ana", "news")  # takes the only slot until 16:00
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("3h")
    sim.emit("ana", "order_shipped", id="s2")
    sim.advance("1d")
    digest = sim.assert_sent("shipping_digest", times=1)
    assert digest.local_at.hour == 16
    assert ids(digest.payload) == ["s1", "s2"]


def test_without_consent_the_digest_is_skipped_and_later_events_start_afresh() -> None:
    sim = Simulation(shop(marketing()), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana", consents=[])
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("3h")
    sim.assert_not_sent("shipping_digest")
    skipped = [d for d in sim.deliveries("ana") if d.step == "shipping_digest"]
    assert [(d.status.value, d.reason) for d in skipped] == [("skipped", "no_channel")]
    sim.set_consent("ana", "email", True)
    sim.emit("ana", "order_shipped", id="s2")
    sim.advance("3h")
    assert ids(sim.assert_sent("shipping_digest", times=1).payload) == ["s2"]


def test_consent_revoked_before_sending_sends_nothing() -> None:
    sim = Simulation(shop(marketing()), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("1h")
    sim.set_consent("ana", "email", False)
    sim.advance("1d")
    sim.assert_not_sent("shipping_digest")


def test_a_cancel_event_cancels_the_window_and_later_events_open_a_new_one() -> None:
    step = marketing(cancel_on=["order_cancelled"])
    sim = Simulation(shop(step), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("30m")
    sim.emit("ana", "order_cancelled")
    sim.advance("30m")
    sim.emit("ana", "order_shipped", id="s2")
    sim.advance("1d")
    assert [ids(s.payload) for s in sim.sent("shipping_digest")] == [["s2"]]
    outcomes = [(d.occurrence_key.rsplit("=", 1)[1], d.status.value) for d in sim.deliveries("ana")]
    assert outcomes == [("s1", "cancelled"), ("s2", "sent")]


def test_a_digest_past_its_expiry_is_expired_and_the_next_events_are_not_lost() -> None:
    step = shipping(transactional=False, expires_after="2h")
    cadence = shop(step, policy=Policy(quiet_hours=QUIET))
    sim = Simulation(cadence, start=local(SAO_PAULO, 2026, 5, 4, 19))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")  # due 21:00 (quiet), expires 23:00
    sim.advance_to(local(SAO_PAULO, 2026, 5, 4, 22))
    sim.emit("ana", "order_shipped", id="s2")  # joins the waiting digest, which expires
    sim.advance_to(local(SAO_PAULO, 2026, 5, 5, 7))
    sim.emit("ana", "order_shipped", id="s3")  # after the expiry: a new window, to 09:00
    sim.advance("1d")
    assert [ids(s.payload) for s in sim.sent("shipping_digest")] == [["s3"]]
    assert sim.sent("shipping_digest")[0].local_at.hour == 9
    expired = explain(cadence, _snapshot(sim, "ana"), "shipping_digest", sim.now).occurrences[0]
    assert (expired.state, expired.collected) == (OccurrenceState.EXPIRED, ("s1", "s2"))


def _snapshot(sim: Simulation, contact_id: str) -> Snapshot:
    return sim.repository.load_snapshots([contact_id])[contact_id]


def test_after_step_follows_each_sent_digest() -> None:
    follow = Step(
        "rate_delivery", trigger=after_step("shipping_digest"), delay="1d", channels=["email"]
    )
    sim = Simulation(shop(shipping(), follow), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")
    sim.emit("ana", "order_shipped", id="s2")
    sim.advance("3d")
    assert [s.step for s in sim.outbox] == ["shipping_digest", "rate_delivery"]
    assert sim.outbox[1].occurrence_key == (
        "shop:rate_delivery:ana:after=shipping_digest/digest=s1"
    )


def test_repeat_once_sends_one_digest_ever() -> None:
    sim = Simulation(shop(shipping(repeat="once")), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("3h")
    sim.emit("ana", "order_shipped", id="s2")
    sim.advance("3h")
    assert [ids(s.payload) for s in sim.outbox] == [["s1"]]


def test_events_before_active_from_are_not_collected() -> None:
    start = local(SAO_PAULO, 2026, 5, 4, 10)
    step = shipping(active_from=start + timedelta(minutes=30))
    sim = Simulation(shop(step), start=start)
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="old")
    sim.advance("1h")
    sim.emit("ana", "order_shipped", id="new")
    sim.advance("3h")
    assert [ids(s.payload) for s in sim.outbox] == [["new"]]


def test_an_event_recorded_late_is_sent_in_the_next_digest_not_lost() -> None:
    start = local(SAO_PAULO, 2026, 5, 4, 10)
    sim = Simulation(shop(shipping()), start=start)
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("2h")  # the digest of s1 goes out at 12:00
    # A feed delivers, at 12:30, a shipment that happened at 11:00: within the window of the
    # digest already sent, which did not list it.
    sim.advance("30m")
    sim.repository.record_event(
        Event("ana", "order_shipped", start + timedelta(hours=1), id="late")
    )
    sim.advance("1d")
    sent = sim.sent("shipping_digest")
    assert [ids(s.payload) for s in sent] == [["s1"], ["late"]]
    # Its window opened at 11:00, so it closed at 13:00: it goes out then.
    assert sent[1].at == start + timedelta(hours=3)
    recorded = [d.collected for d in sim.deliveries("ana")]
    assert recorded == [("s1",), ("late",)]


def test_an_event_recorded_late_joins_a_digest_being_retried_under_its_key() -> None:
    start = local(SAO_PAULO, 2026, 5, 4, 10)
    sender = FailsOnce()
    sim = Simulation(shop(shipping()), start=start, senders={"email": sender})
    sim.add_contact("ana")
    sim.advance("1h")
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("2h")  # the first attempt fails
    # Older than s1, recorded while the retry waits: it joins, and the key stays.
    sim.repository.record_event(Event("ana", "order_shipped", start, id="early"))
    sim.advance("1h")
    assert [ids(m.payload) for m in sender.calls] == [["s1"], ["early", "s1"]]
    assert {m.occurrence_key for m in sender.calls} == {"shop:shipping_digest:ana:digest=s1"}


class FailsOnce:
    def __init__(self) -> None:
        self.calls: list[Message] = []

    def send(self, message: Message) -> None:
        self.calls.append(message)
        if len(self.calls) == 1:
            raise TemporaryFailure("provider busy")


def test_a_retried_digest_keeps_its_key_and_takes_the_events_gathered_meanwhile() -> None:
    sender = FailsOnce()
    sim = Simulation(
        shop(shipping()), start=local(SAO_PAULO, 2026, 5, 4, 10), senders={"email": sender}
    )
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("2h")  # the first attempt fails; the retry comes after a backoff
    sim.emit("ana", "order_shipped", id="s2")
    sim.advance("1h")
    assert [ids(m.payload) for m in sender.calls] == [["s1"], ["s1", "s2"]]
    assert sender.calls[0].idempotency_key == sender.calls[1].idempotency_key
    sim.advance("3h")
    assert len(sender.calls) == 2  # s2 was delivered in the retry, not again


# --- the plan and explain ----------------------------------------------------------------------


def test_plan_is_pure_and_lists_the_events_of_a_due_digest() -> None:
    cadence = shop(shipping())
    ana = Contact("ana", addresses={"email": "ana@example.com"})
    t0 = datetime(2026, 5, 4, 12, tzinfo=UTC)
    events = [
        Event("ana", "order_shipped", t0 + timedelta(minutes=m), id=f"s{m}") for m in (0, 5, 90)
    ]
    snapshot = Snapshot(ana, list(reversed(events)))
    waiting = plan(cadence, snapshot, t0 + timedelta(hours=1))
    assert waiting.due == ()
    assert [(o.key, o.at, o.collected) for o in waiting.waiting] == [
        ("shop:shipping_digest:ana:digest=s0", t0 + timedelta(hours=2), ("s0", "s5"))
    ]
    # s90, recorded for a later instant, joins the window then: the plan changes at 13:30.
    assert waiting.next_event_at == waiting.next_wakeup == t0 + timedelta(minutes=90)
    due = plan(cadence, snapshot, t0 + timedelta(hours=2))
    assert [ids(a.payload) for a in due.due] == [["s0", "s5", "s90"]]
    assert due == plan(cadence, snapshot, t0 + timedelta(hours=2))


def test_explain_shows_the_collected_events() -> None:
    sim = Simulation(shop(shipping()), start=local(SAO_PAULO, 2026, 5, 4, 10))
    sim.add_contact("ana")
    sim.emit("ana", "order_shipped", id="s1")
    sim.advance("3h")
    sim.emit("ana", "order_shipped", id="s2")
    text = str(sim.explain("ana", "shipping_digest"))
    assert "collected by digest 2h" in text
    assert "digest=s1: sent" in text
    assert "collects 1 event: s1\n" in text
    assert "digest=s2: waiting" in text
    assert text.rstrip().splitlines()[-2].strip() == "collects 1 event: s2"


# --- the invariants, for any interleaving ------------------------------------------------------

ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("emit"), st.integers(0, 2)),  # 0: no data, else an amount
        st.tuples(st.just("advance"), st.sampled_from([0, 1, 7, 30, 60, 119, 120, 121, 300, 600])),
        st.tuples(st.just("consent"), st.booleans()),
        # An event recorded now with an earlier instant (a feed catching up).
        st.tuples(st.just("late"), st.sampled_from([0, 1, 30, 119, 121, 600])),
    ),
    max_size=30,
)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actions=ACTIONS,
    digest=st.sampled_from([Digest("2h"), Digest(until=time(18)), Digest("30m", until=time(9))]),
    start_hour=st.integers(0, 23),
)
def test_every_event_is_in_exactly_one_window_and_policy_always_holds(
    actions: list[tuple[str, object]], digest: Digest, start_hour: int
) -> None:
    step = marketing(digest=digest, expires_after="10h")
    cadence = shop(step, policy=Policy(quiet_hours=QUIET, caps=[FrequencyCap(max=2, per="1d")]))
    sim = Simulation(cadence, start=datetime(2026, 3, 1, start_hour, tzinfo=UTC))
    sim.add_contact("ana")
    consent = True
    emitted: list[str] = []
    for action, value in actions:
        if action == "emit":
            event = sim.emit("ana", "order_shipped", **({"amount": value} if value else {}))
            assert event.id is not None
            emitted.append(event.id)
        elif action == "late":
            late_id = f"late-{len(emitted)}"
            at = sim.now - timedelta(minutes=int(value))  # type: ignore[call-overload]
            assert sim.repository.record_event(Event("ana", "order_shipped", at, id=late_id))
            emitted.append(late_id)
        elif action == "consent":
            consent = bool(value)
            sim.set_consent("ana", "email", consent)
        else:
            sent = sim.advance(timedelta(minutes=int(value)))  # type: ignore[call-overload]
            # Consent only changes between advances: nothing goes out while it is withdrawn.
            assert consent or not sent
    sim.advance("1h")

    sent_ids = [event_id for s in sim.outbox for event_id in ids(s.payload)]
    assert len(sent_ids) == len(set(sent_ids)), "an event was in two digests"
    for message in sim.outbox:
        local_time = message.local_at.time()
        assert time(8) <= local_time < time(21), f"sent in quiet hours at {message.local_at}"

    # Every event is in exactly one window: a sent digest (with exactly the events it
    # listed), one closed unsent, or the one still open.
    occurrences = sim.explain("ana", "shipping_digest").occurrences
    windows = [event_id for o in occurrences for event_id in o.collected]
    assert sorted(windows) == sorted(emitted)
    assert len(windows) == len(set(windows))
    by_key = {s.occurrence_key: ids(s.payload) for s in sim.outbox}
    for occurrence in occurrences:
        if occurrence.state is OccurrenceState.SENT:
            assert by_key[occurrence.key] == list(occurrence.collected)
    assert len([o for o in occurrences if not o.closed]) <= 1
    assert {o.key for o in occurrences if o.state is OccurrenceState.SENT} == set(by_key)
