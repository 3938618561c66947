"""`RepositoryContract`: the suite that proves a `regua.ports.Repository`."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

import attrs
import pytest

from regua.erasure import personal_values, pseudonymous_delivery
from regua.ports import (
    DIRTY,
    Backlog,
    Claim,
    ContactError,
    Message,
    Repository,
    UnknownContactError,
    Wakeup,
)
from regua.records import (
    CLICKED,
    OPENED,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    Fold,
    idempotency_key,
)
from regua.sharding import Shard
from regua.testing.contracts._support import _expect, _in_threads

__all__ = ["RepositoryContract"]

T0 = datetime(2024, 5, 6, 12, 0, tzinfo=timezone.utc)
"""The instant most contract tests happen at."""

LEASE = timedelta(minutes=5)
"""The lease the contract tests ask for."""

MOMENT = timedelta(seconds=1)
"""What "a moment later" means in the suites. Every instant they use is a whole second, so an
adapter may store instants with any precision down to the second."""

FAR_FUTURE = T0 + timedelta(days=3650)
"""Later than any wake-up the suites set: a contact not due then is never due."""

_CADENCE = "contract"
_STEP = "reminder"


def _minutes(count: int) -> datetime:
    return T0 + timedelta(minutes=count)


def _contact(contact_id: str, **changes: Any) -> Contact:
    contact = Contact(
        contact_id,
        attributes={"tier": "gold", "orders": 3},
        timezone="America/Sao_Paulo",
        consents={"email"},
        preferences=["email", "sms"],
        addresses={"email": f"{contact_id}@example.com", "sms": "+5511990000001"},
        created_at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc),
    )
    return attrs.evolve(contact, **changes) if changes else contact


def _event(contact_id: str, event_id: str, at: datetime = T0, name: str = "order_placed") -> Event:
    return Event(contact_id, name, at, id=event_id, data={"order": event_id, "total": 149.9})


def _key(contact_id: str, number: int = 1) -> str:
    return f"{_CADENCE}:{_STEP}:{contact_id}:{number}"


def _action(contact_id: str, number: int = 1) -> DueAction:
    key = _key(contact_id, number)
    return DueAction(
        cadence=_CADENCE,
        step=_STEP,
        contact_id=contact_id,
        occurrence_key=key,
        idempotency_key=idempotency_key(key),
        due_at=T0,
        channel="email",
        fallbacks=("sms",),
        message="reminder",
        payload={},
        address=f"{contact_id}@example.com",
    )


def _delivery(
    contact_id: str,
    number: int = 1,
    status: DeliveryStatus = DeliveryStatus.SENT,
    at: datetime = T0,
    reason: str | None = None,
) -> Delivery:
    return Delivery(
        _CADENCE, _STEP, contact_id, _key(contact_id, number), status, at, "email", reason
    )


def _on_the_callers_clock(repository: Repository) -> None:
    """Skip a rule that moves ``now`` past a lease on a repository on its server's clock.

    Leases of a repository with ``lease_clock="database"`` expire by its database server's
    clock, which no test moves.
    """
    if repository.lease_clock != "caller":
        pytest.skip("this rule moves now past a lease; leases here expire by the database's clock")


class RepositoryContract:
    """The behaviour every `regua.ports.Repository` must have, as a pytest suite.

    Subclass it in a test module (the subclass's name must start with ``Test``) and define
    a ``repository`` fixture on the subclass that returns a **fresh, empty** repository for
    each test::

        import pytest

        from regua.ports import Repository
        from regua.testing.contracts import RepositoryContract

        class TestMyRepository(RepositoryContract):
            @pytest.fixture
            def repository(self) -> Repository:
                return MyRepository(...)

    The fixture may use other fixtures (``tmp_path``, a database URL) and may ``yield`` the
    repository to clean up afterwards. Every test uses fixed UTC instants and a failure
    names the rule of `Repository` that was broken. The groups of tests:

    - **contacts**: `upsert_contact` and `get_contact` round-trip every field; replacing a
      contact keeps its events and deliveries; every change increments the version and sets
      the wake-up to `DIRTY`;
    - **events**: `record_event` stores, refuses a duplicate id (per contact) storing
      nothing, raises `UnknownContactError` for an unknown contact;
    - **consent and engagement**: `set_consent`, `record_engagement` (an event with ``ref``);
    - **reads**: `history` order, `failed_deliveries` order and limit, `errors` order and
      filter;
    - **due contacts**: `acquire_due` hands out only due contacts not leased by another
      worker, earliest first, up to the limit, and leases them (still held exactly at the
      lease's end); `due_contact_ids` and `load_snapshots` lease nothing;
    - **shards**: with ``shard=``, `acquire_due`, `due_contact_ids` and `next_wakeup`
      consider exactly the contacts `Shard.holds`; the shards of one count split the due
      contacts exactly; a contact leased through one count's shard is refused to a worker
      of another count whose shard holds it too;
    - **claims**: `claim`, `record`, `defer`: who is granted what, and when; the retry state;
    - **wake-ups**: `set_wakeups` (the next wake-up, never, stale versions, end of lease);
    - **time and threads**: instants read back are aware UTC; claims, acquisitions and
      replayed events racing from several threads each win exactly once;
    - **unreadable data** (when the subclass overrides `store_unreadable`): a contact whose
      stored data cannot be read is handed out with `Snapshot.unreadable` set, left out of
      `get_contacts`, and recorded as its own error by a tick that sends the others;
    - **end to end**: a digest step run by the scheduler collects its events, in order and
      with their data, into one message, once.

    Not checked, because no behaviour shows it: that the wake-up queries use an index and
    that batch calls use a bounded number of statements. Benchmark those.
    """

    # --- helpers ---------------------------------------------------------------------------

    def _version(self, repository: Repository, contact_id: str) -> int:
        return repository.load_snapshots([contact_id])[contact_id].version

    def _sleep(self, repository: Repository, contact_id: str, until: datetime | None) -> None:
        """Set the contact's wake-up to `until` (None: never), as the scheduler would."""
        version = self._version(repository, contact_id)
        repository.set_wakeups([Wakeup(contact_id, until, version)])

    def _due(self, repository: Repository, now: datetime, worker: str) -> list[str]:
        """Ids that `worker` acquires at `now`, in the order handed out (this leases them)."""
        return [s.contact.id for s in repository.acquire_due(worker, now, 100, LEASE)]

    def _is_dirty(self, repository: Repository, contact_id: str) -> bool:
        """Whether the contact's wake-up is `DIRTY`: due even at the epoch."""
        return contact_id in repository.due_contact_ids(DIRTY, 1000)

    def _expect_woken(self, repository: Repository, contact_id: str, before: int) -> None:
        __tracebackhide__ = True
        version = self._version(repository, contact_id)
        if version <= before:
            pytest.fail(f"a change must increment the version: was {before}, now {version}")
        if not self._is_dirty(repository, contact_id):
            pytest.fail("a change must set the contact's wake-up to DIRTY")

    # --- the port ----------------------------------------------------------------------------

    def test_is_a_repository(self, repository: Repository) -> None:
        """The adapter has every method of the `Repository` protocol."""
        missing = [
            name
            for name in dir(Repository)
            if not name.startswith("_")
            and name != "lease_clock"
            and not callable(getattr(repository, name, None))
        ]
        _expect(missing, [], "methods of regua.ports.Repository the adapter lacks")
        _expect(
            getattr(repository, "lease_clock", None) in ("caller", "database"),
            True,
            "lease_clock is 'caller' or 'database'",
        )
        assert isinstance(repository, Repository)

    # --- contacts ------------------------------------------------------------------------------

    def test_get_contact_returns_none_for_an_unknown_id(self, repository: Repository) -> None:
        """`get_contact` of an id never upserted is None."""
        repository.upsert_contact(_contact("ana"))
        _expect(repository.get_contact("bob"), None, "get_contact of an unknown id")

    def test_upsert_contact_round_trips_every_field(self, repository: Repository) -> None:
        """`get_contact` returns the contact as upserted: attributes, timezone, consents..."""
        ana = _contact(
            "ana",
            attributes={
                "tier": "gold",
                "orders": 3,
                "score": 0.75,
                "vip": True,
                "manager": None,
                "tags": ["a", "b"],
                "birth_date": "1990-02-28",
                "address": {"city": "Recife", "zip": "50000-000"},
            },
            consents={"email", "sms"},
            preferences=["sms", "email"],
        )
        repository.upsert_contact(ana)
        _expect(repository.get_contact("ana"), ana, "get_contact after upsert_contact")
        minimal = Contact("bob")
        repository.upsert_contact(minimal)
        _expect(repository.get_contact("bob"), minimal, "a contact with every field empty")

    def test_upsert_contact_replaces_and_keeps_events_and_deliveries(
        self, repository: Repository
    ) -> None:
        """Upserting an existing contact replaces it; its events and deliveries are kept."""
        repository.upsert_contact(_contact("ana"))
        event, delivery = _event("ana", "A-1"), _delivery("ana")
        assert repository.record_event(event)
        repository.record([delivery])
        replaced = _contact("ana", attributes={"tier": "silver"}, timezone=None, consents=())
        repository.upsert_contact(replaced)
        _expect(repository.get_contact("ana"), replaced, "get_contact after a replacement")
        _expect(repository.history("ana"), [event, delivery], "history after a replacement")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(snapshot.contact, replaced, "the snapshot's contact after a replacement")
        _expect(list(snapshot.events), [event], "the snapshot's events after a replacement")
        _expect(list(snapshot.deliveries), [delivery], "snapshot deliveries after replacement")

    def test_upsert_contact_wakes_it(self, repository: Repository) -> None:
        """A new contact is due at once (`DIRTY`); replacing one wakes it again."""
        repository.upsert_contact(_contact("ana"))
        assert self._is_dirty(repository, "ana"), "a new contact must wake up at DIRTY"
        self._sleep(repository, "ana", None)
        before = self._version(repository, "ana")
        assert not self._is_dirty(repository, "ana"), "set_wakeups(None) must clear DIRTY"
        repository.upsert_contact(_contact("ana", attributes={"tier": "silver"}))
        self._expect_woken(repository, "ana", before)

    # --- events ------------------------------------------------------------------------------

    def test_record_event_stores_it(self, repository: Repository) -> None:
        """`record_event` returns True; the event, every field, is in history and snapshots."""
        repository.upsert_contact(_contact("ana"))
        event = Event("ana", "order_placed", T0, id="A-1", data={"total": 149.9, "items": ["book"]})
        _expect(repository.record_event(event), True, "record_event of a new event")
        _expect(repository.history("ana"), [event], "history after record_event")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(list(snapshot.events), [event], "snapshot events after record_event")

    def test_record_event_refuses_a_duplicate_id_storing_nothing(
        self, repository: Repository
    ) -> None:
        """A second event with the same name and id returns False and changes nothing.

        Not the events, not the version, not the wake-up: replaying a feed costs nothing.
        """
        repository.upsert_contact(_contact("ana"))
        original = _event("ana", "A-1")
        assert repository.record_event(original)
        self._sleep(repository, "ana", None)
        version = self._version(repository, "ana")
        replayed = Event("ana", "order_placed", _minutes(5), id="A-1", data={"x": 1})
        _expect(repository.record_event(replayed), False, "record_event of a duplicate id")
        _expect(repository.history("ana"), [original], "history after a duplicate event")
        _expect(self._version(repository, "ana"), version, "version after a duplicate event")
        assert not self._is_dirty(repository, "ana"), "a duplicate event must not wake"

    def test_record_event_replay_without_an_explicit_id_is_a_duplicate(
        self, repository: Repository
    ) -> None:
        """An event without an id gets one from its name and instant: a replay is refused."""
        repository.upsert_contact(_contact("ana"))
        _expect(repository.record_event(Event("ana", "login", T0)), True, "first login")
        _expect(repository.record_event(Event("ana", "login", T0)), False, "replayed login")
        _expect(repository.record_event(Event("ana", "login", _minutes(1))), True, "new login")
        _expect(len(repository.history("ana")), 2, "events stored")

    def test_record_event_ids_are_per_contact(self, repository: Repository) -> None:
        """The duplicate check is per contact: two contacts may have events with one id."""
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        _expect(repository.record_event(_event("ana", "E-1")), True, "ana's event E-1")
        _expect(repository.record_event(_event("bob", "E-1")), True, "bob's event E-1")
        _expect(repository.history("ana"), [_event("ana", "E-1")], "ana's history")
        _expect(repository.history("bob"), [_event("bob", "E-1")], "bob's history")

    def test_record_event_ids_are_per_name(self, repository: Repository) -> None:
        """One id may serve several names: an order placed and shipped are two events."""
        repository.upsert_contact(_contact("ana"))
        placed = Event("ana", "order_placed", T0, id="A-1")
        shipped = Event("ana", "order_shipped", T0, id="A-1")
        _expect(repository.record_event(placed), True, "order_placed A-1")
        _expect(repository.record_event(shipped), True, "order_shipped A-1, the same id")
        _expect(repository.record_event(shipped), False, "order_shipped A-1 again")
        _expect(repository.history("ana"), [placed, shipped], "ana's history")

    def test_record_event_for_an_unknown_contact_raises(self, repository: Repository) -> None:
        """An event for a contact the repository does not hold raises `UnknownContactError`."""
        repository.upsert_contact(_contact("ana"))
        with pytest.raises(UnknownContactError):
            repository.record_event(_event("bob", "B-1"))
        _expect(repository.get_contact("bob"), None, "no contact is created by the event")

    def test_record_event_wakes_the_contact(self, repository: Repository) -> None:
        """A new event increments the version and sets the wake-up to `DIRTY`."""
        repository.upsert_contact(_contact("ana"))
        self._sleep(repository, "ana", FAR_FUTURE)
        before = self._version(repository, "ana")
        assert repository.record_event(_event("ana", "A-1"))
        self._expect_woken(repository, "ana", before)

    # --- consent -----------------------------------------------------------------------------

    def test_set_consent_grants_and_revokes(self, repository: Repository) -> None:
        """Consent changes show in `get_contact` and snapshots; nothing else changes."""
        ana = _contact("ana", consents={"email"})
        repository.upsert_contact(ana)
        for channel, granted, consents in [
            ("sms", True, {"email", "sms"}),
            ("sms", True, {"email", "sms"}),
            ("email", False, {"sms"}),
            ("push", False, {"sms"}),
        ]:
            repository.set_consent("ana", channel, granted)
            expected = attrs.evolve(ana, consents=consents)
            rule = f"get_contact after set_consent({channel!r}, {granted})"
            _expect(repository.get_contact("ana"), expected, rule)
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(snapshot.contact.consents, frozenset({"sms"}), "consents in the snapshot")

    def test_set_consent_wakes_the_contact(self, repository: Repository) -> None:
        """A consent change increments the version and sets the wake-up to `DIRTY`."""
        repository.upsert_contact(_contact("ana"))
        self._sleep(repository, "ana", None)
        before = self._version(repository, "ana")
        repository.set_consent("ana", "email", False)
        self._expect_woken(repository, "ana", before)

    def test_set_consent_for_an_unknown_contact_raises(self, repository: Repository) -> None:
        """Consent for a contact the repository does not hold raises `UnknownContactError`."""
        repository.upsert_contact(_contact("ana"))
        with pytest.raises(UnknownContactError):
            repository.set_consent("bob", "email", True)
        _expect(repository.get_contact("bob"), None, "no contact is created by set_consent")

    # --- engagement --------------------------------------------------------------------------

    @pytest.mark.parametrize("kind", [OPENED, CLICKED])
    def test_record_engagement_stores_an_event_referring_to_the_delivery(
        self, repository: Repository, kind: str
    ) -> None:
        """An open or click is stored and returned as an event of the delivery's contact.

        The event is named `kind` and its ``ref`` is the delivery's occurrence key.
        """
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        delivery = _delivery("ana")
        repository.record([delivery])
        event = repository.record_engagement(delivery.occurrence_key, kind, _minutes(10))
        _expect(
            (event.contact_id, event.name, event.at, event.ref),
            ("ana", kind, _minutes(10), delivery.occurrence_key),
            "the event returned by record_engagement: (contact_id, name, at, ref)",
        )
        assert event.id, "the engagement event must have an id"
        _expect(repository.history("ana"), [delivery, event], "history after an engagement")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(list(snapshot.events), [event], "snapshot events after an engagement")
        _expect(repository.history("bob"), [], "another contact's history")

    def test_record_engagement_for_an_unknown_key_raises_key_error(
        self, repository: Repository
    ) -> None:
        """An engagement naming no recorded delivery raises `KeyError`, storing nothing."""
        repository.upsert_contact(_contact("ana"))
        repository.record([_delivery("ana", 1)])
        with pytest.raises(KeyError):
            repository.record_engagement(_key("ana", 2), OPENED, _minutes(10))
        _expect(repository.history("ana"), [_delivery("ana", 1)], "history after the error")

    def test_record_engagement_wakes_the_contact(self, repository: Repository) -> None:
        """An engagement increments the version and sets the wake-up to `DIRTY`."""
        repository.upsert_contact(_contact("ana"))
        repository.record([_delivery("ana")])
        self._sleep(repository, "ana", None)
        before = self._version(repository, "ana")
        repository.record_engagement(_key("ana"), CLICKED, _minutes(10))
        self._expect_woken(repository, "ana", before)

    # --- history, dead letters, errors -------------------------------------------------------

    def test_history_is_oldest_first_events_before_deliveries_at_one_instant(
        self, repository: Repository
    ) -> None:
        """`history` merges one contact's events and deliveries by instant, events first."""
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        e1, e2, e3 = (_event("ana", f"A-{n}", _minutes(n)) for n in (1, 2, 3))
        d1, d2 = (_delivery("ana", n, at=_minutes(n)) for n in (1, 2))
        repository.record([d2])
        assert repository.record_event(e3)
        repository.record([d1])
        assert repository.record_event(e2)
        assert repository.record_event(e1)
        assert repository.record_event(_event("bob", "B-1", _minutes(1)))
        repository.record([_delivery("bob", 1, at=_minutes(2))])
        _expect(repository.history("ana"), [e1, d1, e2, d2, e3], "history order")

    def test_failed_deliveries_are_the_failed_ones_most_recent_first(
        self, repository: Repository
    ) -> None:
        """Only `FAILED` deliveries, of every contact, most recent first."""
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        failed = DeliveryStatus.FAILED
        f1 = _delivery("ana", 1, failed, _minutes(1), reason="bounced")
        f2 = _delivery("bob", 2, failed, _minutes(2), reason="no_channel")
        f3 = _delivery("ana", 3, failed, _minutes(3), reason="retries_exhausted")
        others = [
            _delivery("ana", 10 + n, status, _minutes(10 + n))
            for n, status in enumerate(DeliveryStatus)
            if status is not failed
        ]
        repository.record([f2, others[0], f1])
        repository.record([*others[1:], f3])
        _expect(repository.failed_deliveries(), [f3, f2, f1], "failed_deliveries()")

    def test_failed_deliveries_respects_the_limit(self, repository: Repository) -> None:
        """`limit` bounds the answer (100 by default), keeping the most recent."""
        repository.upsert_contact(_contact("ana"))
        failed = [
            _delivery("ana", n, DeliveryStatus.FAILED, _minutes(n), reason="bounced")
            for n in range(1, 103)
        ]
        repository.record(failed)
        _expect(repository.failed_deliveries(limit=2), failed[:-3:-1], "limit=2")
        _expect(repository.failed_deliveries(), failed[:1:-1], "the default limit of 100")

    def test_contact_ids_page_through_every_contact_once(self, repository: Repository) -> None:
        """`contact_ids` pages (keyed by the last id) list every contact once, in order."""
        _expect(repository.contact_ids(), [], "an empty repository")
        ids = [f"c{n:02d}" for n in range(7)] + ["Zed", "ana", "ana-2", "émile"]
        for contact_id in reversed(ids):
            repository.upsert_contact(_contact(contact_id))
        pages: list[list[str]] = []
        after: str | None = None
        while True:
            page = repository.contact_ids(after=after, limit=3)
            if not page:
                break
            pages.append(page)
            after = page[-1]
        collected = [contact_id for page in pages for contact_id in page]
        _expect(sorted(collected), sorted(ids), "the ids of every page, together")
        _expect(len(collected), len(set(collected)), "each id on one page only")
        _expect([len(page) for page in pages], [3, 3, 3, 2], "pages of at most `limit` ids")
        _expect(
            repository.contact_ids(limit=len(ids)),
            collected,
            "one big page, in the same order as the small ones",
        )
        _expect(repository.contact_ids(after=collected[-1]), [], "nothing after the last id")

    def test_errors_oldest_first_for_all_or_one_contact(self, repository: Repository) -> None:
        """`errors()` lists every recorded error, `errors(id)` one contact's, oldest first."""
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        a1 = ContactError("ana", _minutes(1), "ValueError: bad birth_date 'soon'")
        b2 = ContactError("bob", _minutes(2), "KeyError: 'tier'")
        a3 = ContactError("ana", _minutes(3), "ValueError: unknown timezone 'Mars/Olympus'")
        _expect(repository.errors(), [], "errors() before any error")
        repository.record_errors([b2, a3])
        repository.record_errors([a1])
        _expect(repository.errors(), [a1, b2, a3], "errors(), oldest first")
        _expect(repository.errors("ana"), [a1, a3], "errors('ana'), oldest first")
        _expect(repository.errors("bob"), [b2], "errors('bob')")
        _expect(repository.errors("carla"), [], "errors of a contact without any")

    # --- due contacts: acquire_due, due_contact_ids, load_snapshots ----------------------------

    def _stagger(self, repository: Repository) -> None:
        """Contacts waking at minutes 3 (a), 1 (b), 2 (c), 4 (d), never (n) and DIRTY (e)."""
        for name, minutes in (("a", 3), ("b", 1), ("c", 2), ("d", 4), ("n", None)):
            repository.upsert_contact(_contact(name))
            self._sleep(repository, name, None if minutes is None else _minutes(minutes))
        repository.upsert_contact(_contact("e"))

    def test_acquire_due_hands_out_due_contacts_earliest_first(
        self, repository: Repository
    ) -> None:
        """Due means a wake-up at or before `now` (None: never); `DIRTY` comes first."""
        _on_the_callers_clock(repository)
        self._stagger(repository)
        _expect(self._due(repository, _minutes(3), "w1"), ["e", "b", "c", "a"], "acquire_due")
        _expect(self._due(repository, _minutes(4), "w2"), ["d"], "acquire_due, later")
        rule = "acquire_due once the leases ended: every wake-up but never, earliest first"
        _expect(self._due(repository, FAR_FUTURE, "w3"), ["e", "b", "c", "a", "d"], rule)

    def test_acquire_due_hands_out_at_most_limit(self, repository: Repository) -> None:
        """At most `limit` contacts, the earliest; the rest are left for the next call."""
        self._stagger(repository)
        first = repository.acquire_due("w1", _minutes(3), 2, LEASE)
        _expect([s.contact.id for s in first], ["e", "b"], "acquire_due with limit=2")
        second = repository.acquire_due("w2", _minutes(3), 2, LEASE)
        _expect([s.contact.id for s in second], ["c", "a"], "acquire_due by another worker")
        _expect(repository.acquire_due("w3", FAR_FUTURE, 0, LEASE), [], "limit=0")

    def test_acquire_due_leases_until_now_plus_lease_inclusive(
        self, repository: Repository
    ) -> None:
        """Another worker is refused while the lease lives, at its very end too, then served."""
        _on_the_callers_clock(repository)
        repository.upsert_contact(_contact("ana"))
        end = T0 + LEASE
        _expect(self._due(repository, T0, "w1"), ["ana"], "w1 acquires the contact")
        _expect(self._due(repository, T0, "w2"), [], "w2, while w1's lease lives")
        _expect(self._due(repository, end, "w2"), [], "w2, exactly at the lease's end")
        _expect(self._due(repository, end + MOMENT, "w2"), ["ana"], "w2, after the lease")
        _expect(self._due(repository, end + MOMENT, "w1"), [], "w1, now that w2 holds it")

    def test_acquire_due_same_worker_may_reacquire_extending_the_lease(
        self, repository: Repository
    ) -> None:
        """The lease holder is served again, and its lease then runs from the new `now`."""
        _on_the_callers_clock(repository)
        repository.upsert_contact(_contact("ana"))
        _expect(self._due(repository, T0, "w1"), ["ana"], "w1 acquires the contact")
        _expect(self._due(repository, _minutes(1), "w1"), ["ana"], "w1 acquires it again")
        new_end = _minutes(1) + LEASE
        _expect(self._due(repository, T0 + LEASE + MOMENT, "w2"), [], "w2, lease extended")
        _expect(self._due(repository, new_end, "w2"), [], "w2, at the new lease's end")
        _expect(self._due(repository, new_end + MOMENT, "w2"), ["ana"], "w2, after it")

    def test_acquire_due_snapshots_carry_contact_version_events_and_deliveries(
        self, repository: Repository
    ) -> None:
        """Each snapshot holds the contact, its events, its deliveries and current version."""
        ana = _contact("ana")
        repository.upsert_contact(ana)
        repository.upsert_contact(_contact("bob"))
        events = [_event("ana", "A-1", _minutes(1)), _event("ana", "A-2", _minutes(2))]
        for event in events:
            assert repository.record_event(event)
        delivery = _delivery("ana", at=_minutes(3))
        repository.record([delivery, _delivery("bob", at=_minutes(3))])
        version = self._version(repository, "ana")
        repository.set_consent("ana", "sms", True)
        snapshots = {s.contact.id: s for s in repository.acquire_due("w1", T0, 10, LEASE)}
        snapshot = snapshots["ana"]
        expected = attrs.evolve(ana, consents={"email", "sms"})
        _expect(snapshot.contact, expected, "the snapshot's contact")
        _expect(sorted(snapshot.events, key=lambda e: e.at), events, "the snapshot's events")
        _expect(list(snapshot.deliveries), [delivery], "the snapshot's deliveries")
        assert snapshot.version > version, "the snapshot must carry the current version"
        _expect(snapshot.version, self._version(repository, "ana"), "the snapshot's version")

    def test_a_stored_fold_is_read_with_what_was_recorded_after_it(
        self, repository: Repository
    ) -> None:
        """With `store_folds`: `acquire_due` gives the fold plus the records added after it.

        A repository without `store_folds` (folds are optional) passes. The fold's records
        stand for the history up to the snapshot's `position`; `load_snapshots` still gives
        the whole history.
        """
        store = getattr(repository, "store_folds", None)
        if store is None:
            return
        repository.upsert_contact(_contact("ana"))
        first = _event("ana", "A-1", _minutes(1))
        assert repository.record_event(first)
        repository.record([_delivery("ana", at=_minutes(2))])
        [loaded] = repository.load_snapshots(["ana"]).values()
        assert loaded.position is not None, "a snapshot must carry its position"
        summary = Fold(cutoff=_minutes(3), valid_from=_minutes(3), fingerprints={"x": "y"})
        folded = attrs.evolve(loaded, events=(), deliveries=(), fold=summary)
        store([folded])
        later = _event("ana", "A-2", _minutes(4))
        assert repository.record_event(later)
        [snapshot] = repository.acquire_due("w1", _minutes(5), 10, LEASE)
        _expect(snapshot.fold, summary, "the stored fold")
        _expect(list(snapshot.events), [later], "the events recorded after the fold")
        _expect(list(snapshot.deliveries), [], "the deliveries recorded after the fold")
        [whole] = repository.load_snapshots(["ana"]).values()
        _expect(whole.fold, None, "load_snapshots reads the whole history")
        _expect(sorted(e.key for e in whole.events), ["A-1", "A-2"], "the whole history")

    def test_due_contact_ids_lists_due_contacts_earliest_first_leasing_nothing(
        self, repository: Repository
    ) -> None:
        """Up to `limit` due ids, earliest first, leased or not; calling it leases nothing."""
        self._stagger(repository)
        _expect(repository.due_contact_ids(_minutes(3), 10), ["e", "b", "c", "a"], "all due")
        _expect(repository.due_contact_ids(_minutes(3), 2), ["e", "b"], "limit=2")
        _expect(repository.due_contact_ids(_minutes(3), 0), [], "limit=0")
        rule = "every wake-up but never"
        _expect(repository.due_contact_ids(FAR_FUTURE, 10), ["e", "b", "c", "a", "d"], rule)
        _expect(self._due(repository, _minutes(1), "w1"), ["e", "b"], "not leased by it")
        _expect(repository.due_contact_ids(_minutes(1), 10), ["e", "b"], "leased ones too")

    def test_next_wakeup_is_the_earliest_wakeup_of_any_contact(
        self, repository: Repository
    ) -> None:
        """None for an empty base; `DIRTY` while a contact waits; else the earliest."""
        _expect(repository.next_wakeup(), None, "next_wakeup of an empty repository")
        self._stagger(repository)
        _expect(repository.next_wakeup(), DIRTY, "next_wakeup with a changed contact")
        self._sleep(repository, "e", _minutes(5))
        _expect(repository.next_wakeup(), _minutes(1), "next_wakeup: the earliest")
        self._due(repository, _minutes(1), "w1")  # leased contacts still count
        _expect(repository.next_wakeup(), _minutes(1), "next_wakeup with a leased contact")

    def test_backlog_counts_due_contacts_and_the_oldest_wakeup(
        self, repository: Repository
    ) -> None:
        """Due at `now`, leased or not; `DIRTY` ones counted as changed, not as the oldest."""
        _expect(repository.backlog(FAR_FUTURE), Backlog(0, 0, None), "backlog of an empty base")
        self._stagger(repository)
        _expect(repository.backlog(_minutes(3)), Backlog(4, 1, _minutes(1)), "backlog at 3 min")
        _expect(repository.backlog(_minutes(1)), Backlog(2, 1, _minutes(1)), "at the wake-up")
        _expect(repository.backlog(T0), Backlog(1, 1, None), "only the changed contact")
        self._due(repository, _minutes(3), "w1")  # leased contacts still count
        _expect(repository.backlog(_minutes(3)), Backlog(4, 1, _minutes(1)), "once leased")
        self._sleep(repository, "e", _minutes(2))
        self._sleep(repository, "b", None)
        rule = "backlog once the changed contact was evaluated and b sleeps for ever"
        _expect(repository.backlog(FAR_FUTURE), Backlog(4, 0, _minutes(2)), rule)

    # --- shards --------------------------------------------------------------------------------

    def _spread(self, repository: Repository, count: int = 40) -> dict[str, datetime]:
        """`count` contacts with distinct wake-ups at minutes 1..count, in a shuffled order."""
        wakeups = {f"s{(n * 7) % count:02d}": _minutes(n + 1) for n in range(count)}
        for contact_id, at in wakeups.items():
            repository.upsert_contact(_contact(contact_id))
            self._sleep(repository, contact_id, at)
        return wakeups

    def test_sharded_acquire_due_splits_the_due_contacts_exactly(
        self, repository: Repository
    ) -> None:
        """Each shard hands out exactly its due contacts, earliest first; together, all."""
        wakeups = self._spread(repository)
        now = _minutes(30)
        due = sorted((at, c) for c, at in wakeups.items() if at <= now)
        for count in (1, 3):
            handed: list[str] = []
            for shard in Shard.all(count):
                expected = [c for _, c in due if shard.holds(c)]
                got = repository.acquire_due(f"w{shard}", now, 100, LEASE, shard=shard)
                _expect([s.contact.id for s in got], expected, f"acquire_due(shard={shard})")
                handed += expected
            _expect(sorted(handed), sorted(c for _, c in due), f"the {count} shards together")
            for contact_id in handed:  # end the leases for the next count
                self._sleep(repository, contact_id, wakeups[contact_id])

    def test_sharded_acquire_due_respects_limit_and_other_workers_leases(
        self, repository: Repository
    ) -> None:
        """A shard's batch stops at `limit`; a lease taken through another count holds."""
        wakeups = self._spread(repository)
        shard = Shard(0, 2)
        mine = [c for _, c in sorted((at, c) for c, at in wakeups.items()) if shard.holds(c)]
        first = repository.acquire_due("w1", FAR_FUTURE, 3, LEASE, shard=shard)
        _expect([s.contact.id for s in first], mine[:3], "acquire_due(shard, limit=3)")
        # Shard 0/2 and every shard of 3 overlap: a worker of the new count must not take
        # what a worker of the old count holds.
        leased = set(mine[:3])
        for other in Shard.all(3):
            got = {
                s.contact.id
                for s in repository.acquire_due(f"n{other}", FAR_FUTURE, 100, LEASE, shard=other)
            }
            _expect(got & leased, set(), f"contacts leased by w1 handed to a worker of {other}")

    def test_sharded_due_contact_ids_and_next_wakeup(self, repository: Repository) -> None:
        """The shard's due ids, earliest first, leasing nothing; the shard's earliest wake-up."""
        wakeups = self._spread(repository)
        ordered = [c for _, c in sorted((at, c) for c, at in wakeups.items())]
        for shard in Shard.all(4):
            mine = [c for c in ordered if shard.holds(c)]
            rule = f"due_contact_ids(shard={shard})"
            _expect(repository.due_contact_ids(FAR_FUTURE, 100, shard=shard), mine, rule)
            _expect(repository.due_contact_ids(FAR_FUTURE, 2, shard=shard), mine[:2], rule)
            expected = wakeups[mine[0]] if mine else None
            _expect(repository.next_wakeup(shard=shard), expected, f"next_wakeup({shard})")
        empty = next(
            shard for shard in Shard.all(len(wakeups) * 4) if not any(map(shard.holds, wakeups))
        )
        _expect(repository.next_wakeup(shard=empty), None, "next_wakeup of an empty shard")
        _expect(sorted(self._due(repository, FAR_FUTURE, "w1")), sorted(wakeups), "nothing leased")

    def test_get_contacts_answers_the_stored_ones_and_leases_nothing(
        self, repository: Repository
    ) -> None:
        """The contacts as stored, by id; unknown ids left out; nothing leased."""
        ana, bob = _contact("ana"), _contact("bob")
        repository.upsert_contact(ana)
        repository.upsert_contact(bob)
        found = repository.get_contacts(["bob", "nobody", "ana", "bob"])
        _expect(found, {"ana": ana, "bob": bob}, "get_contacts")
        revoked = attrs.evolve(ana, consents=frozenset())
        repository.upsert_contact(revoked)
        _expect(repository.get_contacts(["ana"]), {"ana": revoked}, "get_contacts after a change")
        _expect(repository.get_contacts([]), {}, "get_contacts([])")
        _expect(sorted(self._due(repository, T0, "w2")), ["ana", "bob"], "not leased by it")

    def test_load_snapshots_leaves_out_missing_ids_and_leases_nothing(
        self, repository: Repository
    ) -> None:
        """Unknown ids are absent from the answer, and loading does not lease."""
        ana = _contact("ana")
        repository.upsert_contact(ana)
        repository.upsert_contact(_contact("bob"))
        assert repository.record_event(_event("ana", "A-1"))
        snapshots = repository.load_snapshots(["ana", "nobody"])
        _expect(set(snapshots), {"ana"}, "the ids load_snapshots answers")
        _expect(snapshots["ana"].contact, ana, "the snapshot's contact")
        _expect(list(snapshots["ana"].events), [_event("ana", "A-1")], "the snapshot's events")
        _expect(repository.load_snapshots([]), {}, "load_snapshots([])")
        _expect(sorted(self._due(repository, T0, "w2")), ["ana", "bob"], "not leased by it")

    def test_snapshots_carry_the_keys_of_open_claims(self, repository: Repository) -> None:
        """`Snapshot.claimed`: each contact's claimed or deferred occurrences, until recorded.

        Both `acquire_due` and `load_snapshots` fill it; a recorded occurrence leaves it, and
        a late `defer` of a recorded occurrence does not bring it back.
        """
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        repository.upsert_contact(_contact("cid"))
        actions = [_action("ana", 1), _action("ana", 2), _action("bob", 1)]
        claims = repository.claim(actions, "w1", T0, LEASE)
        deferred = attrs.evolve(
            claims[_key("ana", 2)], until=_minutes(20), attempts=1, last_error="timeout"
        )
        repository.defer([deferred])

        def claimed(now: datetime) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
            acquired = repository.acquire_due("w1", now, 10, LEASE)
            loaded = repository.load_snapshots(["ana", "bob", "cid"])
            return (
                {s.contact.id: set(s.claimed) for s in acquired},
                {contact_id: set(s.claimed) for contact_id, s in loaded.items()},
            )

        expected = {
            "ana": {_key("ana", 1), _key("ana", 2)},
            "bob": {_key("bob", 1)},
            "cid": set(),
        }
        acquired, loaded = claimed(T0)
        _expect(acquired, expected, "acquire_due: claimed (and deferred) keys per contact")
        _expect(loaded, expected, "load_snapshots: claimed (and deferred) keys per contact")
        repository.record(
            [
                _delivery("ana", 1),
                _delivery("ana", 2, DeliveryStatus.EXPIRED, _minutes(1), "expired"),
            ]
        )
        repository.defer([attrs.evolve(deferred, until=_minutes(40), attempts=2)])
        expected = {"ana": set(), "bob": {_key("bob", 1)}, "cid": set()}
        acquired, loaded = claimed(_minutes(1))
        _expect(acquired, expected, "acquire_due: claimed keys once recorded")
        _expect(loaded, expected, "load_snapshots: claimed keys once recorded")

    # --- claims --------------------------------------------------------------------------------

    def test_claim_grants_free_occurrences(self, repository: Repository) -> None:
        """A free occurrence is granted to the worker until ``now + lease``, fresh state.

        Its `channel` is the name of the action's first channel.
        """
        _on_the_callers_clock(repository)
        repository.upsert_contact(_contact("ana"))
        claims = repository.claim([_action("ana", 1), _action("ana", 2)], "w1", T0, LEASE)
        expected = {
            _key("ana", n): Claim(
                _key("ana", n), "ana", "w1", T0 + LEASE, sending=True, channel="email"
            )
            for n in (1, 2)
        }
        _expect(claims, expected, "claims granted on free occurrences")

    def test_claim_refuses_every_worker_while_the_claim_lives(self, repository: Repository) -> None:
        """A live claim is refused to everyone, its holder too, up to `until` inclusive."""
        _on_the_callers_clock(repository)
        repository.upsert_contact(_contact("ana"))
        action, end = _action("ana"), T0 + LEASE
        _expect(set(repository.claim([action], "w1", T0, LEASE)), {_key("ana")}, "w1 claims")
        for worker in ("w2", "w1"):
            for now, when in ((T0, "at once"), (_minutes(1), "later"), (end, "at `until`")):
                rule = f"{worker} claims a live claim {when}"
                _expect(repository.claim([action], worker, now, LEASE), {}, rule)
        later = end + MOMENT
        # w1 may have sent before its claim expired: w2's claim is unsettled.
        taken_over = Claim(
            _key("ana"), "ana", "w2", later + LEASE, sending=True, unsettled=True, channel="email"
        )
        expected = {_key("ana"): taken_over}
        _expect(repository.claim([action], "w2", later, LEASE), expected, "after `until`")
        _expect(repository.claim([action], "w1", later, LEASE), {}, "w1, now w2 holds it")

    def test_claim_after_expiry_keeps_the_retry_state(self, repository: Repository) -> None:
        """An expired claim's `attempts`, `channel_index`, `last_error`, `channel` carry over."""
        _on_the_callers_clock(repository)
        repository.upsert_contact(_contact("ana"))
        action = _action("ana")
        claim = repository.claim([action], "w1", T0, LEASE)[_key("ana")]
        retry = attrs.evolve(
            claim, until=_minutes(1), attempts=2, channel_index=1, sending=False, channel="sms"
        )
        repository.defer([attrs.evolve(retry, last_error="TemporaryFailure: 429")])
        later = _minutes(1) + MOMENT
        expected = Claim(
            _key("ana"),
            "ana",
            "w2",
            later + LEASE,
            2,
            1,
            "TemporaryFailure: 429",
            sending=True,
            channel="sms",
        )
        _expect(
            repository.claim([action], "w2", later, LEASE),
            {_key("ana"): expected},
            "a claim taken over after expiry",
        )

    def test_claim_refuses_an_occurrence_with_a_delivery(self, repository: Repository) -> None:
        """Nobody is granted an occurrence whose outcome is recorded, whatever its status."""
        repository.upsert_contact(_contact("ana"))
        statuses = list(DeliveryStatus)
        repository.record(
            [_delivery("ana", n, status) for n, status in enumerate(statuses, start=1)]
        )
        actions = [_action("ana", n) for n in range(1, len(statuses) + 2)]
        free = {_key("ana", len(statuses) + 1)}
        _expect(set(repository.claim(actions, "w1", T0, LEASE)), free, "claims granted")
        rule = "claims on recorded occurrences"
        _expect(repository.claim(actions[:-1], "w2", FAR_FUTURE, LEASE), {}, rule)

    def test_claim_a_large_batch(self, repository: Repository) -> None:
        """A batch is granted exactly its free occurrences, in one call."""
        _on_the_callers_clock(repository)
        for n in range(5):
            repository.upsert_contact(_contact(f"c{n}"))
        batch = [_action(f"c{n % 5}", n) for n in range(200)]
        first = repository.claim(batch, "w1", T0, LEASE)
        expected = {
            a.occurrence_key: Claim(
                a.occurrence_key, a.contact_id, "w1", T0 + LEASE, sending=True, channel="email"
            )
            for a in batch
        }
        _expect(first, expected, "claims on a batch of 200 free occurrences")
        extra = [_action(f"c{n % 5}", n) for n in range(200, 250)]
        second = repository.claim(batch + extra, "w2", _minutes(1), LEASE)
        rule = "claims on 200 held and 50 free occurrences"
        _expect(set(second), {a.occurrence_key for a in extra}, rule)

    # --- record ------------------------------------------------------------------------------

    def test_record_first_outcome_wins(self, repository: Repository) -> None:
        """Recording another outcome for a recorded key is a no-op, across and within calls."""
        repository.upsert_contact(_contact("ana"))
        sent = _delivery("ana", 1, DeliveryStatus.SENT, _minutes(1))
        repository.record([sent])
        repository.record([_delivery("ana", 1, DeliveryStatus.FAILED, _minutes(2), "bounced")])
        skipped = _delivery("ana", 2, DeliveryStatus.SKIPPED, _minutes(3), "condition_false")
        repository.record([skipped, _delivery("ana", 2, DeliveryStatus.SENT, _minutes(4))])
        _expect(repository.history("ana"), [sent, skipped], "history: first outcomes only")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(list(snapshot.deliveries), [sent, skipped], "snapshot: first outcomes only")
        _expect(repository.failed_deliveries(), [], "failed_deliveries: a late FAILED lost")

    def test_record_drops_the_claims(self, repository: Repository) -> None:
        """After `record`, the claim is gone and the occurrence can no longer be claimed."""
        repository.upsert_contact(_contact("ana"))
        action = _action("ana")
        assert repository.claim([action], "w1", T0, LEASE)
        repository.record([_delivery("ana", at=_minutes(1))])
        _expect(repository.claim([action], "w1", _minutes(1), LEASE), {}, "claim after record")
        _expect(repository.claim([action], "w2", FAR_FUTURE, LEASE), {}, "and much later")
        repository.defer([Claim(_key("ana"), "ana", "w1", _minutes(2))])
        _expect(repository.claim([action], "w2", FAR_FUTURE, LEASE), {}, "and after defer")

    def test_record_shows_in_snapshots_and_history(self, repository: Repository) -> None:
        """Recorded deliveries, every field, appear in history and snapshots of their contact."""
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        ana_sent = _delivery("ana", 1, at=_minutes(1))
        bob_failed = _delivery("bob", 1, DeliveryStatus.FAILED, _minutes(2), "invalid_address")
        repository.record([ana_sent, bob_failed])
        _expect(repository.history("ana"), [ana_sent], "ana's history")
        _expect(repository.history("bob"), [bob_failed], "bob's history")
        snapshots = repository.load_snapshots(["ana", "bob"])
        _expect(list(snapshots["ana"].deliveries), [ana_sent], "ana's snapshot")
        _expect(list(snapshots["bob"].deliveries), [bob_failed], "bob's snapshot")

    def test_record_keeps_the_events_a_digest_collected(self, repository: Repository) -> None:
        """`Delivery.collected` (a digest's event ids, in order) reads back as written."""
        repository.upsert_contact(_contact("ana"))
        digest = attrs.evolve(_delivery("ana", 1), collected=("s-2", "s-1", "s-10"))
        expired = attrs.evolve(
            _delivery("ana", 2, DeliveryStatus.EXPIRED, _minutes(1), "expired"),
            channel=None,
            collected=("s-3",),
        )
        repository.record([digest, expired])
        _expect(repository.history("ana"), [digest, expired], "ana's history")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(list(snapshot.deliveries), [digest, expired], "ana's snapshot")

    def test_record_keeps_the_experiment_variant(self, repository: Repository) -> None:
        """A delivery's `variant` (sent, failed, held out) reads back as written, None as None."""
        repository.upsert_contact(_contact("ana"))
        sent = attrs.evolve(_delivery("ana", 1, at=_minutes(1)), variant="long")
        held_out = Delivery(
            _CADENCE,
            _STEP,
            "ana",
            _key("ana", 2),
            DeliveryStatus.SKIPPED,
            _minutes(2),
            reason="holdout",
            variant="control",
        )
        failed = attrs.evolve(
            _delivery("ana", 3, DeliveryStatus.FAILED, _minutes(3), "bounced"), variant="short"
        )
        plain = _delivery("ana", 4, at=_minutes(4))
        repository.record([sent, held_out, failed, plain])
        _expect(repository.history("ana"), [sent, held_out, failed, plain], "ana's history")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(
            [d.variant for d in snapshot.deliveries],
            ["long", "control", "short", None],
            "the variants in ana's snapshot",
        )
        _expect(repository.failed_deliveries(), [failed], "failed_deliveries() keeps it too")

    def test_record_keeps_the_message_id(self, repository: Repository) -> None:
        """A sent delivery's `message_id` (the provider's id) and `detail` read back as written.

        In the history, the snapshot and, after a fold is stored, the folded read.
        """
        repository.upsert_contact(_contact("ana"))
        sent = attrs.evolve(
            _delivery("ana", 1, at=_minutes(1)),
            message_id="<k1@mail.loja>",
            detail="after sms: número inexistente",
        )
        plain = _delivery("ana", 2, at=_minutes(2))
        repository.record([sent, plain])
        _expect(repository.history("ana"), [sent, plain], "ana's history")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(
            [d.message_id for d in snapshot.deliveries],
            ["<k1@mail.loja>", None],
            "the message ids in ana's snapshot",
        )
        store = getattr(repository, "store_folds", None)
        if store is None:
            return
        kept = frozenset({(sent.occurrence_key, sent.status.value, sent.at)})
        summary = Fold(
            cutoff=_minutes(3),
            valid_from=_minutes(3),
            fingerprints={"x": "y"},
            kept_deliveries=kept,
        )
        store([attrs.evolve(snapshot, events=(), deliveries=(sent,), fold=summary)])
        [folded] = repository.acquire_due("w1", _minutes(5), 10, LEASE)
        _expect(list(folded.deliveries), [sent], "the delivery a stored fold kept")

    def test_redrive_reopens_failed_outcomes_only_and_wakes_their_contacts(
        self, repository: Repository
    ) -> None:
        """With `redrive`: a failed outcome is removed and returned; nothing else is touched.

        Its contact is marked changed (version up, `DIRTY`), it is no longer a dead letter,
        and its occurrence can be claimed again. A repository without `redrive` passes.
        """
        redrive = getattr(repository, "redrive", None)
        if redrive is None:
            return
        for name in ("ana", "bia"):
            repository.upsert_contact(_contact(name))
        failed = _delivery("ana", 1, DeliveryStatus.FAILED, _minutes(1), "email: bounced")
        sent = _delivery("ana", 2, at=_minutes(2))
        skipped = _delivery("bia", 1, DeliveryStatus.SKIPPED, _minutes(1), "no_channel")
        repository.record([failed, sent, skipped])
        for name in ("ana", "bia"):
            self._sleep(repository, name, None)
        before = self._version(repository, "ana")
        removed = redrive([failed.occurrence_key, sent.occurrence_key, skipped.occurrence_key, "x"])
        _expect(removed, [failed], "what redrive removed")
        _expect(repository.history("ana"), [sent], "ana's history after the redrive")
        _expect(repository.history("bia"), [skipped], "bia's history (a skip is not redriven)")
        _expect(repository.failed_deliveries(), [], "the dead letters after the redrive")
        self._expect_woken(repository, "ana", before)
        _expect(self._is_dirty(repository, "bia"), False, "bia woken by a redrive of nothing")
        granted = repository.claim([_action("ana", 1)], "w1", _minutes(3), LEASE)
        _expect(list(granted), [failed.occurrence_key], "the reopened occurrence, claimed")
        _expect(redrive([failed.occurrence_key]), [], "a second redrive of the same key")

    def test_suppress_address_removes_only_the_address_that_failed(
        self, repository: Repository
    ) -> None:
        """With `suppress_address`: the address goes if it is still the one that bounced.

        The contact is marked changed (version up, `DIRTY`); its consent and its other
        addresses stay. Another address (given since), none, or no contact: False, nothing
        changes. A repository without `suppress_address` passes.
        """
        suppress = getattr(repository, "suppress_address", None)
        if suppress is None:
            return
        contact = _contact("ana")
        repository.upsert_contact(contact)
        self._sleep(repository, "ana", None)
        before = self._version(repository, "ana")
        email = contact.addresses["email"]
        _expect(suppress("ana", "email", "someone.else@example.com"), False, "another address")
        _expect(suppress("nobody", "email", email), False, "no such contact")
        _expect(self._version(repository, "ana"), before, "the version after a refusal")
        _expect(suppress("ana", "email", email), True, "the address that bounced")
        stored = repository.get_contact("ana")
        assert stored is not None
        expected = {k: v for k, v in contact.addresses.items() if k != "email"}
        _expect(stored.addresses, expected, "the addresses left")
        _expect(stored.consents, contact.consents, "the consents")
        self._expect_woken(repository, "ana", before)
        _expect(suppress("ana", "email", email), False, "a second suppression")

    def test_a_redrive_drops_a_stored_fold_and_one_read_before_it(
        self, repository: Repository
    ) -> None:
        """With `redrive` and `store_folds`: no fold brings a redriven outcome back.

        The stored fold that kept the failed outcome is dropped, and a fold of a snapshot
        read before the redrive is not stored after it.
        """
        redrive = getattr(repository, "redrive", None)
        store = getattr(repository, "store_folds", None)
        if redrive is None or store is None:
            return
        repository.upsert_contact(_contact("ana"))
        failed = _delivery("ana", 1, DeliveryStatus.FAILED, _minutes(1), "email: bounced")
        repository.record([failed])
        [snapshot] = repository.load_snapshots(["ana"]).values()
        kept = frozenset({(failed.occurrence_key, failed.status.value, failed.at)})
        summary = Fold(
            cutoff=_minutes(3),
            valid_from=_minutes(3),
            fingerprints={"x": "y"},
            kept_deliveries=kept,
        )
        folded = attrs.evolve(snapshot, events=(), deliveries=(failed,), fold=summary)
        store([folded])
        _expect(redrive([failed.occurrence_key]), [failed], "what redrive removed")
        [read] = repository.acquire_due("w1", _minutes(5), 10, LEASE)
        _expect(list(read.deliveries), [], "the deliveries read after the redrive")
        store([folded])  # read before the redrive: its contact has changed since
        self._sleep(repository, "ana", _minutes(4))
        [again] = repository.acquire_due("w2", _minutes(20), 10, LEASE)
        _expect(list(again.deliveries), [], "the deliveries read after a stale fold")

    def _erasable(self, repository: Repository) -> tuple[Contact, list[Event], list[Delivery]]:
        """Contact ana, with an event, three outcomes, a claim and an error; bob, his own."""
        ana = _contact("ana", attributes={"name": "Ana Souza", "tier": "gold"})
        repository.upsert_contact(ana)
        repository.upsert_contact(_contact("bob"))
        events = [_event("ana", "A-1"), _event("bob", "B-1")]
        for event in events:
            assert repository.record_event(event)
        sent = attrs.evolve(_delivery("ana", 1, at=_minutes(1)), message_id="<k1@mail.loja>")
        failed = _delivery(
            "ana", 2, DeliveryStatus.FAILED, _minutes(2), "email: 550 <ana@example.com> Ana Souza"
        )
        held_out = attrs.evolve(
            _delivery("ana", 3, DeliveryStatus.SKIPPED, _minutes(3), "holdout"),
            channel=None,
            variant="control",
        )
        bob = _delivery("bob", 1, at=_minutes(1))
        repository.record([sent, failed, held_out, bob])
        assert repository.claim([_action("ana", 4)], "w1", _minutes(4), LEASE)
        repository.record_errors([ContactError("ana", _minutes(4), "birth_date: not a date")])
        return ana, events[:1], [sent, failed, held_out]

    def test_erase_contact_removes_it_and_keeps_its_deliveries_pseudonymous(
        self, repository: Repository
    ) -> None:
        """With `erase_contact`: nothing of the contact is left; its outcomes, pseudonymous.

        A dry run changes nothing. The erasure removes the contact, its events, claims and
        errors; its deliveries are kept under its pseudonym, the id of a contact with no
        data that is never due, with pseudonymous keys and reasons, and are not redriven.
        Other contacts are untouched; a second erasure finds nothing. A repository without
        `erase_contact` passes.
        """
        erase = getattr(repository, "erase_contact", None)
        if erase is None:
            return
        ana, events, deliveries = self._erasable(repository)
        bob_history = repository.history("bob")
        dry = erase("ana", key="the key", dry_run=True)
        counts = (dry.applied, dry.found, dry.events, dry.deliveries, dry.claims, dry.errors)
        _expect(counts, (False, True, 1, 3, 1, 1), "(applied, found, events, ...) of a dry run")
        _expect(repository.get_contact("ana"), ana, "the contact after a dry run")
        report = erase("ana", key="the key")
        _expect(attrs.evolve(report, applied=False), dry, "the erasure, as its dry run said")
        alias = report.pseudonym
        assert alias is not None
        _expect(alias.startswith("c-"), True, f"pseudonym {alias!r} starts with c-")
        _expect(repository.get_contact("ana"), None, "the erased contact")
        _expect(repository.load_snapshots(["ana"]), {}, "snapshots of the erased contact")
        with pytest.raises(UnknownContactError):
            repository.history("ana")
        _expect(repository.errors("ana"), [], "the erased contact's errors")
        _expect(sorted(repository.contact_ids()), sorted(["bob", alias]), "the contacts left")
        known = personal_values(ana, events)
        kept = [pseudonymous_delivery(d, "the key", known=known) for d in deliveries]
        _expect(repository.history(alias), kept, "what is kept, under the pseudonym")
        _expect(repository.get_contact(alias), Contact(alias), "the pseudonym's contact")
        _expect(alias in repository.due_contact_ids(FAR_FUTURE, 100), False, "the pseudonym due")
        _expect(repository.failed_deliveries(), [kept[1]], "the dead letters")
        redrive = getattr(repository, "redrive", None)
        if redrive is not None:
            _expect(redrive([kept[1].occurrence_key]), [], "a redrive of an erased dead letter")
        _expect(repository.history("bob"), bob_history, "bob's history")
        granted = repository.claim([_action("bob", 2)], "w2", _minutes(5), LEASE)
        _expect(list(granted), [_key("bob", 2)], "bob's claims")
        again = erase("ana", key="the key")
        _expect((again.found, again.deliveries), (False, 0), "a second erasure")
        _expect(repository.history(alias), kept, "what is kept, after a second erasure")

    def test_erase_contact_keeping_nothing_removes_its_deliveries_too(
        self, repository: Repository
    ) -> None:
        """With `erase_contact(keep="nothing")`: no record is kept, under any id."""
        erase = getattr(repository, "erase_contact", None)
        if erase is None:
            return
        self._erasable(repository)
        report = erase("ana", keep="nothing")
        _expect((report.deliveries, report.pseudonym), (3, None), "(deliveries, pseudonym)")
        _expect(repository.contact_ids(), ["bob"], "the contacts left")
        _expect(repository.failed_deliveries(), [], "the dead letters")
        _expect(repository.get_contact("ana"), None, "the erased contact")

    def test_a_worker_writing_after_an_erasure_neither_fails_nor_brings_the_contact_back(
        self, repository: Repository
    ) -> None:
        """A worker that leased the contact before its erasure writes after it: harmless.

        The erasure reports the lease; the worker's claim release, outcome, error and
        wake-up are taken without error, the contact stays erased, and erasing it again
        removes what the worker wrote (its outcome kept pseudonymous, as a trace).
        """
        erase = getattr(repository, "erase_contact", None)
        if erase is None:
            return
        repository.upsert_contact(_contact("ana"))
        (snapshot,) = repository.acquire_due("w1", T0, 10, LEASE)
        claims = repository.claim([_action("ana", 1), _action("ana", 2)], "w1", T0, LEASE)
        _expect(len(claims), 2, "claims granted before the erasure")
        report = erase("ana", key="the key")
        _expect((report.claims, report.held_until is not None), (2, True), "(claims, held)")
        released = attrs.evolve(claims[_key("ana", 1)], until=T0, sending=False)
        repository.defer([released])
        sent = _delivery("ana", 2, at=T0)
        repository.record([sent])
        repository.record_errors([ContactError("ana", T0, "late")])
        repository.set_wakeups([Wakeup("ana", _minutes(30), snapshot.version)])
        _expect(repository.get_contact("ana"), None, "the contact, after the worker's writes")
        _expect("ana" in repository.contact_ids(), False, "ana among the contacts")
        _expect(repository.due_contact_ids(FAR_FUTURE, 100), [], "the due contacts")
        late = erase("ana", key="the key")
        counts = (late.found, late.deliveries, late.claims, late.errors)
        _expect(counts, (False, 1, 1, 1), "(found, deliveries, claims, errors) erased late")
        kept = pseudonymous_delivery(sent, "the key", known=["ana"])
        _expect(repository.history(report.pseudonym or ""), [kept], "the late outcome, kept")
        _expect(repository.errors("ana"), [], "the late error")

    def test_record_does_not_wake_the_contact(self, repository: Repository) -> None:
        """`record` leaves the wake-up to the scheduler.

        A wake-up set afterwards from the version acquired before recording holds.
        """
        repository.upsert_contact(_contact("ana"))
        (snapshot,) = repository.acquire_due("w1", T0, 10, LEASE)
        repository.claim([_action("ana")], "w1", T0, LEASE)
        repository.record([_delivery("ana")])
        repository.set_wakeups([Wakeup("ana", _minutes(30), snapshot.version)])
        repository.record([_delivery("ana", 2)])
        assert not self._is_dirty(repository, "ana"), "record must not wake the contact"
        _expect(self._due(repository, _minutes(30) - MOMENT, "w2"), [], "before the wake-up")
        _expect(self._due(repository, _minutes(30), "w2"), ["ana"], "at the wake-up")

    # --- defer -------------------------------------------------------------------------------

    def test_defer_holds_the_claim_until_then_hands_back_the_retry_state(
        self, repository: Repository
    ) -> None:
        """A deferred claim is refused to every worker up to its `until` (inclusive).

        The next claim after it is granted with the stored retry state.
        """
        _on_the_callers_clock(repository)
        repository.upsert_contact(_contact("ana"))
        action, retry_at = _action("ana"), _minutes(20)
        claim = repository.claim([action], "w1", T0, LEASE)[_key("ana")]
        failed = attrs.evolve(claim, until=retry_at, attempts=1, last_error="timeout")
        repository.defer([attrs.evolve(failed, sending=False)])
        for worker in ("w2", "w1"):
            for now in (T0 + LEASE + MOMENT, retry_at):
                rule = f"{worker} claims at {now:%H:%M:%S}, before the retry at {retry_at:%H:%M}"
                _expect(repository.claim([action], worker, now, LEASE), {}, rule)
        later = retry_at + MOMENT
        expected = Claim(
            _key("ana"), "ana", "w2", later + LEASE, 1, 0, "timeout", sending=True, channel="email"
        )
        rule = "the claim after the retry time"
        _expect(repository.claim([action], "w2", later, LEASE), {_key("ana"): expected}, rule)

    def test_a_claim_that_may_have_been_sent_stays_unsettled_until_recorded(
        self, repository: Repository
    ) -> None:
        """A claim expiring while `sending` is taken over `unsettled`, and stays so.

        Deferring it (even with `unsettled` cleared, as a careless caller might) keeps it
        unsettled; a claim deferred after a failed attempt (`sending` cleared) or moved to a
        fallback before sending (`sending` kept) is taken over accordingly.
        """
        repository.upsert_contact(_contact("ana"))
        first, second = _action("ana", 1), _action("ana", 2)
        claims = repository.claim([first, second], "w1", T0, LEASE)
        failed = attrs.evolve(claims[_key("ana", 1)], until=_minutes(1), attempts=1, sending=False)
        moved = attrs.evolve(claims[_key("ana", 2)], until=_minutes(1), channel_index=1)
        repository.defer([failed, moved])
        later = _minutes(1) + MOMENT
        taken = repository.claim([first, second], "w2", later, LEASE)
        flags = {key: (claim.sending, claim.unsettled) for key, claim in taken.items()}
        expected = {_key("ana", 1): (True, False), _key("ana", 2): (True, True)}
        _expect(flags, expected, "(sending, unsettled) after a failed attempt / a fallback move")
        retry = attrs.evolve(
            taken[_key("ana", 2)], until=_minutes(2), sending=False, unsettled=False
        )
        repository.defer([retry])
        again = repository.claim([second], "w3", _minutes(2) + MOMENT, LEASE)[_key("ana", 2)]
        _expect(again.unsettled, True, "an unsettled claim deferred, then taken over again")
        repository.record([_delivery("ana", 2, DeliveryStatus.SENT)])
        _expect(repository.claim([second], "w4", FAR_FUTURE, LEASE), {}, "once recorded")

    def test_an_unsettled_claim_moved_to_another_channel_is_stored_as_given(
        self, repository: Repository
    ) -> None:
        """`unsettled` is about the claim's channel: a move to another channel stores it as given.

        The scheduler moves an unsettled occurrence on only once the channel it was unsettled
        on refused its key: the earlier attempt there was not delivered, and the next channel
        has none of unknown outcome (yet: the move itself keeps `sending`).
        """
        _on_the_callers_clock(repository)
        repository.upsert_contact(_contact("ana"))
        action = _action("ana", 1)
        held = repository.claim([action], "w1", T0, LEASE)[_key("ana", 1)]
        taken = repository.claim([action], "w2", T0 + LEASE + MOMENT, LEASE)[_key("ana", 1)]
        _expect((taken.channel_index, taken.unsettled), (0, True), "taken over while sending")
        moved = attrs.evolve(taken, channel_index=1, unsettled=False, until=_minutes(20))
        repository.defer([moved])
        failed = attrs.evolve(moved, sending=False, attempts=1, until=_minutes(21))
        repository.defer([failed])
        again = repository.claim([action], "w3", _minutes(21) + MOMENT, LEASE)[_key("ana", 1)]
        _expect(
            (again.channel_index, again.unsettled, held.channel_index),
            (1, False, 0),
            "(channel, unsettled) after a move once settled, then a failed attempt there",
        )

    def test_get_versioned_contacts_answers_contacts_and_their_versions(
        self, repository: Repository
    ) -> None:
        """When the repository has it: the contacts as stored, with versions that change."""
        versioned = getattr(repository, "get_versioned_contacts", None)
        if versioned is None:
            pytest.skip("this repository has no get_versioned_contacts (it is optional)")
        ana = _contact("ana")
        repository.upsert_contact(ana)
        repository.upsert_contact(_contact("bob"))
        before = versioned(["ana", "nobody"])
        _expect(sorted(before), ["ana"], "ids found")
        _expect(before["ana"][0], ana, "the contact")
        snapshot = repository.load_snapshots(["ana"])["ana"]
        _expect(before["ana"][1], snapshot.version, "the version, as load_snapshots gives it")
        repository.record_event(Event("ana", "order_placed", T0, id="o1"))
        _expect(versioned(["ana"])["ana"][1] != before["ana"][1], True, "a new event: new version")
        _expect(versioned([]), {}, "get_versioned_contacts([])")
        _expect(sorted(self._due(repository, T0, "w2")), ["ana", "bob"], "not leased by it")

    # --- set_wakeups ---------------------------------------------------------------------------

    def test_set_wakeups_stores_the_next_wakeups(self, repository: Repository) -> None:
        """A contact is not due before its stored wake-up and due at it; batches work."""
        repository.upsert_contact(_contact("ana"))
        repository.upsert_contact(_contact("bob"))
        at = {"ana": _minutes(10), "bob": _minutes(20)}
        snapshots = repository.acquire_due("w1", T0, 10, LEASE)
        repository.set_wakeups(
            [Wakeup(s.contact.id, at[s.contact.id], s.version) for s in snapshots]
        )
        _expect(self._due(repository, _minutes(10) - MOMENT, "w2"), [], "before ana's wake-up")
        _expect(self._due(repository, _minutes(10), "w2"), ["ana"], "at ana's wake-up")
        due = repository.due_contact_ids
        _expect(due(_minutes(20) - MOMENT, 10), ["ana"], "due ids before bob's wake-up")
        _expect(due(_minutes(20), 10), ["ana", "bob"], "due ids at bob's wake-up")

    def test_set_wakeups_none_means_never(self, repository: Repository) -> None:
        """A wake-up of None: the contact is never due, until something changes."""
        repository.upsert_contact(_contact("ana"))
        (snapshot,) = repository.acquire_due("w1", T0, 10, LEASE)
        repository.set_wakeups([Wakeup("ana", None, snapshot.version)])
        _expect(self._due(repository, FAR_FUTURE, "w2"), [], "a contact that wakes never")
        assert repository.record_event(_event("ana", "A-1"))
        _expect(self._due(repository, T0, "w2"), ["ana"], "after a new event")

    @pytest.mark.parametrize("wakeup", [_minutes(30), None], ids=["later", "never"])
    def test_set_wakeups_from_a_stale_version_keeps_the_contact_due(
        self, repository: Repository, wakeup: datetime | None
    ) -> None:
        """A change between `acquire_due` and `set_wakeups` is not hidden: still due."""
        repository.upsert_contact(_contact("ana"))
        (snapshot,) = repository.acquire_due("w1", T0, 10, LEASE)
        assert repository.record_event(_event("ana", "A-1"))
        repository.set_wakeups([Wakeup("ana", wakeup, snapshot.version)])
        rule = "a contact changed after acquire_due, given a wake-up from the older version"
        _expect(self._due(repository, T0, "w2"), ["ana"], rule)

    def test_set_wakeups_ends_the_lease(self, repository: Repository) -> None:
        """After `set_wakeups`, another worker may acquire the contact at once when it is due."""
        repository.upsert_contact(_contact("ana"))
        (snapshot,) = repository.acquire_due("w1", T0, 10, LEASE)
        repository.set_wakeups([Wakeup("ana", T0, snapshot.version)])
        _expect(self._due(repository, T0, "w2"), ["ana"], "another worker, lease ended")

    # --- time ----------------------------------------------------------------------------------

    def test_instants_read_back_are_aware_utc(self, repository: Repository) -> None:
        """Every datetime read back is timezone-aware with a zero UTC offset."""
        repository.upsert_contact(_contact("ana"))
        assert repository.record_event(_event("ana", "A-1"))
        repository.record(
            [
                _delivery("ana", 1, at=_minutes(1)),
                _delivery("ana", 2, DeliveryStatus.FAILED, _minutes(2), "bounced"),
            ]
        )
        engagement = repository.record_engagement(_key("ana", 1), OPENED, _minutes(3))
        repository.record_errors([ContactError("ana", _minutes(4), "boom")])
        claim = repository.claim([_action("ana", 3)], "w1", T0, LEASE)[_key("ana", 3)]
        contact = repository.get_contact("ana")
        assert contact is not None
        (snapshot,) = repository.acquire_due("w1", T0, 10, LEASE)
        instants = {
            "Contact.created_at": contact.created_at,
            "engagement Event.at": engagement.at,
            "Claim.until": claim.until,
            **{f"history[{n}].at": item.at for n, item in enumerate(repository.history("ana"))},
            "failed_deliveries()[0].at": repository.failed_deliveries()[0].at,
            "errors()[0].at": repository.errors()[0].at,
            **{f"snapshot event {e.id}": e.at for e in snapshot.events},
            **{f"snapshot delivery {d.occurrence_key}": d.at for d in snapshot.deliveries},
        }
        _expect(len(instants), 13, "instants read back")
        not_utc = {
            name: value
            for name, value in instants.items()
            if value is None or value.tzinfo is None or value.utcoffset() != timedelta(0)
        }
        _expect(not_utc, {}, "instants that are not aware UTC")

    # --- unreadable stored data ----------------------------------------------------------------

    def store_unreadable(self, repository: Repository, contact_id: str) -> None:
        """Make the stored contact `contact_id` unreadable, going around the repository.

        Override it for an adapter whose store can hold data regua cannot read, written by
        hand or by another program (a timezone this machine's tzdata lacks, JSON that does
        not parse, data nested past `regua.records.MAX_DATA_DEPTH`): write such data for
        the contact straight into the store. Without an override, the tests that need it
        are skipped.
        """
        pytest.skip(f"{type(self).__name__} does not override store_unreadable")

    def test_an_unreadable_contact_fails_alone(self, repository: Repository) -> None:
        """A contact whose stored data cannot be read is its own error, never the batch's.

        `acquire_due` and `load_snapshots` hand it out as a snapshot with
        `Snapshot.unreadable` set (naming the contact) and its version, the others as
        usual; `get_contacts` leaves it out. A tick records its error (`errors`), sends the
        others their messages, and does not evaluate it again until it changes.
        """
        _on_the_callers_clock(repository)
        from regua.definitions.cadence import Cadence
        from regua.definitions.channels import Channel
        from regua.definitions.steps import Step
        from regua.definitions.triggers import on_event
        from regua.scheduler import Scheduler

        ids = ["ana", "bad", "cid"]
        for contact_id in ids:
            repository.upsert_contact(_contact(contact_id))
            assert repository.record_event(_event(contact_id, f"A-{contact_id}"))
        self.store_unreadable(repository, "bad")
        version = self._version(repository, "bad")

        for call, snapshots in (
            ("load_snapshots", repository.load_snapshots(ids)),
            ("acquire_due", {s.contact.id: s for s in repository.acquire_due("w1", T0, 10, LEASE)}),
        ):
            _expect(sorted(snapshots), ids, f"the contacts {call} hands out")
            bad = snapshots["bad"]
            if bad.unreadable is None or "'bad'" not in bad.unreadable:
                pytest.fail(f"{call}: Snapshot.unreadable must say why, naming the contact")
            _expect((bad.contact.id, bad.version), ("bad", version), f"{call}: its id, version")
            for contact_id in ("ana", "cid"):
                snapshot = snapshots[contact_id]
                _expect(snapshot.unreadable, None, f"{call}: a readable contact")
                _expect(snapshot.contact, _contact(contact_id), f"{call}: a readable contact")
                _expect(len(snapshot.events), 1, f"{call}: a readable contact's events")
        _expect(sorted(repository.get_contacts(ids)), ["ana", "cid"], "get_contacts")

        class Outbox:
            def __init__(self) -> None:
                self.to: list[str] = []

            def send(self, message: Message) -> None:
                self.to.append(message.contact.id)

        cadence = Cadence(
            _CADENCE,
            channels=[Channel("email")],
            steps=[Step("confirm", trigger=on_event("order_placed"), channels=["email"])],
        )
        outbox = Outbox()
        scheduler = Scheduler(cadence, repository=repository, senders={"email": outbox})
        report = scheduler.tick(T0 + LEASE + MOMENT)  # the leases above have ended
        _expect(sorted(outbox.to), ["ana", "cid"], "the contacts sent their message")
        _expect(sorted(report.errors), ["bad"], "the contacts with an error in the tick")
        _expect([e.contact_id for e in repository.errors()], ["bad"], "errors()")
        _expect(repository.due_contact_ids(FAR_FUTURE, 10), [], "due after the tick")
        repository.upsert_contact(_contact("bad"))  # the application fixes it
        scheduler.tick(T0 + LEASE + 2 * MOMENT)
        _expect(sorted(outbox.to), ["ana", "bad", "cid"], "sent once fixed")

    # --- end to end ----------------------------------------------------------------------------

    def test_a_digest_lists_its_events_once_and_later_ones_open_the_next(
        self, repository: Repository
    ) -> None:
        """A digest step run by the scheduler on this repository collects its events.

        The events of a window, read back in order with their data, go out as one message,
        once; an event recorded after the digest was sent (even at the same instant, or
        with an earlier one) goes into the next one. This needs `Delivery.collected` to read
        back as written.
        """
        _on_the_callers_clock(repository)
        from regua.definitions.cadence import Cadence
        from regua.definitions.channels import Channel
        from regua.definitions.digests import Digest
        from regua.definitions.steps import Step
        from regua.definitions.triggers import on_event
        from regua.testing.simulation import Simulation

        cadence = Cadence(
            _CADENCE,
            channels=[Channel("email")],
            steps=[
                Step(
                    "shipping",
                    trigger=on_event("order_shipped"),
                    digest=Digest("2h"),
                    channels=["email"],
                    transactional=True,
                )
            ],
        )
        sim = Simulation(cadence, start=T0, repository=repository)
        sim.add_contact("ana")
        sim.emit("ana", "order_shipped", id="s1", order="A-1", items=[1, 2])
        sim.advance("10m")
        # Two events at one instant: in the order of their ids, whatever the insertion order.
        sim.emit("ana", "order_shipped", id="s3", order="A-3", gift=True)
        sim.emit("ana", "order_shipped", id="s2", order="A-2", note=None)
        sim.advance_to(T0 + timedelta(hours=2))
        sim.emit("ana", "order_shipped", id="s4", order="A-4")  # at the instant it went out
        sim.advance("1d")
        # Recorded late, with the instant of the first window: it is the third digest's.
        late = Event("ana", "order_shipped", T0 + timedelta(minutes=5), id="s0", data={})
        repository.record_event(late)
        sim.advance("1h")

        listed = [
            (message.at, message.occurrence_key, message.payload["events"])
            for message in sim.outbox
        ]
        stamp = (T0 + timedelta(minutes=10)).isoformat().replace("+00:00", "Z")
        _expect(
            listed,
            [
                (
                    T0 + timedelta(hours=2),
                    f"{_CADENCE}:shipping:ana:digest=s1",
                    [
                        {
                            "id": "s1",
                            "at": T0.isoformat().replace("+00:00", "Z"),
                            "data": {"order": "A-1", "items": [1, 2]},
                        },
                        {"id": "s2", "at": stamp, "data": {"order": "A-2", "note": None}},
                        {"id": "s3", "at": stamp, "data": {"order": "A-3", "gift": True}},
                    ],
                ),
                (
                    T0 + timedelta(hours=4),
                    f"{_CADENCE}:shipping:ana:digest=s4",
                    [
                        {
                            "id": "s4",
                            "at": (T0 + timedelta(hours=2)).isoformat().replace("+00:00", "Z"),
                            "data": {"order": "A-4"},
                        }
                    ],
                ),
                (
                    T0 + timedelta(days=1, hours=2),  # at once: its window closed long ago
                    f"{_CADENCE}:shipping:ana:digest=s0",
                    [
                        {
                            "id": "s0",
                            "at": (T0 + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
                            "data": {},
                        }
                    ],
                ),
            ],
            "digests sent (at, occurrence key, events listed)",
        )
        statuses = [(d.occurrence_key, d.status, d.collected) for d in sim.deliveries("ana")]
        _expect(
            statuses,
            [
                (f"{_CADENCE}:shipping:ana:digest=s1", DeliveryStatus.SENT, ("s1", "s2", "s3")),
                (f"{_CADENCE}:shipping:ana:digest=s4", DeliveryStatus.SENT, ("s4",)),
                (f"{_CADENCE}:shipping:ana:digest=s0", DeliveryStatus.SENT, ("s0",)),
            ],
            "recorded outcomes of the digests (key, status, events collected)",
        )

    # --- threads -------------------------------------------------------------------------------

    def test_concurrent_claims_grant_each_occurrence_to_one_worker(
        self, repository: Repository
    ) -> None:
        """Workers racing for the same occurrences from several threads: one winner each."""
        _on_the_callers_clock(repository)
        for n in range(4):
            repository.upsert_contact(_contact(f"c{n}"))
        actions = [_action(f"c{n % 4}", n) for n in range(40)]
        for round_ in range(3):
            now = T0 + round_ * (LEASE + MOMENT)

            def race(index: int, now: datetime = now) -> dict[str, Claim]:
                return repository.claim(actions, f"w{index}", now, LEASE)

            winners: Counter[str] = Counter()
            for index, granted in enumerate(_in_threads(8, race)):
                for key, claim in granted.items():
                    _expect(claim.worker, f"w{index}", "the worker named in a granted claim")
                    winners[key] += 1
            rule = f"round {round_}: occurrences granted to no worker, or to several"
            keys = {a.occurrence_key for a in actions}
            _expect({k: c for k, c in winners.items() if c != 1}, {}, rule)
            _expect(keys - set(winners), set(), rule)

    def test_concurrent_acquire_due_hands_each_contact_to_one_worker(
        self, repository: Repository
    ) -> None:
        """Workers racing for due contacts from several threads: each contact leased once."""
        ids = [f"c{n}" for n in range(30)]
        for contact_id in ids:
            repository.upsert_contact(_contact(contact_id))
        results = _in_threads(8, lambda index: self._due(repository, T0, f"w{index}"))
        handed_out = Counter(contact_id for due in results for contact_id in due)
        rule = "contacts handed out to no worker, or to several"
        _expect({c: n for c, n in handed_out.items() if n != 1}, {}, rule)
        _expect(set(ids) - set(handed_out), set(), rule)

    def test_concurrent_replays_of_an_event_store_it_once(self, repository: Repository) -> None:
        """The same event recorded from several threads at once is stored exactly once."""
        repository.upsert_contact(_contact("ana"))
        event = _event("ana", "A-1")
        results = _in_threads(8, lambda index: repository.record_event(event))
        _expect(sorted(results), [False] * 7 + [True], "record_event results of 8 replays")
        _expect(repository.history("ana"), [event], "history after 8 concurrent replays")
