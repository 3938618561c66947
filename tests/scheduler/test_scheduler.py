"""The scheduler turns plans into sent messages: claims, retries, fallbacks, errors, wake-ups."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone

import attrs
import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    InMemoryRepository,
    Message,
    OutboxSender,
    PermanentFailure,
    RetryPolicy,
    Scheduler,
    Step,
    TemporaryFailure,
    after_step,
    attr,
    on_event,
)
from regua.errors import Throttled
from regua.metrics import InMemoryMetrics
from regua.ports import BaseRepository, Claim

UTC = timezone.utc
T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)


def shop(*extra: Step) -> Cadence:
    return Cadence(
        "shop",
        channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05), Channel("phone")],
        steps=[
            Step(
                "confirm", trigger=on_event("order_placed"), channels=["email"], transactional=True
            ),
            Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"]),
            *extra,
        ],
    )


def person(contact_id: str = "ana", **attributes: object) -> Contact:
    return Contact(
        contact_id,
        attributes=attributes,
        consents={"email", "sms", "phone"},
        addresses={"email": f"{contact_id}@example.com", "sms": "+5511990000001", "phone": "+1"},
    )


class FlakySender:
    """Fails the first `failures` calls with `error`, then accepts."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls: list[Message] = []

    def send(self, message: Message) -> str | None:
        self.calls.append(message)
        if len(self.calls) <= self.failures:
            raise self.error
        return "ok"


def setup(
    cadence: Cadence | None = None, **senders: object
) -> tuple[Scheduler, InMemoryRepository, OutboxSender]:
    repo = InMemoryRepository()
    outbox = OutboxSender()
    wired = {"email": outbox, "sms": outbox, "phone": outbox, **senders}
    scheduler = Scheduler(
        cadence or shop(),
        repository=repo,
        senders=wired,  # type: ignore[arg-type]
        worker="w1",
        retry=RetryPolicy(max_attempts=3, initial=timedelta(minutes=1), jitter=0),
    )
    return scheduler, repo, outbox


def test_tick_sends_what_is_due_once_and_wakes_for_what_waits() -> None:
    scheduler, repo, outbox = setup()
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "signed_up", T0, id="s1"))
    repo.record_event(Event("ana", "order_placed", T0, id="o1", data={"order": 7}))

    report = scheduler.tick(T0)
    assert [(m.step, m.channel, m.address, m.payload) for m in outbox.outbox] == [
        ("confirm", "email", "ana@example.com", {"order": 7})
    ]
    assert [d.status for d in report.sent] == [DeliveryStatus.SENT]
    assert report.evaluated >= 1

    assert scheduler.tick(T0 + timedelta(hours=1)).sent == ()  # nothing due, nothing resent
    assert repo.due_contact_ids(T0 + timedelta(days=2) - timedelta(seconds=1), 10) == []
    assert repo.due_contact_ids(T0 + timedelta(days=2), 10) == ["ana"]
    scheduler.tick(T0 + timedelta(days=2))
    assert [m.step for m in outbox.outbox] == ["confirm", "welcome"]
    assert len(set(outbox.keys())) == 2
    assert all(count == 1 for count in outbox.keys().values())


def test_a_sender_is_told_which_messages_are_transactional() -> None:
    scheduler, repo, outbox = setup()
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "signed_up", T0, id="s1"))
    repo.record_event(Event("ana", "order_placed", T0, id="o1"))
    scheduler.tick(T0)
    scheduler.tick(T0 + timedelta(days=2))
    assert [(m.step, m.transactional) for m in outbox.outbox] == [
        ("confirm", True),
        ("welcome", False),
    ]


def test_history_shows_every_interaction_in_order() -> None:
    scheduler, repo, _ = setup()
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "order_placed", T0, id="o1"))
    scheduler.tick(T0)
    repo.record_event(Event("ana", "signed_up", T0 + timedelta(minutes=1), id="s1"))
    kinds = [type(item).__name__ for item in repo.history("ana")]
    assert kinds == ["Event", "Delivery", "Event"]


