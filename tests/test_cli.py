"""The ``regua`` command line, as a user runs it: check, simulate, graph, explain, schema."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import regua
import regua.definitions
from regua.cli import main
from tests.bombs import BOMB

ROOT = Path(__file__).resolve().parents[1]
SHOP = "examples/ecommerce_lifecycle.py:cadence"
SHOP_400_DAYS = "examples/scenarios/ecommerce_400_days.yaml"
RECOVERY = "examples/service_recovery.py:cadence"
RECOVERY_SCENARIO = "examples/scenarios/service_recovery.yaml"
MARKETPLACE = "examples/marketplace_digests.py:cadence"
MARKETPLACE_SCENARIO = "examples/scenarios/marketplace_week.yaml"


@pytest.fixture(autouse=True)
def _in_the_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    # The paths in these tests are the ones a user types at the root of a checkout.
    monkeypatch.chdir(ROOT)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


# --- simulate: 400 days of the e-commerce lifecycle ----------------------------------------------
#
# Every message the scenario must produce, derived from the cadence's rules (the comments say
# which rule), as (local time of the contact, contact, step, channel). Chronological; messages
# at the same instant are ordered by contact.
#
# Sao Paulo is UTC-3 all year. Lisbon is WET (UTC) until 2026-03-29, WEST (UTC+1) until
# 2026-10-25, WET until 2027-03-28. New York is EST until 2026-03-08, EDT until 2026-11-01,
# EST until 2027-03-14. Marketing follows quiet hours (21:00-08:00; SMS 20:00-09:00) and caps
# of 3 per 7 days and 1 per 24 hours; transactional steps go at once.
EXPECTED_400_DAYS = [
    # ana signs up at 09:00: the confirmation at once; the welcome is due two days later at
    # 09:00 and moved to the next 10:00, the same morning.
    ("2026-03-02 09:00 -03", "ana", "signup_confirmation", "email"),
    # bruno signs up at 19:00: two days later is 19:00, so the welcome waits for the next 10:00.
    ("2026-03-03 19:00 WET", "bruno", "signup_confirmation", "email"),
    ("2026-03-04 10:00 -03", "ana", "welcome", "email"),
    ("2026-03-06 10:00 WET", "bruno", "welcome", "email"),
    # bruno's cart, abandoned at 21:10: the reminder due at 23:10 waits for the end of quiet
    # hours, 08:00; the second one is 24 hours after that reminder was sent, and the 1-per-day
    # cap's window (t - 24h, t] no longer holds the first.
    ("2026-03-10 08:00 WET", "bruno", "cart_reminder", "email"),
    # ana is gold: her manager calls on her birthday at 09:00.
    ("2026-03-10 09:00 -03", "ana", "birthday", "phone"),
    ("2026-03-11 08:00 WET", "bruno", "cart_second_reminder", "email"),
    # ana's first order: confirmation and shipping notice (SMS first) at once; "how was it?"
    # three days after the delivery (15:00 on the 16th), at the next 10:00.
    ("2026-03-12 12:00 -03", "ana", "order_confirmation", "email"),
    ("2026-03-13 11:00 -03", "ana", "shipping_notice", "sms"),
    ("2026-03-20 10:00 -03", "ana", "post_sale_feedback", "email"),
    # carla is silver and prefers SMS; 09:00 is outside the SMS quiet hours (until 09:00).
    ("2026-03-20 09:00 EDT", "carla", "birthday", "sms"),
    # ana's cart: the reminder was due at 17:00 local (20:00Z); she buys at 16:59, cancelling it.
    ("2026-04-02 16:59 -03", "ana", "order_confirmation", "email"),
    ("2026-04-03 10:00 -03", "ana", "shipping_notice", "sms"),
    ("2026-04-10 10:00 -03", "ana", "post_sale_feedback", "email"),
    # carla's last activity was a login at 09:00 EST on 5 March: 60 calendar days later is
    # 09:00 EDT on 4 May, moved to 10:00.
    ("2026-05-04 11:00 -03", "ana", "order_confirmation", "email"),
    ("2026-05-04 10:00 EDT", "carla", "inactive_news", "email"),
    ("2026-05-05 10:00 -03", "ana", "shipping_notice", "sms"),
    # bruno's last activity: the login at 21:00 on 9 March (a cart is not activity). 60 days:
    # 21:00 on 8 May, then 10:00 the next day (now summer time).
    ("2026-05-09 10:00 WEST", "bruno", "inactive_news", "email"),
    ("2026-05-11 10:00 -03", "ana", "post_sale_feedback", "email"),
    # Not opened in three days: no SMS address, so WhatsApp, which he consented to. (carla
    # opened hers: no SMS for her.)
    ("2026-05-12 10:00 WEST", "bruno", "inactive_news_sms", "whatsapp"),
    # ana's third delivery (7 May, 13:00): the survey is due 7 days later at the next 10:00,
    # and then she has three deliveries. The first two surveys were skipped (1 and 2).
    ("2026-05-15 10:00 -03", "ana", "satisfaction_survey", "email"),
    # bruno, 90 days after 9 March 21:00: 7 June 21:00, then the next 10:00.
    ("2026-06-08 10:00 WEST", "bruno", "winback_why_did_you_leave", "email"),
    # carla came back (login on 20 May) and buys: SMS first for her shipping notice.
    ("2026-06-10 11:00 EDT", "carla", "order_confirmation", "email"),
    ("2026-06-11 09:00 EDT", "carla", "shipping_notice", "sms"),
    ("2026-06-19 10:00 EDT", "carla", "post_sale_feedback", "email"),
    # bruno, 180 days: 5 September 21:00, then the next 10:00; bronze, so e-mail.
    ("2026-09-06 10:00 WEST", "bruno", "winback_offer", "email"),
    # diego (the cadence's timezone, Sao Paulo) signs up at 10:00: the welcome two days later.
    ("2026-09-15 10:00 -03", "diego", "signup_confirmation", "email"),
    ("2026-09-17 10:00 -03", "diego", "welcome", "email"),
    # Quarterly news for the lapsed: nothing from bruno for 180 days and no recent sign-up
    # (on 1 July his login was still within 180 days).
    ("2026-10-01 10:00 WEST", "bruno", "lapsed_newsletter", "email"),
    # diego never did anything: 60, then 90 and 180 days after he joined (15 September 10:00).
    ("2026-11-14 10:00 -03", "diego", "inactive_news", "email"),
    ("2026-11-17 10:00 -03", "diego", "inactive_news_sms", "sms"),
    ("2026-12-14 10:00 -03", "diego", "winback_why_did_you_leave", "email"),
    ("2027-01-01 10:00 WET", "bruno", "lapsed_newsletter", "email"),
    # Born on 29 February: 28 February in a common year.
    ("2027-02-28 09:00 WET", "bruno", "birthday", "email"),
    ("2027-03-10 09:00 -03", "ana", "birthday", "phone"),
    ("2027-03-14 10:00 -03", "diego", "winback_offer", "email"),
    # carla revoked her SMS consent in October: the silver route falls back to e-mail.
    ("2027-03-20 09:00 EDT", "carla", "birthday", "email"),
    # 1 April: bruno is still lapsed; diego's sign-up is now more than 180 days old.
    ("2027-04-01 10:00 WEST", "bruno", "lapsed_newsletter", "email"),
    ("2027-04-01 10:00 -03", "diego", "lapsed_newsletter", "email"),
]


def timeline_rows(text: str) -> list[tuple[str, str, str, str]]:
    rows = sorted(json.loads(text), key=lambda row: (row["at"], row["contact"]))
    return [(row["local"], row["contact"], row["step"], row["channel"]) for row in rows]


def test_simulate_400_days_sends_every_expected_message_at_the_right_local_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, err = run(
        capsys, "simulate", SHOP, "--scenario", SHOP_400_DAYS, "--format", "json"
    )
    assert (status, err) == (0, "")
    assert timeline_rows(out) == EXPECTED_400_DAYS


def test_simulate_prints_a_table_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "simulate", SHOP, "--scenario", SHOP_400_DAYS)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "at", "(UTC)", "local", "time", "contact", "cadence", "step", "channel", "message",
    ]  # fmt: skip
    assert lines[2].split() == [
        "2026-03-02T12:00:00Z", "2026-03-02", "09:00", "-03", "ana", "ecommerce_lifecycle",
        "signup_confirmation", "email", "signup.confirmation",
    ]  # fmt: skip
    assert lines[-1] == (
        f"{len(EXPECTED_400_DAYS)} messages to 4 contacts, "
        "2026-03-02T12:00:00Z to 2027-04-06T12:00:00Z"
    )


def test_simulate_csv_parses_and_filters_by_contact(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "simulate", SHOP, "--scenario", SHOP_400_DAYS, "--format", "csv",
        "--contact", "carla",
    )  # fmt: skip
    assert status == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == ["at", "local", "contact", "cadence", "step", "channel", "message"]
    assert [(r["local"], r["contact"], r["step"], r["channel"]) for r in rows] == [
        row for row in EXPECTED_400_DAYS if row[1] == "carla"
    ]


def test_simulate_marketplace_digests(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "simulate", MARKETPLACE, "--scenario", MARKETPLACE_SCENARIO, "--format", "json"
    )
    assert status == 0
    assert timeline_rows(out) == [
        # Two parcels within two hours of 10:00: one update at 12:00; the third, at 13:00,
        # after it went out, opens the next window.
        ("2026-03-06 12:00 -03", "ana", "shipping_updates", "sms"),
        ("2026-03-06 15:00 -03", "ana", "shipping_updates", "sms"),
        # Three replies within half an hour of the first: one e-mail.
        ("2026-03-07 09:30 -03", "ana", "seller_messages", "email"),
        # Drops before and after the clocks spring forward: 18:00 EDT, 23 hours into the day;
        # the 20:00 drop waits for the next day's summary.
        ("2026-03-08 18:00 EDT", "bob", "price_drop_summary", "email"),
        ("2026-03-09 18:00 EDT", "bob", "price_drop_summary", "email"),
        # One review request per update, five days later at the next 10:00.
        ("2026-03-12 10:00 -03", "ana", "review_request", "email"),
        ("2026-03-12 10:00 -03", "ana", "review_request", "email"),
    ]


def test_explain_lists_the_events_a_digest_collected(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys,
        "explain",
        MARKETPLACE,
        "--scenario",
        MARKETPLACE_SCENARIO,
        "--contact",
        "bob",
        "--step",
        "price_drop_summary",
        "--at",
        "2026-03-09T12:00:00Z",
    )
    assert status == 0
    assert "collected by digest until 18:00" in out
    assert "  - digest=bob-p1: sent at 2026-03-08T22:00:00+00:00 [recorded]" in out
    assert "      collects 2 events: bob-p1, bob-p3\n" in out  # the toaster is not watched
    assert "  - digest=bob-p4: waiting at 2026-03-09T22:00:00+00:00 [not_yet_due]" in out


def test_simulate_service_recovery(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(
        capsys, "simulate", RECOVERY, "--scenario", RECOVERY_SCENARIO, "--format", "json"
    )
    assert status == 0
    assert timeline_rows(out) == [
        # Opened at 23:30: acknowledged at once (SMS first), apology an hour later, with the
        # voucher right after it (gold); still open a day later: an update.
        ("2026-03-02 23:30 -03", "marina", "acknowledgement", "sms"),
        ("2026-03-03 00:30 -03", "marina", "apology", "email"),
        ("2026-03-03 00:30 -03", "marina", "compensation", "email"),
        ("2026-03-03 23:30 -03", "marina", "status_update", "email"),
        ("2026-03-04 12:00 -03", "marina", "resolution_notice", "email"),
        # Resolved within 20 minutes: no status update; the apology still goes; no voucher.
        ("2026-03-10 14:00 WET", "rui", "acknowledgement", "sms"),
        ("2026-03-10 14:20 WET", "rui", "resolution_notice", "email"),
        ("2026-03-10 15:00 WET", "rui", "apology", "email"),
        # A week after the resolution, at the next 10:00.
        ("2026-03-12 10:00 -03", "marina", "promise_kept_follow_up", "email"),
        # rui's second incident cancels the follow-up of the first.
        ("2026-03-15 09:00 WET", "rui", "acknowledgement", "sms"),
        ("2026-03-15 10:00 WET", "rui", "apology", "email"),
        ("2026-03-16 09:00 WET", "rui", "status_update", "email"),
        ("2026-03-16 18:00 WET", "rui", "resolution_notice", "email"),
        ("2026-03-24 10:00 WET", "rui", "promise_kept_follow_up", "email"),
    ]


def test_simulate_reports_scenario_problems_with_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "start: 2026-03-02T12:00:00Z\ndays: 5\ncontacts: [{id: ana}]\n"
        "events:\n  - {at: 2026-03-03T12:00:00Z, contact: ana, open: welcome}\n",
        encoding="utf-8",
    )
    status, out, err = run(capsys, "simulate", SHOP, "--scenario", str(bad))
    assert (status, out) == (1, "")
    assert err == (
        f"regua simulate: error: {bad}: events[0] at 2026-03-03T12:00:00+00:00 (ana opens "
        "'welcome'): no 'welcome' message was sent to 'ana' by then, so there is nothing to "
        "open or click\n"
    )
    invalid = tmp_path / "invalid.yaml"
    invalid.write_text("start: 2026-03-02T12:00:00Z\nevents: [{contact: ana}]\n", encoding="utf-8")
    status, _, err = run(capsys, "simulate", SHOP, "--scenario", str(invalid))
    assert status == 1
    assert f"{invalid}: invalid scenario, 1 validation error:" in err
    assert "  events.0.at: Field required" in err
    status, _, err = run(capsys, "simulate", SHOP, "--scenario", str(tmp_path / "none.yaml"))
    assert (status, err) == (1, f"regua simulate: error: {tmp_path / 'none.yaml'}: no such file\n")
    unusable = tmp_path / "unusable.yaml"
    unusable.write_text(
        "start: 2026-03-02T12:00:00Z\ndays: 5\n"
        "contacts: [{id: ana, attributes: {birth_date: soon}}]\n",
        encoding="utf-8",
    )
    status, _, err = run(capsys, "simulate", SHOP, "--scenario", str(unusable))
    assert status == 1
    assert err == (
        f"regua simulate: error: {unusable}: evaluating contacts failed at 2026-03-02 "
        "12:00:00+00:00: ana: InvalidRecordError: contact 'ana': attribute 'birth_date' must "
        "be a date (or 'YYYY-MM-DD'), got a str of 4 characters (the value is shown only "
        "with DEBUG logging on)\n"
    )
    status, _, err = run(capsys, "simulate", SHOP, "--scenario", SHOP_400_DAYS, "--contact", "zoe")
    assert status == 1
    assert "no contact 'zoe' in the scenario (contacts: ana, bruno, carla, diego)" in err


# --- check -------------------------------------------------------------------------------------

CLEAN = """\
name: clean
channels:
  - {name: email}
  - {name: sms, quiet_hours: {start: '20:00', end: '09:00'}}
