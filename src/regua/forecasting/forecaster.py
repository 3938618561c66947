"""`forecast`: what cadences will send over a period, projected contact by contact."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta, timezone

from regua.definitions.cadence import Cadence
from regua.definitions.durations import Duration
from regua.definitions.fields import load_timezone
from regua.forecasting.assumptions import Assumptions
from regua.forecasting.projection import Projection, project
from regua.forecasting.result import Forecast, ForecastRow
from regua.forecasting.sources import ContactSource, count_of, snapshots_of
from regua.planning.calendar import shift

__all__ = ["Progress", "as_cadences", "forecast", "period", "projections"]

UTC = timezone.utc

Progress = Callable[[int, "int | None"], object]
"""Called as ``progress(done, total)`` after each contact (`total` None when unknown)."""


def forecast(
    cadences: Cadence | Iterable[Cadence],
    contacts: ContactSource,
    start: datetime,
    end: datetime | Duration | timedelta | str,
    *,
    assumptions: Assumptions | None = None,
    timezone: str | None = None,
    contact_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Forecast:
    """Forecast what `cadences` will send to `contacts` from `start` to `end`, and the cost.

    Each contact is projected forward on the planner alone, as the scheduler would run it
    with every message accepted: what is due is recorded as sent, the contact sleeps until
    its next wake-up, and so on to `end`. Nothing is stored or sent. The counts are those a
    `regua.testing.Simulation` of the same period sends, provided nothing else happens: no
    new events beyond the scripted `assumptions`, no consent changes, no downtime, no
    sender failures beyond the scripted ones.

    >>> from datetime import datetime, timezone
    >>> from regua import Cadence, Channel, Contact, Step, forecast, on_schedule
    >>> news = Cadence("news", channels=[Channel("email", cost=0.01)], steps=[
    ...     Step("weekly", trigger=on_schedule("0 9 * * MON"), channels=["email"])])
    >>> start = datetime(2026, 3, 2, tzinfo=timezone.utc)
    >>> people = [Contact(f"c{n}", consents={"email"}, addresses={"email": "x@example.com"},
    ...                   created_at=start) for n in range(3)]
    >>> result = forecast(news, people, start, "28d")
    >>> result.messages, round(result.cost, 2), result.totals()
    (12, 0.12, {'email': (12, 0.12)})

    Args:
        cadences: One cadence or several (run together, as one scheduler runs them).
        contacts: A `Repository` (its current state: events, deliveries, open claims), or
            `Contact` objects (no history), or `Snapshot` objects (a contact with history).
        start: The first instant of the period (timezone-aware).
        end: The end of the period (excluded): an aware datetime, or a duration after
            `start` (``"90d"``; calendar units count in `timezone`).
        assumptions: Scripted, seeded events and channel failures.
        timezone: The timezone of the days the counts are split into (default: the first
            cadence's).
        contact_ids: Only these contacts (with a repository: also the way to include
            contacts it cannot list; see `repository_contact_ids`).
        progress: Called as ``progress(done, total)`` after each contact.

    Raises:
        ValueError: a naive `start`, an `end` before `start`, duplicate cadence names or
            contact ids, an unknown timezone.
        regua.errors.InvalidRecordError: a contact's data cannot be used by a cadence (the error
            names the contact and the attribute).

    """
    chosen = as_cadences(cadences)
    tz_name = timezone or chosen[0].timezone
    start, stop = period(start, end, tz_name)
    tz = load_timezone(tz_name)
    costs = {(c.name, ch.name): ch.cost for c in chosen for ch in c.channels}
    counts: dict[tuple[date, str, str, str], int] = defaultdict(int)
    per_contact: dict[str, int] = {}
    failed = 0
    projected = 0
    # Local dates of UTC instants: messages go out at few distinct instants, so memoise.
    day_of: dict[datetime, date] = {}
    for (result,) in projections(
        [chosen], contacts, start, stop, assumptions, contact_ids=contact_ids, progress=progress
    ):
        projected += 1
        failed += len(result.failed)
        if not result.sent:
            continue
        per_contact[result.contact_id] = len(result.sent)
        for message in result.sent:
            day = day_of.get(message.at)
            if day is None:
                day = day_of[message.at] = message.at.astimezone(tz).date()
            counts[(day, message.cadence, message.step, message.channel)] += 1
    rows = tuple(
        ForecastRow(day, cadence, step, channel, n, n * costs.get((cadence, channel), 0.0))
        for (day, cadence, step, channel), n in sorted(counts.items())
    )
    return Forecast(
        start=start,
        end=stop,
        timezone=tz_name,
        contacts=projected,
        rows=rows,
        messages_per_contact=per_contact,
        failed=failed,
        assumptions=assumptions,
    )


def projections(
    versions: Sequence[Sequence[Cadence]],
    contacts: ContactSource,
    start: datetime,
    end: datetime,
    assumptions: Assumptions | None = None,
    *,
    contact_ids: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[Projection, ...]]:
    """Project each contact over [`start`, `end`) under each version of the cadences.

    Yields, per contact and in order, one `Projection` per version (a forecast has one
    version, a diff two), all with the same scripted events and failures.
    """
    total = count_of(contacts, contact_ids)

    def learn_total(count: int) -> None:
        nonlocal total
        total = count

    fails = assumptions.fails if assumptions is not None and assumptions.failures else None
    for done, snapshot in enumerate(snapshots_of(contacts, contact_ids, on_ids=learn_total), 1):
        events = (
            assumptions.events_for(snapshot.contact.id, start, end)
            if assumptions is not None and assumptions.events
            else ()
        )
        yield tuple(
            project(cadences, snapshot, start, end, events=events, fails=fails)
            for cadences in versions
        )
        if progress is not None:
            progress(done, total)


def period(
    start: datetime, end: datetime | Duration | timedelta | str, tz_name: str
) -> tuple[datetime, datetime]:
    """(start, end) in UTC from an aware start and an end instant or duration.

    Raises:
        ValueError: a naive instant, an end before the start.

    """
    if not isinstance(start, datetime) or start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be a timezone-aware datetime, got {start!r}")
    start = start.astimezone(UTC)
    if isinstance(end, datetime):
        if end.tzinfo is None or end.utcoffset() is None:
            raise ValueError(f"end must be a timezone-aware datetime, got {end!r}")
        stop = end.astimezone(UTC)
    else:
        stop = shift(start, Duration.parse(end), load_timezone(tz_name))
    if stop < start:
        raise ValueError(f"end ({stop.isoformat()}) is before start ({start.isoformat()})")
    return start, stop


def as_cadences(cadences: Cadence | Iterable[Cadence]) -> tuple[Cadence, ...]:
    """One cadence or several as a tuple, checked: at least one, all cadences, unique names."""
    chosen = (cadences,) if isinstance(cadences, Cadence) else tuple(cadences)
    if not chosen:
        raise ValueError("a forecast needs at least one cadence")
    for index, cadence in enumerate(chosen):
        if not isinstance(cadence, Cadence):
            raise TypeError(f"cadences[{index}]: expected a Cadence, got {type(cadence).__name__}")
    names = [c.name for c in chosen]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"cadence names must be unique; repeated: {', '.join(repeated)}")
    return chosen
