"""The example cadences build, serialise faithfully and say what a reader expects them to say."""

from __future__ import annotations

import importlib.util
from datetime import time
from pathlib import Path
from types import ModuleType

import pytest

from regua import Cadence, Step, attr, event_count, has_event, opened
from regua.definitions import (
    AfterStepTrigger,
    DateTrigger,
    Duration,
    EventTrigger,
    InactivityTrigger,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# What each example reads from a contact: exactly this, nothing more.
ATTRIBUTES_USED = {
    "cart_recovery": set(),
    "ecommerce_lifecycle": {"birth_date", "tier"},
    "marketplace_digests": set(),
    "service_recovery": {"tier", "lifetime_value"},
}


def load_example(name: str) -> ModuleType:
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"regua_example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(params=sorted(ATTRIBUTES_USED), scope="module")
def example(request: pytest.FixtureRequest) -> tuple[str, Cadence]:
    name: str = request.param
    return name, load_example(name).cadence


@pytest.fixture(scope="module")
def shop() -> Cadence:
    cadence: Cadence = load_example("ecommerce_lifecycle").cadence
    return cadence


@pytest.fixture(scope="module")
def recovery() -> Cadence:
    cadence: Cadence = load_example("service_recovery").cadence
    return cadence


def test_every_example_cadence_is_covered() -> None:
    defining = {
        path.stem
        for path in EXAMPLES.glob("*.py")
        if "\ncadence = " in path.read_text(encoding="utf-8")
    }
    assert defining == set(ATTRIBUTES_USED)


def test_demo_prints_what_would_be_sent_to_whom_and_when(
    capsys: pytest.CaptureFixture[str],
) -> None:
    demo = load_example("demo")
    assert demo.main(["--days", "31"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line[:4].isdigit()]
    # (UTC date, UTC time, contact, step, channel) of a few telling rows.
    sent = {(r[0], r[1], r[6], r[7], r[8]) for r in rows}
    assert ("2026-03-10", "12:00", "ana", "birthday", "phone") in sent  # gold: a call
    assert ("2026-03-20", "13:00", "carla", "birthday", "sms") in sent  # silver, New York
    assert ("2026-03-07", "13:00", "diego", "inactive_news_sms", "sms") in sent
    # Carla bought an hour after abandoning her cart: no reminder for her.
    assert not any(r[6] == "carla" and r[7].startswith("cart") for r in rows)


def test_cart_recovery_prints_the_report_of_its_experiment(
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = load_example("cart_recovery")
    assert example.main(["--carts", "300"]) == 0
    out = capsys.readouterr().out
    rows = {tuple(line.split()[1:3]): line.split() for line in out.splitlines()[2:]}
    assert set(rows) == {
        ("cart_reminder", "short"),
        ("cart_reminder", "long"),
        ("cart_reminder", "control"),
        ("cart_last_call", "short"),
        ("cart_last_call", "long"),
    }
    control = rows[("cart_reminder", "control")]
    assert control[3] == "0"  # sent: nothing to the control group
    assert int(control[4]) > 0  # held out, and counted
    assert (
        sum(int(rows[key][3]) + int(rows[key][4]) for key in rows if key[0] == "cart_reminder")
        == 300
    )


# --- every example ----------------------------------------------------------------------------


def test_builds(example: tuple[str, Cadence]) -> None:
    name, cadence = example
    assert isinstance(cadence, Cadence)
    assert cadence.name == name
    assert cadence.timezone == "America/Sao_Paulo"


def test_round_trips_through_yaml(example: tuple[str, Cadence]) -> None:
    _, cadence = example
    assert Cadence.from_yaml(cadence.to_yaml()) == cadence


def test_round_trips_through_json(example: tuple[str, Cadence]) -> None:
    _, cadence = example
    assert Cadence.from_json(cadence.to_json()) == cadence


def test_checked_in_yaml_matches_the_python_module(example: tuple[str, Cadence]) -> None:
    name, cadence = example
    path = EXAMPLES / f"{name}.yaml"
    assert path.exists(), f"{path.name} is missing: run `python scripts/export_examples.py`"
    assert Cadence.from_file(path) == cadence, (
        f"examples/{name}.yaml is out of date with examples/{name}.py: "
        "run `python scripts/export_examples.py`"
    )


def test_checked_in_yaml_starts_with_its_header(example: tuple[str, Cadence]) -> None:
    name, _ = example
    first_line = (EXAMPLES / f"{name}.yaml").read_text(encoding="utf-8").splitlines()[0]
    assert first_line.startswith(f"# YAML spelling of examples/{name}.py")
    assert "scripts/export_examples.py" in first_line


def test_attributes_used_is_exactly_what_the_example_reads(example: tuple[str, Cadence]) -> None:
    name, cadence = example
    assert cadence.attributes_used() == ATTRIBUTES_USED[name]


def test_every_step_has_a_message_key_and_a_description(example: tuple[str, Cadence]) -> None:
    _, cadence = example
    for step in cadence.steps:
        assert step.message is not None, step.name
        assert step.description, step.name


# --- e-commerce lifecycle ---------------------------------------------------------------------


def event_of(step: Step) -> str:
    assert isinstance(step.trigger, EventTrigger), step.name
    return step.trigger.event


def test_shop_sends_transactional_notices_at_once(shop: Cadence) -> None:
    transactional = {s.name: event_of(s) for s in shop.steps if s.transactional}
    assert transactional == {
        "signup_confirmation": "signed_up",
        "order_confirmation": "order_placed",
        "shipping_notice": "order_shipped",
    }
    for name in transactional:
        assert shop.step(name).delay == Duration(), name
    assert shop.step("shipping_notice").channels == ("sms", "email")


def test_shop_welcome_comes_a_few_days_after_sign_up_in_the_morning(shop: Cadence) -> None:
    welcome = shop.step("welcome")
    assert event_of(welcome) == "signed_up"
    assert welcome.delay == Duration(days=2)
    assert welcome.at == time(10)
    assert not welcome.transactional


def test_shop_birthday_routes_by_customer_value(shop: Cadence) -> None:
    birthday = shop.step("birthday")
    assert birthday.trigger == DateTrigger(date="birth_date", every="year")
    assert birthday.at == time(9)
    assert birthday.expires_after is not None
    gold, silver = birthday.route
    assert gold.when == (attr("tier") == "gold")
    assert gold.channels[0] == "phone"
    assert shop.channel("phone").kind == "task"
    assert silver.when == (attr("tier") == "silver")
    assert silver.channels[0] == "sms"
    assert birthday.channels == ("email",)


def test_shop_cart_reminders_stop_when_the_customer_buys(shop: Cadence) -> None:
    first, second = shop.step("cart_reminder"), shop.step("cart_second_reminder")
    assert event_of(first) == "cart_abandoned"
    assert second.trigger == AfterStepTrigger(after_step="cart_reminder", outcome="sent")
    assert second.delay == Duration(seconds=24 * 3600)
    for step in (first, second):
        assert step.cancel_on == ("order_placed",), step.name


def test_shop_surveys_once_after_the_third_delivery(shop: Cadence) -> None:
    survey = shop.step("satisfaction_survey")
    assert event_of(survey) == "order_delivered"
    assert survey.when == (event_count("order_delivered") >= 3)
    assert survey.repeat == "once"
    assert event_of(shop.step("post_sale_feedback")) == "order_delivered"


def test_shop_tries_sms_when_the_news_email_is_not_opened(shop: Cadence) -> None:
    nudge = shop.step("inactive_news_sms")
    assert nudge.trigger == AfterStepTrigger(after_step="inactive_news")
    assert nudge.when == ~opened("inactive_news")
    assert nudge.delay == Duration(days=3)
    assert nudge.channels[0] == "sms"


def test_shop_inactivity_ladder_never_drops_the_customer(shop: Cadence) -> None:
    ladder = {
        step.name: step.trigger.inactivity
        for step in shop.steps
        if isinstance(step.trigger, InactivityTrigger)
    }
    assert ladder == {
        "inactive_news": Duration(days=60),
        "winback_why_did_you_leave": Duration(days=90),
        "winback_offer": Duration(days=180),
    }
    activity = ("login", "order_placed", "site_visit")
    for name in ladder:
        trigger = shop.step(name).trigger
        assert isinstance(trigger, InactivityTrigger)
        assert trigger.activity == activity, name
    # Past the ladder, lapsed customers still hear from the shop every quarter.
    newsletter = shop.step("lapsed_newsletter")
    assert newsletter.when is not None
    assert set(newsletter.when.walk()) >= {~has_event(name, within="180d") for name in activity}


def test_shop_policy_protects_the_customer(shop: Cadence) -> None:
    quiet = shop.policy.quiet_hours
    assert quiet is not None
    assert (quiet.start, quiet.end) == (time(21), time(8))
    assert {(cap.max, str(cap.per)) for cap in shop.policy.caps} == {(3, "7d"), (1, "1d")}
    assert shop.channel("sms").quiet_hours is not None


# --- service recovery -------------------------------------------------------------------------


def test_recovery_acknowledges_at_once_and_apologises_within_the_deadline(
    recovery: Cadence,
) -> None:
    acknowledgement, apology = recovery.step("acknowledgement"), recovery.step("apology")
    assert event_of(acknowledgement) == event_of(apology) == "incident_opened"
    assert acknowledgement.transactional
    assert acknowledgement.delay == Duration()
    assert apology.delay == Duration(seconds=3600)
    assert apology.deadline == Duration(seconds=4 * 3600)


def test_recovery_escalates_to_a_manager_when_the_apology_does_not_get_through(
    recovery: Cadence,
) -> None:
    escalation = recovery.step("escalation_call")
    assert escalation.trigger == AfterStepTrigger(
        after_step="apology", outcome=("expired", "failed")
    )
    assert escalation.channels == ("phone",)
    assert recovery.channel("phone").kind == "task"


def test_recovery_compensates_valuable_customers_after_the_apology(recovery: Cadence) -> None:
    compensation = recovery.step("compensation")
    assert compensation.trigger == AfterStepTrigger(after_step="apology", outcome="sent")
    assert compensation.when == (
        attr("tier").in_(["gold", "platinum"]) | (attr("lifetime_value") >= 2000)
    )


def test_recovery_follows_up_after_resolution(recovery: Cadence) -> None:
    follow_up = recovery.step("promise_kept_follow_up")
    assert event_of(follow_up) == "incident_resolved"
    assert follow_up.cancel_on == ("incident_opened",)
    assert not follow_up.transactional
    for name in ("acknowledgement", "status_update"):
        assert recovery.step(name).cancel_on == ("incident_resolved",), name


@pytest.mark.slow
def test_the_diagrams_page_is_up_to_date() -> None:
    import subprocess
    import sys

    script = EXAMPLES.parent / "scripts" / "export_diagrams.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
