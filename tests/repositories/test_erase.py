"""Erasing a contact: nothing personal is left, workers racing it are harmless, reports count.

Memory, SQLite and PostgreSQL (skipped without a server, see conftest.py), with the state made
by a real `Scheduler`; then `regua erase`, as an operator runs it.
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import attrs
import pytest
import sqlalchemy as sa

from regua import (
    Cadence,
    Channel,
    Contact,
    Delivery,
    DeliveryStatus,
    DueAction,
    Event,
    InMemoryRepository,
    Message,
    PermanentFailure,
    Scheduler,
    Step,
    fold,
    on_date,
    on_event,
    report,
)
from regua.cli import main
from regua.definitions import Goal
from regua.erasure import is_pseudonymous_key, pseudonymous_delivery, pseudonymous_key
from regua.errors import ReguaError
from regua.ports import ContactError, UnknownContactError
from regua.records import idempotency_key
from regua.redaction import pseudonym
from regua.repositories.sql import SQLRepository

Repo = InMemoryRepository | SQLRepository

KEY = "the application's pseudonym key"
LEASE = timedelta(minutes=5)

ANA = "ana.souza-7731"
EMAIL = "ana.souza@example.com"
PHONE = "+55 11 98765-4321"
NAME = "Ana Souza"
CPF = "123.456.789-09"
ORDER = "PED-99172"
GIFT_FOR = "Joana Prado"
# Everything about ana that is personal: none of it may be stored after her erasure.
PERSONAL = (ANA, EMAIL, PHONE, "98765-4321", NAME, CPF, ORDER, GIFT_FOR, "1990-03-10")

SHOP = Cadence(
    "shop",
    timezone="America/Sao_Paulo",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step(
            "confirmation",
            trigger=on_event("order_placed"),
            channels=["email"],
            transactional=True,
        ),
        Step("survey", trigger=on_event("order_placed"), delay="1d", channels=["sms"]),
        Step(
            "birthday", trigger=on_date("birth_date", every="year"), at=time(9), channels=["email"]
        ),
    ],
)

PLACED = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)
BIRTHDAY = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)  # 09:00 in Sao Paulo
ERASED = datetime(2026, 3, 20, 12, tzinfo=timezone.utc)


def ana(**changes: object) -> Contact:
    contact = Contact(
        ANA,
        timezone="America/Sao_Paulo",
        attributes={"name": NAME, "cpf": CPF, "birth_date": "1990-03-10"},
        consents={"email", "sms"},
        addresses={"email": EMAIL, "sms": PHONE},
        created_at=datetime(2026, 1, 5, tzinfo=timezone.utc),
    )
    return attrs.evolve(contact, **changes) if changes else contact


class Provider:
    """Accepts every message and numbers it, as a provider's API would."""

    def __init__(self) -> None:
        self.outbox: list[Message] = []

    def send(self, message: Message) -> str:
        self.outbox.append(message)
        return f"<m{len(self.outbox)}@mail.loja>"


class EchoingRefusal:
    """Refuses every SMS, echoing the recipient's id (its address is redacted by the tick)."""

    def send(self, message: Message) -> str:
        raise PermanentFailure(f"recipient {message.contact.id} ({message.address}) unknown")


@pytest.fixture(params=["memory", "memory-compact", "sqlite", "postgres"])
def repository(request: pytest.FixtureRequest) -> Repo:
    if request.param.startswith("memory"):
        return InMemoryRepository(compact=request.param == "memory-compact")
    sql: SQLRepository = request.getfixturevalue(f"{request.param}_repository")
    return sql


def scheduler(repository: Repo, email: Provider | None = None) -> Scheduler:
    senders = {"email": email or Provider(), "sms": EchoingRefusal()}
    return Scheduler([SHOP], repository=repository, senders=senders, fold_after=None)


