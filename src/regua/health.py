"""Health information about a scheduler, to tell whether it keeps up.

`Scheduler.health()` and `AsyncScheduler.health()` answer with a `Health`: how many contacts
are due now (the backlog), how long the longest-waiting one has been overdue, and when this
scheduler last finished a tick. A liveness or readiness probe, or an alert, reads it::

    health = scheduler.health()
    if health.oldest_overdue is not None and health.oldest_overdue > timedelta(minutes=10):
        alert(f"regua is behind: {health}")
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from regua.ports import Repository

__all__ = ["Health"]


@attrs.frozen(slots=True)
class Health:
    """A scheduler's view of the work waiting at `now`.

    Attributes:
        now: The instant the figures are for.
        backlog: Contacts due at `now` (every worker's, leased or not): what the next ticks
            have to evaluate. A healthy system keeps it near zero between ticks.
        changed: Of those, contacts changed by the application (a new event, consent, data)
            and not yet evaluated. They have no due time of their own, so they do not count
            in `oldest_overdue`.
        oldest_due: The earliest wake-up among the other due contacts, or None.
        oldest_overdue: ``now - oldest_due``: how late the longest-waiting scheduled work is;
            None when nothing scheduled is due. It grows when workers are down or too few.
        last_tick: The `now` of the last tick this scheduler object completed, or None.
            Other workers' ticks are not seen here.
        last_tick_duration: How long that tick took, in seconds, or None.

    """

    now: datetime
    backlog: int
    changed: int
    oldest_due: datetime | None
    oldest_overdue: timedelta | None
    last_tick: datetime | None
    last_tick_duration: float | None

    @classmethod
    def read(
        cls,
        repository: Repository,
        now: datetime,
        last_tick: datetime | None,
        last_tick_duration: float | None,
    ) -> Health:
        """Ask `repository` for its backlog at `now` (one cheap query) and assemble."""
        backlog = repository.backlog(now)
        return cls(
            now=now,
            backlog=backlog.due,
            changed=backlog.changed,
            oldest_due=backlog.oldest,
            oldest_overdue=None
            if backlog.oldest is None
            else max(timedelta(0), now - backlog.oldest),
            last_tick=last_tick,
            last_tick_duration=last_tick_duration,
        )

    def __str__(self) -> str:
        overdue = (
            "nothing overdue"
            if self.oldest_overdue is None
            else f"oldest overdue by {self.oldest_overdue}"
        )
        last = (
            "no tick yet" if self.last_tick is None else f"last tick {self.last_tick.isoformat()}"
        )
        return f"{self.backlog} due ({self.changed} changed), {overdue}, {last}"
