"""Cadence, Step and Channel as a user builds and queries them."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

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
    has_event,
    on_date,
    on_event,
    on_inactivity,
    on_schedule,
    opened,
)
from regua.definitions import Duration, Route

CHANNELS = [
    Channel("email", cost=0.001),
    Channel("sms", cost=0.05, quiet_hours=QuietHours(start=time(21), end=time(8))),
    Channel("phone", cost=2.0, kind="task"),
]


def build() -> Cadence:
    return Cadence(
        "relationship",
        channels=CHANNELS,
        policy=Policy(
            quiet_hours=QuietHours(start=time(21), end=time(8)),
            caps=[FrequencyCap(max=3, per="7d")],
        ),
        timezone="America/Sao_Paulo",
        steps=[
            Step(
                "welcome", trigger=on_event("signed_up"), delay="2d", at=time(9), channels=["email"]
            ),
            Step(
                "birthday",
                trigger=on_date("birth_date", every="year"),
                at=time(9),
                channels=["email"],
                route=[
                    (attr("ltv") >= 10_000, ["phone"]),
                    (attr("tier") == "gold", ["sms", "email"]),
                ],
            ),
            Step(
                "renewal",
                trigger=on_date("contract_end", before="30d"),
                channels=["email"],
                when=(attr("plan") != "free") & ~opened("welcome"),
            ),
            Step(
                "win_back",
                trigger=on_inactivity("60d"),
                channels=["email"],
                when=(event_count("order_placed") >= 1) & has_event("signed_up"),
            ),
            Step("follow_up", trigger=after_step("welcome"), channels=["sms"]),
            Step("digest", trigger=on_schedule("0 9 * * MON"), channels=["email"]),
        ],
    )


# --- lookups --------------------------------------------------------------------------------------


def test_step_lookup() -> None:
    cadence = build()
    assert cadence.step("birthday").trigger == on_date("birth_date", every="year")
    assert cadence.step("welcome") is cadence.steps[0]


def test_unknown_step_lookup_names_the_known_steps() -> None:
    with pytest.raises(KeyError) as excinfo:
        build().step("welcom")
    message = excinfo.value.args[0]
    assert message == (
        "cadence 'relationship' has no step 'welcom' "
        "(steps: welcome, birthday, renewal, win_back, follow_up, digest)"
    )


def test_channel_lookup() -> None:
    cadence = build()
    assert cadence.channel("phone").kind == "task"
    assert cadence.channel("sms").cost == 0.05


def test_unknown_channel_lookup_names_the_declared_channels() -> None:
    with pytest.raises(KeyError) as excinfo:
        build().channel("whatsapp")
    assert excinfo.value.args[0] == (
        "cadence 'relationship' has no channel 'whatsapp' (channels: email, sms, phone)"
    )


# --- what data the cadence needs ------------------------------------------------------------------


def test_cadence_attributes_used() -> None:
    # Date triggers, routes and conditions; event names are not contact attributes.
    assert build().attributes_used() == {"birth_date", "ltv", "tier", "contract_end", "plan"}


def test_step_attributes_used() -> None:
    cadence = build()
    assert cadence.step("birthday").attributes_used() == {"birth_date", "ltv", "tier"}
    assert cadence.step("renewal").attributes_used() == {"contract_end", "plan"}
    assert cadence.step("welcome").attributes_used() == frozenset()
    assert cadence.step("win_back").attributes_used() == frozenset()


def test_channels_named_by_a_step() -> None:
    assert build().step("birthday").channels_named() == {"email", "sms", "phone"}


# --- construction ---------------------------------------------------------------------------------


def test_positional_and_keyword_names_are_the_same() -> None:
    assert Channel("sms", cost=0.05) == Channel(name="sms", cost=0.05)
    step = Step("welcome", trigger=on_event("signed_up"), channels=["email"])
    assert step == Step(name="welcome", trigger=on_event("signed_up"), channels=["email"])
    cadence = Cadence("c", steps=[step], channels=[Channel("email")])
    assert cadence == Cadence(name="c", steps=[step], channels=[Channel("email")])
    assert cadence.name == "c"


def test_defaults() -> None:
    step = Step("welcome", trigger=on_event("signed_up"), channels=["email"])
    assert step.delay == Duration()
    assert step.at is None
    assert step.when is None
    assert step.repeat == "every"
    assert step.prefer == "order"
    assert step.on_cap == "defer"
    assert step.transactional is False
    assert step.priority == 0
    assert step.message_key == "welcome"
    cadence = Cadence("c", steps=[step], channels=[Channel("email")])
    assert cadence.timezone == "UTC"
    assert cadence.policy == Policy()
    assert Channel("email").kind == "message"
    assert Channel("email").cost == 0.0


def test_message_key_defaults_to_the_step_name() -> None:
    step = Step("welcome", trigger=on_event("signed_up"), channels=["email"], message="tpl.hello")
    assert step.message_key == "tpl.hello"


def test_lists_are_stored_as_tuples() -> None:
    cadence = build()
    assert isinstance(cadence.steps, tuple)
    assert isinstance(cadence.channels, tuple)
    assert cadence.step("welcome").channels == ("email",)


def test_route_accepts_a_condition_channels_pair() -> None:
    step = build().step("birthday")
    assert step.route[0] == Route(when=attr("ltv") >= 10_000, channels=["phone"])
    assert step.route[1].channels == ("sms", "email")


def test_route_pair_with_a_single_channel_name() -> None:
    route = Route.model_validate((attr("tier") == "gold", "phone"))
    assert route.channels == ("phone",)


def test_active_from_is_stored_as_the_same_instant_in_utc() -> None:
    local = datetime(2024, 3, 1, 9, tzinfo=ZoneInfo("America/Sao_Paulo"))
    step = Step("s", trigger=on_event("x"), channels=["email"], active_from=local)
    assert step.active_from == local
    assert step.active_from is not None
    assert step.active_from.utcoffset() == timedelta(0)
    assert step.active_from == datetime(2024, 3, 1, 12, tzinfo=timezone.utc)


def test_active_from_in_a_fall_back_hour_still_compares_equal() -> None:
    # 01:30 on 2024-11-03 in New York happens twice; Python never finds such a datetime equal
    # to one in another zone, so the step must hold the instant, not the local reading.
    local = datetime(2024, 11, 3, 1, 30, tzinfo=ZoneInfo("America/New_York"))
    step = Step("s", trigger=on_event("x"), channels=["email"], active_from=local)
    same = Step(
        "s",
        trigger=on_event("x"),
        channels=["email"],
        active_from=datetime(2024, 11, 3, 5, 30, tzinfo=timezone.utc),
    )
    assert step == same


# --- immutability ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "field", "value"),
    [
        (build(), "name", "other"),
        (build(), "timezone", "UTC"),
        (build().step("welcome"), "delay", "1d"),
        (build().channel("sms"), "cost", 0.0),
        (build().policy, "caps", ()),
        (build().policy.quiet_hours, "start", time(22)),
        (FrequencyCap(max=3, per="7d"), "max", 5),
        (build().step("birthday").route[0], "channels", ("email",)),
    ],
)
def test_models_are_frozen(obj: object, field: str, value: object) -> None:
    before = getattr(obj, field)
    with pytest.raises(ValidationError, match="frozen"):
        setattr(obj, field, value)
    assert getattr(obj, field) == before


def test_a_copy_with_changes_is_validated_by_rebuilding() -> None:
    cadence = build()
    changed = Cadence.from_dict({**cadence.to_dict(), "timezone": "Europe/Lisbon"})
    assert changed.timezone == "Europe/Lisbon"
    assert cadence.timezone == "America/Sao_Paulo"
    assert changed.steps == cadence.steps


def test_equal_definitions_hash_alike() -> None:
    assert hash(Channel("sms", cost=0.05)) == hash(Channel("sms", cost=0.05))
    assert hash(after_step("a")) == hash(after_step("a"))
    assert (
        len({QuietHours(start=time(21), end=time(8)), QuietHours(start="21:00", end="08:00")}) == 1
    )


def test_quiet_hours_crossing_midnight() -> None:
    assert QuietHours(start=time(21), end=time(8)).crosses_midnight
    assert not QuietHours(start=time(12), end=time(14)).crosses_midnight
