"""Triggers: the builders a user calls and what they produce."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from regua import Cadence, Step, after_step, on_date, on_event, on_inactivity, on_schedule
from regua.definitions import (
    AfterStepTrigger,
    DateTrigger,
    Duration,
    EventTrigger,
    InactivityTrigger,
    Outcome,
    ScheduleTrigger,
)

# --- on_event -------------------------------------------------------------------------------------


def test_on_event() -> None:
    trigger = on_event("order_placed")
    assert trigger == EventTrigger(event="order_placed")
    assert trigger.where == {}
    assert trigger.attributes_used() == frozenset()


def test_on_event_where_filter_is_stored() -> None:
    trigger = on_event("order_status", where={"status": "delivered", "store": ["web", "app"]})
    assert trigger.where == {"status": "delivered", "store": ("web", "app")}


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("order_status", {"status": "delivered", "store": "web"}, True),
        ("order_status", {"status": "delivered", "store": "app", "extra": 1}, True),
        ("order_status", {"status": "shipped", "store": "web"}, False),
        ("order_status", {"status": "delivered", "store": "kiosk"}, False),
        ("order_status", {"status": "delivered"}, False),  # filtered key missing
        ("order_placed", {"status": "delivered", "store": "web"}, False),  # other event
    ],
)
def test_event_trigger_matches(name: str, data: dict[str, Any], expected: bool) -> None:
    trigger = on_event("order_status", where={"status": "delivered", "store": ["web", "app"]})
    assert trigger.matches(name, data) is expected


def test_event_trigger_without_filter_matches_any_data_of_its_event() -> None:
    trigger = on_event("login")
    assert trigger.matches("login", {})
    assert trigger.matches("login", {"device": "ios"})
    assert not trigger.matches("logout", {})


def test_where_none_value_requires_the_key_to_hold_none() -> None:
    trigger = on_event("x", where={"coupon": None})
    assert trigger.matches("x", {"coupon": None})
    assert not trigger.matches("x", {})
    assert not trigger.matches("x", {"coupon": "FREE"})


def test_event_names_are_validated() -> None:
    with pytest.raises(ValidationError, match="'order placed' is not a valid name"):
        on_event("order placed")


# --- on_date --------------------------------------------------------------------------------------


def test_on_date_yearly() -> None:
    trigger = on_date("birth_date", every="year")
    assert trigger == DateTrigger(date="birth_date", every="year")
    assert trigger.offset == Duration()
    assert trigger.feb29 == "feb28"
    assert trigger.attributes_used() == {"birth_date"}


def test_on_date_once() -> None:
    assert on_date("contract_end").every is None


def test_on_date_before_gives_a_negative_offset() -> None:
    assert on_date("contract_end", before="30d").offset == Duration(days=-30)
    assert on_date("contract_end", before=timedelta(hours=2)).offset == Duration(seconds=-7200)


def test_on_date_after_gives_a_positive_offset() -> None:
    assert on_date("signed_up_on", every="year", after="1w").offset == Duration(days=7)


def test_on_date_before_and_after_together_is_an_error() -> None:
    with pytest.raises(TypeError, match="'before' or 'after', not both"):
        on_date("contract_end", before="30d", after="1d")


@pytest.mark.parametrize("keyword", ["before", "after"])
def test_on_date_rejects_a_negative_before_or_after(keyword: str) -> None:
    with pytest.raises(ValueError, match=f"on_date\\({keyword}=...\\) takes a positive duration"):
        on_date("contract_end", **{keyword: "-30d"})


def test_on_date_feb29_option() -> None:
    assert on_date("birth_date", every="year", feb29="mar1").feb29 == "mar1"
    with pytest.raises(ValidationError, match="feb29"):
        on_date("birth_date", every="year", feb29="feb30")  # type: ignore[arg-type]


def test_on_date_every_only_takes_year() -> None:
    with pytest.raises(ValidationError, match="every"):
        on_date("birth_date", every="month")  # type: ignore[arg-type]


def test_date_trigger_offset_from_yaml_may_be_negative() -> None:
    trigger = DateTrigger.model_validate({"date": "contract_end", "offset": "-30d"})
    assert trigger == on_date("contract_end", before="30d")


# --- on_schedule ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["0 9 * * MON", "30 1 * * *", "*/15 * * * *", "0 9 1,15 * *", "0 9 * * 1-5", "0 9 13 * FRI"],
)
def test_on_schedule_cron(expression: str) -> None:
    trigger = on_schedule(expression)
    assert trigger.schedule == expression
    assert trigger.kind == "cron"


@pytest.mark.parametrize(
    "expression",
    [
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0",
        "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9",
        "rrule:freq=daily;byhour=9",
        "DTSTART:20240101T090000\nRRULE:FREQ=DAILY",
    ],
)
def test_on_schedule_rrule(expression: str) -> None:
    trigger = on_schedule(expression)
    assert trigger.kind == "rrule"
    assert trigger == ScheduleTrigger(schedule=expression)


def test_schedule_surrounding_whitespace_is_dropped() -> None:
    assert on_schedule("  0 9 * * MON \n").schedule == "0 9 * * MON"


def test_rrule_with_a_timezone_is_rejected() -> None:
    with pytest.raises(ValidationError, match="must not carry a timezone"):
        on_schedule("DTSTART;TZID=America/New_York:20240101T090000\nRRULE:FREQ=DAILY")


# --- on_inactivity --------------------------------------------------------------------------------


def test_on_inactivity() -> None:
    trigger = on_inactivity("60d", activity=["login", "order_placed"])
    assert trigger == InactivityTrigger(inactivity="60d", activity=("login", "order_placed"))
    assert trigger.inactivity == Duration(days=60)
    assert trigger.activity == ("login", "order_placed")


def test_on_inactivity_without_activity_counts_every_event() -> None:
    trigger = on_inactivity(timedelta(days=60))
    assert trigger.activity is None
    assert trigger.inactivity == Duration(days=60)


def test_on_inactivity_accepts_any_iterable_of_names() -> None:
    assert on_inactivity("2mo", activity=iter(["login"])).activity == ("login",)


def test_on_inactivity_rejects_an_empty_activity_list() -> None:
    with pytest.raises(ValidationError, match="activity") as excinfo:
        on_inactivity("60d", activity=[])
    assert "at least one activity event" in str(excinfo.value)


# --- after_step -----------------------------------------------------------------------------------


def test_after_step_defaults_to_sent() -> None:
    trigger = after_step("welcome")
    assert trigger == AfterStepTrigger(after_step="welcome", outcome="sent")


@pytest.mark.parametrize("outcome", ["sent", "failed", "expired", "skipped"])
def test_after_step_outcomes(outcome: Any) -> None:
    assert after_step("apology", outcome=outcome).outcome == outcome


def test_after_step_rejects_an_unknown_outcome() -> None:
    with pytest.raises(ValidationError, match="outcome") as excinfo:
        after_step("apology", outcome="bounced")  # type: ignore[arg-type]
    assert "'expired'" in str(excinfo.value)


def test_after_step_follows_several_outcomes_in_the_order_given() -> None:
    trigger = after_step("apology", outcome=["expired", "failed"])
    assert trigger.outcome == ("expired", "failed")
    assert trigger.outcomes == ("expired", "failed")
    followed: list[Outcome] = ["failed", "skipped"]
    assert after_step("apology", outcome=iter(followed)).outcomes == ("failed", "skipped")
    # One outcome, however spelled, is that outcome.
    assert after_step("apology", outcome="expired").outcomes == ("expired",)
    assert after_step("apology", outcome=["expired"]) == after_step("apology", outcome="expired")
    assert after_step("apology", outcome=["expired"]).outcome == "expired"


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        ([], "list at least one outcome ('sent', 'failed', 'expired' or 'skipped')"),
        (["expired", "expired"], "outcome 'expired' is listed twice"),
        (["expired", "bounced"], "unknown outcome 'bounced': expected 'sent', 'failed', "),
        (["expired", 3], "unknown outcome 3: expected"),
        (None, "unknown outcome None: expected"),
    ],
)
def test_after_step_rejects_a_bad_list_of_outcomes_naming_the_field(
    outcome: Any, message: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        after_step("apology", outcome=outcome)
    [error] = excinfo.value.errors()
    assert error["loc"] == ("outcome",)
    assert message in error["msg"]


def test_a_bad_outcome_in_a_cadence_file_names_the_step() -> None:
    data = {
        "name": "recovery",
        "channels": [{"name": "email"}],
        "steps": [
            {"name": "apology", "trigger": {"event": "incident_opened"}, "channels": ["email"]},
            {
                "name": "escalate",
                "trigger": {"after_step": "apology", "outcome": ["expired", "lost"]},
                "channels": ["email"],
            },
        ],
    }
    with pytest.raises(ValidationError) as excinfo:
        Cadence.from_dict(data)
    [error] = excinfo.value.errors()
    assert error["loc"][:3] == ("steps", 1, "trigger")
    assert error["loc"][-1] == "outcome"
    assert "unknown outcome 'lost'" in error["msg"]


# --- the YAML form --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mapping", "expected"),
    [
        ({"event": "order_placed"}, on_event("order_placed")),
        ({"date": "birth_date", "every": "year"}, on_date("birth_date", every="year")),
        ({"schedule": "0 9 * * MON"}, on_schedule("0 9 * * MON")),
        (
            {"inactivity": "60d", "activity": ["login"]},
            on_inactivity("60d", activity=["login"]),
        ),
        ({"after_step": "apology", "outcome": "expired"}, after_step("apology", outcome="expired")),
        (
            {"after_step": "apology", "outcome": ["expired", "failed"]},
            after_step("apology", outcome=["expired", "failed"]),
        ),
        ({"after_step": "apology", "outcome": ["failed"]}, after_step("apology", outcome="failed")),
    ],
)
def test_trigger_mappings_pick_their_kind_by_key(mapping: dict[str, Any], expected: Any) -> None:
    step = Step.model_validate({"name": "s", "trigger": mapping, "channels": ["email"]})
    assert step.trigger == expected
    assert type(step.trigger) is type(expected)


def test_triggers_are_frozen() -> None:
    trigger = on_event("x")
    with pytest.raises(ValidationError, match="frozen"):
        trigger.event = "y"  # type: ignore[misc]
