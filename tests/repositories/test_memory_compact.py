"""The compact in-memory repository: what it refuses, and what a read or lookup decodes.

The contract suite (`tests/repositories/test_contracts.py`) runs on it as on the default;
here, what is its own: data that cannot be packed is refused when it is given, with nothing
stored (never later, when the newest records are packed), and long histories stay cheap to
add to and to look up in.
"""

from __future__ import annotations

import threading
from array import array
from datetime import datetime, timedelta, timezone

import pytest

from regua import Contact, Delivery, DeliveryStatus, Event, InMemoryRepository
from regua.errors import InvalidRecordError
from regua.repositories.histories import _SPOT_MASK, CHUNK, Packed, _bucket, pack

T0 = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)


def _event(n: int, data: dict[str, object] | None = None) -> Event:
    return Event("ana", "login", T0 + timedelta(minutes=n), id=f"e{n}", data=data or {})


def _repository() -> InMemoryRepository:
    repository = InMemoryRepository(compact=True)
    repository.upsert_contact(Contact("ana"))
    return repository


def test_an_event_whose_data_cannot_be_packed_is_refused_and_nothing_is_stored() -> None:
    repository = _repository()
    for n in range(20):
        assert repository.record_event(_event(n))
    with pytest.raises(InvalidRecordError, match=r"Event 'login' of contact 'ana'\.data"):
        repository.record_event(_event(99, {"lock": threading.Lock()}))
    for n in range(20, 40):  # the history goes on as if it had not been given
        assert repository.record_event(_event(n))
    assert [e.id for e in repository.history("ana")] == [f"e{n}" for n in range(40)]
    assert not repository.record_event(_event(5))


def test_bulk_load_with_one_bad_event_stores_nothing() -> None:
    repository = _repository()
    events = [_event(n) for n in range(100)]
    events[80] = _event(80, {"lock": threading.Lock()})
    with pytest.raises(InvalidRecordError, match=r"Event 'login' of contact 'ana'\.data"):
        repository.bulk_load([Contact("bea")], events)
    assert repository.history("ana") == []
    assert repository.get_contact("bea") is None
    events[80] = _event(80)
    assert repository.bulk_load([], events) == 100


def test_a_contact_whose_attributes_cannot_be_packed_is_refused() -> None:
    repository = _repository()
    with pytest.raises(InvalidRecordError, match=r"Contact 'bea'\.attributes"):
        repository.upsert_contact(Contact("bea", attributes={"lock": threading.Lock()}))
    assert repository.get_contact("bea") is None
    with pytest.raises(InvalidRecordError, match=r"Contact 'ana'\.attributes"):
        repository.upsert_contact(Contact("ana", attributes={"lock": threading.Lock()}))
    assert repository.get_contact("ana") == Contact("ana")


def _poisoned(packed: Packed, keep: int | None) -> None:
    """Every chunk of `packed` but the `keep`-th made undecodable."""
    packed.chunks = [
        chunk if i == keep else (chunk[0], chunk[1], pack(None))
        for i, chunk in enumerate(packed.chunks)
    ]


def test_a_lookup_decodes_only_the_chunk_of_the_record_it_finds() -> None:
    events = [_event(n) for n in range(5 * CHUNK)]
    deliveries = [
        Delivery("shop", "welcome", "ana", f"shop:welcome:ana:event=e{n}", "sent", T0)
        for n in range(3 * CHUNK)
    ]
    for target in (3, CHUNK + 1, 4 * CHUNK + 7):
        packed = Packed()
        for event in events:
            packed.add_event(event)
        for delivery in deliveries:
            packed.add_delivery(delivery)
        packed.pack_newest()
        keep = next(i for i, chunk in enumerate(packed.chunks) if chunk[0] > target)
        _poisoned(packed, keep)
        assert packed.has_event(events[target])
        assert not packed.has_event(_event(10 * CHUNK))  # no hash matches: nothing decoded
        assert packed.delivery("shop:welcome:ana:event=nothing") is None
    packed = Packed()
    for delivery in deliveries:
        packed.add_delivery(delivery)
    packed.pack_newest()
    _poisoned(packed, 1)
    assert packed.delivery(deliveries[CHUNK + 2].occurrence_key) == deliveries[CHUNK + 2]


def test_packing_the_newest_records_leaves_the_past_packed_as_it_is() -> None:
    """An import of a few records into a long history packs those, not the whole history."""
    repository = _repository()
    repository.bulk_load([], [_event(n) for n in range(10 * CHUNK)])
    with repository._lock:
        packed = repository._rows["ana"].history
        assert isinstance(packed, Packed)
        past = packed.chunks[:-1]
    repository.bulk_load([], [_event(10 * CHUNK + n) for n in range(3)])
    assert packed.chunks[: len(past)] == past
    assert packed.counts() == (10 * CHUNK + 3, 0)
    assert all(
        e - b <= CHUNK
        for (b, _, _), (e, _, _) in zip([(0, 0, b""), *packed.chunks], packed.chunks, strict=False)
    )


def test_a_redriven_failure_is_taken_out_of_its_chunk_alone() -> None:
    repository = _repository()
    failed = Delivery(
        "shop", "welcome", "ana", "shop:welcome:ana:event=e7", DeliveryStatus.FAILED, T0
    )
    sent = [
        Delivery("shop", "welcome", "ana", f"shop:welcome:ana:event=s{n}", "sent", T0)
        for n in range(3 * CHUNK)
    ]
    repository.bulk_load([], [], [*sent[:CHUNK], failed, *sent[CHUNK:]])
    with repository._lock:
        packed = repository._rows["ana"].history
        assert isinstance(packed, Packed)
        before = [blob for _, _, blob in packed.chunks]
    assert repository.redrive([failed.occurrence_key]) == [failed]
    after = [blob for _, _, blob in packed.chunks]
    assert len(after) == len(before)
    assert [a == b for a, b in zip(before, after, strict=True)].count(False) == 1
    assert list(repository.load_snapshots(["ana"])["ana"].deliveries) == sent
    assert repository.failed_deliveries() == []
    with repository._lock:  # every other key still leads to its delivery, and that one to none
        assert all(repository._delivery(d.occurrence_key) == d for d in sent)
        assert repository._delivery(failed.occurrence_key) is None


def test_keys_whose_hashes_collide_are_told_apart_by_the_records() -> None:
    """An index entry only narrows the search: the record decoded decides."""
    deliveries = [
        Delivery("shop", "welcome", "ana", f"shop:welcome:ana:event=e{n}", "sent", T0)
        for n in range(3 * CHUNK)
    ]
    packed = Packed()
    for delivery in deliveries:
        packed.add_delivery(delivery)
    packed.pack_newest()
    wanted = deliveries[CHUNK + 5]
    bucket = _bucket(hash(wanted.occurrence_key))
    # Every record in the wanted key's hash bucket, as if every key hashed alike.
    packed.delivery_index = array(
        "q", sorted(bucket | (e & _SPOT_MASK) for e in packed.delivery_index)
    )
    assert packed.delivery(wanted.occurrence_key) == wanted
    assert packed.delivery("shop:welcome:ana:event=absent") is None
    packed.remove_delivery(wanted.occurrence_key)
    assert packed.read()[1] == [d for d in deliveries if d is not wanted]
    # The positions after the removed one moved up by one: every entry still names a record.
    assert sorted(e & _SPOT_MASK for e in packed.delivery_index) == list(range(3 * CHUNK - 1))
