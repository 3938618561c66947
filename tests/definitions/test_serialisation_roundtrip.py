"""YAML and JSON are another spelling of the same models: every cadence round-trips exactly."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.profiles import examples

from regua import (
    Cadence,
    Channel,
    FrequencyCap,
    Policy,
    QuietHours,
    Step,
    after_step,
    attr,
    clicked,
    event_count,
    has_event,
    on_date,
    on_event,
    on_inactivity,
    on_schedule,
    opened,
)
from regua.definitions import (
    AfterStepTrigger,
    All,
    AnyOf,
    Clicked,
    Compare,
    DateTrigger,
    Duration,
    EventTrigger,
    HasEvent,
    InactivityTrigger,
    Not,
    Opened,
    Route,
    ScheduleTrigger,
)


def rich_cadence() -> Cadence:
    """A cadence using every trigger kind, every condition kind, routes and policy."""
    return Cadence(
        "relationship",
        description="Everything a cadence can say.",
        timezone="America/Sao_Paulo",
        channels=[
            Channel("email", cost=0.001),
            Channel(
                "sms",
                cost=0.05,
                quiet_hours=QuietHours(start=time(21), end=time(8)),
                caps=[FrequencyCap(max=2, per="1d")],
            ),
            Channel("phone", cost=2.0, kind="task", description="a call from the manager"),
        ],
        policy=Policy(
            quiet_hours=QuietHours(start=time(22), end=time(7, 30)),
            caps=[FrequencyCap(max=3, per="7d"), FrequencyCap(max=10, per="1mo")],
        ),
        steps=[
            Step(
                "welcome",
                trigger=on_event("signed_up", where={"plan": ["pro", "basic"], "source": "web"}),
                delay="2d",
                at=time(9),
                channels=["email"],
                payload={"utm": {"campaign": "welcome", "ids": [1, 2.5, True, None]}},
                active_from=datetime(2024, 1, 1, tzinfo=ZoneInfo("America/Sao_Paulo")),
            ),
            Step(
                "birthday",
                trigger=on_date("birth_date", every="year", feb29="mar1"),
                at=time(9),
                channels=["email"],
                route=[
                    (attr("ltv") >= 10_000.5, ["phone"]),
                    (attr("tier").in_(["gold", "platinum"]), ["sms", "email"]),
                ],
                prefer="cheapest",
            ),
            Step(
                "renewal",
                trigger=on_date("contract_end", before="30d"),
                channels=["email"],
                when=attr("email").exists() & ~(attr("region").in_(["eu", None, 1, True])),
                cooldown="1y",
            ),
            Step(
                "digest",
                trigger=on_schedule("0 9 * * MON"),
                channels=["email", "sms"],
                when=(event_count("order", within="1y") >= 3)
                | has_event("login", within="30d")
                | opened("welcome")
                | clicked("welcome"),
                on_cap="skip",
                expires_after="12h",
            ),
            Step(
                "monthly",
                trigger=on_schedule("RRULE:FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0"),
                channels=["email"],
                repeat="once",
            ),
            Step(
                "win_back",
                trigger=on_inactivity("60d", activity=["login", "order_placed"]),
                channels=["email"],
                cancel_on=["login", "order_placed"],
                deadline="90d",
                delay="1d12h",
            ),
            Step(
                "escalate",
                trigger=after_step("win_back", outcome=["expired", "failed"]),
                channels=["phone"],
                transactional=True,
                priority=5,
                message="tpl.escalate",
                when=(attr("tier") != None) & (event_count("complaint") < 2),  # noqa: E711
            ),
        ],
    )


def test_the_rich_cadence_uses_every_kind() -> None:
    cadence = rich_cadence()
    triggers = {type(step.trigger) for step in cadence.steps}
    assert triggers == {
        EventTrigger,
        DateTrigger,
        ScheduleTrigger,
        InactivityTrigger,
        AfterStepTrigger,
    }
    nodes = {
        type(node)
        for step in cadence.steps
        for condition in [step.when, *(route.when for route in step.route)]
        if condition is not None
        for node in condition.walk()
    }
    assert nodes == {Compare, HasEvent, Opened, Clicked, All, AnyOf, Not}


def test_yaml_round_trip() -> None:
    cadence = rich_cadence()
    assert Cadence.from_yaml(cadence.to_yaml()) == cadence


def test_json_round_trip() -> None:
    cadence = rich_cadence()
    assert Cadence.from_json(cadence.to_json()) == cadence
    assert Cadence.from_json(cadence.to_json(indent=None).encode()) == cadence


def test_dict_round_trip() -> None:
    cadence = rich_cadence()
    assert Cadence.from_dict(cadence.to_dict()) == cadence


def test_yaml_and_json_hold_the_same_data() -> None:
    cadence = rich_cadence()
    assert yaml.safe_load(cadence.to_yaml()) == json.loads(cadence.to_json())


def test_yaml_has_no_python_tags() -> None:
    text = rich_cadence().to_yaml()
    assert "!!python" not in text
    assert "!!" not in text
    assert yaml.safe_load(text)["name"] == "relationship"


def test_yaml_writes_times_as_hh_mm() -> None:
    data = yaml.safe_load(rich_cadence().to_yaml())
    assert data["steps"][0]["at"] == "09:00"
    assert data["policy"]["quiet_hours"] == {"start": "22:00", "end": "07:30"}
    assert data["channels"][1]["quiet_hours"] == {"start": "21:00", "end": "08:00"}


def test_serialised_form_is_readable() -> None:
    data = rich_cadence().to_dict()
    welcome, birthday, renewal = data["steps"][:3]
    # Defaults are left out, durations are short strings, instants are UTC.
    assert welcome == {
        "name": "welcome",
        "trigger": {"event": "signed_up", "where": {"plan": ["pro", "basic"], "source": "web"}},
        "channels": ["email"],
        "delay": "2d",
        "at": "09:00",
        "active_from": "2024-01-01T03:00:00Z",
        "payload": {"utm": {"campaign": "welcome", "ids": [1, 2.5, True, None]}},
    }
    assert renewal["trigger"] == {"date": "contract_end", "offset": "-30d"}
    assert renewal["when"] == {
        "all": [
            {"attr": "email", "op": "exists"},
            {"not": {"attr": "region", "op": "in", "value": ["eu", None, 1, True]}},
        ]
    }
    assert birthday["route"][0] == {
        "when": {"attr": "ltv", "op": ">=", "value": 10_000.5},
        "channels": ["phone"],
    }


def test_minimal_cadence_serialises_minimally() -> None:
    cadence = Cadence(
        "c",
        channels=[Channel("email")],
        steps=[Step("s", trigger=on_event("x"), channels=["email"])],
    )
    assert cadence.to_dict() == {
        "name": "c",
        "steps": [{"name": "s", "trigger": {"event": "x"}, "channels": ["email"]}],
        "channels": [{"name": "email"}],
    }


def test_an_active_from_with_a_sub_minute_offset_round_trips() -> None:
    # Local mean time in Sao Paulo in 1900 was UTC-03:06:28, which ISO-8601 offsets as
    # written by pydantic cannot carry.
    when = datetime(1900, 1, 1, tzinfo=ZoneInfo("America/Sao_Paulo"))
    cadence = Cadence(
        "c",
        channels=[Channel("email")],
        steps=[Step("s", trigger=on_event("x"), channels=["email"], active_from=when)],
    )
    assert Cadence.from_json(cadence.to_json()).steps[0].active_from == when
    assert Cadence.from_yaml(cadence.to_yaml()) == cadence


@pytest.mark.parametrize(
    "text",
    [
        "a\x85b",  # NEL, a YAML line break
        "\x85",
        "x\u2028y",
        "Olá, João!",
        "yes",
        "null",
        "21:00",
        "- x",
        "# not a comment",
        "",
        " padded ",
        "line\nbreak",
        "tab\there",
    ],
)
def test_yaml_round_trips_awkward_text(text: str) -> None:
    cadence = Cadence(
        "c",
        description=text,
        channels=[Channel("email")],
        steps=[
            Step(
                "s",
                trigger=on_event("x", where={"k": text}),
                channels=["email"],
                when=attr("a") == text,
                payload={text: [text]},
            )
        ],
    )
    again = Cadence.from_yaml(cadence.to_yaml())
    assert again == cadence
    assert again.description == text


def test_yaml_spelling_parses_to_the_dsl_spelling() -> None:
    text = """
