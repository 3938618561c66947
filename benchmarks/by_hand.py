"""The same day's messages without regua: APScheduler 3.x jobs and hand-written rules.

What a Python developer would otherwise write: for each customer, compute from the history
the messages still pending, with the cadence's rules written out by hand, and add one
APScheduler date job per pending message (in-memory job store); the job function checks the
rules that depend on when it runs (cancellation, expiry, consent and address, quiet hours,
cooldown) and either sends, drops, or moves itself to the end of the quiet window.

Only a subset of the lifecycle cadence is written out here, and `subset` builds the same
subset as a regua `Cadence` for the other side of the comparison: the sign-up welcome, the
birthday greeting, the cart reminder and the post-sale "how was it?", under the cadence's
quiet hours, **without** frequency caps. Caps (which defer by priority across steps),
``after_step`` follow-ups, ``when`` conditions and inactivity triggers are what would take a
re-implementation of the planner; leaving them out is what makes both sides compute the
same set of messages, which `run.py` checks.

Nothing of regua is used here except the records the base is made of (`Snapshot`,
`Contact`, `Event`, `Delivery`) and the cadence's name, which both sides put in their keys.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from regua import Cadence, Policy, Snapshot

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STEPS = ("welcome", "birthday", "cart_reminder", "post_sale_feedback")

# The rules of those four steps, as the developer would transcribe them from the spec.
QUIET = (time(21), time(8))  # every marketing message
SMS_QUIET = (time(20), time(9))  # SMS, on top
PRIORITY = {"welcome": 0, "birthday": 5, "cart_reminder": 10, "post_sale_feedback": 0}


def subset(cadence: Cadence) -> Cadence:
    """The lifecycle cadence reduced to `STEPS`, with its quiet hours and no caps."""
    return Cadence(
        cadence.name,
        timezone=cadence.timezone,
        channels=list(cadence.channels),
        policy=Policy(quiet_hours=cadence.policy.quiet_hours),
        steps=[step for step in cadence.steps if step.name in STEPS],
    )


def _local(at: datetime, tz: ZoneInfo) -> datetime:
    return at.astimezone(tz)


def _plus_days(at: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Calendar days in local time (aware arithmetic with zoneinfo is wall-clock)."""
    return (_local(at, tz) + timedelta(days=days)).astimezone(UTC)


