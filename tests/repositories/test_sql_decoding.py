"""How the SQL repository decodes what it reads: every field in its place, every instant UTC.

Rows are decoded by position (see `regua.repositories.sql`): a record whose every field holds
a value of its own reads back equal, so a field read from another's column cannot pass.
Instants stored as text (SQLite) are read as the documented rule says: naive text is UTC,
text with an offset is converted to UTC.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from regua import Contact, Delivery, DeliveryStatus, Event
from regua.repositories.sql import SQLRepository, _data, _instant

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)


def test_every_field_of_events_and_deliveries_reads_back_from_its_own_column(
    sql_repository: SQLRepository,
) -> None:
    contact = Contact("ana", addresses={"email": "ana@example.com"}, created_at=T0)
    event = Event("ana", "order_placed", T0, id="o-1", data={"order": "o-1"}, ref="r-1")
    deliveries = [
        Delivery(
            "shop",
            "digest",
            "ana",
            f"shop:digest:ana:window=o-{index}",
            status,
            T0 + timedelta(minutes=index),
            channel=f"channel-{index}",
            reason=f"reason-{index}",
            collected=(f"collected-{index}",),
            variant=f"variant-{index}",
            message_id=f"message-{index}",
            detail=f"detail-{index}",
        )
        for index, status in enumerate(
            [DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.SKIPPED]
        )
    ]
    sql_repository.upsert_contact(contact)
    sql_repository.record_event(event)
    sql_repository.record(deliveries)

    snapshot = sql_repository.load_snapshots(["ana"])["ana"]
    assert list(snapshot.events) == [event]
    assert list(snapshot.deliveries) == deliveries
    assert sql_repository.history("ana") == [event, *deliveries]
    assert sql_repository.failed_deliveries() == [deliveries[1]]


def _reference(text: str) -> datetime:
    """The rule `_instant` follows for a text instant: naive is UTC, an offset is converted."""
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


_offsets = st.none() | st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


@given(
    st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
    _offsets,
    st.sampled_from([" ", "T"]),
    st.sampled_from(["auto", "seconds", "milliseconds", "microseconds", "minutes", "hours"]),
)
@example(datetime(2026, 1, 2, 3, 4, 5), None, " ", "microseconds")  # as SQLite's are written
@example(datetime(1, 1, 1), None, " ", "auto")  # the range's ends, naive
@example(datetime(9999, 12, 31, 23, 59, 59, 999999), None, "T", "auto")
def test_a_text_instant_reads_as_utc_by_the_rule(
    wall: datetime, offset: timezone | None, sep: str, timespec: str
) -> None:
    text = wall.replace(tzinfo=offset).isoformat(sep=sep, timespec=timespec)
    read = _instant(text)
    assert read == _reference(text)
    assert read is not None
    assert read.tzinfo is timezone.utc
    assert read.fold == 0


@pytest.mark.parametrize("text", ["2026-01-02", "2026-01-02T03"])
def test_a_text_instant_without_a_full_time_reads_as_utc_too(text: str) -> None:
    assert _instant(text) == _reference(text)


def test_empty_data_reads_as_a_new_object_each_time() -> None:
    first, second = _data("{}"), _data("{}")
    assert first == second == {}
    first["mutated"] = True
    assert second == {}
    assert _data("{}") == {}