def live(repository: Repo) -> None:
    """Ana's confirmation sent, survey failed, birthday sent; a fold, a claim, an error."""
    repository.upsert_contact(ana())
    repository.upsert_contact(Contact("bob", consents={"email"}, addresses={"email": "b@b.io"}))
    data = {"order": ORDER, "gift_for": GIFT_FOR, "total": 349.9}
    repository.record_event(Event(ANA, "order_placed", PLACED, id=ORDER, data=data))
    repository.record_event(Event("bob", "order_placed", PLACED, id="B-1"))
    worker = scheduler(repository)
    for now in (PLACED, PLACED + timedelta(days=1), BIRTHDAY):
        worker.tick(now)
    snapshot = repository.load_snapshots([ANA])[ANA]
    repository.store_folds([fold([SHOP], snapshot, BIRTHDAY)])
    key = f"shop:survey:{ANA}:event=PED-99173"
    action = DueAction(
        "shop", "survey", ANA, key, idempotency_key(key), BIRTHDAY, "sms", (), "survey", {}
    )
    claim = repository.claim([action], "w9", BIRTHDAY, LEASE)[key]
    failed = attrs.evolve(claim, sending=False, attempts=1, last_error=f"sms: 421 {PHONE} busy")
    repository.defer([attrs.evolve(failed, until=BIRTHDAY + timedelta(hours=1))])
    repository.record_errors([ContactError(ANA, BIRTHDAY, f"contact {ANA!r}: {NAME} {CPF}")])


def stored(repository: Repo) -> str:
    """Everything the repository stores, as text: every row of every regua table."""
    if isinstance(repository, InMemoryRepository):
        return repr(vars(repository))
    engine, schema = repository.engine, repository.schema
    names = sorted(
        n for n in sa.inspect(engine).get_table_names(schema=schema) if n.startswith("regua_")
    )
    assert {"regua_contacts", "regua_events", "regua_deliveries", "regua_claims"} <= set(names)
    assert {"regua_errors", "regua_folds", "regua_schema_version"} <= set(names)
    texts: list[str] = []
    with engine.connect() as conn:
        for name in names:
            table = sa.Table(name, sa.MetaData(), autoload_with=conn, schema=schema)
            # In no particular order: a database returns rows as it finds them.
            texts.append(repr(sorted(repr(row) for row in conn.execute(sa.select(table)))))
    return "\n".join(texts)


def personal_in(repository: Repo) -> list[str]:
    text = stored(repository)
    return [value for value in PERSONAL if value in text]


# --- what goes, what stays ----------------------------------------------------------------------


@pytest.mark.parametrize("keep", ["pseudonymous", "nothing"])
def test_nothing_personal_remains_anywhere_after_an_erasure(repository: Repo, keep: str) -> None:
    live(repository)
    assert personal_in(repository) == list(PERSONAL)  # all of it is stored, before
    bob = repository.history("bob")
    result = repository.erase_contact(ANA, keep=keep, key=KEY)  # type: ignore[arg-type]
    assert (result.found, result.events, result.deliveries) == (True, 1, 3)
    assert (result.claims, result.errors, result.folds) == (1, 1, 1)
    assert personal_in(repository) == []
    assert repository.history("bob") == bob
    alias = pseudonym(ANA, KEY)
    assert sorted(repository.contact_ids()) == (
        ["bob", alias] if keep == "pseudonymous" else ["bob"]
    )


def test_kept_deliveries_name_nobody_and_can_be_found_with_the_key(repository: Repo) -> None:
    live(repository)
    before = [d for d in repository.history(ANA) if isinstance(d, Delivery)]
    repository.erase_contact(ANA, key=KEY)
    kept = [d for d in repository.history(pseudonym(ANA, KEY)) if isinstance(d, Delivery)]
    assert [(d.step, d.status, d.at, d.channel) for d in kept] == [
        (d.step, d.status, d.at, d.channel) for d in before
    ]
    # With the key, "was this occurrence sent before the erasure?" has an answer.
    keys = {d.occurrence_key for d in kept}
    assert pseudonymous_key(f"shop:birthday:{ANA}:year=2026", KEY) in keys
    assert all(is_pseudonymous_key(key) for key in keys)
    (survey,) = [d for d in kept if d.status is DeliveryStatus.FAILED]
    assert survey.reason == "sms: recipient <redacted> (<redacted>) unknown"
    assert [d.message_id for d in kept] == [None, None, None]
    assert [d.message_id is not None for d in before] == [True, False, True]


