"""A packed history answers every question exactly as the records it was given.

`Records` (the in-memory repository's default) is the oracle: the same additions,
removals and packings are applied to both, in random orders and amounts that cross the
tail's and the chunks' sizes, and every read (from any position), count and lookup must
agree after each step.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from regua import Delivery, DeliveryStatus, Event
from regua.repositories.histories import CHUNK, TAIL, Packed, Records, pack, unpack
from tests.profiles import examples

T0 = datetime(2026, 5, 4, 12, tzinfo=timezone.utc)


def _event(n: int, name: str) -> Event:
    return Event("ana", name, T0 + timedelta(minutes=n), id=f"e{n}", data={"n": n})


def _delivery(n: int, status: DeliveryStatus) -> Delivery:
    return Delivery(
        "shop", "welcome", "ana", f"shop:welcome:ana:event=e{n}", status, T0 + timedelta(hours=n)
    )


class PackedAgainstRecords(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.packed, self.records = Packed(), Records()
        self.added = 0

    @rule(count=st.integers(1, 40), name=st.sampled_from(["login", "order_placed"]))
    def add_events(self, count: int, name: str) -> None:
        for _ in range(count):
            event = _event(self.added, name)
            self.added += 1
            for history in (self.packed, self.records):
                history.add_event(event)
        for history in (self.packed, self.records):
            history.settle()

    @rule(
        count=st.integers(1, 40),
        status=st.sampled_from([DeliveryStatus.SENT, DeliveryStatus.FAILED]),
    )
    def add_deliveries(self, count: int, status: DeliveryStatus) -> None:
        for _ in range(count):
            delivery = _delivery(self.added, status)
            self.added += 1
            for history in (self.packed, self.records):
                history.add_delivery(delivery)
                history.settle()

    @precondition(lambda self: self.records.deliveries)
    @rule(data=st.data())
    def remove_delivery(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from([d.occurrence_key for d in self.records.deliveries]))
        for history in (self.packed, self.records):
            history.remove_delivery(key)

    @rule()
    def pack_newest(self) -> None:
        self.packed.pack_newest()

    @invariant()
    def reads_agree(self) -> None:
        events, deliveries = self.records.counts()
        assert self.packed.counts() == (events, deliveries)
        assert self.packed.read() == self.records.read()
        for position in {(0, 0), (events, deliveries), (events // 2, deliveries // 3)}:
            assert self.packed.read(position) == self.records.read(position)
        # What stays unpacked is a tail, never a history; no chunk holds more than CHUNK.
        assert len(self.packed.events or ()) + len(self.packed.deliveries or ()) < TAIL
        for _, _, blob in self.packed.chunks:
            chunk_events, chunk_deliveries = unpack(blob)
            assert 0 < len(chunk_events) + len(chunk_deliveries) <= CHUNK

    @invariant()
    def lookups_agree(self) -> None:
        for n in (0, self.added // 2, self.added - 1, self.added + 5):
            for name in ("login", "order_placed"):
                probe = _event(n, name)
                assert self.packed.has_event(probe) == self.records.has_event(probe)
            key = f"shop:welcome:ana:event=e{n}"
            assert self.packed.delivery(key) == self.records.delivery(key)


PackedAgainstRecords.TestCase.settings = settings(
    max_examples=examples(60), stateful_step_count=25, deadline=None
)
TestPackedAgainstRecords = PackedAgainstRecords.TestCase


@given(events=st.integers(CHUNK + 1, 4 * CHUNK), deliveries=st.integers(0, CHUNK))
@settings(max_examples=examples(30), deadline=None)
def test_a_read_from_a_position_decodes_only_the_chunks_holding_what_follows(
    events: int, deliveries: int
) -> None:
    """A fold's read of a long packed history costs what came after the fold, not the past."""
    packed, records = Packed(), Records()
    for n in range(events):
        for history in (packed, records):
            history.add_event(_event(n, "login"))
    for n in range(deliveries):
        for history in (packed, records):
            history.add_delivery(_delivery(n, DeliveryStatus.SENT))
    packed.pack_newest()
    assert len(packed.chunks) > 1
    # Every chunk but the last made unreadable: a read from where the last one starts works.
    start = packed.chunks[-2][:2]
    packed.chunks[:-1] = [(e, d, pack(None)) for e, d, _ in packed.chunks[:-1]]
    assert packed.read(start) == records.read(start)
    assert packed.read(packed.counts()) == ([], [])