policy:
  quiet_hours: {start: '21:00', end: '08:00'}
steps:
  - name: receipt
    trigger: {event: order_placed}
    channels: [email]
    transactional: true
  - name: welcome
    trigger: {event: signed_up}
    delay: 2d
    at: '10:00'
    channels: [email]
    expires_after: 1d
"""


def write(tmp_path: Path, text: str, name: str = "cadence.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_check_passes_a_clean_cadence(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, err = run(capsys, "check", write(tmp_path, CLEAN), "--strict")
    assert (status, err) == (0, "")
    assert out == "OK: cadence 'clean' (2 steps, 2 channels): 0 errors, 0 warnings\n"
    status, out, _ = run(capsys, "check", "examples/service_recovery.yaml", "--senders",
                         "email,sms,phone")  # fmt: skip
    assert (status, out.splitlines()[-1]) == (
        0,
        "OK: cadence 'service_recovery' (7 steps, 3 channels): 0 errors, 0 warnings",
    )
    # Several at once, as in CI: one verdict for all.
    status, out, _ = run(capsys, "check", write(tmp_path, CLEAN), "examples/service_recovery.yaml")
    assert (status, out) == (
        0,
        "OK: cadence 'clean' (2 steps, 2 channels), cadence 'service_recovery' (7 steps, "
        "3 channels): 0 errors, 0 warnings\n",
    )


# One small cadence per lint rule: the step to add to CLEAN, the extra options, and how the
# finding starts (severity, code, path), before its message.
LINT_CASES = {
    "never-true": (
        """
  - name: pensioner_teen
    trigger: {event: signed_up}
    channels: [email]
    expires_after: 1d
    when:
      all:
        - {attr: age, op: '>', value: 65}
        - {attr: age, op: '<', value: 18}
