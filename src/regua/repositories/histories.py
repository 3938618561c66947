"""How `~regua.InMemoryRepository` keeps one contact's history: as records, or packed.

`Records` keeps every event and delivery as the record it was given: nothing to decode on a
read, about 14 KiB per customer of twenty events. `Packed` keeps them compressed, in chunks
of at most `CHUNK` records (each a zlib-compressed pickle of its events and deliveries),
with the newest records as they came until there are `TAIL` of them: about 2.8 KiB per
customer of twenty events and sixteen deliveries, at the cost of decoding the chunks a read
needs. New records go into a small chunk of their own, and the chunks at the end of a
history are merged two by two as they grow, so that recording costs what is recorded. A
read from a position (what a stored fold does not cover) decodes only the chunks holding
records from there on, so that a long history read through its fold costs what came since,
not the whole past.

Lookups by id (has this event been stored? which delivery has this occurrence key?) go
through a sorted array of 64-bit entries beside the chunks (40 bits of the key's hash, then
the record's position), and decode only the chunk of a match, to confirm it. The contact
and a stored fold are packed the same way (`pack`, `unpack`).
"""

from __future__ import annotations

import pickle
import zlib
from array import array
from bisect import bisect_left, bisect_right, insort
from collections.abc import Hashable, Iterator, Sequence
from operator import itemgetter
from typing import Any, Protocol, TypeVar

from regua.errors import InvalidRecordError, ReguaError
from regua.records import Contact, Delivery, Event

__all__ = [
    "CHUNK",
    "TAIL",
    "Packed",
    "Records",
    "StoredHistory",
    "check_packable",
    "pack",
    "packed_contact",
    "unpack",
]

CHUNK = 64
"""Records (events and deliveries) per packed chunk: the newest are packed once they are
this many, and small chunks are merged until they are."""

TAIL = 4
"""Records kept as they came before they are packed (`Packed.pack_newest`)."""

_T = TypeVar("_T")