def test_a_dry_run_counts_and_changes_nothing(repository: Repo) -> None:
    live(repository)
    before = stored(repository)
    dry = repository.erase_contact(ANA, key=KEY, dry_run=True)
    assert not dry.applied
    assert (dry.events, dry.deliveries, dry.claims, dry.errors, dry.folds) == (1, 3, 1, 1, 1)
    assert stored(repository) == before


def test_the_pseudonym_of_a_contact_holding_data_is_refused(repository: Repo) -> None:
    live(repository)
    repository.upsert_contact(Contact(pseudonym(ANA, KEY), attributes={"tier": "gold"}))
    before = stored(repository)
    with pytest.raises(ReguaError, match="a contact with that id holds data"):
        repository.erase_contact(ANA, key=KEY)
    assert stored(repository) == before


def test_a_key_is_needed_to_keep_deliveries(repository: Repo) -> None:
    repository.upsert_contact(ana())
    with pytest.raises(ValueError, match="needs a key"):
        repository.erase_contact(ANA)
    with pytest.raises(ValueError, match="keep must be"):
        repository.erase_contact(ANA, keep="everything", key=KEY)  # type: ignore[arg-type]
    assert repository.get_contact(ANA) == ana()


def test_an_event_recorded_after_the_erasure_is_refused(repository: Repo) -> None:
    repository.upsert_contact(ana())
    repository.erase_contact(ANA, keep="nothing")
    with pytest.raises(UnknownContactError):
        repository.record_event(Event(ANA, "order_placed", ERASED, id="late"))
    assert personal_in(repository) == []


def test_the_kept_records_go_too_when_the_pseudonym_is_erased(repository: Repo) -> None:
    live(repository)
    repository.erase_contact(ANA, key=KEY)
    gone = repository.erase_contact(pseudonym(ANA, KEY), keep="nothing")
    assert (gone.found, gone.deliveries) == (True, 3)
    assert repository.contact_ids() == ["bob"]


# --- reports --------------------------------------------------------------------------------------

CARTS = Cadence(
    "carts",
    channels=[Channel("email")],
    goal=Goal("order_placed", within="7d"),
    steps=[
        Step(
            "cart_reminder",
            trigger=on_event("cart_abandoned"),
            delay="1h",
            channels=["email"],
            variants={"short": 45, "long": 45, "control": 10},
            holdout="control",
        )
    ],
)


def test_reports_still_count_the_deliveries_kept_pseudonymous(repository: Repo) -> None:
    ids = [f"c{n:02d}" for n in range(40)]
    for contact_id in ids:
        repository.upsert_contact(
            Contact(contact_id, consents={"email"}, addresses={"email": f"{contact_id}@x.io"})
        )
        repository.record_event(Event(contact_id, "cart_abandoned", PLACED, id="cart"))
    worker = Scheduler([CARTS], repository=repository, senders={"email": Provider()})
    worker.tick(PLACED + timedelta(hours=1))
    bought = PLACED + timedelta(days=1)
    for contact_id in ids[::4]:
        repository.record_event(Event(contact_id, "order_placed", bought, id="o1"))

    def rows() -> dict[str | None, tuple[int, int, int | None]]:
        found = report(repository, CARTS)
        return {r.variant: (r.sent, r.held_out, r.conversions) for r in found.rows}

    before = rows()
    assert sum(sent + held for sent, held, _ in before.values()) == 40
    assert before["control"][1] > 0
    for contact_id in ids[:10]:
        repository.erase_contact(contact_id, key=KEY)
    after = rows()
    # Every exposure still counts; the erased contacts' purchases (events) are gone.
    assert {v: counts[:2] for v, counts in after.items()} == {
        v: counts[:2] for v, counts in before.items()
    }
    lost = sum(c for _, _, c in before.values() if c) - sum(c for _, _, c in after.values() if c)
    assert lost == 3  # c00, c04 and c08 had bought
    for contact_id in ids[10:20]:
        repository.erase_contact(contact_id, keep="nothing")
    assert sum(sent + held for sent, held, _ in rows().values()) == 30