name: onboarding
timezone: America/Sao_Paulo
channels:
  - {name: email, cost: 0.001}
  - {name: sms, cost: 0.05}
steps:
  - name: welcome
    trigger: {event: signed_up}
    delay: P2D
    at: '09:00'
    channels: [email]
  - name: nudge
    trigger: {after_step: welcome}
    delay: 3d
    channels: [sms]
    when:
      not: {opened: welcome}
    route:
      - when: {attr: tier, op: ==, value: gold}
        channels: [email, sms]
"""
    expected = Cadence(
        "onboarding",
        timezone="America/Sao_Paulo",
        channels=[Channel("email", cost=0.001), Channel("sms", cost=0.05)],
        steps=[
            Step(
                "welcome",
                trigger=on_event("signed_up"),
                delay=timedelta(days=2),
                at=time(9),
                channels=["email"],
            ),
            Step(
                "nudge",
                trigger=after_step("welcome"),
                delay="3d",
                channels=["sms"],
                when=~opened("welcome"),
                route=[Route(when=attr("tier") == "gold", channels=["email", "sms"])],
            ),
        ],
    )
    assert Cadence.from_yaml(text) == expected


# --- generated cadences ---------------------------------------------------------------------------

names = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
texts = st.text(max_size=8)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
)


@st.composite
def durations(draw: st.DrawFn, *, positive: bool = False, signed: bool = False) -> Duration:
    months = draw(st.integers(0, 36))
    days = draw(st.integers(0, 400))
    seconds = draw(st.integers(0, 30 * 24 * 3600))
    if positive and not (months or days or seconds):
        seconds = 1
    sign = -1 if signed and draw(st.booleans()) else 1
    return Duration(months=sign * months, days=sign * days, seconds=sign * seconds)


def spelled(duration: Duration) -> st.SearchStrategy[Any]:
    """The duration, or its short string: models accept both."""
    return st.sampled_from([duration, str(duration)])


times_of_day = st.builds(time, st.integers(0, 23), st.integers(0, 59))


@st.composite
def comparisons(draw: st.DrawFn) -> Compare:
    if draw(st.booleans()):
        subject: dict[str, Any] = {"attr": draw(st.text(min_size=1, max_size=8))}
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in", "exists"]))
        if op == "exists":
            return Compare(op=op, **subject)
        if op == "in":
            value: Any = tuple(draw(st.lists(json_scalars, max_size=3)))
        elif op in ("==", "!="):
            value = draw(json_scalars)
        else:
            value = draw(json_scalars.filter(lambda v: v is not None))
    else:
        subject = {"event_count": draw(names)}
        if draw(st.booleans()):
            subject["within"] = draw(durations(positive=True))
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "in"]))
        counts = st.integers(0, 1000)
        value = tuple(draw(st.lists(counts, max_size=3))) if op == "in" else draw(counts)
    return Compare(op=op, value=value, **subject)


def condition_strategy(step_names: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Condition trees whose opened/clicked nodes name one of `step_names`."""
    leaves = st.one_of(
        comparisons(),
        st.builds(HasEvent, has_event=names, within=st.none() | durations(positive=True)),
        st.builds(Opened, opened=step_names),
        st.builds(Clicked, clicked=step_names),
    )
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda cs: All(all=tuple(cs))),
            st.lists(children, min_size=1, max_size=3).map(lambda cs: AnyOf(any=tuple(cs))),
            children.map(lambda c: Not(condition=c)),
        ),
        max_leaves=6,
    )