def pack(value: object) -> bytes:
    """`value` pickled and compressed (zlib's fastest level: decoding speed is the same)."""
    return zlib.compress(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> Any:
    """The value `pack` made `blob` of."""
    return pickle.loads(zlib.decompress(blob))


def packed_contact(contact: Contact) -> bytes:
    """`pack(contact)`; `InvalidRecordError` if an attribute cannot be pickled."""
    try:
        return pack(contact)
    except Exception as exc:
        raise InvalidRecordError(
            f"Contact {contact.id!r}.attributes: cannot be kept packed "
            f"({type(exc).__name__}: {exc}); store plain data (str, numbers, dates, lists, "
            "dicts)"
        ) from exc


def check_packable(event: Event) -> None:
    """Raise `InvalidRecordError` if the event's data cannot be pickled."""
    if not event.data:
        return
    try:
        pickle.dumps(event.data, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        raise InvalidRecordError(
            f"Event {event.name!r} of contact {event.contact_id!r}.data: cannot be kept "
            f"packed ({type(exc).__name__}: {exc}); store plain data (str, numbers, dates, "
            "lists, dicts)"
        ) from exc


def _event_id(event: Event) -> tuple[str, str]:
    assert event.id is not None
    return event.name, event.id


class StoredHistory(Protocol):
    """One contact's events and deliveries, in the order they were stored."""

    def counts(self) -> tuple[int, int]:
        """How many events and deliveries are stored."""
        ...

    def read(self, position: tuple[int, int] = (0, 0)) -> tuple[list[Event], list[Delivery]]:
        """The events and deliveries stored after the first `position` of each."""
        ...

    def has_event(self, event: Event) -> bool:
        """Whether an event of this name and id is stored."""
        ...

    def add_event(self, event: Event) -> None:
        """Store an event (the caller made sure its id is not stored yet)."""
        ...

    def add_delivery(self, delivery: Delivery) -> None:
        """Store a delivery."""
        ...

    def delivery(self, key: str) -> Delivery | None:
        """The stored delivery of this occurrence key, or None."""
        ...

    def remove_delivery(self, key: str) -> None:
        """Remove the delivery of this occurrence key, if stored."""
        ...

    def settle(self) -> None:
        """Done with a batch of additions: pack what is due to be packed."""
        ...


class Records:
    """A history kept as records: two lists, and the ids of the events once needed."""

    __slots__ = ("deliveries", "event_ids", "events")

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.deliveries: list[Delivery] = []
        # The (name, id) of every event, built on the first lookup: a base loaded in bulk
        # does not keep a set per contact (the largest part of its memory) until it needs one.
        self.event_ids: set[tuple[str, str]] | None = None

    def counts(self) -> tuple[int, int]:
        """How many events and deliveries are stored."""
        return len(self.events), len(self.deliveries)

    def read(self, position: tuple[int, int] = (0, 0)) -> tuple[list[Event], list[Delivery]]:
        """The events and deliveries stored after the first `position` of each."""
        events, deliveries = position
        return self.events[events:], self.deliveries[deliveries:]

    def has_event(self, event: Event) -> bool:
        """Whether an event of this name and id is stored."""
        if self.event_ids is None:
            if not self.events:
                return False
            self.event_ids = {_event_id(each) for each in self.events}
        return _event_id(event) in self.event_ids

    def add_event(self, event: Event) -> None:
        """Store an event (the caller made sure its id is not stored yet)."""
        self.events.append(event)
        if self.event_ids is not None:
            self.event_ids.add(_event_id(event))

    def add_delivery(self, delivery: Delivery) -> None:
        """Store a delivery."""
        self.deliveries.append(delivery)

    def delivery(self, key: str) -> Delivery | None:
        """The stored delivery of this occurrence key, or None."""
        for delivery in self.deliveries:
            if delivery.occurrence_key == key:
                return delivery
        return None

    def remove_delivery(self, key: str) -> None:
        """Remove the delivery of this occurrence key, if stored."""
        self.deliveries = [d for d in self.deliveries if d.occurrence_key != key]

    def settle(self) -> None:
        """Done with a batch of additions: nothing to pack."""


class Packed:
    """A history kept packed: compressed chunks, then the newest records as they came.

    ``chunks`` holds, per chunk, the number of events and of deliveries stored up to its
    end and its blob (`pack` of its events and deliveries); ``events`` and ``deliveries``
    the records stored since the last chunk (None when there are none). The indexes
    (``event_index``: each event's (name, id); ``delivery_index``: each delivery's
    occurrence key) hold one sorted 64-bit entry per record: the upper 40 bits of its key's
    hash, then its position in its list (`_SPOT_BITS`), so that a lookup decodes at most
    the chunk of a record whose hash matches, to confirm it.
    """

    __slots__ = ("chunks", "deliveries", "delivery_index", "event_index", "events")

    def __init__(self) -> None:
        self.chunks: list[tuple[int, int, bytes]] = []
        self.events: list[Event] | None = None
        self.deliveries: list[Delivery] | None = None
        self.event_index, self.delivery_index = array("q"), array("q")

    def _packed_counts(self) -> tuple[int, int]:
        if not self.chunks:
            return 0, 0
        events, deliveries, _ = self.chunks[-1]
        return events, deliveries

    def counts(self) -> tuple[int, int]:
        """How many events and deliveries are stored."""
        events, deliveries = self._packed_counts()
        return events + len(self.events or ()), deliveries + len(self.deliveries or ())

    def read(self, position: tuple[int, int] = (0, 0)) -> tuple[list[Event], list[Delivery]]:
        """The events and deliveries stored after the first `position` of each."""
        after_events, after_deliveries = position
        events: list[Event] = []
        deliveries: list[Delivery] = []
        start_events = start_deliveries = 0
        for end_events, end_deliveries, blob in self.chunks:
            if end_events > after_events or end_deliveries > after_deliveries:
                chunk_events, chunk_deliveries = unpack(blob)
                events += _after(chunk_events, start_events, after_events)
                deliveries += _after(chunk_deliveries, start_deliveries, after_deliveries)
            start_events, start_deliveries = end_events, end_deliveries
        events += _after(self.events or (), start_events, after_events)
        deliveries += _after(self.deliveries or (), start_deliveries, after_deliveries)
        return events, deliveries

    def _locate(self, kind: int, index: int) -> tuple[int, int]:
        """(chunk, start) of the event (`kind` 0) or delivery (1) at `index` of its list.

        `start` is the index, in that list, of the chunk's first record of that kind.
        """
        chunk = bisect_right(self.chunks, index, key=itemgetter(kind))
        return chunk, _end(self.chunks[chunk - 1], kind) if chunk else 0

    def _record(self, kind: int, index: int) -> Any:
        """The event (`kind` 0) or delivery (1) at `index` of its list: one chunk decoded."""
        packed = self._packed_counts()[kind]
        if index >= packed:
            tail = self.events if kind == 0 else self.deliveries
            assert tail is not None
            return tail[index - packed]
        chunk, start = self._locate(kind, index)
        return unpack(self.chunks[chunk][2])[kind][index - start]

    def _matches(self, kind: int, wanted: Hashable) -> Iterator[tuple[int, Any]]:
        """(index, record) of the records whose key hashes as `wanted` does."""
        index = self.event_index if kind == 0 else self.delivery_index
        low = _bucket(hash(wanted))
        at = bisect_left(index, low)
        high = low + _SPOTS
        while at < len(index) and index[at] < high:
            spot = index[at] & _SPOT_MASK
            yield spot, self._record(kind, spot)
            at += 1

    def has_event(self, event: Event) -> bool:
        """Whether an event of this name and id is stored."""
        wanted = _event_id(event)
        return any(_event_id(found) == wanted for _, found in self._matches(0, wanted))

    def add_event(self, event: Event) -> None:
        """Store an event (the caller made sure its id is not stored yet)."""
        index = self.counts()[0]
        insort(self.event_index, _entry(hash(_event_id(event)), index))
        if self.events is None:
            self.events = []
        self.events.append(event)

    def add_delivery(self, delivery: Delivery) -> None:
        """Store a delivery."""
        index = self.counts()[1]
        insort(self.delivery_index, _entry(hash(delivery.occurrence_key), index))
        if self.deliveries is None:
            self.deliveries = []
        self.deliveries.append(delivery)

    def delivery(self, key: str) -> Delivery | None:
        """The stored delivery of this occurrence key, or None."""
        for _, found in self._matches(1, key):
            if found.occurrence_key == key:
                return found  # type: ignore[no-any-return]
        return None

    def remove_delivery(self, key: str) -> None:
        """Remove the delivery of this occurrence key, if stored (its chunk packed again)."""
        index = next((i for i, d in self._matches(1, key) if d.occurrence_key == key), None)
        if index is None:
            return
        packed = self._packed_counts()[1]
        if index >= packed:
            assert self.deliveries is not None
            del self.deliveries[index - packed]
        else:
            chunk, start = self._locate(1, index)
            events, deliveries = unpack(self.chunks[chunk][2])
            kept = deliveries[: index - start] + deliveries[index - start + 1 :]
            blob = pack((events, kept))
            chunks = self.chunks[:chunk]
            if events or kept:
                chunks.append((self.chunks[chunk][0], self.chunks[chunk][1] - 1, blob))
            chunks += [(e, d - 1, b) for e, d, b in self.chunks[chunk + 1 :]]
            self.chunks = chunks
        # The entries after it in its list move one place up (their order stays: the hash
        # bits come first).
        self.delivery_index = array(
            "q",
            (
                entry - ((entry & _SPOT_MASK) > index)
                for entry in self.delivery_index
                if entry & _SPOT_MASK != index
            ),
        )

    def settle(self) -> None:
        """Done with a batch of additions: pack the newest records once there are `TAIL`."""
        if len(self.events or ()) + len(self.deliveries or ()) >= TAIL:
            self.pack_newest()

    def pack_newest(self) -> None:
        """Pack the newest records, however few: the chunks before stay as they are.

        They go into chunks of at most `CHUNK` records; then the last two chunks are merged
        while the last holds at least as many records as the one before and together they
        fit in a chunk (as the digits of a binary counter carry), so that packing a few
        records at a time costs what they hold, not what the history holds, and a contact
        keeps a few small chunks at its end at most. Everything is packed before anything
        changes.
        """
        events, deliveries = self.events or [], self.deliveries or []
        if not events and not deliveries:
            return
        chunks = self.chunks[:]
        end_events, end_deliveries = self._packed_counts()
        # Events first, then deliveries: a chunk covers one contiguous range of each list.
        for start in range(0, len(events) + len(deliveries), CHUNK):
            piece_events = events[start : start + CHUNK]
            piece_deliveries = deliveries[
                max(0, start - len(events)) : max(0, start + CHUNK - len(events))
            ]
            end_events += len(piece_events)
            end_deliveries += len(piece_deliveries)
            blob = pack((tuple(piece_events), tuple(piece_deliveries)))
            chunks.append((end_events, end_deliveries, blob))
            while len(chunks) > 1:
                last, previous = _size(chunks, -1), _size(chunks, -2)
                if last < previous or last + previous > CHUNK:
                    break
                first_events, first_deliveries = unpack(chunks[-2][2])
                second_events, second_deliveries = unpack(chunks[-1][2])
                merged = (first_events + second_events, first_deliveries + second_deliveries)
                chunks[-2:] = [(chunks[-1][0], chunks[-1][1], pack(merged))]
        self.chunks, self.events, self.deliveries = chunks, None, None


def _size(chunks: Sequence[tuple[int, int, bytes]], at: int) -> int:
    """How many records the chunk at index `at` (negative: from the end) of `chunks` holds."""
    index = at % len(chunks)
    end_events, end_deliveries, _ = chunks[index]
    if index == 0:
        return end_events + end_deliveries
    before_events, before_deliveries, _ = chunks[index - 1]
    return end_events - before_events + end_deliveries - before_deliveries


def _end(chunk: tuple[int, int, bytes], kind: int) -> int:
    """How many events (`kind` 0) or deliveries (1) are stored up to the end of `chunk`."""
    return chunk[0] if kind == 0 else chunk[1]


_SPOT_BITS = 24
"""The low bits of an index entry: the record's position in its list (so a compact history
holds at most 16,777,215 events, and as many deliveries)."""
_SPOTS = 1 << _SPOT_BITS
_SPOT_MASK = _SPOTS - 1


def _bucket(code: int) -> int:
    """The hash bits of the index entries of a key hashing to `code` (a 64-bit `hash`)."""
    return (code >> _SPOT_BITS) << _SPOT_BITS


def _entry(code: int, index: int) -> int:
    """The index entry of the record at `index` of its list, whose key hashes to `code`."""
    if index > _SPOT_MASK:
        raise ReguaError(
            f"a compact history holds at most {_SPOT_MASK:,} events and as many deliveries"
        )
    return _bucket(code) | index


def _after(records: Sequence[_T], start: int, position: int) -> Sequence[_T]:
    """The `records` (the first at index `start` of their list) after the first `position`."""
    return records if position <= start else records[position - start :]