def test_preview_and_explain_change_nothing() -> None:
    scheduler, repo, outbox = setup()
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "order_placed", T0, id="o1"))
    assert [a.step for a in scheduler.preview(T0)] == ["confirm"]
    assert [a.step for a in scheduler.preview(T0, contact_ids=["ana", "nobody"])] == ["confirm"]
    report = scheduler.explain("ana", "shop", "confirm", T0)
    assert [o.state.value for o in report.occurrences] == ["due"]
    assert outbox.outbox == []
    assert repo.history("ana")[-1].__class__.__name__ == "Event"
    with pytest.raises(KeyError, match="no cadence 'nope'"):
        scheduler.explain("ana", "nope", "confirm", T0)
    # Still due for the real tick.
    assert len(scheduler.tick(T0).sent) == 1


def test_bad_contact_data_is_recorded_and_the_tick_goes_on() -> None:
    vip = Step("vip", trigger=on_event("order_placed"), when=attr("score") > 10, channels=["email"])
    scheduler, repo, outbox = setup(shop(vip))
    repo.upsert_contact(person("bad", score="lots"))
    repo.upsert_contact(person("good", score=50))
    for who in ("bad", "good"):
        repo.record_event(Event(who, "order_placed", T0, id=f"{who}-o"))
    report = scheduler.tick(T0)
    assert set(report.errors) == {"bad"}
    assert "score" in report.errors["bad"]
    assert [e.contact_id for e in repo.errors()] == ["bad"]
    assert sorted((m.contact.id, m.step) for m in outbox.outbox) == [
        ("good", "confirm"),
        ("good", "vip"),
    ]
    # The bad contact is not retried every tick; changing it wakes it again.
    assert repo.due_contact_ids(T0 + timedelta(days=365), 10) == []
    repo.upsert_contact(person("bad", score=11))
    scheduler.tick(T0 + timedelta(minutes=1))
    assert sorted(m.step for m in outbox.outbox if m.contact.id == "bad") == ["confirm", "vip"]


def test_temporary_failures_back_off_then_fall_back_then_dead_letter() -> None:
    step = Step("news", trigger=on_event("e"), channels=["email", "sms"])
    email = FlakySender(100, TemporaryFailure("mailbox busy"))
    sms = FlakySender(100, TemporaryFailure("gateway down"))
    scheduler, repo, _ = setup(
        Cadence("c", channels=[Channel("email"), Channel("sms")], steps=[step]),
        email=email,
        sms=sms,
    )
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))

    report = scheduler.tick(T0)
    assert [c.attempts for c in report.deferred] == [1]
    assert report.deferred[0].until == T0 + timedelta(minutes=1)
    # Not retried before the backoff has passed, even by the same worker.
    scheduler.tick(T0 + timedelta(seconds=30))
    assert len(email.calls) == 1
    # Drive the retries: each tick just after the previous deferral's backoff.
    retry_times = [report.deferred[0].until]
    for _ in range(10):
        report = scheduler.tick(retry_times[-1] + timedelta(seconds=1))
        if not report.deferred:
            break
        retry_times.append(report.deferred[0].until)
    assert len(email.calls) == 3  # max_attempts per channel
    assert len(sms.calls) == 3  # then the fallback channel, with its own attempts
    assert [m.attempt for m in email.calls] == [1, 2, 3]
    assert [m.attempt for m in sms.calls] == [1, 2, 3]
    # The backoff doubles from one minute (jitter is off here): 1, 2 minutes on email.
    ticks = [T0, *(t + timedelta(seconds=1) for t in retry_times[:-1])]
    waits = [until - tick for tick, until in zip(ticks, retry_times, strict=True)]
    assert waits[:2] == [timedelta(minutes=1), timedelta(minutes=2)]
    [dead] = repo.failed_deliveries()
    assert dead.occurrence_key == "c:news:ana:event=e1"
    assert "gateway down" in (dead.reason or "")
    assert [d.status for d in report.failed] == [DeliveryStatus.FAILED]


def test_permanent_failure_falls_back_at_once() -> None:
    step = Step("news", trigger=on_event("e"), channels=["email", "sms"])
    bounce = FlakySender(1, PermanentFailure("no such mailbox"))
    outbox = OutboxSender()
    cadence = Cadence("c", channels=[Channel("email"), Channel("sms")], steps=[step])
    scheduler, repo, _ = setup(cadence, email=bounce, sms=outbox)
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))
    report = scheduler.tick(T0)
    assert [(d.status, d.channel) for d in report.sent] == [(DeliveryStatus.SENT, "sms")]
    assert [m.channel for m in outbox.outbox] == ["sms"]
    [sent] = [d for d in repo.history("ana") if isinstance(d, Delivery)]
    assert sent.detail == "after email: no such mailbox"  # the cause of the fallback, kept


