"""`regua contact`, `explain --db` and `redrive`: the scheduler's database, SQLite and PostgreSQL.

The state is made by a real `Scheduler` ticking over a small cadence on the database; the
commands then read it as an operator would, with the URL (and, on PostgreSQL, the schema).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, time, timedelta, timezone
from pathlib import Path

import attrs
import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    Message,
    PermanentFailure,
    Scheduler,
    Step,
    on_date,
    on_event,
)
from regua.cli import main
from regua.inspection import inspect_contact
from regua.repositories.sql import SQLRepository
from tests.repositories.conftest import (  # noqa: F401 - fixtures
    POSTGRES_URL,
    postgres_engine,
    postgres_schema,
    sqlite_url,
)

SHOP = Cadence(
    "shop",
    timezone="America/Sao_Paulo",
    channels=[Channel("email"), Channel("sms")],
    steps=[
        Step(
            "confirmation",
            trigger=on_event("signed_up"),
            message="signup.confirmation",
            channels=["email"],
            transactional=True,
        ),
        # Two days after sign-up, then the next 10:00 local.
        Step("welcome", trigger=on_event("signed_up"), delay="2d", at=time(10), channels=["email"]),
        Step(
            "cart_reminder",
            trigger=on_event("cart_abandoned"),
            delay="2h",
            channels=["sms", "email"],
            cancel_on=["order_placed"],
        ),
        Step(
            "birthday", trigger=on_date("birth_date", every="year"), at=time(9), channels=["email"]
        ),
    ],
)

SIGNED_UP = datetime(2026, 3, 2, 12, tzinfo=timezone.utc)  # 09:00 in Sao Paulo
WELCOME_DUE = "2026-03-04T13:00:00Z"  # 2026-03-04 10:00 in Sao Paulo
CART = SIGNED_UP + timedelta(hours=1)
AT = SIGNED_UP + timedelta(hours=4)  # the cart reminder is due (13:00 + 2h), not yet sent

EMAIL = "ana@example.com"
PHONE = "+5511990000001"
TIER = "platinum-tier"
REFERRER = "referred-by-bia"


class Provider:
    """A sender that numbers what it accepts, as a provider's API would."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.outbox: list[Message] = []

    def send(self, message: Message) -> str:
        self.outbox.append(message)
        return f"{self.prefix}-{len(self.outbox):04d}"


@attrs.frozen
class Database:
    """The scheduler's database as the command line names it: a URL, and a schema or not."""

    url: str
    schema: str | None

    @property
    def args(self) -> list[str]:
        return ["--db", self.url, *(["--schema", self.schema] if self.schema else [])]

    def open(self) -> SQLRepository:
        # The tests drive time by hand: leases run on the caller's clock.
        return SQLRepository(self.url, schema=self.schema, lease_clock="caller")


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> Database:
    if request.param == "sqlite":
        return Database(request.getfixturevalue("sqlite_url"), None)
    request.getfixturevalue("postgres_engine")  # skips (or fails) without PostgreSQL
    return Database(POSTGRES_URL, request.getfixturevalue("postgres_schema"))


@pytest.fixture
def shop_file(tmp_path: Path) -> str:
    path = tmp_path / "shop.json"
    path.write_text(SHOP.to_json(), encoding="utf-8")
    return str(path)


@pytest.fixture
def live(database: Database) -> Database:
    """ana signed up (confirmation sent), then abandoned a cart; bia's birth date is broken."""
    with database.open() as repository:
        repository.upsert_contact(
            Contact(
                "ana",
                timezone="America/Sao_Paulo",
                attributes={"tier": TIER},
                consents={"email", "sms"},
                addresses={"email": EMAIL, "sms": PHONE},
                created_at=SIGNED_UP,
            )
        )
        repository.upsert_contact(
            Contact(
                "bia",
                attributes={"birth_date": "sometime in May"},
                consents={"email"},
                addresses={"email": "bia@example.com"},
            )
        )
        repository.record_event(
            Event("ana", "signed_up", SIGNED_UP, id="ana-signup", data={"from": REFERRER})
        )
        scheduler = Scheduler(
            [SHOP],
            repository=repository,
            senders={"email": Provider("em"), "sms": Provider("sm")},
        )
        scheduler.tick(SIGNED_UP)
        repository.record_event(Event("ana", "cart_abandoned", CART, id="ana-cart"))
        scheduler.tick(CART)
    return database


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def contact(
    capsys: pytest.CaptureFixture[str], shop: str, db: Database, *extra: str
) -> tuple[int, str, str]:
    return run(capsys, "contact", shop, *db.args, *extra, "--at", AT.isoformat())


