"""How `~regua.InMemoryRepository` keeps one contact's history: as records, or packed.

`Records` keeps every event and delivery as the record it was given: nothing to decode on a
read, about 14 KiB per customer of twenty events. `Packed` keeps them compressed, in chunks
of at most `CHUNK` records (each a zlib-compressed pickle of its events and deliveries),
with the newest records as they came until there are `TAIL` of them: about 2.8 KiB per
customer of twenty events and sixteen deliveries, at the cost of decoding the chunks a read
needs. A read from a position
(what a stored fold does not cover) decodes only the chunks holding records from there on,
so that a long history read through its fold costs what came since, not the whole past.

Lookups by id (has this event been stored? which delivery has this occurrence key?) go
through 64-bit hashes kept beside the chunks, and decode only on a match, to confirm it.
The contact and a stored fold are packed the same way (`pack`, `unpack`).
"""

from __future__ import annotations

import pickle
import zlib
from array import array
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from regua.records import Delivery, Event

__all__ = ["CHUNK", "TAIL", "Packed", "Records", "StoredHistory", "pack", "unpack"]

CHUNK = 64
"""Records (events and deliveries) per packed chunk: the newest are packed once they are
this many, and small chunks are merged until they are."""

TAIL = 16
"""Records kept as they came before they are packed (into the last chunk, while it has room)."""

_T = TypeVar("_T")


def pack(value: object) -> bytes:
    """`value` pickled and compressed (zlib's fastest level: decoding speed is the same)."""
    return zlib.compress(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL), 1)


def unpack(blob: bytes) -> Any:
    """The value `pack` made `blob` of."""
    return pickle.loads(zlib.decompress(blob))


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
        """Done with a batch of additions: pack what is due to be packed."""


class Packed:
    """A history kept packed: compressed chunks, then the newest records as they came.

    ``chunks`` holds, per chunk, the number of events and of deliveries stored up to its
    end and its blob (`pack` of its events and deliveries); ``events`` and ``deliveries``
    the records stored since the last chunk (None when there are none); ``event_hashes``
    and ``delivery_hashes`` the hash of every event's (name, id) and delivery's key.
    """

    __slots__ = ("chunks", "deliveries", "delivery_hashes", "event_hashes", "events")

    def __init__(self) -> None:
        self.chunks: list[tuple[int, int, bytes]] = []
        self.events: list[Event] | None = None
        self.deliveries: list[Delivery] | None = None
        self.event_hashes = array("q")
        self.delivery_hashes = array("q")

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

    def has_event(self, event: Event) -> bool:
        """Whether an event of this name and id is stored."""
        if hash(_event_id(event)) not in self.event_hashes:
            return False
        wanted = _event_id(event)
        return any(_event_id(each) == wanted for each in self.read()[0])

    def add_event(self, event: Event) -> None:
        """Store an event (the caller made sure its id is not stored yet)."""
        if self.events is None:
            self.events = []
        self.events.append(event)
        self.event_hashes.append(hash(_event_id(event)))

    def add_delivery(self, delivery: Delivery) -> None:
        """Store a delivery."""
        if self.deliveries is None:
            self.deliveries = []
        self.deliveries.append(delivery)
        self.delivery_hashes.append(hash(delivery.occurrence_key))

    def delivery(self, key: str) -> Delivery | None:
        """The stored delivery of this occurrence key, or None."""
        if hash(key) not in self.delivery_hashes:
            return None
        for delivery in self.read()[1]:
            if delivery.occurrence_key == key:
                return delivery
        return None

    def remove_delivery(self, key: str) -> None:
        """Remove the delivery of this occurrence key, if stored."""
        events, deliveries = self.read()
        kept = [d for d in deliveries if d.occurrence_key != key]
        if len(kept) == len(deliveries):
            return
        self.chunks, self.events, self.deliveries = [], events, kept
        self.delivery_hashes = array("q", (hash(d.occurrence_key) for d in kept))
        self._pack_all()

    def settle(self) -> None:
        """Done with a batch of additions: pack what is due to be packed."""
        if len(self.events or ()) + len(self.deliveries or ()) >= TAIL:
            self._pack_tail()

    def pack_all(self) -> None:
        """Pack every record (an import is done): whole chunks, a last one of what is left."""
        if self.events or self.deliveries:
            events, deliveries = self.read()
            self.chunks, self.events, self.deliveries = [], events, deliveries
            self._pack_all()

    def _pack_all(self) -> None:
        events, deliveries = self.events or [], self.deliveries or []
        self.events = self.deliveries = None
        counted_events = counted_deliveries = 0
        # Events first, then deliveries: a chunk covers one contiguous range of each list.
        for start in range(0, len(events), CHUNK):
            part = tuple(events[start : start + CHUNK])
            counted_events += len(part)
            self.chunks.append((counted_events, 0, pack((part, ()))))
        for start in range(0, len(deliveries), CHUNK):
            parts = tuple(deliveries[start : start + CHUNK])
            counted_deliveries += len(parts)
            self.chunks.append((counted_events, counted_deliveries, pack(((), parts))))
        self._join_small()

    def _pack_tail(self) -> None:
        events, deliveries = tuple(self.events or ()), tuple(self.deliveries or ())
        if not events and not deliveries:
            return
        packed_events, packed_deliveries = self._packed_counts()
        self.chunks.append(
            (
                packed_events + len(events),
                packed_deliveries + len(deliveries),
                pack((events, deliveries)),
            )
        )
        self.events = self.deliveries = None
        self._join_small()

    def _join_small(self) -> None:
        """Merge the last two chunks while together they hold no more than `CHUNK` records."""
        while len(self.chunks) > 1:
            (_, _, previous), (events, deliveries, last) = self.chunks[-2:]
            first, second = unpack(previous), unpack(last)
            if len(first[0]) + len(first[1]) + len(second[0]) + len(second[1]) > CHUNK:
                return
            merged = (first[0] + second[0], first[1] + second[1])
            self.chunks[-2:] = [(events, deliveries, pack(merged))]


def _after(records: Sequence[_T], start: int, position: int) -> Sequence[_T]:
    """The `records` (the first at index `start` of their list) after the first `position`."""
    return records if position <= start else records[position - start :]