def _next_wall(at: datetime, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant at or after `at` whose local time is `wall`."""
    local = _local(at, tz)
    candidate = local.replace(hour=wall.hour, minute=wall.minute, second=0, microsecond=0)
    if candidate < local:
        candidate = (local + timedelta(days=1)).replace(
            hour=wall.hour, minute=wall.minute, second=0, microsecond=0
        )
    return candidate.astimezone(UTC)


def _quiet_end(now: datetime, channel: str, tz: ZoneInfo) -> datetime | None:
    """When the quiet window(s) around `now` end for `channel`, or None if not quiet."""
    windows = [QUIET, SMS_QUIET] if channel == "sms" else [QUIET]
    end: datetime | None = None
    for _ in range(4):
        moved = False
        for start, stop in windows:
            local = _local(end or now, tz)
            t = local.time()
            if t >= start or t < stop:  # both windows cross midnight
                day = local.date() + timedelta(days=1) if t >= start else local.date()
                end = datetime.combine(day, stop, tzinfo=tz).astimezone(UTC)
                moved = True
        if not moved:
            break
    return end


def _birthday(birth: date, year: int) -> date:
    if (birth.month, birth.day) == (2, 29):
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return date(year, birth.month, birth.day)


@dataclass
class Pending:
    """One pending message: the job's arguments."""

    key: str
    contact_id: str
    step: str
    triggered_at: datetime
    due_at: datetime
    expires_at: datetime | None


@dataclass
class HandWritten:
    """The application's own code: pending messages, and what a job does when it runs."""

    cadence_name: str
    base: Sequence[Snapshot]
    contacts: dict[str, Snapshot] = field(default_factory=dict)
    closed: set[str] = field(default_factory=set)
    last_cart_reminder: dict[str, datetime] = field(default_factory=dict)
    sent: list[tuple[datetime, str]] = field(default_factory=list)
    now: datetime = EPOCH

    def __post_init__(self) -> None:
        for snapshot in self.base:
            self.contacts[snapshot.contact.id] = snapshot
            self.closed.update(d.occurrence_key for d in snapshot.deliveries)

    def _key(self, step: str, contact_id: str, source: str) -> str:
        return f"{self.cadence_name}:{step}:{contact_id}:{source}"

    def pending(self, snapshot: Snapshot, now: datetime) -> Iterator[Pending]:
        """Every message of `snapshot`'s customer not yet sent nor expired at `now`."""
        contact = snapshot.contact
        tz = ZoneInfo(contact.timezone or "America/Sao_Paulo")
        cid = contact.id

        def make(step: str, source: str, at: datetime, due: datetime, expires: Any) -> None:
            key = self._key(step, cid, source)
            if key in self.closed or (expires is not None and now >= expires):
                return
            found.append(Pending(key, cid, step, at, due, expires))

        found: list[Pending] = []
        for event in snapshot.events:
            if event.name == "signed_up":  # +2 days, then the next 10:00 local
                due = _next_wall(_plus_days(event.at, 2, tz), time(10), tz)
                make("welcome", f"event={event.id}", event.at, due, None)
            elif event.name == "cart_abandoned":  # +2 hours; expires a day after
                due = event.at + timedelta(hours=2)
                make("cart_reminder", f"event={event.id}", event.at, due, _plus_days(due, 1, tz))
            elif event.name == "order_delivered":  # +3 days, 10:00 local; 4 days to go
                due = _next_wall(_plus_days(event.at, 3, tz), time(10), tz)
                make(
                    "post_sale_feedback",
                    f"event={event.id}",
                    event.at,
                    due,
                    _plus_days(due, 4, tz),
                )
        birth = contact.attributes.get("birth_date")
        if isinstance(birth, date):  # 09:00 local on the birthday, for 12 hours
            year = _local(now, tz).year
            for y in (year - 1, year, year + 1):
                if y <= birth.year:
                    continue
                midnight = datetime.combine(_birthday(birth, y), time(), tzinfo=tz)
                if contact.created_at is not None and midnight < contact.created_at:
                    continue
                due = _next_wall(midnight.astimezone(UTC), time(9), tz)
                make("birthday", f"year={y}", midnight, due, due + timedelta(hours=12))
        return iter(found)

    def channels(self, snapshot: Snapshot, step: str) -> list[str]:
        """Channels the message can go on, the customer's preferred first."""
        contact = snapshot.contact
        options = ["email"]
        if step == "birthday":
            tier = contact.attributes.get("tier")
            options = {"gold": ["phone", "email"], "silver": ["sms", "email"]}.get(tier, options)
        usable = [c for c in options if contact.addresses.get(c) and c in contact.consents]
        preferred = [c for c in contact.preferences if c in usable]
        return preferred + [c for c in usable if c not in preferred]

    def run(self, job: Pending) -> datetime | None:
        """The job function: send, drop, or return when to run again (quiet hours)."""
        now = self.now  # the clock: datetime.now(UTC) in production
        snapshot = self.contacts[job.contact_id]
        tz = ZoneInfo(snapshot.contact.timezone or "America/Sao_Paulo")
        if job.step == "cart_reminder" and any(
            e.name == "order_placed" and job.triggered_at < e.at <= now for e in snapshot.events
        ):
            return None  # cancelled by a purchase
        if job.expires_at is not None and now >= job.expires_at:
            return None
        channels = self.channels(snapshot, job.step)
        if not channels:
            return None
        quiet_end = _quiet_end(now, channels[0], tz)
        if quiet_end is not None:
            return quiet_end
        if job.step == "cart_reminder":
            last = self.last_cart_reminder.get(job.contact_id)
            if last is not None and now < _plus_days(last, 3, tz):
                return None  # one reminder every three days at most
            self.last_cart_reminder[job.contact_id] = now
        self.sent.append((now, job.key))
        return None


def apscheduler_day(
    cadence_name: str, base: Sequence[Snapshot], ticks: Sequence[datetime]
) -> tuple[HandWritten, int]:
    """Pending messages as APScheduler date jobs, run tick by tick; (the code, jobs added).

    The scheduler is started paused and driven tick by tick through its own job store
    (``get_due_jobs``, ``update_job``, ``remove_job``), as its run loop does, so that the
    simulated day does not wait for the wall clock.
    """
    from apscheduler.schedulers.background import BackgroundScheduler

    code = HandWritten(cadence_name, base)
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    added = 0
    try:
        start = ticks[0]
        for snapshot in base:
            for job in code.pending(snapshot, start):
                scheduler.add_job(
                    code.run,
                    "date",
                    run_date=max(job.due_at, start),
                    id=job.key,
                    args=(job,),
                    misfire_grace_time=None,
                )
                added += 1
        store = scheduler._jobstores["default"]
        for now in ticks:
            code.now = now
            due = store.get_due_jobs(now)
            # Highest priority first, then the earliest due: the order the spec asks for.
            order: list[tuple[int, datetime, str, Any]] = []
            for job in due:
                pending: Pending = job.args[0]
                heapq.heappush(order, (-PRIORITY[pending.step], pending.due_at, pending.key, job))
            while order:
                *_, job = heapq.heappop(order)
                again = job.func(*job.args)
                if again is None:
                    store.remove_job(job.id)
                else:
                    job._modify(next_run_time=again)
                    store.update_job(job)
        return code, added
    finally:
        scheduler.shutdown(wait=False)