# --- a worker racing the erasure --------------------------------------------------------------


def test_a_worker_holding_the_contact_when_it_is_erased_sends_nothing(repository: Repo) -> None:
    repository.upsert_contact(ana())
    repository.record_event(Event(ANA, "order_placed", PLACED, id=ORDER, data={"order": ORDER}))
    snapshots = repository.acquire_due("w1", PLACED, 10, LEASE)
    result = repository.erase_contact(ANA, key=KEY)
    assert result.held_until == PLACED + LEASE
    provider = Provider()
    tick = scheduler(repository, provider).evaluate(snapshots, PLACED)  # the worker goes on
    assert (tick.sent, provider.outbox) == ((), [])
    assert repository.get_contact(ANA) is None
    assert ANA not in repository.contact_ids()
    assert repository.due_contact_ids(PLACED + timedelta(days=400), 10) == []
    # It released its claim under the erased id: a second erasure removes it.
    late = repository.erase_contact(ANA, key=KEY)
    assert (late.found, late.claims) == (False, 1)
    assert personal_in(repository) == []


def test_a_send_under_way_during_the_erasure_keeps_its_trace(repository: Repo) -> None:
    """The erasure lands while the provider accepts: the send is recorded, then kept."""
    repository.upsert_contact(ana())
    repository.record_event(Event(ANA, "order_placed", PLACED, id=ORDER, data={"order": ORDER}))

    class ErasingProvider(Provider):
        def send(self, message: Message) -> str:
            repository.erase_contact(ANA, key=KEY)  # committed while this send is under way
            return super().send(message)

    provider = ErasingProvider()
    tick = scheduler(repository, provider).tick(PLACED)
    assert [d.step for d in tick.sent] == ["confirmation"]
    assert repository.get_contact(ANA) is None
    late = repository.erase_contact(ANA, key=KEY)
    assert (late.found, late.deliveries) == (False, 1)
    (kept,) = repository.history(pseudonym(ANA, KEY))
    assert kept == pseudonymous_delivery(tick.sent[0], KEY)
    assert personal_in(repository) == []


# --- a returning customer ---------------------------------------------------------------------


def test_a_returning_customer_created_anew_is_not_sent_the_past_again(repository: Repo) -> None:
    """Created again with `created_at` at its return: what was sent before stays in the past."""
    live(repository)
    history = repository.history(ANA)
    sent_before = {d.step for d in history if isinstance(d, Delivery) and d.status == "sent"}
    assert sent_before == {"confirmation", "birthday"}
    repository.erase_contact(ANA, key=KEY)
    back = ERASED + timedelta(days=1)
    repository.upsert_contact(ana(created_at=back))
    provider = Provider()
    worker = scheduler(repository, provider)
    worker.tick(back)
    worker.tick(back + timedelta(days=30))
    assert provider.outbox == []  # not this year's birthday again
    worker.tick(datetime(2027, 3, 10, 12, tzinfo=timezone.utc))
    assert [(m.step, m.contact.id) for m in provider.outbox] == [("birthday", ANA)]


def test_a_returning_customer_is_a_new_contact_to_regua(repository: Repo) -> None:
    """Why the application sets `created_at` and replays no old event (docs/operations.md).

    Nothing kept matches the id: without `created_at`, this year's birthday fires again,
    and so does an event from before the erasure, replayed by a sync.
    """
    live(repository)
    repository.erase_contact(ANA, key=KEY)
    repository.upsert_contact(ana(created_at=None))
    repository.record_event(Event(ANA, "order_placed", PLACED, id=ORDER))
    provider = Provider()
    scheduler(repository, provider).tick(ERASED + timedelta(days=1))
    assert sorted(m.step for m in provider.outbox) == ["birthday", "confirmation"]


