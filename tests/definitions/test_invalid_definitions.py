"""Every invalid definition fails at construction, naming the field path and the problem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import time, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from regua import (
    Cadence,
    Channel,
    FrequencyCap,
    Policy,
    QuietHours,
    Step,
    after_step,
    attr,
    event_count,
    on_event,
    on_inactivity,
    on_schedule,
)
from regua.definitions import Compare, Digest
from regua.planning.schedules import Schedule


def make_step(name: str = "welcome", **fields: Any) -> Step:
    fields.setdefault("trigger", on_event("signed_up"))
    if "route" not in fields:
        fields.setdefault("channels", ["email"])
    return Step(name, **fields)


def make_cadence(*steps: Step, **fields: Any) -> Cadence:
    fields.setdefault("channels", [Channel("email")])
    return Cadence("onboarding", steps=list(steps) or [make_step()], **fields)


def invalid(build: Callable[[], object]) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        build()
    return excinfo.value


def yaml_cadence(steps: str, extra: str = "") -> str:
    return f"name: onboarding\nchannels:\n  - name: email\n{extra}steps:\n{steps}"


def test_the_valid_baseline_builds() -> None:
    # The helpers build a valid cadence, so every failure below is due to the one change.
    assert make_cadence().step("welcome").channels == ("email",)
    assert Cadence.from_yaml(yaml_cadence("  - {name: a, trigger: {event: x}, channels: [email]}"))


# --- cross references -----------------------------------------------------------------------------


def test_duplicate_step_names() -> None:
    error = invalid(lambda: make_cadence(make_step("a"), make_step("b"), make_step("a")))
    assert "cadence 'onboarding'" in str(error)
    assert "steps[2] 'a': duplicate step name 'a'" in str(error)


def test_unknown_channel_in_a_steps_channels() -> None:
    error = invalid(lambda: make_cadence(make_step("a"), make_step("b", channels=["email", "sms"])))
    assert "steps[1] 'b'.channels[1]: unknown channel 'sms' (declared: email)" in str(error)


def test_unknown_channel_in_a_steps_route() -> None:
    route = [(attr("tier") == "gold", ["email"]), (attr("tier") == "silver", ["email", "phone"])]
    error = invalid(lambda: make_cadence(make_step("a", route=route)))
    assert "steps[0] 'a'.route[1].channels[1]: unknown channel 'phone' (declared: email)" in str(
        error
    )


def test_every_problem_is_reported_at_once() -> None:
    error = invalid(
        lambda: make_cadence(
            make_step("a", channels=["sms"]),
            make_step("a", trigger=after_step("ghost")),
        )
    )
    message = str(error)
    assert "steps[0] 'a'.channels[0]: unknown channel 'sms'" in message
    assert "steps[1] 'a': duplicate step name 'a'" in message
    assert "steps[1] 'a'.trigger.after_step: no step named 'ghost'" in message


def test_after_step_naming_a_missing_step() -> None:
    error = invalid(lambda: make_cadence(make_step("a"), make_step("b", trigger=after_step("c"))))
    assert "steps[1] 'b'.trigger.after_step: no step named 'c' in cadence 'onboarding'" in str(
        error
    )


@pytest.mark.parametrize(
    ("follows", "cycle"),
    [
        ({"a": "a"}, "'a' -> 'a'"),
        ({"a": "b", "b": "a"}, "'b' -> 'a' -> 'b'"),
        # c follows b, b follows a, a follows c: a fires c, which fires b, which fires a.
        ({"a": "c", "b": "a", "c": "b"}, "'b' -> 'c' -> 'a' -> 'b'"),
    ],
    ids=["self", "two-steps", "three-steps"],
)
def test_after_step_cycles(follows: dict[str, str], cycle: str) -> None:
    steps = [make_step(name, trigger=after_step(target)) for name, target in follows.items()]
    error = invalid(lambda: make_cadence(make_step("start"), *steps))
    assert f"after_step chain forms a cycle: {cycle}" in str(error)


def test_a_chain_into_a_cycle_reports_the_cycle_only() -> None:
    steps = [
        make_step("start"),
        make_step("x", trigger=after_step("a")),
        make_step("a", trigger=after_step("b")),
        make_step("b", trigger=after_step("a")),
    ]
    message = str(invalid(lambda: make_cadence(*steps)))
    assert "after_step chain forms a cycle: 'b' -> 'a' -> 'b' [" in message


def test_an_after_step_chain_without_a_cycle_is_fine() -> None:
    cadence = make_cadence(
        make_step("c", trigger=after_step("b")),
        make_step("b", trigger=after_step("a")),
        make_step("a"),
        make_step("d", trigger=after_step("a", outcome="expired")),
    )
    assert [s.name for s in cadence.steps] == ["c", "b", "a", "d"]


def test_duplicate_channel_names() -> None:
    error = invalid(
        lambda: make_cadence(channels=[Channel("email"), Channel("sms"), Channel("email")])
    )
    assert "channels[2]: duplicate channel name 'email'" in str(error)


# --- durations ------------------------------------------------------------------------------------


def test_negative_delay() -> None:
    error = invalid(lambda: make_step(delay="-1d"))
    assert error.errors()[0]["loc"] == ("delay",)
    assert "delay\n  must not be negative, got -1d" in str(error)


def test_a_zero_delay_is_fine() -> None:
    assert make_step(delay="0s").delay.is_zero


@pytest.mark.parametrize("value", ["0d", "0s", "PT0S", "-1d", "-2h"])
@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda v: make_step(expires_after=v), "expires_after"),
        (lambda v: make_step(cooldown=v), "cooldown"),
        (lambda v: make_step(deadline=v), "deadline"),
        (lambda v: on_inactivity(v), "inactivity"),
        (lambda v: FrequencyCap(max=3, per=v), "per"),
        (lambda v: make_step(when=event_count("order", within=v) >= 1), "within"),
    ],
)
def test_periods_must_be_positive(build: Callable[[str], object], path: str, value: str) -> None:
    error = invalid(lambda: build(value))
    assert error.errors()[0]["loc"][-1] == path
    assert path in str(error)
    assert "must be a positive duration" in str(error)


@pytest.mark.parametrize("value", ["3 days", "5x", "", "1.5d", "P1.5D", "tomorrow"])
def test_garbage_duration_strings(value: str) -> None:
    error = invalid(lambda: make_step(delay=value))
    assert error.errors()[0]["loc"] == ("delay",)
    assert f"{value!r} is not" in str(error)
    assert "duration" in str(error)


def test_a_nested_bad_duration_names_the_full_path() -> None:
    text = yaml_cadence(
        "  - {name: a, trigger: {event: x}, channels: [email]}\n"
        "  - {name: b, trigger: {inactivity: 60 days}, channels: [email]}\n"
    )
    error = invalid(lambda: Cadence.from_yaml(text))
    assert "steps.1.trigger.inactivity.inactivity" in str(error)
    assert "'60 days' is not a duration" in str(error)


def test_a_deadline_not_after_the_delay() -> None:
    error = invalid(lambda: make_step(delay="2d", deadline="1d"))
    assert "step 'welcome': deadline 1d (counted from the trigger) is not after the delay 2d" in (
        str(error)
    )


def test_a_deadline_equal_to_the_delay() -> None:
    error = invalid(lambda: make_step(delay="48h", deadline="48h"))
    assert "deadline 48h" in str(error)
    assert "would expire unsent" in str(error)


def test_a_deadline_after_the_delay_is_fine() -> None:
    assert make_step(delay="2d", deadline="3d").deadline is not None


# --- schedules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["0 9 * *", "0 0 9 * * *", "0 9 * * MON extra", "@daily", "", "x"],
)
def test_invalid_cron(expression: str) -> None:
    error = invalid(lambda: on_schedule(expression))
    assert error.errors()[0]["loc"] == ("schedule",)
    assert "invalid cron expression" in str(error)
    assert "five fields" in str(error)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("61 9 * * *", "the minute 61 is out of range 0-59"),
        ("0 24 * * *", "the hour 24 is out of range 0-23"),
        ("0 9 32 * *", "the day-of-month 32 is out of range 1-31"),
        ("0 9 * 0 *", "the month 0 is out of range 1-12"),
        ("0 9 * * 9", "the day-of-week 9 is out of range 0-7"),
    ],
)
def test_a_cron_value_out_of_range_names_its_field(expression: str, problem: str) -> None:
    error = invalid(lambda: on_schedule(expression))
    assert error.errors()[0]["loc"] == ("schedule",)
    assert problem in str(error)
    assert "five fields" not in str(error)


@pytest.mark.parametrize(
    "expression",
    [
        "* * 30 2 *",
        "* * 31 4 *",
        "0 9 31 APR,JUN,SEP,NOV *",
        "RRULE:FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=31",
    ],
)
def test_a_schedule_that_never_fires_is_refused(expression: str) -> None:
    error = invalid(lambda: on_schedule(expression))
    assert error.errors()[0]["loc"] == ("schedule",)
    assert "never fires" in str(error)


def test_a_rare_schedule_is_accepted() -> None:
    # Feb 29 (leap years) and a Monday Feb 29 (2016, 2044, 2072, then 2112) do fire.
    assert on_schedule("0 9 29 2 *").kind == "cron"
    assert on_schedule("0 9 * 2 MON#5").kind == "cron"


@pytest.mark.parametrize(
    "expression",
    [
        "RRULE:FREQ=SOMETIMES",
        "RRULE:FREQ=DAILY;BYHOUR=25",
        "RRULE:FREQ=WEEKLY;BYDAY=XX",
        "RRULE:BYHOUR=9",
        "RRULE:FREQ=DAILY;UNTIL=20250101T000000Z",
        # Each of these was once accepted by the definition and refused by the planner.
        "DTSTART:20250101T090000Z RRULE:FREQ=DAILY",
        "DTSTART:20250101T090000Z\nRRULE:FREQ=DAILY",
        "RRULE:FREQ=DAILY RDATE:20250101T090000Z,20250102T090000",
        "RDATE:20250101T090000Z RRULE:FREQ=DAILY;BYHOUR=9",
        "DTSTART:20250101T090000 DTSTART:20250102T090000 RRULE:FREQ=DAILY",
    ],
)
def test_invalid_rrule(expression: str) -> None:
    error = invalid(lambda: on_schedule(expression))
    assert error.errors()[0]["loc"] == ("schedule",)
    assert "RRULE" in str(error)
    assert repr(expression) in str(error)


def test_a_schedule_the_definition_accepts_is_one_the_planner_compiles() -> None:
    # One validator: Schedule and ScheduleTrigger agree on every text, good or bad.
    texts = [
        "0 9 * * MON",
        "0 0 13 * L5",
        "0 0 31 1 1#1",
        "0 0 * * MON#1,FRI",
        "* * 30 2 *",
        "61 * * * *",
        "DTSTART:20250101T090000Z RRULE:FREQ=DAILY",
        "DTSTART:20250101T090000 RRULE:FREQ=DAILY;BYHOUR=9",
        "RRULE:FREQ=DAILY RDATE:20250101T090000Z",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=31;BYMONTH=4",
    ]
    for text in texts:
        try:
            Schedule(text)
        except ValueError:
            invalid(lambda text=text: on_schedule(text))
        else:
            assert on_schedule(text).schedule == text


def test_a_bad_schedule_in_a_cadence_names_the_path() -> None:
    text = yaml_cadence("  - {name: a, trigger: {schedule: '0 9 * *'}, channels: [email]}\n")
    error = invalid(lambda: Cadence.from_yaml(text))
    assert "steps.0.trigger.schedule.schedule" in str(error)


# --- timezones and times of day -------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America/Sao Paulo", "", "../etc/passwd"])
def test_unknown_timezone(name: str) -> None:
    error = invalid(lambda: make_cadence(timezone=name))
    assert error.errors()[0]["loc"] == ("timezone",)
    assert f"unknown timezone {name!r}" in str(error)
    assert "IANA" in str(error)


@pytest.mark.parametrize(("value", "problem"), [("25:00", "hour"), ("09:60", "minute")])
def test_time_of_day_out_of_range(value: str, problem: str) -> None:
    error = invalid(lambda: make_step(at=value))
    assert error.errors()[0]["loc"] == ("at",)
    assert problem in str(error)

    for end in ("start", "end"):
        other = {"start": "21:00", "end": "08:00"}
        other[end] = value
        error = invalid(lambda other=other: QuietHours(**other))
        assert error.errors()[0]["loc"] == (end,)
        assert problem in str(error)


def test_time_of_day_is_to_the_minute() -> None:
    error = invalid(lambda: make_step(at=time(9, 0, 30)))
    assert "at\n  a time of day is given to the minute" in str(error)


def test_time_of_day_carries_no_timezone() -> None:
    error = invalid(lambda: make_step(at=time(9, tzinfo=timezone.utc)))
    assert "carries no timezone" in str(error)


def test_an_unquoted_yaml_time_is_rejected_with_a_hint() -> None:
    text = yaml_cadence("  - {name: a, trigger: {event: x}, channels: [email], at: 21:00}\n")
    error = invalid(lambda: Cadence.from_yaml(text))
    message = str(error)
    assert "steps.0.at" in message
    assert "got the number 1260" in message
    assert "quote times: '21:00'" in message


def test_unquoted_yaml_quiet_hours_are_rejected_with_a_hint() -> None:
    text = yaml_cadence(
        "  - {name: a, trigger: {event: x}, channels: [email]}\n",
        extra="policy:\n  quiet_hours: {start: 21:00, end: '08:00'}\n",
    )
    error = invalid(lambda: Cadence.from_yaml(text))
    assert "policy.quiet_hours.start" in str(error)
    assert "quote times" in str(error)


def test_a_quoted_yaml_time_is_fine() -> None:
    text = yaml_cadence("  - {name: a, trigger: {event: x}, channels: [email], at: '21:00'}\n")
    assert Cadence.from_yaml(text).step("a").at == time(21)


def test_quiet_hours_with_equal_ends() -> None:
    error = invalid(lambda: QuietHours(start=time(21), end=time(21)))
    assert "quiet hours start and end at the same time (21:00)" in str(error)


def test_quiet_hours_in_a_policy_name_the_path() -> None:
    error = invalid(
        lambda: make_cadence(policy={"quiet_hours": {"start": "22:00", "end": "22:00"}})
    )
    assert "policy.quiet_hours" in str(error)
    assert "same time" in str(error)


# --- channels, caps, steps ------------------------------------------------------------------------


@pytest.mark.parametrize("maximum", [0, -1])
def test_a_frequency_cap_must_allow_a_message(maximum: int) -> None:
    error = invalid(lambda: FrequencyCap(max=maximum, per="7d"))
    assert error.errors()[0]["loc"] == ("max",)
    assert "greater than or equal to 1" in str(error)


def test_a_cap_on_a_channel_names_the_path() -> None:
    error = invalid(
        lambda: make_cadence(channels=[{"name": "email", "caps": [{"max": 0, "per": "1d"}]}])
    )
    assert "channels.0.caps.0.max" in str(error)


def test_a_step_with_neither_channels_nor_route() -> None:
    error = invalid(lambda: Step("welcome", trigger=on_event("signed_up")))
    assert "step 'welcome' needs 'channels' or 'route' to be deliverable" in str(error)


def test_a_step_listing_a_channel_twice() -> None:
    error = invalid(lambda: make_step(channels=["email", "email"]))
    assert "channels\n  Value error, 'email' is listed twice" in str(error)


def test_a_negative_channel_cost() -> None:
    error = invalid(lambda: Channel("sms", cost=-0.05))
    assert error.errors()[0]["loc"] == ("cost",)


@pytest.mark.parametrize("name", ["welcome email", "", "-start", "olá"])
def test_names_are_checked_and_the_bad_value_is_shown(name: str) -> None:
    error = invalid(lambda: make_step(name))
    assert error.errors()[0]["loc"] == ("name",)
    assert f"{name!r} is not a valid name" in str(error)


# --- unknown fields -------------------------------------------------------------------------------


def test_a_typo_in_a_step_field_is_rejected() -> None:
    text = yaml_cadence("  - {name: a, trigger: {event: x}, channels: [email], dealy: 2d}\n")
    error = invalid(lambda: Cadence.from_yaml(text))
    assert "steps.0.dealy\n  Extra inputs are not permitted" in str(error)


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: make_step(dealy="2d"), "dealy"),
        (lambda: make_cadence(timezon="UTC"), "timezon"),
        (lambda: Channel("email", costs=1), "costs"),
        (lambda: FrequencyCap(max=1, per="1d", window="1d"), "window"),
        (lambda: Policy(quiet_hour=None), "quiet_hour"),
        (lambda: Compare(attr="x", op="==", value=1, vaule=2), "vaule"),
        (lambda: make_step(trigger={"event": "x", "were": {}}), "trigger.event.were"),
    ],
)
def test_unknown_fields_are_rejected(build: Callable[[], object], path: str) -> None:
    error = invalid(build)
    assert f"{path}\n  Extra inputs are not permitted" in str(error)


# --- triggers and conditions as mappings ----------------------------------------------------------


@pytest.mark.parametrize(
    "trigger",
    [{"evnt": "signed_up"}, {}, {"event": "x", "date": "birth_date"}, {"every": "year"}, "x"],
)
def test_a_trigger_mapping_needs_exactly_one_known_key(trigger: object) -> None:
    error = invalid(lambda: make_step(trigger=trigger))
    assert error.errors()[0]["loc"] == ("trigger",)
    assert "not a trigger: expected a mapping with exactly one of the keys event, date" in str(
        error
    )


@pytest.mark.parametrize("condition", [{"atr": "tier", "op": "==", "value": 1}, {}, "tier"])
def test_a_condition_mapping_needs_a_known_key(condition: object) -> None:
    error = invalid(lambda: make_step(when=condition))
    assert error.errors()[0]["loc"] == ("when",)
    assert "not a condition: expected a mapping with one of the keys attr, event_count" in str(
        error
    )


def test_an_uncompared_operand_is_not_a_condition() -> None:
    error = invalid(lambda: make_step(when=attr("vip")))
    assert "not a condition" in str(error)


def test_a_nested_bad_condition_names_its_path() -> None:
    when = {"all": [{"opened": "welcome"}, {"not": {"atr": "x"}}]}
    error = invalid(lambda: make_step(when=when))
    assert "when.all.all.1.not.not" in str(error)
    assert "not a condition" in str(error)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        (
            {"attr": "tier", "event_count": "order", "op": "==", "value": 1},
            "exactly one of 'attr' and 'event_count'",
        ),
        ({"op": "==", "value": 1}, "exactly one of 'attr' and 'event_count'"),
        ({"attr": "tier", "within": "1y", "op": "==", "value": 1}, "'within' applies to"),
        ({"attr": "tier", "op": "in", "value": "gold"}, "op 'in' needs a list of values"),
        ({"attr": "tier", "op": "in"}, "op 'in' needs a list of values"),
        ({"attr": "tier", "op": "==", "value": ["gold"]}, "compares with one value, not a list"),
        ({"attr": "vip", "op": "exists", "value": True}, "op 'exists' takes no value"),
        ({"event_count": "order", "op": "exists"}, "op 'exists' applies to 'attr' only"),
        ({"attr": "age", "op": ">"}, "op '>' needs a value"),
        ({"event_count": "order", "op": ">=", "value": "3"}, "compares with a whole number"),
        ({"event_count": "order", "op": ">=", "value": 2.5}, "compares with a whole number"),
        ({"event_count": "order", "op": "==", "value": True}, "compares with a whole number"),
        ({"event_count": "order", "op": "in", "value": [1, "2"]}, "compares with a whole number"),
        ({"attr": "tier", "op": "~=", "value": 1}, "op"),
    ],
)
def test_compare_shape_errors(fields: dict[str, Any], problem: str) -> None:
    error = invalid(lambda: Compare(**fields))
    assert problem in str(error)
    if "attr" not in fields and "event_count" not in fields:
        return  # inside a step, such a mapping is "not a condition" (tested above)
    # Inside a step, the error names the path to the comparison.
    error = invalid(lambda: make_step(when=fields))
    assert "when.compare" in str(error)
    assert problem in str(error)


def test_compare_builders_catch_shape_errors_too() -> None:
    assert "whole number" in str(invalid(lambda: event_count("order") >= "3"))
    assert "whole number" in str(invalid(lambda: event_count("order").in_(["a", "b"])))


def test_a_route_is_a_pair() -> None:
    error = invalid(lambda: make_step(route=[(attr("tier") == "gold",)]))
    assert "route.0" in str(error)
    assert "a route is a pair (condition, [channels])" in str(error)


def test_a_route_needs_channels() -> None:
    error = invalid(lambda: make_step(route=[(attr("tier") == "gold", [])]))
    assert "route.0.channels" in str(error)


def test_cadence_needs_steps_and_channels() -> None:
    assert "steps" in str(invalid(lambda: Cadence("c", steps=[], channels=[Channel("email")])))
    assert "channels" in str(invalid(lambda: Cadence("c", steps=[make_step()], channels=[])))


def test_active_from_must_be_aware() -> None:
    from datetime import datetime

    error = invalid(lambda: make_step(active_from=datetime(2024, 1, 1)))
    assert "active_from\n  Input should have timezone info" in str(error)


def test_name_twice_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="name given both positionally and as a keyword"):
        Channel("sms", name="email")


def test_opened_or_clicked_naming_no_step_is_rejected_with_its_path() -> None:
    from regua import clicked, opened

    with pytest.raises(ValidationError) as raised:
        Cadence(
            "shop",
            channels=[Channel("email")],
            steps=[
                Step("welcome", trigger=on_event("signed_up"), channels=["email"]),
                Step(
                    "nudge",
                    trigger=on_event("signed_up"),
                    channels=["email"],
                    when=~opened("welcom"),
                    route=[(clicked("promo"), ["email"])],
                ),
            ],
        )
    message = str(raised.value)
    assert "steps[1] 'nudge'.when: opened('welcom') names no step" in message
    assert "steps[1] 'nudge'.route[0].when: clicked('promo') names no step" in message


@pytest.mark.parametrize("cost", [float("inf"), float("nan"), -1.0])
def test_channel_cost_must_be_a_finite_non_negative_number(cost: float) -> None:
    with pytest.raises(ValidationError, match="cost"):
        Channel("email", cost=cost)


def test_an_invalid_only_step_gives_one_error_not_a_false_empty_list_too() -> None:
    with pytest.raises(ValidationError) as raised:
        Cadence.from_dict(
            {
                "name": "shop",
                "channels": [{"name": "email"}],
                "steps": [
                    {
                        "name": "w",
                        "trigger": {"event": "x"},
                        "delay": "2 days",
                        "channels": ["email"],
                    }
                ],
            }
        )
    assert raised.value.error_count() == 1
    assert raised.value.errors()[0]["loc"] == ("steps", 0, "delay")


def test_a_cadence_needs_steps_and_channels() -> None:
    with pytest.raises(ValidationError, match="at least one step"):
        Cadence.from_dict({"name": "shop", "channels": [{"name": "email"}], "steps": []})


# --- digests --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "kind"),
    [
        (on_schedule("0 9 * * MON"), "schedule"),
        (on_inactivity("30d"), "inactivity"),
        (after_step("welcome"), "after_step"),
    ],
)
def test_a_digest_needs_an_event_trigger(trigger: object, kind: str) -> None:
    error = invalid(lambda: make_step("digest", trigger=trigger, digest=Digest("2h")))
    assert (
        f"step 'digest': a digest collects events, so its trigger must be an event trigger "
        f"(on_event(...); in YAML 'trigger: {{event: ...}}'), not a {kind} trigger"
    ) in str(error)


@pytest.mark.parametrize("timing", [{"delay": "1h"}, {"at": time(9)}])
def test_a_digest_takes_its_timing_from_the_window(timing: dict[str, Any]) -> None:
    error = invalid(lambda: make_step("digest", digest=Digest("2h"), **timing))
    assert "a digest is due when its window closes" in str(error)


def test_a_digest_deadline_within_the_window_would_expire_every_digest() -> None:
    error = invalid(lambda: make_step("digest", digest=Digest("2h"), deadline="90m"))
    assert "deadline 1h30m (counted from the first event) is not after the digest window 2h" in str(
        error
    )
    assert make_step("digest", digest=Digest("2h"), deadline="3h").deadline


def test_a_digest_needs_a_window_or_an_until_time() -> None:
    error = invalid(lambda: Digest())
    assert "a digest needs a 'window'" in str(error)
    yaml_error = invalid(
        lambda: Cadence.from_yaml(
            yaml_cadence("  - {name: a, trigger: {event: x}, digest: {}, channels: [email]}")
        )
    )
    assert "steps.0.digest" in str(yaml_error)


@pytest.mark.parametrize(
    ("digest", "problem"),
    [
        ("{window: -2h}", "steps.0.digest.window"),
        ("{window: 0m}", "steps.0.digest.window"),
        ("{until: '25:00'}", "steps.0.digest.until"),
        ("{until: 18:00}", "steps.0.digest.until"),  # unquoted: YAML reads a number
        ("{window: 2h, every: 1d}", "steps.0.digest.every"),
    ],
)
def test_bad_digest_fields_in_yaml_name_the_field(digest: str, problem: str) -> None:
    text = yaml_cadence(
        f"  - {{name: a, trigger: {{event: x}}, digest: {digest}, channels: [email]}}"
    )
    assert problem in str(invalid(lambda: Cadence.from_yaml(text)))