def test_contact_shows_what_was_sent_with_its_message_id(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    status, out, err = contact(capsys, shop_file, live, "ana")
    assert status == 0, err
    assert out.startswith("contact ana at 2026-03-02T16:00:00Z (version ")
    assert re.search(
        r"^2026-03-02T12:00:00Z +2026-03-02 09:00 -03 +confirmation +sent +email +em-0001$",
        out,
        re.MULTILINE,
    )
    assert re.search(r"^  consents +email, sms$", out, re.MULTILINE)
    assert re.search(r"^  addresses on +email, sms \(addresses not shown\)$", out, re.MULTILINE)
    assert re.search(r"^  attributes +tier \(values not shown\)$", out, re.MULTILINE)


def test_contact_shows_what_is_pending_and_when(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    _, out, _ = contact(capsys, shop_file, live, "ana")
    pending = out[out.index("Pending (2):") :]
    # Due since 15:00Z on SMS first (the step's order), e-mail as the fallback.
    assert re.search(
        r"^2026-03-02T15:00:00Z +2026-03-02 12:00 -03 +cart_reminder +due +sms, email "
        r"+event=ana-cart +due now$",
        pending,
        re.MULTILINE,
    )
    assert re.search(
        rf"^{WELCOME_DUE} +2026-03-04 10:00 -03 +welcome +waiting +email +event=ana-signup "
        r"+not_yet_due$",
        pending,
        re.MULTILINE,
    )
    assert f"shop: next wake-up {WELCOME_DUE} (once what is due now is sent)" in pending


def test_contact_shows_recent_events_without_their_data(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    _, out, _ = contact(capsys, shop_file, live, "ana")
    events = out[out.index("Recent events (2 of 2):") :]
    assert re.search(r"^2026-03-02T12:00:00Z +signed_up +ana-signup$", events, re.MULTILINE)
    assert re.search(r"^2026-03-02T13:00:00Z +cart_abandoned +ana-cart$", events, re.MULTILINE)
    assert "Errors (0 of 0):\n  none" in out


def test_personal_data_only_with_show_personal(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    personal = (EMAIL, PHONE, TIER, REFERRER)
    for output in ("table", "json"):
        _, out, _ = contact(capsys, shop_file, live, "ana", "--format", output)
        assert not [value for value in personal if value in out], output
        _, out, _ = contact(capsys, shop_file, live, "ana", "--format", output, "--show-personal")
        assert all(value in out for value in personal), output
    _, out, _ = contact(capsys, shop_file, live, "ana", "--show-personal")
    assert re.search(rf"^  addresses +email: {EMAIL}; sms: \{PHONE}$", out, re.MULTILINE)


def test_contact_as_json(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    status, out, err = contact(capsys, shop_file, live, "ana", "--format", "json")
    assert status == 0, err
    report = json.loads(out)
    assert report["now"] == "2026-03-02T16:00:00Z"
    assert report["contact"]["consents"] == ["email", "sms"]
    assert report["contact"]["channels"] == ["email", "sms"]
    assert report["contact"]["attribute_names"] == ["tier"]
    assert "addresses" not in report["contact"]
    assert "attributes" not in report["contact"]
    [sent] = report["deliveries"]
    assert (sent["step"], sent["status"], sent["channel"], sent["message_id"]) == (
        "confirmation",
        "sent",
        "email",
        "em-0001",
    )
    pending = {p["step"]: p for p in report["pending"]}
    assert pending["cart_reminder"]["state"] == "due"
    assert pending["cart_reminder"]["channels"] == ["sms", "email"]
    assert (pending["welcome"]["state"], pending["welcome"]["at"]) == ("waiting", WELCOME_DUE)
    assert pending["welcome"]["reason"] == "not_yet_due"
    assert pending["welcome"]["expected_at"] == WELCOME_DUE
    assert [e["id"] for e in report["events"]] == ["ana-signup", "ana-cart"]
    assert all("data" not in e for e in report["events"])

    _, out, _ = contact(capsys, shop_file, live, "ana", "--format", "json", "--show-personal")
    report = json.loads(out)
    assert report["contact"]["addresses"] == {"email": EMAIL, "sms": PHONE}
    assert report["contact"]["attributes"] == {"tier": TIER}
    assert report["events"][0]["data"] == {"from": REFERRER}


def test_contact_lists_the_errors_recorded_for_it(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    status, out, err = contact(capsys, shop_file, live, "bia")
    assert status == 0, err
    assert "Errors (1 of 1):\n  2026-03-02T12:00:00Z  " in out
    assert "birth_date" in out[out.index("Errors (1 of 1):") :]
    assert "shop: cannot be planned: " in out
    assert "sometime in May" not in out  # the value is personal data

    _, out, _ = contact(capsys, shop_file, live, "bia", "--format", "json")
    report = json.loads(out)
    assert report["error_count"] == 1
    assert "birth_date" in report["errors"][0]["error"]
    assert "birth_date" in report["cadences"][0]["error"]


def test_a_missing_contact_is_an_error_naming_it(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    status, out, err = contact(capsys, shop_file, live, "zoe")
    assert (status, out) == (1, "")
    assert err.startswith("regua contact: error: ")
    assert err.rstrip().endswith("no contact 'zoe' in the repository")


def test_explain_db_says_what_the_scheduler_says(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    with live.open() as repository:
        scheduler = Scheduler([SHOP], repository=repository, senders={})
        expected = {
            step: str(scheduler.explain("ana", "shop", step, AT))
            for step in ("cart_reminder", "welcome")
        }
    assert ": due at " in expected["cart_reminder"]
    assert ": waiting at " in expected["welcome"]
    for step, text in expected.items():
        args = ["--contact", "ana", "--step", step, "--at", AT.isoformat()]
        status, out, err = run(capsys, "explain", shop_file, *live.args, *args)
        assert status == 0, err
        assert out == text + "\n"


def test_explain_db_reads_an_instant_without_offset_in_utc(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    args = ["--contact", "ana", "--step", "welcome", "--at", "2026-03-02T16:00"]
    _, out, _ = run(capsys, "explain", shop_file, *live.args, *args)
    assert out.startswith("shop / welcome for contact ana at 2026-03-02T16:00:00+00:00\n")


def test_explain_db_defaults_to_now(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    status, out, err = run(
        capsys, "explain", shop_file, *live.args, "--contact", "ana", "--step", "welcome"
    )
    assert status == 0, err
    match = re.match(r"shop / welcome for contact ana at (\S+)\n", out)
    assert match is not None
    assert before <= datetime.fromisoformat(match.group(1)) <= datetime.now(timezone.utc)
    assert "  - event=ana-signup: " in out


def test_explain_db_names_a_missing_contact(
    capsys: pytest.CaptureFixture[str], shop_file: str, live: Database
) -> None:
    args = ["--contact", "zoe", "--step", "welcome", "--at", AT.isoformat()]
    status, _, err = run(capsys, "explain", shop_file, *live.args, *args)
    assert status == 1
    assert err.rstrip().endswith("no contact 'zoe' in the repository")


def test_scenario_and_db_together_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], shop_file: str, tmp_path: Path
) -> None:
    args = ["--contact", "ana", "--step", "welcome", "--at", AT.isoformat()]
    db = f"sqlite:///{tmp_path / 'regua.db'}"
    status, out, err = run(capsys, "explain", shop_file, "--scenario", "s.yaml", "--db", db, *args)
    assert (status, out) == (2, "")
    assert "argument --db: not allowed with argument --scenario" in err


def test_explain_needs_a_scenario_or_a_database(
    capsys: pytest.CaptureFixture[str], shop_file: str
) -> None:
    args = ["--contact", "ana", "--step", "welcome", "--at", AT.isoformat()]
    status, _, err = run(capsys, "explain", shop_file, *args)
    assert status == 2
    assert "one of the arguments --scenario --db is required" in err


def test_explain_with_a_scenario_still_needs_at(
    capsys: pytest.CaptureFixture[str], shop_file: str
) -> None:
    args = ["--scenario", "s.yaml", "--contact", "ana", "--step", "welcome"]
    status, _, err = run(capsys, "explain", shop_file, *args)
    assert status == 2
    assert err.startswith("usage: regua explain ")
    assert "regua explain: error: --at is required with --scenario" in err


def test_a_missing_database_file_is_not_created(
    capsys: pytest.CaptureFixture[str], shop_file: str, tmp_path: Path
) -> None:
    missing = tmp_path / "typo.db"
    status, _, err = run(capsys, "contact", shop_file, "--db", f"sqlite:///{missing}", "ana")
    assert status == 1
    assert f"no database file {missing}" in err
    assert not missing.exists()


def test_inspect_contact_keeps_the_records_and_renders_without_personal_data(
    live: Database,
) -> None:
    with live.open() as repository:
        report = inspect_contact(repository, [SHOP], "ana", AT)
    assert report.contact.addresses == {"email": EMAIL, "sms": PHONE}
    assert [d.message_id for d in report.sent] == ["em-0001"]
    assert report.channels == ("email", "sms")
    assert EMAIL not in report.table()
    assert EMAIL not in report.to_json()
    assert EMAIL in report.table(personal=True)
    assert str(report) == report.table()


# --- regua redrive ---------------------------------------------------------------------------

ORDERS = Cadence(
    "orders",
    channels=[Channel("email")],
    steps=[
        Step(
            "confirm",
            trigger=on_event("order_placed"),
            channels=["email"],
            transactional=True,
            expires_after="3d",
        ),
        Step("survey", trigger=on_event("delivered"), channels=["email"]),
    ],
)
PLACED = datetime(2026, 5, 4, 15, tzinfo=timezone.utc)


class Refusing(Provider):
    """Refuses everything until `fixed`: a template the provider does not have yet."""

    fixed = False

    def send(self, message: Message) -> str:
        if not self.fixed:
            raise PermanentFailure(f"template {message.message!r} not found")
        return super().send(message)


@pytest.fixture
def dead_letters(database: Database) -> Database:
    """ana: a failed confirmation (at PLACED) and survey (an hour later); bia: a confirmation."""
    with database.open() as repository:
        for name in ("ana", "bia"):
            repository.upsert_contact(
                Contact(name, consents={"email"}, addresses={"email": f"{name}@example.com"})
            )
            repository.record_event(Event(name, "order_placed", PLACED, id=f"{name}-o1"))
        scheduler = Scheduler([ORDERS], repository=repository, senders={"email": Refusing("m")})
        scheduler.tick(PLACED)
        later = PLACED + timedelta(hours=1)
        repository.record_event(Event("ana", "delivered", later, id="ana-d1"))
        scheduler.tick(later)
        assert len(repository.failed_deliveries()) == 3
    return database


def _failed(db: Database) -> list[tuple[str, str]]:
    with db.open() as repository:
        return sorted((d.contact_id, d.step) for d in repository.failed_deliveries())


def test_redrive_lists_dead_letters_and_changes_nothing_without_apply(
    capsys: pytest.CaptureFixture[str], dead_letters: Database
) -> None:
    status, out, err = run(capsys, "redrive", *dead_letters.args)
    assert status == 0, err
    assert out.startswith("3 dead letters would reopen (run again with --apply):")
    assert re.search(
        r"^2026-05-04T16:00:00Z +orders/survey +ana +email: template 'survey' not found +"
        r"orders:survey:ana:",
        out,
        re.MULTILINE,
    )
    assert _failed(dead_letters) == [("ana", "confirm"), ("ana", "survey"), ("bia", "confirm")]


def test_redrive_apply_reopens_the_chosen_ones_and_the_next_tick_sends_them_once(
    capsys: pytest.CaptureFixture[str], dead_letters: Database
) -> None:
    status, out, err = run(capsys, "redrive", *dead_letters.args, "--step", "confirm", "--apply")
    assert status == 0, err
    assert out.startswith("2 dead letters reopened:")
    assert _failed(dead_letters) == [("ana", "survey")]
    provider = Refusing("m")
    provider.fixed = True
    with dead_letters.open() as repository:
        scheduler = Scheduler([ORDERS], repository=repository, senders={"email": provider})
        report = scheduler.tick(PLACED + timedelta(hours=2))
        assert sorted((d.contact_id, d.step) for d in report.sent) == [
            ("ana", "confirm"),
            ("bia", "confirm"),
        ]
        assert sorted(d.message_id or "" for d in report.sent) == ["m-0001", "m-0002"]
        assert scheduler.tick(PLACED + timedelta(hours=3)).sent == ()
    assert len(provider.outbox) == 2
    status, out, _ = run(capsys, "redrive", *dead_letters.args, "--step", "confirm")
    assert (status, out) == (0, "no dead letters match\n")


def test_redrive_by_key_leaves_what_is_not_a_dead_letter_alone(
    capsys: pytest.CaptureFixture[str], dead_letters: Database
) -> None:
    with dead_letters.open() as repository:
        (survey,) = [d for d in repository.failed_deliveries() if d.step == "survey"]
    status, out, err = run(
        capsys,
        "redrive",
        *dead_letters.args,
        survey.occurrence_key,
        "orders:confirm:zoe:nothing",
        "--apply",
        "--format",
        "json",
    )
    assert status == 0, err
    document = json.loads(out)
    assert document["applied"] is True
    assert [d["occurrence_key"] for d in document["dead_letters"]] == [survey.occurrence_key]
    assert document["dead_letters"][0]["reason"] == "email: template 'survey' not found"
    assert document["not_dead_letters"] == ["orders:confirm:zoe:nothing"]
    assert _failed(dead_letters) == [("ana", "confirm"), ("bia", "confirm")]


def test_redrive_since_filters_by_when_they_failed(
    capsys: pytest.CaptureFixture[str], dead_letters: Database
) -> None:
    since = (PLACED + timedelta(minutes=30)).isoformat()
    status, out, err = run(
        capsys, "redrive", *dead_letters.args, "--since", since, "--format", "json"
    )
    assert status == 0, err
    document = json.loads(out)
    assert document["applied"] is False
    assert [(d["contact_id"], d["step"]) for d in document["dead_letters"]] == [("ana", "survey")]


def test_redrive_on_a_missing_sqlite_file_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "nope.db"
    status, _, err = run(capsys, "redrive", "--db", f"sqlite:///{missing}", "--apply")
    assert status == 1
    assert f"no database file {missing}" in err
    assert not missing.exists()