conditions = condition_strategy(names)

json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=6,
)

schedules = st.sampled_from(
    [
        "0 9 * * MON",
        "30 1 * * *",
        "*/15 8-18 * * 1-5",
        "0 9 1,15 * *",
        "RRULE:FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9;BYMINUTE=0",
        "RRULE:FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=10",
    ]
)


def triggers(earlier_steps: list[str]) -> st.SearchStrategy[Any]:
    options = [
        st.builds(
            on_event,
            names,
            where=st.dictionaries(
                texts, json_scalars | st.lists(json_scalars, max_size=3), max_size=3
            ),
        ),
        st.builds(
            DateTrigger,
            date=names,
            every=st.sampled_from([None, "year"]),
            offset=durations(signed=True),
            feb29=st.sampled_from(["feb28", "mar1"]),
        ),
        st.builds(on_schedule, schedules),
        st.builds(
            on_inactivity,
            durations(positive=True),
            activity=st.none() | st.lists(names, min_size=1, max_size=3),
        ),
    ]
    if earlier_steps:
        # Following only earlier steps keeps the after_step graph acyclic.
        options.append(
            st.builds(
                after_step,
                st.sampled_from(earlier_steps),
                outcome=st.sampled_from(["sent", "failed", "expired", "skipped"])
                | st.lists(
                    st.sampled_from(["sent", "failed", "expired", "skipped"]),
                    min_size=1,
                    max_size=4,
                    unique=True,
                ),
            )
        )
    return st.one_of(options)


aware_datetimes = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.timezones()
)


