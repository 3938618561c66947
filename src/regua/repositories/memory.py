"""The in-memory repository: the reference implementation of `regua.ports.Repository`.

Thread-safe (one lock), with a wake-up index kept as a heap with lazy deletion, so that
finding due contacts costs what is due, and changing a wake-up costs O(log n), not the size of
the base. Everything is lost when the process ends: use it for tests, simulations and small
jobs.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timedelta

import attrs

from regua.erasure import (
    ErasureReport,
    Keep,
    erasure_pseudonym,
    is_pseudonymous_key,
    personal_values,
    pseudonymous_delivery,
)
from regua.errors import InvalidArgumentError, NotFoundError, ReguaError
from regua.planning.keys import split_occurrence_key
from regua.ports import (
    DIRTY,
    Backlog,
    BaseRepository,
    Claim,
    ContactError,
    UnknownContactError,
    Wakeup,
    history_order,
)
from regua.records import (
    CLICKED,
    OPENED,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Snapshot,
)
from regua.repositories.histories import (
    Packed,
    Records,
    StoredHistory,
    check_packable,
    pack,
    packed_contact,
    unpack,
)
from regua.sharding import Shard, bucket_of

__all__ = ["InMemoryRepository"]


class _Row:
    """One contact: the contact, its history, its wake-up and lease.

    In a compact repository the contact and the stored fold are kept packed (bytes) and the
    history is `Packed`; otherwise as records, and the history is `Records`.
    """

    __slots__ = (
        "_contact",
        "_fold",
        "bucket",
        "history",
        "id",
        "lease_owner",
        "lease_until",
        "version",
        "wakeup",
    )

    _contact: Contact | bytes

    def __init__(
        self, contact: Contact, *, compact: bool, version: int = 0, packed: bytes | None = None
    ) -> None:
        self.id = contact.id
        self.bucket = bucket_of(contact.id)
        self.history: StoredHistory = Packed() if compact else Records()
        self.store_contact(contact, packed)
        # A folded snapshot of the history (see regua.folding), with the number of events
        # and deliveries it covers in `position`: the records after those are read on top.
        self._fold: Snapshot | bytes | None = None
        self.version = version
        self.wakeup: datetime | None = None
        self.lease_owner: str | None = None
        self.lease_until: datetime | None = None

    def __repr__(self) -> str:
        events, deliveries = self.history.read()
        return (
            f"_Row(contact={self.contact!r}, events={events!r}, deliveries={deliveries!r}, "
            f"fold={self.fold!r}, version={self.version!r}, wakeup={self.wakeup!r}, "
            f"lease_owner={self.lease_owner!r}, lease_until={self.lease_until!r})"
        )

    @property
    def compact(self) -> bool:
        return isinstance(self.history, Packed)

    @property
    def contact(self) -> Contact:
        stored = self._contact
        return unpack(stored) if isinstance(stored, bytes) else stored

    @contact.setter
    def contact(self, contact: Contact) -> None:
        self.store_contact(contact)

    def store_contact(self, contact: Contact, packed: bytes | None = None) -> None:
        """Replace the contact (`packed`: its packed form, if the caller packed it already)."""
        if self.compact:
            self._contact = packed_contact(contact) if packed is None else packed
        else:
            self._contact = contact

    @property
    def fold(self) -> Snapshot | None:
        stored = self._fold
        return unpack(stored) if isinstance(stored, bytes) else stored

    @fold.setter
    def fold(self, fold: Snapshot | None) -> None:
        self._fold = pack(fold) if fold is not None and self.compact else fold

    @property
    def has_fold(self) -> bool:
        return self._fold is not None


class InMemoryRepository(BaseRepository):
    """A `Repository` held in memory; thread-safe.

    >>> from regua import Contact, InMemoryRepository
    >>> repo = InMemoryRepository()
    >>> repo.upsert_contact(Contact("ana", addresses={"email": "ana@example.com"}))
    >>> repo.get_contact("ana").addresses["email"]
    'ana@example.com'

    Args:
        compact: Keep each contact's history packed (compressed, in chunks) instead of as
            records: about 2.8 KiB per customer of twenty events and sixteen outcomes
            instead of about 13.5 KiB, for decoding it on every read (about as long again
            as planning it). For large simulations and forecasts; a read through a stored
            fold decodes only what came after it. Event data and contact attributes must
            then be picklable (`InvalidRecordError` otherwise). The behaviour is the same
            either way.

    """

    def __init__(self, *, compact: bool = False) -> None:
        self._lock = threading.RLock()
        self._compact = compact
        self._rows: dict[str, _Row] = {}
        # Occurrence key -> delivery, of every delivery (without `compact`), or (with it) of
        # those a key does not lead to through its contact part: recorded for a contact not
        # stored, or under a key whose contact part is not the delivery's contact.
        self._deliveries: dict[str, Delivery] = {}
        # The failed deliveries, by occurrence key: what `failed_deliveries` and `redrive` read.
        self._failed: dict[str, Delivery] = {}
        self._claims: dict[str, Claim] = {}
        # contact id -> keys of its claims (none of them has a recorded delivery).
        self._claimed: dict[str, set[str]] = {}
        self._errors: list[ContactError] = []
        # A heap of (wake-up, contact id). An entry is live while the contact's wake-up still
        # equals it; entries left behind by a change are dropped when they reach the top, and
        # the heap is rebuilt when they outnumber the live ones.
        self._index: list[tuple[datetime, str]] = []
        self._with_wakeup = 0

    # --- internal ------------------------------------------------------------------------------

    def _row(self, contact_id: str) -> _Row:
        row = self._rows.get(contact_id)
        if row is None:
            raise UnknownContactError(f"no contact {contact_id!r} in the repository")
        return row

    def _set_wakeup(self, row: _Row, at: datetime | None) -> None:
        if at == row.wakeup:
            return
        self._with_wakeup += (at is not None) - (row.wakeup is not None)
        row.wakeup = at
        if at is not None:
            heapq.heappush(self._index, (at, row.id))
        if len(self._index) > 2 * self._with_wakeup + 1024:
            self._index = [
                (r.wakeup, contact_id)
                for contact_id, r in self._rows.items()
                if r.wakeup is not None
            ]
            heapq.heapify(self._index)

    def _live(self, entry: tuple[datetime, str]) -> bool:
        row = self._rows.get(entry[1])
        return row is not None and row.wakeup == entry[0]

    def _due(self, now: datetime, popped: list[tuple[datetime, str]]) -> Iterator[str]:
        """Ids of the live entries at or before `now`, earliest first, popped one at a time.

        Each live entry taken goes into `popped`, for the caller to push back (`_restore`)
        when done: a caller that needs a few stops early, so that a batch of `limit` due
        contacts costs O(limit log n) however many are due (stale entries are dropped).
        """
        seen: set[str] = set()
        index = self._index
        while index and index[0][0] <= now:
            entry = heapq.heappop(index)
            if entry[1] not in seen and self._live(entry):
                seen.add(entry[1])
                popped.append(entry)
                yield entry[1]

    def _in(self, shard: Shard | None, contact_id: str) -> bool:
        return shard is None or self._rows[contact_id].bucket in shard

    def _restore(self, entries: list[tuple[datetime, str]]) -> None:
        for entry in entries:
            if self._live(entry):
                heapq.heappush(self._index, entry)

    def _touch(self, row: _Row) -> None:
        row.version += 1
        self._set_wakeup(row, DIRTY)

    def _snapshot(self, row: _Row, *, folded: bool = False) -> Snapshot:
        claimed = frozenset(self._claimed.get(row.id, ()))
        history = row.history
        position = history.counts()
        stored = row.fold if folded else None
        if stored is not None and stored.position is not None:
            events, deliveries = history.read(stored.position)
            return Snapshot(
                row.contact,
                (*stored.events, *events),
                (*stored.deliveries, *deliveries),
                version=row.version,
                claimed=claimed,
                fold=stored.fold,
                position=position,
            )
        events, deliveries = history.read()
        return Snapshot(
            row.contact,
            events,
            deliveries,
            version=row.version,
            claimed=claimed,
            position=position,
        )

    def _new_row(self, contact: Contact, version: int = 0, packed: bytes | None = None) -> _Row:
        row = _Row(contact, compact=self._compact, version=version, packed=packed)
        self._rows[contact.id] = row
        return row

    def _owner(self, key: str) -> _Row | None:
        """The row whose contact the key's contact part names, if stored."""
        try:
            contact_id = split_occurrence_key(key)[2]
        except InvalidArgumentError:
            return None
        return self._rows.get(contact_id)

    def _delivery(self, key: str) -> Delivery | None:
        """The delivery recorded under this occurrence key, or None."""
        found = self._deliveries.get(key)
        if found is not None or not self._compact:
            return found
        row = self._owner(key)
        return None if row is None else row.history.delivery(key)

    def _add_delivery(self, delivery: Delivery) -> _Row | None:
        """Store a delivery no other closes the occurrence of; its contact's row, if stored."""
        key = delivery.occurrence_key
        row = self._rows.get(delivery.contact_id)
        if row is not None:
            row.history.add_delivery(delivery)
        if not self._compact or row is None or self._owner(key) is not row:
            self._deliveries[key] = delivery
        if delivery.status is DeliveryStatus.FAILED:
            self._failed[key] = delivery
        return row

    def _deliveries_of(self, contact_id: str) -> list[Delivery]:
        """Every delivery recorded for this contact (stored or not)."""
        row = self._rows.get(contact_id)
        if not self._compact or row is None:
            return [d for d in self._deliveries.values() if d.contact_id == contact_id]
        found = row.history.read()[1]
        known = {d.occurrence_key for d in found}
        found += [
            d
            for d in self._deliveries.values()
            if d.contact_id == contact_id and d.occurrence_key not in known
        ]
        return found

    def _forget_delivery(self, delivery: Delivery) -> None:
        """Remove a delivery from the indexes by key (not from its contact's history)."""
        self._deliveries.pop(delivery.occurrence_key, None)
        self._failed.pop(delivery.occurrence_key, None)

    def _put_claim(self, claim: Claim) -> None:
        previous = self._claims.get(claim.occurrence_key)
        if previous is not None and previous.contact_id != claim.contact_id:
            self._drop_claim(claim.occurrence_key)
        self._claims[claim.occurrence_key] = claim
        self._claimed.setdefault(claim.contact_id, set()).add(claim.occurrence_key)

    def _drop_claim(self, key: str) -> None:
        claim = self._claims.pop(key, None)
        if claim is None:
            return
        keys = self._claimed.get(claim.contact_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._claimed[claim.contact_id]

    # --- application side --------------------------------------------------------------------

    def upsert_contact(self, contact: Contact) -> None:
        """Insert or replace a contact; wake it."""
        with self._lock:
            row = self._rows.get(contact.id)
            if row is None:
                row = self._new_row(contact)
            else:
                row.contact = contact
            self._touch(row)

    def bulk_load(
        self,
        contacts: Iterable[Contact] = (),
        events: Iterable[Event] = (),
        deliveries: Iterable[Delivery] = (),
    ) -> int:
        """Load many records at once: an import, or a migration from another store.

        The same outcome as `upsert_contact` for each contact, then `record_event` for each
        event (an event id already stored, or repeated, is skipped), then `record` for the
        deliveries, at a fraction of the cost: the wake-up index is rebuilt once instead of
        changed per record. All or nothing: an event of a contact that is neither stored nor
        among `contacts` raises `UnknownContactError` before anything is stored.

        Returns:
            The number of events stored (duplicates not counted).

        """
        contacts, events, deliveries = list(contacts), list(events), list(deliveries)
        # Compact: everything that could fail to pack is packed or checked before any change.
        packed = [packed_contact(c) if self._compact else None for c in contacts]
        for event in events if self._compact else ():
            check_packable(event)
        with self._lock:
            known = {contact.id for contact in contacts}
            for event in events:
                if event.contact_id not in known and event.contact_id not in self._rows:
                    raise UnknownContactError(f"no contact {event.contact_id!r} in the repository")
            touched: dict[str, _Row] = {}
            for contact, blob in zip(contacts, packed, strict=True):
                row = self._rows.get(contact.id)
                if row is None:
                    row = self._new_row(contact, packed=blob)
                else:
                    row.store_contact(contact, blob)
                touched[contact.id] = row
            stored = 0
            # The (name, id) of this call's events per contact, and whether it had events
            # stored before (looked up in its history then).
            seen: dict[str, tuple[set[tuple[str, str]], bool]] = {}
            for event in events:
                row = self._rows[event.contact_id]
                assert event.id is not None
                entry = seen.get(event.contact_id)
                if entry is None:
                    entry = seen[event.contact_id] = (set(), row.history.counts()[0] > 0)
                ids, had_events = entry
                if (event.name, event.id) in ids or (had_events and row.history.has_event(event)):
                    continue
                ids.add((event.name, event.id))
                row.history.add_event(event)
                touched[event.contact_id] = row
                stored += 1
            for row in touched.values():
                row.version += 1
            if len(touched) < len(self._index) // 16:  # a few: a push each
                for row in touched.values():
                    self._set_wakeup(row, DIRTY)
            else:  # many: one O(n) rebuild of the heap, which also drops stale entries
                for row in touched.values():
                    self._with_wakeup += row.wakeup is None
                    row.wakeup = DIRTY
                self._index = [
                    (r.wakeup, contact_id)
                    for contact_id, r in self._rows.items()
                    if r.wakeup is not None
                ]
                heapq.heapify(self._index)
            touched.update(self._record(deliveries))
            if self._compact:  # an import is done: pack what it stored, however little
                for row in touched.values():
                    assert isinstance(row.history, Packed)
                    row.history.pack_newest()
            return stored

    def get_contact(self, contact_id: str) -> Contact | None:
        """The contact, or None."""
        with self._lock:
            row = self._rows.get(contact_id)
            return None if row is None else row.contact

    def get_contacts(self, contact_ids: Sequence[str]) -> dict[str, Contact]:
        """The stored contacts among `contact_ids`, by id."""
        with self._lock:
            rows = self._rows
            return {cid: rows[cid].contact for cid in contact_ids if cid in rows}

    def get_versioned_contacts(self, contact_ids: Sequence[str]) -> dict[str, tuple[Contact, int]]:
        """The stored contacts among `contact_ids` with their versions, by id."""
        with self._lock:
            rows = self._rows
            return {
                cid: (rows[cid].contact, rows[cid].version) for cid in contact_ids if cid in rows
            }

    def record_event(self, event: Event) -> bool:
        """Store an event (False if its id is already stored); wake its contact."""
        with self._lock:
            row = self._row(event.contact_id)
            assert event.id is not None
            if row.history.has_event(event):
                return False
            if self._compact:
                check_packable(event)
            row.history.add_event(event)
            row.history.settle()
            self._touch(row)
            return True

    def set_consent(self, contact_id: str, channel: str, granted: bool) -> None:
        """Grant or revoke marketing consent on a channel; wake the contact."""
        with self._lock:
            row = self._row(contact_id)
            consents = set(row.contact.consents)
            if granted:
                consents.add(channel)
            else:
                consents.discard(channel)
            row.contact = attrs.evolve(row.contact, consents=consents)
            self._touch(row)

    def suppress_address(self, contact_id: str, channel: str, address: str) -> bool:
        """Remove the contact's address on `channel` if it is still `address`; wake it."""
        with self._lock:
            row = self._rows.get(contact_id)
            if row is None or row.contact.addresses.get(channel) != address:
                return False
            addresses = {k: v for k, v in row.contact.addresses.items() if k != channel}
            row.contact = attrs.evolve(row.contact, addresses=addresses)
            self._touch(row)
            return True

    def record_engagement(self, occurrence_key: str, kind: str, at: datetime) -> Event:
        """Record an open or click of a delivery as an event; wake its contact."""
        if kind not in (OPENED, CLICKED):
            raise InvalidArgumentError(
                f"engagement kind must be {OPENED!r} or {CLICKED!r}, got {kind!r}"
            )
        with self._lock:
            delivery = self._delivery(occurrence_key)
            if delivery is None:
                raise NotFoundError(f"no delivery with occurrence key {occurrence_key!r}")
            event = Event(delivery.contact_id, kind, at, ref=occurrence_key)
            event = attrs.evolve(event, id=f"{kind}:{occurrence_key}@{event.at.isoformat()}")
            self.record_event(event)
            return event

    def history(self, contact_id: str) -> list[Event | Delivery]:
        """Every event and delivery of the contact, oldest first."""
        with self._lock:
            events, deliveries = self._row(contact_id).history.read()
        return history_order(events, deliveries)

    def failed_deliveries(self, limit: int = 100) -> list[Delivery]:
        """Deliveries recorded as failed, most recent first."""
        with self._lock:
            failed = list(self._failed.values())
        failed.sort(key=lambda d: d.at, reverse=True)
        return failed[:limit]

    def contact_ids(self, after: str | None = None, limit: int = 1000) -> list[str]:
        """Up to `limit` contact ids greater than `after`, in ascending order."""
        with self._lock:
            ids = list(self._rows)
        ids = sorted(ids) if after is None else sorted(i for i in ids if i > after)
        return ids[:limit]

    def errors(self, contact_id: str | None = None) -> list[ContactError]:
        """Errors recorded while evaluating contacts, oldest first."""
        with self._lock:
            found = [e for e in self._errors if contact_id is None or e.contact_id == contact_id]
        # Recorded in batches, possibly by several workers: order by instant, not by arrival.
        return sorted(found, key=lambda e: e.at)

    # --- scheduler side ----------------------------------------------------------------------

    def acquire_due(
        self,
        worker: str,
        now: datetime,
        limit: int,
        lease: timedelta,
        *,
        shard: Shard | None = None,
    ) -> list[Snapshot]:
        """Lease and load up to `limit` due contacts (of `shard`), earliest wake-up first.

        With a shard, the due contacts of the other shards are looked at and skipped: in
        memory that is cheap, and one process rarely needs shards.
        """
        snapshots: list[Snapshot] = []
        if limit <= 0:
            return snapshots
        with self._lock:
            popped: list[tuple[datetime, str]] = []
            for contact_id in self._due(now, popped):
                if not self._in(shard, contact_id):
                    continue
                row = self._rows[contact_id]
                if (
                    row.lease_owner not in (None, worker)
                    and row.lease_until is not None
                    and row.lease_until >= now
                ):
                    continue
                row.lease_owner, row.lease_until = worker, now + lease
                snapshots.append(self._snapshot(row, folded=True))
                if len(snapshots) >= limit:
                    break
            self._restore(popped)  # leased contacts stay due until their wake-up is stored
        return snapshots

    def due_contact_ids(
        self, now: datetime, limit: int, *, shard: Shard | None = None
    ) -> list[str]:
        """Ids of due contacts (of `shard`), earliest wake-up first, without leasing them."""
        if limit <= 0:
            return []
        ids: list[str] = []
        with self._lock:
            popped: list[tuple[datetime, str]] = []
            for contact_id in self._due(now, popped):
                if self._in(shard, contact_id):
                    ids.append(contact_id)
                    if len(ids) >= limit:
                        break
            self._restore(popped)
        return ids

    def next_wakeup(self, *, shard: Shard | None = None) -> datetime | None:
        """The earliest wake-up of any contact (of `shard`), or None.

        Without a shard it is read off the wake-up heap; with one, the contacts are scanned.
        """
        with self._lock:
            if shard is not None:
                return min(
                    (
                        row.wakeup
                        for row in self._rows.values()
                        if row.wakeup is not None and row.bucket in shard
                    ),
                    default=None,
                )
            while self._index and not self._live(self._index[0]):
                heapq.heappop(self._index)
            return self._index[0][0] if self._index else None

    def backlog(self, now: datetime) -> Backlog:
        """Due contacts at `now`: how many, how many changed, the oldest wake-up (the index)."""
        with self._lock:
            due: list[tuple[datetime, str]] = []
            list(self._due(now, due))  # pops every due entry into `due`
            self._restore(due)
        scheduled = [at for at, _ in due if at != DIRTY]
        return Backlog(
            due=len(due), changed=len(due) - len(scheduled), oldest=min(scheduled, default=None)
        )

    def store_folds(self, snapshots: Sequence[Snapshot]) -> None:
        """Keep these folded snapshots (`regua.fold`): `acquire_due` reads them from now on.

        Each replaces the contact's stored fold unless that one covers more of its history.
        A snapshot that is not folded, has no `position`, whose contact is gone or changed
        since it was read (another `version`: a fold of what it read then may hold what
        `redrive` has taken out since) is ignored.
        """
        with self._lock:
            for snapshot in snapshots:
                row = self._rows.get(snapshot.contact.id)
                position = snapshot.position
                if row is None or snapshot.fold is None or position is None:
                    continue
                if snapshot.version != row.version:
                    continue
                events, deliveries = row.history.counts()
                if position[0] > events or position[1] > deliveries:
                    continue  # not a position of this row's history
                stored = row.fold
                if (
                    stored is not None
                    and stored.position is not None
                    and stored.position > position
                ):
                    continue
                row.fold = attrs.evolve(snapshot, claimed=frozenset(), version=0)

    def redrive(self, occurrence_keys: Sequence[str]) -> list[Delivery]:
        """Reopen these dead letters: remove their failed outcomes; wake their contacts.

        Keys whose recorded outcome is not `FAILED` (sent, skipped...), or with none, are
        left alone, and so are those of erased contacts (`is_pseudonymous_key`). The next
        tick plans each reopened occurrence again (sent, or closed as expired if it is past
        its expiry). Returns the failed deliveries removed.
        """
        removed: list[Delivery] = []
        with self._lock:
            for key in dict.fromkeys(occurrence_keys):
                delivery = self._failed.get(key)
                if delivery is None or is_pseudonymous_key(key):
                    continue
                self._forget_delivery(delivery)
                row = self._rows.get(delivery.contact_id)
                if row is not None:
                    row.history.remove_delivery(key)
                    row.fold = None  # it may keep the outcome: read whole until folded again
                    self._touch(row)
                removed.append(delivery)
        return removed

    def erase_contact(
        self,
        contact_id: str,
        *,
        keep: Keep = "pseudonymous",
        key: str | bytes | None = None,
        dry_run: bool = False,
    ) -> ErasureReport:
        """Erase a contact (the right to erasure): everything stored about it, at once.

        The contact, its events (their data included), claims, recorded errors and folded
        history are removed. Its deliveries are removed too with ``keep="nothing"``; with
        ``keep="pseudonymous"`` they are kept in their pseudonymous form
        (`regua.erasure.pseudonymous_delivery`) under the contact's pseudonym, the id of a
        contact with no data that is never due, so that reports still count them. An id
        with nothing stored under it is a no-op (`ErasureReport.found` is False).

        Args:
            contact_id: The contact to erase.
            keep: ``"pseudonymous"`` (the default) or ``"nothing"``.
            key: The secret of the pseudonyms (`regua.redaction.pseudonym`), as the
                scheduler's ``log_key``; needed with ``keep="pseudonymous"``.
            dry_run: Count what would be removed, and change nothing.

        Raises:
            InvalidArgumentError: `keep` is unknown, or ``"pseudonymous"`` without a `key`.
            ReguaError: The pseudonym is the id of a contact that holds data (not one an
                earlier erasure made): nothing is changed.

        """
        alias = erasure_pseudonym(contact_id, keep, key)
        with self._lock:
            row = self._rows.get(contact_id)
            deliveries = self._deliveries_of(contact_id)
            claims = sorted(k for k, c in self._claims.items() if c.contact_id == contact_id)
            errors = sum(e.contact_id == contact_id for e in self._errors)
            report = ErasureReport(
                contact_id,
                keep,
                applied=not dry_run,
                found=row is not None,
                events=0 if row is None else row.history.counts()[0],
                deliveries=len(deliveries),
                claims=len(claims),
                errors=errors,
                folds=int(row is not None and row.has_fold),
                pseudonym=alias,
                held_until=None if row is None or row.lease_owner is None else row.lease_until,
            )
            keeping = alias is not None and bool(deliveries)
            stub = self._erasure_stub(alias) if alias is not None and keeping else None
            if dry_run:
                return report
            if alias is not None and keeping:
                assert key is not None
                if stub is None:  # no data, never due: it only holds what is kept
                    stub = self._new_row(Contact(alias), version=1)
                known = personal_values(
                    None if row is None else row.contact,
                    () if row is None else row.history.read()[0],
                )
                for delivery in deliveries:
                    kept = pseudonymous_delivery(delivery, key, known=known)
                    if self._delivery(kept.occurrence_key) is None:
                        self._add_delivery(kept)
                stub.history.settle()
            for delivery in deliveries:
                self._forget_delivery(delivery)
            for claim_key in claims:
                self._drop_claim(claim_key)
            if errors:
                self._errors = [e for e in self._errors if e.contact_id != contact_id]
            if row is not None:
                del self._rows[contact_id]
                self._with_wakeup -= row.wakeup is not None
                # The wake-up heap would keep the id in its stale entries: rebuilt without it.
                self._index = [entry for entry in self._index if entry[1] != contact_id]
                heapq.heapify(self._index)
            return report

    def _erasure_stub(self, alias: str) -> _Row | None:
        """The row an earlier erasure kept deliveries under `alias`, if any.

        A contact with no data, never due. Raises `ReguaError` when a contact holding data
        has that id.
        """
        row = self._rows.get(alias)
        if row is not None and (row.contact != Contact(alias) or row.history.counts()[0]):
            raise ReguaError(
                f"cannot keep deliveries under {alias!r}: a contact with that id holds data "
                "(it is not one an erasure made)"
            )
        return row

    def load_snapshots(self, contact_ids: Sequence[str]) -> dict[str, Snapshot]:
        """Snapshots of these contacts (their whole history), without leasing them."""
        with self._lock:
            return {
                contact_id: self._snapshot(self._rows[contact_id])
                for contact_id in contact_ids
                if contact_id in self._rows
            }

    def claim(
        self, actions: Sequence[DueAction], worker: str, now: datetime, lease: timedelta
    ) -> dict[str, Claim]:
        """Claim the occurrences no delivery closes and nobody else holds."""
        granted: dict[str, Claim] = {}
        with self._lock:
            for action in actions:
                key = action.occurrence_key
                if self._delivery(key) is not None:
                    continue
                held = self._claims.get(key)
                if held is not None and held.until >= now:
                    continue
                claim = Claim.granted(action, worker, now + lease, held)
                self._put_claim(claim)
                granted[key] = claim
        return granted

    def record(self, deliveries: Sequence[Delivery]) -> None:
        """Record outcomes (the first per occurrence wins) and drop their claims."""
        with self._lock:
            for row in self._record(deliveries).values():
                row.history.settle()

    def _record(self, deliveries: Sequence[Delivery]) -> dict[str, _Row]:
        """`record` but for packing what it stored: the rows it stored deliveries in."""
        touched: dict[str, _Row] = {}
        for delivery in deliveries:
            self._drop_claim(delivery.occurrence_key)
            if self._delivery(delivery.occurrence_key) is not None:
                continue
            row = self._add_delivery(delivery)
            if row is not None:
                touched[row.id] = row
        return touched

    def defer(self, claims: Sequence[Claim]) -> None:
        """Store retry state; each claim is held until its `until`."""
        with self._lock:
            for claim in claims:
                if self._delivery(claim.occurrence_key) is None:
                    held = self._claims.get(claim.occurrence_key)
                    if (
                        held is not None
                        and held.unsettled
                        and not claim.unsettled
                        and held.channel_index == claim.channel_index
                    ):
                        claim = attrs.evolve(claim, unsettled=True)
                    self._put_claim(claim)

    def set_wakeups(self, wakeups: Sequence[Wakeup]) -> None:
        """Store next wake-ups unless the contact changed since; end the leases."""
        with self._lock:
            for wakeup in wakeups:
                row = self._rows.get(wakeup.contact_id)
                if row is None:
                    continue
                row.lease_owner = row.lease_until = None
                if row.version == wakeup.version:
                    self._set_wakeup(row, wakeup.at)

    def record_errors(self, errors: Sequence[ContactError]) -> None:
        """Record errors raised while evaluating contacts."""
        with self._lock:
            self._errors.extend(errors)