""",
        [],
        "error never-true steps[2] 'pensioner_teen'.when: ",
    ),
    "unreachable-step": (
        """
  - name: escalate
    trigger: {after_step: receipt, outcome: expired}
    channels: [email]
    transactional: true
""",
        [],
        "error unreachable-step steps[2] 'escalate'.trigger: ",
    ),
    "no-sender": (
        """
  - name: text_receipt
    trigger: {event: order_placed}
    channels: [sms]
    transactional: true
""",
        ["--senders", "email"],
        "error no-sender steps[2] 'text_receipt': ",
    ),
    "no-expiry": (
        """
  - name: newsletter
    trigger: {schedule: '0 10 * * MON'}
    channels: [email]
""",
        ["--strict"],
        "warning no-expiry steps[2] 'newsletter': ",
    ),
    "quiet-hours-at": (
        """
  - name: late_text
    trigger: {event: signed_up}
    at: '22:30'
    channels: [sms]
    expires_after: 1d
""",
        ["--strict"],
        "warning quiet-hours-at steps[2] 'late_text'.at: ",
    ),
}


SENDERS = """\
from regua import OutboxSender
from regua.senders import SMTPSender


def make_senders():
    email = SMTPSender("smtp.example.com", templates={"receipt": ("Pedido", "Obrigado!")})
    return {"email": email, "sms": OutboxSender()}