def test_a_throttled_send_is_no_attempt_and_never_moves_to_a_fallback() -> None:
    """Throttled more often than max_attempts allows: still on its first channel, then sent."""

    class Limited:
        def __init__(self) -> None:
            self.room = False
            self.sent: list[Message] = []

        def send(self, message: Message) -> str | None:
            if not self.room:
                raise Throttled("no token yet", retry_after=timedelta(minutes=10))
            self.sent.append(message)
            return "m-1"

    step = Step("news", trigger=on_event("e"), channels=["email", "sms"])
    cadence = Cadence("c", channels=[Channel("email"), Channel("sms")], steps=[step])
    email, sms = Limited(), OutboxSender()
    scheduler, repo, _ = setup(cadence, email=email, sms=sms)
    scheduler.metrics = metrics = InMemoryMetrics()
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))
    now = T0
    for _ in range(5):  # RetryPolicy(max_attempts=3) would have moved on after three
        [deferred] = scheduler.tick(now).deferred
        assert (deferred.attempts, deferred.channel_index) == (0, 0)
        assert deferred.until == now + timedelta(minutes=10)
        assert deferred.last_error == "email: Throttled: no token yet"
        now = deferred.until + timedelta(seconds=1)
    assert metrics.count("regua.messages.throttled", channel="email") == 5
    assert metrics.count("regua.attempts.temporary_failure") == 0  # none counted as attempts
    email.room = True
    [sent] = scheduler.tick(now).sent
    assert (sent.channel, sent.message_id) == ("email", "m-1")
    assert sms.outbox == []


def test_unexpected_sender_exception_is_retried_not_lost() -> None:
    step = Step("news", trigger=on_event("e"), channels=["email"])
    buggy = FlakySender(1, RuntimeError("template bug"))
    cadence = Cadence("c", channels=[Channel("email")], steps=[step])
    scheduler, repo, _ = setup(cadence, email=buggy)
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))
    assert scheduler.tick(T0).deferred[0].last_error == "email: RuntimeError: template bug"
    assert len(scheduler.tick(T0 + timedelta(minutes=2)).sent) == 1


class RevokingRepository(InMemoryRepository):
    """Revokes consent right after the scheduler claims: a change between plan and send."""

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        granted = super().claim(actions, worker, now, lease)
        for action in actions:
            for channel in ("email", "sms"):
                self.set_consent(action.contact_id, channel, False)
        return granted


class RevokingRepositoryReadingSnapshots(RevokingRepository):
    """Reads claimed contacts as `BaseRepository` derives it: from their whole snapshots."""

    get_versioned_contacts = BaseRepository.get_versioned_contacts


@pytest.mark.parametrize(
    "repository_class", [RevokingRepository, RevokingRepositoryReadingSnapshots]
)
def test_consent_revoked_between_planning_and_sending_sends_nothing(
    repository_class: type[RevokingRepository],
) -> None:
    repo = repository_class()
    outbox = OutboxSender()
    step = Step("news", trigger=on_event("e"), channels=["email", "sms"])
    scheduler = Scheduler(
        Cadence("c", channels=[Channel("email"), Channel("sms")], steps=[step]),
        repository=repo,
        senders={"email": outbox, "sms": outbox},
    )
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))
    report = scheduler.tick(T0)
    assert outbox.outbox == []
    assert [(d.status, (d.reason or "").split(":")[0]) for d in report.skipped] == [
        (DeliveryStatus.SKIPPED, "no_channel")
    ]