# --- regua erase ---------------------------------------------------------------------------------


@attrs.frozen
class Database:
    url: str
    schema: str | None

    @property
    def args(self) -> list[str]:
        return ["--db", self.url, *(["--schema", self.schema] if self.schema else [])]

    def open(self) -> SQLRepository:
        return SQLRepository(self.url, schema=self.schema, lease_clock="caller")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Database:
    if request.param == "sqlite":
        db = Database(request.getfixturevalue("sqlite_url"), None)
    else:
        request.getfixturevalue("postgres_engine")  # skips (or fails) without PostgreSQL
        from tests.repositories.conftest import POSTGRES_URL

        db = Database(POSTGRES_URL, request.getfixturevalue("postgres_schema"))
    with db.open() as repository:
        live(repository)
    return db


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def test_erase_without_apply_prints_what_would_go_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGUA_PSEUDONYM_KEY", KEY)
    status, out, err = run(capsys, "erase", *database.args, ANA, "zoe")
    assert status == 0, err
    assert out.startswith("1 contact would be erased (run again with --apply):\n")
    assert f"{ANA}       1           3       1       1      1  {pseudonym(ANA, KEY)}" in out
    assert out.endswith("nothing stored for: zoe\n")
    with database.open() as repository:
        assert repository.get_contact(ANA) == ana()


def test_erase_apply_erases_and_keeps_deliveries_under_the_pseudonym(
    capsys: pytest.CaptureFixture[str], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_LOG_KEY", KEY)
    options = ["--key-env", "SHOP_LOG_KEY", "--apply", "--format", "json"]
    status, out, err = run(capsys, "erase", *database.args, ANA, *options)
    assert status == 0, err
    document = json.loads(out)
    assert document["applied"] is True
    assert document["keep"] == "pseudonymous"
    assert document["contacts"] == [
        {
            "contact_id": ANA,
            "found": True,
            "events": 1,
            "deliveries": 3,
            "claims": 1,
            "errors": 1,
            "folds": 1,
            "kept_as": pseudonym(ANA, KEY),
            "held_until": None,
        }
    ]
    with database.open() as repository:
        assert personal_in(repository) == []
        assert len(repository.history(pseudonym(ANA, KEY))) == 3


def test_erase_keeping_nothing_needs_no_key(
    capsys: pytest.CaptureFixture[str], database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REGUA_PSEUDONYM_KEY", raising=False)
    status, _, err = run(capsys, "erase", *database.args, ANA, "--apply")
    assert status == 1
    assert "needs the pseudonym key (the scheduler's log_key) in the environment" in err
    assert "REGUA_PSEUDONYM_KEY" in err
    status, out, err = run(capsys, "erase", *database.args, ANA, "--keep", "nothing", "--apply")
    assert status == 0, err
    assert out.startswith("1 contact erased:\n")
    with database.open() as repository:
        assert repository.contact_ids() == ["bob"]
        assert personal_in(repository) == []


def test_erase_warns_when_a_worker_holds_the_contact(
    capsys: pytest.CaptureFixture[str], database: Database
) -> None:
    with database.open() as repository:
        repository.record_event(Event(ANA, "signed_up", PLACED, id="s1"))
        repository.acquire_due("w1", datetime(2999, 1, 1, tzinfo=timezone.utc), 10, LEASE)
    status, out, err = run(capsys, "erase", *database.args, ANA, "--keep", "nothing", "--apply")
    assert status == 0, err
    assert (
        f"{ANA}: a worker holds it until 2999-01-01T00:05:00Z and may record what it was "
        "doing under its id until then: run this again after that"
    ) in out


def test_erase_on_a_missing_sqlite_file_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.db"
    status, _, err = run(capsys, "erase", "--db", f"sqlite:///{missing}", ANA, "--keep", "nothing")
    assert status == 1
    assert f"no database file {missing}" in err
    assert not missing.exists()