not_senders = {"email": 42}
"""


def test_check_reads_the_applications_senders_and_checks_the_templates(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cadence = write(tmp_path, CLEAN)
    senders = write(tmp_path, SENDERS, "messaging.py")
    status, out, err = run(capsys, "check", cadence, "--senders-from", f"{senders}:make_senders")
    assert (status, err) == (1, "")
    assert out.splitlines() == [
        "clean: error no-template steps[1] 'welcome'.message: the 'email' sender cannot render "
        "message 'welcome' of step 'welcome': no e-mail template 'welcome' (templates: "
        "receipt); every message sent there fails",
        "FAILED: cadence 'clean' (2 steps, 2 channels): 1 error, 0 warnings",
    ]
    status, _, err = run(capsys, "check", cadence, "--senders-from", f"{senders}:not_senders")
    assert status == 1
    assert "the sender of channel 'email' has no send(message) method" in err
    status, _, err = run(capsys, "check", cadence, "--senders-from", f"{senders}:nothing")
    assert status == 1
    assert "no attribute 'nothing'" in err
    status, _, err = run(
        capsys, "check", cadence, "--senders", "email", "--senders-from", f"{senders}:make_senders"
    )
    assert status == 2
    assert "not allowed with argument" in err


@pytest.mark.parametrize("code", sorted(LINT_CASES))
def test_check_catches_each_lint_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, code: str
) -> None:
    step, options, start = LINT_CASES[code]
    path = write(tmp_path, CLEAN + step)
    status, out, err = run(capsys, "check", path, *options)
    assert (status, err) == (1, "")
    findings, summary = out.splitlines()[:-1], out.splitlines()[-1]
    assert len(findings) == 1
    assert findings[0].startswith(f"clean: {start}")
    assert findings[0].removeprefix(f"clean: {start}").strip()  # and says why
    assert summary.startswith("FAILED: cadence 'clean' (3 steps, 2 channels): ")
    if "--strict" in options:
        assert summary.endswith("0 errors, 1 warning (--strict: warnings fail)")
        # Without --strict a warning is reported and the check passes.
        status, out, _ = run(capsys, "check", path)
        assert status == 0
        assert out.splitlines()[-1].startswith("OK: ")
    else:
        assert summary.endswith("1 error, 0 warnings")


def test_check_loads_python_modules_and_files(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Importing examples.ecommerce_lifecycle registers modules: leave sys.modules as it was.
    monkeypatch.setattr(sys, "modules", dict(sys.modules))
    for spec in (SHOP, "examples/ecommerce_lifecycle.py", "examples.ecommerce_lifecycle:cadence"):
        status, out, _ = run(capsys, "check", spec)
        assert status == 0, spec
        assert out.splitlines()[-1].startswith("OK: cadence 'ecommerce_lifecycle' (14 steps")


def test_check_accepts_a_list_of_cadences(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    module = tmp_path / "both.py"
    module.write_text(
        "from regua import Cadence\n"
        f"ALL = [Cadence.from_file({str(ROOT / 'examples/ecommerce_lifecycle.yaml')!r}),\n"
        f"       Cadence.from_file({str(ROOT / 'examples/service_recovery.yaml')!r})]\n",
        encoding="utf-8",
    )
    status, out, _ = run(capsys, "check", f"{module}:ALL")
    assert status == 0
    assert out.splitlines()[-1] == (
        "OK: cadence 'ecommerce_lifecycle' (14 steps, 4 channels), cadence 'service_recovery' "
        "(7 steps, 3 channels): 0 errors, 6 warnings"
    )
    status, _, err = run(capsys, "check", str(module))
    assert status == 1
    assert err == f"regua check: error: {module}: defines no Cadence at module level\n"


def invalid_inputs(tmp_path: Path) -> list[tuple[str, str]]:
    """(spec, the message expected on standard error) for each way loading can fail."""
    bad_yaml = write(tmp_path, "name: shop\nsteps: [\n", "bad.yaml")
    bad_json = write(tmp_path, '{"name": "shop",', "bad.json")
    invalid = write(
        tmp_path,
        CLEAN.replace("channels: [email]\n    transactional", "channels: [fax]\n    transactional"),
        "invalid.yaml",
    )
    broken = write(tmp_path, "from regua import Cadence\n\n1 / 0\n", "broken.py")
    not_a_cadence = write(tmp_path, "cadence = {'name': 'shop'}\n", "dict.py")
    twice = (
        "from regua import Cadence\n"
        f"shop = Cadence.from_file({str(ROOT / 'examples/ecommerce_lifecycle.yaml')!r})\n"
        "BOTH = [shop, shop]\n"
    )
    return [
        (bad_yaml, f"{bad_yaml}: not valid YAML: "),
        (bad_json, f"{bad_json}: not valid JSON: "),
        (
            invalid,
            f"{invalid}: invalid cadence, 1 validation error:\n  Value error, cadence 'clean': "
            "steps[0] 'receipt'.channels[0]: unknown channel 'fax' (declared: email, sms)",
        ),
        (str(tmp_path / "missing.yaml"), f"{tmp_path / 'missing.yaml'}: no such file"),
        (
            f"{tmp_path / 'missing.py'}:cadence",
            f"{tmp_path / 'missing.py'}:cadence: no such file",
        ),
        (
            "examples/ecommerce_lifecycle.py:shop",
            "examples/ecommerce_lifecycle.py:shop: no attribute 'shop' (cadences there: cadence)",
        ),
        (
            f"{broken}:cadence",
            f"{broken}:cadence: running {broken!r} failed: ZeroDivisionError: division by zero "
            "(broken.py, line 3)",
        ),
        (
            f"{not_a_cadence}:cadence",
            f"{not_a_cadence}:cadence: 'cadence' is a dict, not a Cadence or a list of Cadences",
        ),
        ("no_such_package.shop:cadence", "no such file, and no module named 'no_such_package'"),
        ("README.md", "README.md: not a cadence file (expected .yaml, .yml or .json)"),
        (str(tmp_path), f"{tmp_path}: a directory"),
        (
            "examples/service_recovery.yaml:cadence",
            "a cadence file holds one cadence and has no attributes; drop ':cadence'",
        ),
        (
            f"{write(tmp_path, twice, 'twice.py')}:BOTH",
            "cadence names must be unique; repeated: ecommerce_lifecycle",
        ),
    ]


def test_check_explains_every_invalid_input_without_a_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for spec, expected in invalid_inputs(tmp_path):
        status, out, err = run(capsys, "check", spec)
        assert (status, out) == (1, ""), spec
        assert err.startswith("regua check: error: "), err
        assert expected in err, err


# --- files past the load limits ------------------------------------------------------------------


def past_the_limits(tmp_path: Path) -> list[tuple[str, str]]:
    """(file, the whole message expected on standard error) for each limit."""
    bomb = write(tmp_path, BOMB, "bomb.yaml")
    deep_yaml = write(tmp_path, "steps: " + "[" * 1000 + "]" * 1000 + "\n", "deep.yaml")
    deep_json = write(tmp_path, '{"steps": ' + "[" * 1000 + "]" * 1000 + "}", "deep.json")
    large = write(tmp_path, CLEAN + "#" * (1 << 20), "large.yaml")
    size = Path(large).stat().st_size
    return [
        (
            bomb,
            f"{bomb}, line 13, column 14: more than 100,000 nodes once aliases are expanded, "
            "each alias counting as all the nodes it repeats (the limit LoadLimits.max_nodes)",
        ),
        (
            deep_yaml,
            f"{deep_yaml}, line 1, column 71: mappings and sequences nested deeper than 64 "
            "levels (the limit LoadLimits.max_depth)",
        ),
        (
            deep_json,
            f"{deep_json}, line 1, column 74: mappings and sequences nested deeper than 64 "
            "levels (the limit LoadLimits.max_depth)",
        ),
        (
            large,
            f"{large}: {size:,} bytes, larger than the limit of 1,048,576 bytes "
            "(the limit LoadLimits.max_bytes)",
        ),
    ]


def test_check_refuses_files_past_the_load_limits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for path, expected in past_the_limits(tmp_path):
        status, out, err = run(capsys, "check", path)
        assert (status, out, err) == (1, "", f"regua check: error: {expected}\n")


def test_simulate_refuses_a_scenario_past_the_load_limits(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for path, expected in past_the_limits(tmp_path):
        status, out, err = run(capsys, "simulate", SHOP, "--scenario", path)
        assert (status, out, err) == (1, "", f"regua simulate: error: {expected}\n")


@pytest.mark.slow
def test_the_billion_laughs_is_one_line_of_error_from_the_installed_command(
    tmp_path: Path,
) -> None:
    bomb = write(tmp_path, BOMB, "bomb.yaml")
    done = subprocess.run(
        [sys.executable, "-m", "regua", "check", bomb],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(f"regua check: error: {bomb}, line 13, column 14: more than")
    assert done.stderr.count("\n") == 1


# --- graph, explain, schema ------------------------------------------------------------------


def test_graph_prints_mermaid_and_dot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from regua import Cadence
    from regua.graph import to_dot, to_mermaid

    recovery = Cadence.from_file(ROOT / "examples/service_recovery.yaml")
    status, out, _ = run(capsys, "graph", "examples/service_recovery.yaml")
    assert status == 0
    assert out.startswith("flowchart")
    assert out == to_mermaid(recovery).rstrip("\n") + "\n"
    status, out, _ = run(capsys, "graph", RECOVERY, "--format", "dot")
    assert status == 0
    assert out.startswith('digraph "service_recovery" {')
    assert out == to_dot(recovery).rstrip("\n") + "\n"
    target = tmp_path / "recovery.dot"
    status, out, err = run(capsys, "graph", RECOVERY, "--format", "dot", "-o", str(target))
    assert (status, out, err) == (0, "", f"wrote {target}\n")
    assert target.read_text(encoding="utf-8") == to_dot(recovery).rstrip("\n") + "\n"


def test_explain_names_the_reason(capsys: pytest.CaptureFixture[str]) -> None:
    base = ["explain", SHOP, "--scenario", SHOP_400_DAYS]
    # carla opened the e-mail: the SMS three days later was skipped on its condition.
    status, out, _ = run(
        capsys, *base, "--contact", "carla", "--step", "inactive_news_sms",
        "--at", "2026-05-08T00:00:00Z",
    )  # fmt: skip
    assert status == 0
    assert out.splitlines()[:4] == [
        "ecommerce_lifecycle / inactive_news_sms for contact carla at 2026-05-08T00:00:00+00:00",
        "  fires when an occurrence of 'inactive_news' ends sent",
        "  wall-clock rules in America/New_York (the contact's timezone)",
        "  - after=inactive_news/inactive=20260305T140000Z: skipped at "
        "2026-05-07T14:00:00+00:00 [recorded]: condition_false, ~opened('inactive_news')",
    ]
    # ana bought one minute before the reminder; a naive --at is in the scenario's timezone.
    status, out, _ = run(
        capsys, *base, "--contact", "ana", "--step", "cart_reminder", "--at", "2026-04-02T17:30"
    )
    assert status == 0
    assert "for contact ana at 2026-04-02T20:30:00+00:00" in out
    assert (
        "  - event=ana-c1: cancelled at 2026-04-02T19:59:00+00:00 [recorded]: cancel_event, "
        "order_placed at 2026-04-02T19:59:00+00:00" in out
    )
    # Before bruno's first birthday in the scenario: waiting for it.
    status, out, _ = run(
        capsys, *base, "--contact", "bruno", "--step", "birthday", "--at", "2027-02-27T12:00Z"
    )
    assert status == 0
    assert "  - year=2027: waiting at 2027-02-28T09:00:00+00:00 [not_yet_triggered]" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--contact", "zoe", "--step", "birthday"], "no contact 'zoe' in the scenario"),
        (
            ["--contact", "ana", "--step", "bday"],
            "cadence 'ecommerce_lifecycle' has no step 'bday'",
        ),
        (
            ["--contact", "ana", "--step", "birthday", "--cadence", "other"],
            "no cadence named 'other' (cadences: ecommerce_lifecycle)",
        ),
    ],
)
def test_explain_errors(
    capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    status, out, err = run(
        capsys, "explain", SHOP, "--scenario", SHOP_400_DAYS, "--at", "2026-05-01", *options
    )
    assert (status, out) == (1, "")
    assert message in err


def test_explain_rejects_an_instant_before_the_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(
        capsys, "explain", SHOP, "--scenario", SHOP_400_DAYS, "--contact", "ana", "--step",
        "birthday", "--at", "2020-01-01T00:00:00Z",
    )  # fmt: skip
    assert status == 1
    assert "--at 2020-01-01T00:00:00Z is before the scenario starts (2026-03-02T12:00:00Z)" in err
    status, _, err = run(
        capsys, "explain", SHOP, "--scenario", SHOP_400_DAYS, "--contact", "ana", "--step",
        "birthday", "--at", "soon",
    )  # fmt: skip
    assert status == 2
    assert "argument --at: 'soon' is not an ISO 8601 instant" in err


def test_schema_prints_the_cadence_schema(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = run(capsys, "schema")
    assert status == 0
    assert json.loads(out) == regua.definitions.schema()
    status, out, _ = run(capsys, "schema", "--scenario")
    assert status == 0
    assert set(json.loads(out)["properties"]) == {
        "start", "until", "days", "timezone", "contacts", "events",
    }  # fmt: skip
    target = tmp_path / "schema.json"
    assert run(capsys, "schema", "-o", str(target))[0] == 0
    assert json.loads(target.read_text(encoding="utf-8")) == regua.definitions.schema()
    status, _, err = run(capsys, "schema", "-o", str(tmp_path / "no" / "dir.json"))
    assert status == 1
    assert "regua schema: error: cannot write" in err


# --- forecast, diff, simulate --plot --------------------------------------------------------------

CONTACTS_CSV = """id,timezone,tier,birth_date,consents,address.email,address.sms,address.phone
ana,America/Sao_Paulo,gold,1990-03-10,email;sms;phone,ana@example.com,+5511900000001,+5511900000001
bruno,Europe/Lisbon,bronze,1988-02-29,email,bruno@example.pt,,
carla,America/New_York,silver,1985-03-20,email;sms,carla@example.com,+12125550100,
"""
FORECAST_START = "2026-03-02T12:00:00Z"


@pytest.fixture
def contacts_csv(tmp_path: Path) -> Path:
    path = tmp_path / "contacts.csv"
    path.write_text(CONTACTS_CSV, encoding="utf-8")
    return path


def forecast_args(contacts: Path, *extra: str) -> list[str]:
    return ["forecast", SHOP, "--contacts", str(contacts), "--start", FORECAST_START, *extra]


def test_forecast_prints_steps_channels_cost_peak_and_top(
    capsys: pytest.CaptureFixture[str], contacts_csv: Path
) -> None:
    status, out, err = run(capsys, *forecast_args(contacts_csv, "--days", "90"))
    assert status == 0, err
    assert err == ""  # three contacts: no progress lines
    assert out.startswith("Forecast for 2026-03-02 to 2026-05-31 (America/Sao_Paulo): 3 contacts, ")
    # Birthdays in March: a call for gold ana (R$2.00), an SMS for silver carla; bruno's is
    # on Feb 28 (a common year), before the period.
    assert re.search(r"^birthday +phone +1 +2\.00$", out, re.MULTILINE)
    assert re.search(r"^birthday +sms +1 +0\.05$", out, re.MULTILINE)
    assert "most messaged contacts:" in out


def test_forecast_json_and_csv_agree_with_the_table(
    capsys: pytest.CaptureFixture[str], contacts_csv: Path
) -> None:
    assume = ["--assume", "order_placed=20%/1w", "--assume", "cart_abandoned=30%", "--seed", "4"]
    _, table, _ = run(capsys, *forecast_args(contacts_csv, *assume))
    status, text, _ = run(capsys, *forecast_args(contacts_csv, *assume, "--format", "json"))
    assert status == 0
    data = json.loads(text)
    _, rows, _ = run(capsys, *forecast_args(contacts_csv, *assume, "--format", "csv"))
    parsed = list(csv.DictReader(io.StringIO(rows)))
    assert sum(int(row["messages"]) for row in parsed) == data["messages"] > 0
    for channel, totals in data["by_channel"].items():
        assert re.search(rf"^{channel} +{totals['messages']:,} ", table, re.MULTILINE)
    assert {row["step"] for row in parsed} >= {"order_confirmation", "cart_reminder"}


def test_forecast_writes_the_plot_and_the_page(
    capsys: pytest.CaptureFixture[str], contacts_csv: Path, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    png, page = tmp_path / "volume.png", tmp_path / "forecast.html"
    status, out, err = run(
        capsys, *forecast_args(contacts_csv, "--plot", str(png), "--html", str(page))
    )
    assert status == 0
    assert f"wrote {png}" in err
    assert f"wrote {page}" in err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text(encoding="utf-8")
    total = re.search(r"(\d[\d,]*) messages, cost", out)
    assert total is not None
    assert f"{total.group(1)} messages to 3 contacts" in html


def test_forecast_progress_is_plain_text_off_a_terminal(
    capsys: pytest.CaptureFixture[str], contacts_csv: Path
) -> None:
    status, _, err = run(capsys, *forecast_args(contacts_csv, "--progress"))
    assert status == 0
    assert err.splitlines()[-1].startswith("forecast: 3 of 3 contacts (100%), ")


def test_forecast_reads_the_scheduler_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from datetime import datetime, timezone

    from regua import Contact, Event
    from regua.repositories.sql import SQLRepository

    url = f"sqlite:///{tmp_path / 'regua.db'}"
    signed_up = datetime(2026, 3, 2, 11, tzinfo=timezone.utc)
    with SQLRepository(url) as repository:
        for name in ("ana", "bia"):
            repository.upsert_contact(
                Contact(name, consents={"email"}, addresses={"email": f"{name}@example.com"})
            )
            repository.record_event(Event(name, "signed_up", signed_up, id=f"{name}-s"))
    status, out, err = run(
        capsys, "forecast", SHOP, "--contacts", url, "--start", FORECAST_START, "--days", "7"
    )
    assert status == 0, err
    assert re.search(r"^signup_confirmation +email +2 ", out, re.MULTILINE)
    assert re.search(r"^welcome +email +2 ", out, re.MULTILINE)


def test_diff_counts_what_a_change_adds_removes_and_moves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("yaml")
    old = tmp_path / "old.yaml"
    new = tmp_path / "new.yaml"
    old.write_text(
        "name: shop\nchannels: [{name: email}]\nsteps:\n"
        "  - {name: welcome, trigger: {event: signed_up}, delay: 3d, channels: [email]}\n"
        "  - {name: tips, trigger: {event: signed_up}, delay: 10d, channels: [email]}\n",
        encoding="utf-8",
    )
    new.write_text(
        "name: shop\nchannels: [{name: email}]\nsteps:\n"
        "  - {name: welcome, trigger: {event: signed_up}, delay: 1d, channels: [email]}\n"
        "  - {name: survey, trigger: {event: signed_up}, delay: 5d, channels: [email]}\n",
        encoding="utf-8",
    )
    contacts = tmp_path / "contacts.jsonl"
    contacts.write_text(
        "".join(
            json.dumps(
                {
                    "id": f"c{n}",
                    "events": [{"name": "signed_up", "at": f"2026-03-0{n + 1}T12:00:00Z"}],
                }
            )
            + "\n"
            for n in range(3)
        ),
        encoding="utf-8",
    )
    args = ["diff", str(old), str(new), "--contacts", str(contacts), "--start"]
    status, out, err = run(capsys, *args, "2026-03-03T12:00:00Z", "--days", "30")
    assert status == 0, err
    # Signed up at noon on 1, 2 and 3 March; the period starts at noon on the 3rd. Every
    # welcome is still pending (due on the 4th, 5th, 6th) and moves to a day after sign-up
    # (overdue or due: sent at the start; c2's on the 4th); tips go, surveys come.
    assert re.search(r"^tips +0 +3 +0$", out, re.MULTILINE)
    assert re.search(r"^survey +3 +0 +0$", out, re.MULTILINE)
    assert re.search(r"^welcome +0 +0 +3$", out, re.MULTILINE)
    assert "3 added, 3 removed, 3 moved, for 3 contacts" in out
    status, out, _ = run(capsys, *args, "2026-03-03T12:00:00Z", "--format", "json")
    assert json.loads(out)["moved"] == 3


def test_simulate_plot_draws_the_timeline(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    svg = tmp_path / "timeline.svg"
    status, out, err = run(
        capsys, "simulate", RECOVERY, "--scenario", RECOVERY_SCENARIO, "--plot", str(svg)
    )
    assert status == 0
    assert f"wrote {svg}" in err
    text = svg.read_text(encoding="utf-8")
    described = re.search(r"<dc:description>(.*?)</dc:description>", text, re.DOTALL)
    assert described is not None
    messages = json.loads(described.group(1).replace("&quot;", '"'))["messages"]
    count = re.search(r"^(\d+) messages? to", out.splitlines()[-1])
    assert count is not None
    assert len(messages) == int(count.group(1))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--contacts", "nope.csv"], "regua forecast: error: nope.csv: no such file"),
        (["--contacts", "contacts.txt"], "expected a .csv or .jsonl contacts file"),
        (["--contacts", "x.csv", "--assume", "order"], "expected EVENT=RATE[/PERIOD]"),
        (["--contacts", "x.csv", "--fail", "sms=3"], "must be a share between 0 and 1"),
        (["--contacts", "x.csv", "--days", "0"], "expected a whole number of at least 1"),
        (
            ["--contacts", "x.csv", "--start", "2026-03-02T00:00Z", "--until", "2026-03-01T00:00Z"],
            "is before the start",
        ),
        (["--contacts", "sqlite:////nonexistent/dir/regua.db"], "regua forecast: error: sqlite:"),
        (["--contacts", "x.csv", "--plot", "out.pdf"], "out.pdf: a picture must be a .png or"),
    ],
)
def test_forecast_errors(
    capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    status, _, err = run(capsys, "forecast", SHOP, *extra)
    assert status in (1, 2)
    assert message in err


# --- the command line itself -------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [[], ["check"], ["simulate"], ["graph"], ["explain"], ["schema"], ["forecast"], ["diff"]],
)
def test_help_for_every_command(capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    status, out, _ = run(capsys, *command, "--help")
    assert status == 0
    assert out.startswith(f"usage: regua {' '.join(command)}".rstrip())


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys)
    assert status == 2
    assert "the following arguments are required: COMMAND" in err
    status, _, err = run(capsys, "simulate", SHOP)
    assert status == 2
    assert "the following arguments are required: --scenario" in err
    status, _, err = run(capsys, "check", SHOP, "--senders", ",")
    assert status == 2
    assert "expected channel names" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "--version")[:2] == (0, f"regua {regua.__version__}\n")


@pytest.mark.slow
def test_python_dash_m_regua_runs_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "regua", "check", "examples/service_recovery.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("OK: cadence 'service_recovery'")
    result = subprocess.run(
        [sys.executable, "-m", "regua", "check", "missing.yaml"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "regua check: error: missing.yaml: no such file\n"


def test_the_console_script_is_registered() -> None:
    from importlib.metadata import entry_points

    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts")}
    assert scripts.get("regua") == "regua.cli:main"