class LoggingRepository(InMemoryRepository):
    """Logs, in order, the contacts of each claim and of each recorded sending."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, list[str]]] = []

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        self.calls.append(("claim", sorted(a.contact_id for a in actions)))
        return super().claim(actions, worker, now, lease)

    def record(self, deliveries: Sequence[Delivery]) -> None:
        self.calls.append(("record", sorted(d.contact_id for d in deliveries)))
        super().record(deliveries)


def test_a_batch_claims_sends_and_records_a_chunk_of_occurrences_at_a_time() -> None:
    repo = LoggingRepository()
    outbox = OutboxSender()
    scheduler = Scheduler(
        shop(), repository=repo, senders={"email": outbox}, batch_size=10, claim_batch_size=2
    )
    names = ["ana", "bia", "caio", "davi", "eva"]
    for name in names:
        repo.upsert_contact(person(name))
        repo.record_event(Event(name, "order_placed", T0, id=f"o-{name}"))

    report = scheduler.tick(T0)

    assert sorted(d.contact_id for d in report.sent) == names
    assert sorted(m.contact.id for m in outbox.outbox) == names  # each once
    # Each chunk's claims are released by recording its outcomes before the next is claimed:
    # a claim need only outlast sending its own chunk, not the whole batch.
    assert repo.calls == [
        ("claim", ["ana", "bia"]),
        ("record", ["ana", "bia"]),
        ("claim", ["caio", "davi"]),
        ("record", ["caio", "davi"]),
        ("claim", ["eva"]),
        ("record", ["eva"]),
    ]
    assert scheduler.tick(T0 + timedelta(minutes=5)).sent == ()


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"batch_size": 0}, "batch_size must be at least 1, got 0"),
        ({"claim_batch_size": 0}, "claim_batch_size must be at least 1, got 0"),
        ({"lease": timedelta(0)}, "lease must be positive, got 0:00:00"),
    ],
)
def test_invalid_batch_sizes_and_lease_are_refused(
    keywords: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Scheduler(shop(), repository=InMemoryRepository(), senders={}, **keywords)  # type: ignore[arg-type]


def promo_cadence() -> Cadence:
    return shop(
        Step("news", trigger=on_event("promo"), expires_after="1d", channels=["email", "sms"])
    )


def test_a_contact_whose_due_actions_went_out_as_planned_is_not_planned_twice() -> None:
    scheduler, repo, outbox = setup(promo_cadence())
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "signed_up", T0, id="s1"))
    repo.record_event(Event("ana", "promo", T0, id="p1"))

    report = scheduler.tick(T0)

    assert [(m.step, m.channel) for m in outbox.outbox] == [("news", "email")]
    assert report.evaluated == 1  # the plan said sending changes nothing else
    # The wake-up is the welcome's (in two days), not the sent message's expiry (in one).
    assert repo.due_contact_ids(T0 + timedelta(days=2) - timedelta(seconds=1), 10) == []
    assert repo.due_contact_ids(T0 + timedelta(days=2), 10) == ["ana"]


def test_a_contact_whose_message_went_out_on_a_fallback_channel_is_planned_again() -> None:
    bounce = FlakySender(1, PermanentFailure("no such mailbox"))
    scheduler, repo, outbox = setup(promo_cadence(), email=bounce)
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "signed_up", T0, id="s1"))
    repo.record_event(Event("ana", "promo", T0, id="p1"))

    report = scheduler.tick(T0)

    assert [(m.step, m.channel) for m in outbox.outbox] == [("news", "sms")]
    # Not what the plan counted (a cap may be per channel): planned again with the outcome.
    assert report.evaluated == 2
    assert repo.due_contact_ids(T0 + timedelta(days=2) - timedelta(seconds=1), 10) == []
    assert repo.due_contact_ids(T0 + timedelta(days=2), 10) == ["ana"]


def test_missed_deadline_escalates_in_the_same_tick() -> None:
    cadence = Cadence(
        "recovery",
        channels=[Channel("email"), Channel("phone", kind="task")],
        steps=[
            Step(
                "apology",
                trigger=on_event("incident"),
                delay="1h",
                deadline="2h",
                channels=["email"],
            ),
            Step(
                "escalate",
                trigger=after_step("apology", outcome="expired"),
                channels=["phone"],
                transactional=True,
            ),
        ],
    )
    scheduler, repo, outbox = setup(cadence)
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "incident", T0, id="inc"))
    report = scheduler.tick(T0 + timedelta(hours=3))  # the workers were down
    assert [(d.step, d.status) for d in report.skipped] == [("apology", DeliveryStatus.EXPIRED)]
    assert [(m.step, m.channel, m.kind) for m in outbox.outbox] == [("escalate", "phone", "task")]


def test_a_crashed_workers_claim_is_taken_over_after_its_lease() -> None:
    scheduler, repo, outbox = setup()
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "order_placed", T0, id="o1"))
    # Worker "dead" planned and claimed, then died before sending or recording.
    [action] = scheduler.preview(T0)
    assert set(repo.claim([action], "dead", T0, timedelta(minutes=5))) == {action.occurrence_key}

    assert scheduler.tick(T0 + timedelta(minutes=1)).sent == ()
    assert outbox.outbox == []
    # The contact is looked at again once a lease has surely run out: by then the dead
    # worker's claim has expired, and the occurrence goes out with the same idempotency key.
    assert repo.due_contact_ids(T0 + timedelta(minutes=6), 10) == ["ana"]
    report = scheduler.tick(T0 + timedelta(minutes=6))
    assert [m.idempotency_key for m in outbox.outbox] == [action.idempotency_key]
    assert len(report.sent) == 1


def test_a_claim_taken_over_from_a_crashed_sender_never_falls_back() -> None:
    """The dead worker may have delivered on e-mail: e-mail failing afterwards must not move
    the occurrence to SMS (a second message); it ends failed, saying why."""
    step = Step("news", trigger=on_event("e"), channels=["email", "sms"])
    email = FlakySender(100, TemporaryFailure("mailbox busy"))
    sms = FlakySender(0, TemporaryFailure("unused"))
    scheduler, repo, _ = setup(
        Cadence("c", channels=[Channel("email"), Channel("sms")], steps=[step]),
        email=email,
        sms=sms,
    )
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))
    [action] = scheduler.preview(T0)
    repo.claim([action], "dead", T0, timedelta(minutes=5))  # claimed, sent?, then died

    now = T0 + timedelta(minutes=6)
    for _ in range(10):
        report = scheduler.tick(now)
        if not report.deferred:
            break
        now = report.deferred[0].until + timedelta(seconds=1)
    assert [m.attempt for m in email.calls] == [1, 2, 3]
    assert sms.calls == []
    [dead] = repo.failed_deliveries()
    assert "mailbox busy" in (dead.reason or "")
    assert "may have been delivered" in (dead.reason or "")


def test_a_fallback_move_stays_unsettled_if_the_worker_dies_sending_there() -> None:
    """E-mail refused for good, the move to SMS stored, then the worker died: the next worker
    resumes on SMS and never tries a third channel."""
    step = Step("news", trigger=on_event("e"), channels=["email", "sms", "phone"])
    sms = FlakySender(100, TemporaryFailure("gateway down"))
    phone = FlakySender(0, TemporaryFailure("unused"))
    scheduler, repo, _ = setup(
        Cadence("c", channels=[Channel(c) for c in ("email", "sms", "phone")], steps=[step]),
        sms=sms,
        phone=phone,
    )
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))
    [action] = scheduler.preview(T0)
    [claim] = repo.claim([action], "dead", T0, timedelta(minutes=5)).values()
    moved = attrs.evolve(claim, channel_index=1, channel="sms", last_error="email: 550")
    repo.defer([moved])  # as the scheduler stores a move; then it died

    now = T0 + timedelta(minutes=6)
    for _ in range(10):
        report = scheduler.tick(now)
        if not report.deferred:
            break
        now = report.deferred[0].until + timedelta(seconds=1)
    assert len(sms.calls) == 3
    assert phone.calls == []
    assert "may have been delivered" in (repo.failed_deliveries()[0].reason or "")


def test_an_event_arriving_mid_tick_is_not_lost() -> None:
    class Interrupting(InMemoryRepository):
        interrupted = False

        def claim(
            self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
        ) -> dict[str, Claim]:
            if not self.interrupted:
                self.interrupted = True
                self.record_event(Event("ana", "order_placed", now, id="o2"))
            return super().claim(actions, worker, now, lease)

    repo = Interrupting()
    outbox = OutboxSender()
    scheduler = Scheduler(shop(), repository=repo, senders={"email": outbox})
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "order_placed", T0, id="o1"))
    scheduler.tick(T0)
    # The second order arrived after the snapshot was loaded: the contact stays due.
    assert repo.due_contact_ids(T0, 10) == ["ana"]
    scheduler.tick(T0)
    assert sorted(m.occurrence_key for m in outbox.outbox) == [
        "shop:confirm:ana:event=o1",
        "shop:confirm:ana:event=o2",
    ]


def test_many_workers_in_threads_send_each_occurrence_exactly_once() -> None:
    repo = InMemoryRepository()
    outbox = OutboxSender()
    for i in range(300):
        repo.upsert_contact(person(f"c{i}"))
        repo.record_event(Event(f"c{i}", "order_placed", T0, id=f"o{i}"))
    workers = [
        Scheduler(shop(), repository=repo, senders={"email": outbox}, worker=f"w{n}", batch_size=7)
        for n in range(4)
    ]
    threads = [threading.Thread(target=w.tick, args=(T0,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts = outbox.keys()
    assert len(counts) == 300
    assert set(counts.values()) == {1}


def test_constructor_rejects_nonsense() -> None:
    repo = InMemoryRepository()
    with pytest.raises(ValueError, match="unique"):
        Scheduler([shop(), shop()], repository=repo, senders={})
    with pytest.raises(ValueError, match="batch_size"):
        Scheduler(shop(), repository=repo, senders={}, batch_size=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        Scheduler(shop(), repository=repo, senders={}).tick(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)


def test_retry_delays_grow_are_capped_and_jittered_reproducibly() -> None:
    policy = RetryPolicy(initial=timedelta(seconds=10), max_delay=timedelta(seconds=60), jitter=0.2)
    delays = [policy.delay(n, "k").total_seconds() for n in range(1, 7)]
    assert delays == [policy.delay(n, "k").total_seconds() for n in range(1, 7)]
    for n, delay in enumerate(delays, 1):
        base = min(10 * 2 ** (n - 1), 60)
        assert 0.8 * base <= delay <= 1.2 * base
    assert len({policy.delay(1, key) for key in "abcdefgh"}) > 1  # spread, not lock-step
    assert all(
        d == d.__class__(seconds=int(d.total_seconds()))
        for d in map(policy.delay, range(1, 7), "abcdef")
    )  # whole seconds


@pytest.mark.slow
def test_run_stops_cleanly_on_sigterm(tmp_path: object) -> None:
    script = textwrap.dedent(
        """
        import sys
        from datetime import timedelta
        from regua import (Cadence, Channel, InMemoryRepository, OutboxSender, Scheduler,
                           Step, on_event)
        cadence = Cadence("c", channels=[Channel("email")],
                          steps=[Step("s", trigger=on_event("e"), channels=["email"])])
        scheduler = Scheduler(cadence, repository=InMemoryRepository(),
                              senders={"email": OutboxSender()})
        ticks = []
        def on_tick(report):
            ticks.append(report)
            if len(ticks) == 1:
                print("ticking", flush=True)
        scheduler.run(timedelta(milliseconds=20), on_tick=on_tick)
        print("stopped after", len(ticks) >= 1, flush=True)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ticking"
    process.terminate()  # SIGTERM
    out, _ = process.communicate(timeout=120)  # a bound for a hung process only
    assert process.returncode == 0
    assert out.strip() == "stopped after True"


def test_a_retry_is_not_delayed_when_the_contact_is_replanned_in_the_same_tick() -> None:
    # Two steps due at once: one goes out by sms, the other's e-mail fails temporarily. The
    # contact is planned again after the sms is recorded; the e-mail retry keeps its time.
    steps = [
        Step("note", trigger=on_event("e"), channels=["sms"]),
        Step("news", trigger=on_event("e"), channels=["email"]),
    ]
    email = FlakySender(1, TemporaryFailure("busy"))
    cadence = Cadence("c", channels=[Channel("email"), Channel("sms")], steps=steps)
    scheduler, repo, _ = setup(cadence, email=email)
    repo.upsert_contact(person())
    repo.record_event(Event("ana", "e", T0, id="e1"))
    report = scheduler.tick(T0)
    assert [d.step for d in report.sent] == ["note"]
    [deferred] = report.deferred
    assert deferred.until == T0 + timedelta(minutes=1)
    assert repo.next_wakeup() == T0 + timedelta(minutes=1)
    assert [d.step for d in scheduler.tick(T0 + timedelta(minutes=1, seconds=1)).sent] == ["news"]