@st.composite
def steps(
    draw: st.DrawFn, name: str, earlier: list[str], channel_names: list[str], all_steps: list[str]
) -> Step:
    conditions = condition_strategy(st.sampled_from(all_steps))
    some_channels = st.lists(st.sampled_from(channel_names), unique=True, max_size=3)
    channels = draw(some_channels)
    route = draw(
        st.lists(
            st.tuples(conditions, st.lists(st.sampled_from(channel_names), min_size=1, max_size=3)),
            max_size=2,
        )
    )
    if not channels and not route:
        channels = [channel_names[0]]
    delay = draw(durations())
    fields: dict[str, Any] = {
        "trigger": draw(triggers(earlier)),
        "channels": channels,
        "route": route,
        "delay": draw(spelled(delay)),
        "prefer": draw(st.sampled_from(["order", "cheapest"])),
        "repeat": draw(st.sampled_from(["every", "once"])),
        "transactional": draw(st.booleans()),
        "priority": draw(st.integers(-10, 10)),
        "on_cap": draw(st.sampled_from(["defer", "skip"])),
        "cancel_on": draw(st.lists(names, unique=True, max_size=2)),
        "payload": draw(st.dictionaries(texts, json_values, max_size=3)),
    }
    optional: dict[str, st.SearchStrategy[Any]] = {
        "message": names,
        "at": times_of_day,
        "when": conditions,
        "cooldown": durations(positive=True),
        "expires_after": durations(positive=True),
        "active_from": aware_datetimes,
        "description": st.text(max_size=20),
    }
    for field, strategy in optional.items():
        if draw(st.booleans()):
            fields[field] = draw(strategy)
    deadline = draw(durations(positive=True))
    if deadline.approximate() > delay.approximate():
        fields["deadline"] = deadline
    return Step(name, **fields)


quiet_hours = (
    st.tuples(times_of_day, times_of_day)
    .filter(lambda ends: ends[0] != ends[1])
    .map(lambda ends: QuietHours(start=ends[0], end=ends[1]))
)
caps = st.lists(
    st.builds(FrequencyCap, max=st.integers(1, 50), per=durations(positive=True)), max_size=2
)


@st.composite
def cadences(draw: st.DrawFn) -> Cadence:
    channel_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    channels = [
        Channel(
            name,
            cost=draw(st.floats(0, 100, allow_nan=False)),
            kind=draw(st.sampled_from(["message", "task"])),
            quiet_hours=draw(st.none() | quiet_hours),
            caps=draw(caps),
            description=draw(st.none() | st.text(max_size=20)),
        )
        for name in channel_names
    ]
    step_names = draw(st.lists(names, min_size=1, max_size=5, unique=True))
    built = [
        draw(steps(name, step_names[:index], channel_names, step_names))
        for index, name in enumerate(step_names)
    ]
    return Cadence(
        draw(names),
        steps=built,
        channels=channels,
        policy=Policy(quiet_hours=draw(st.none() | quiet_hours), caps=draw(caps)),
        timezone=draw(
            st.sampled_from(["UTC", "America/Sao_Paulo", "Europe/Lisbon", "Asia/Kolkata"])
        ),
        description=draw(st.none() | st.text(max_size=30)),
    )


@pytest.mark.slow
@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cadences())
def test_generated_cadences_round_trip(cadence: Cadence) -> None:
    text = cadence.to_yaml()
    assert "!!python" not in text
    assert Cadence.from_yaml(text) == cadence
    assert Cadence.from_json(cadence.to_json()) == cadence
    assert yaml.safe_load(text) == json.loads(cadence.to_json())


@pytest.mark.slow
@settings(max_examples=examples(60), deadline=None)
@given(conditions)
def test_generated_conditions_round_trip_and_keep_their_attributes(condition: Any) -> None:
    step = Step("s", trigger=on_event("x"), channels=["email"], when=condition)  # no cadence
    again = Step.model_validate(json.loads(step.model_dump_json(by_alias=True)))
    assert again.when == condition
    assert again.when is not None
    assert again.when.attributes_used() == condition.attributes_used()
    assert str(again.when) == str(condition)


@pytest.mark.parametrize(
    "offset", [timedelta(0), timedelta(hours=-3), timedelta(hours=5, minutes=45)]
)
def test_active_from_offsets_round_trip(offset: timedelta) -> None:
    when = datetime(2024, 6, 1, 12, 30, 15, 250_000, tzinfo=timezone(offset))
    step = Step("s", trigger=on_event("x"), channels=["email"], active_from=when)
    cadence = Cadence("c", steps=[step], channels=[Channel("email")])
    assert Cadence.from_yaml(cadence.to_yaml()).steps[0].active_from == when


def test_yaml_quotes_every_time_of_day_alike() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        policy=Policy(quiet_hours=QuietHours(start=time(21), end=time(8))),
        steps=[Step("welcome", trigger=on_event("signed_up"), at=time(9), channels=["email"])],
    )
    text = cadence.to_yaml()
    assert "at: '09:00'" in text
    assert "start: '21:00'" in text
    assert "end: '08:00'" in text
