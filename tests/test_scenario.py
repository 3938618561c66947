"""Scenario files: validation with field paths, naive times, and playing them on a Simulation."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from regua import Cadence, Channel, Policy, QuietHours, Step, after_step, clicked, on_event
from regua.testing.scenario import Scenario, ScenarioError

UTC = timezone.utc

SHOP = Cadence(
    "shop",
    timezone="America/Sao_Paulo",
    channels=[Channel("email"), Channel("sms")],
    policy=Policy(quiet_hours=QuietHours(start=time(21), end=time(8))),
    steps=[
        Step("welcome", trigger=on_event("signed_up"), delay="1d", channels=["email"]),
        Step(
            "thanks_for_reading",
            trigger=after_step("welcome"),
            when=clicked("welcome"),
            delay="2d",
            channels=["email"],
        ),
        Step(
            "receipt",
            trigger=on_event("order_placed"),
            channels=["sms", "email"],
            transactional=True,
        ),
    ],
)


def scenario(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "start": "2026-03-02T12:00:00Z",
        "days": 10,
        "contacts": [{"id": "ana"}],
        "events": [{"at": "2026-03-02T13:00:00Z", "contact": "ana", "event": "signed_up"}],
    }
    data.update(changes)
    return data


def validation_error(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as raised:
        Scenario.model_validate(data)
    return str(raised.value)


# --- reading -------------------------------------------------------------------------------------


def test_days_ends_the_scenario_that_many_calendar_days_later() -> None:
    loaded = Scenario.model_validate(scenario(days=400))
    assert loaded.start == datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert loaded.end == datetime(2027, 4, 6, 12, tzinfo=UTC)


def test_naive_datetimes_are_read_in_the_scenario_timezone() -> None:
    loaded = Scenario.model_validate(
        scenario(
            start="2026-03-02T09:00:00",
            days=None,
            until="2026-03-05 09:00",
            timezone="America/Sao_Paulo",
            contacts=[{"id": "ana", "created_at": "2026-03-01T00:00:00"}],
            events=[
                {"at": "2026-03-02T10:00:00", "contact": "ana", "event": "signed_up"},
                {"at": "2026-03-02T14:00:00+01:00", "contact": "ana", "event": "login"},
            ],
        )
    )
    assert loaded.start == datetime(2026, 3, 2, 12, tzinfo=UTC)
    assert loaded.end == datetime(2026, 3, 5, 12, tzinfo=UTC)
    assert loaded.contacts[0].created_at == datetime(2026, 3, 1, 3, tzinfo=UTC)
    assert [item.at for item in loaded.events] == [
        datetime(2026, 3, 2, 13, tzinfo=UTC),
        datetime(2026, 3, 2, 13, tzinfo=UTC),  # an explicit offset is kept
    ]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"days": None}, "give either until or days"),
        ({"until": "2026-03-05T00:00:00Z"}, "give either until or days"),
        ({"days": 0}, "days\n  Input should be greater than 0"),
        ({"timezone": "Mars/Olympus"}, "timezone\n  unknown timezone 'Mars/Olympus'"),
        ({"start": "yesterday"}, "start\n  Input should be a valid datetime"),
        ({"contacts": [{"id": "ana"}, {"id": "ana"}]}, "duplicate contact id 'ana'"),
        ({"contacts": [{"id": "ana", "phone": "1"}]}, "contacts.0.phone\n  Extra inputs"),
        (
            {"contacts": [{"id": "ana", "attributes": {"timezone": "UTC"}}]},
            "attributes may not be named timezone",
        ),
        (
            {"events": [{"at": "2026-03-02T13:00:00Z", "contact": "bob", "event": "x"}]},
            "events[0] (bob event 'x'): unknown contact 'bob' (contacts: ana)",
        ),
        (
            {"events": [{"at": "2026-04-02T13:00:00Z", "contact": "ana", "event": "x"}]},
            "events[0] (ana event 'x'): at 2026-04-02T13:00:00+00:00 is outside the scenario",
        ),
        (
            {"events": [{"at": "2026-03-03", "contact": "ana", "event": "x", "open": "y"}]},
            "events.0\n  Value error, give exactly one of event, open, click or consent "
            "(got event, open)",
        ),
        (
            {"events": [{"at": "2026-03-03", "contact": "ana", "open": "y", "id": "z"}]},
            "id and data go with an event",
        ),
        (
            {"events": [{"at": "nope", "contact": "ana", "event": "x"}]},
            "events.0.at\n  Input should be a valid datetime",
        ),
        (
            {"events": [{"at": "2026-03-03", "contact": "ana", "consent": {"channel": "sms"}}]},
            "events.0.consent.granted\n  Field required",
        ),
    ],
)
def test_validation_errors_name_the_field(changes: dict[str, Any], expected: str) -> None:
    assert expected in validation_error(scenario(**changes))


def test_from_file_reads_yaml_and_json(tmp_path: Path) -> None:
    data = scenario()
    (tmp_path / "s.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "s.yaml").write_text(
        "start: 2026-03-02T12:00:00Z\ndays: 10\ncontacts: [{id: ana}]\nevents:\n"
        "  - {at: 2026-03-02T13:00:00Z, contact: ana, event: signed_up}\n",
        encoding="utf-8",
    )
    expected = Scenario.model_validate(data)
    assert Scenario.from_file(tmp_path / "s.json") == expected
    assert Scenario.from_file(tmp_path / "s.yaml") == expected
    with pytest.raises(ValueError, match=r"expected a \.yaml, \.yml or \.json scenario file"):
        Scenario.from_file(tmp_path / "s.txt")


# --- running -------------------------------------------------------------------------------------


def test_run_applies_items_in_time_order_then_runs_to_the_end() -> None:
    loaded = Scenario.model_validate(
        scenario(
            contacts=[{"id": "ana", "timezone": "Europe/Lisbon", "preferences": ["email"]}],
            events=[
                # Listed out of order: the click comes after the welcome it clicks.
                {"at": "2026-03-03T15:00:00Z", "contact": "ana", "click": "welcome"},
                {"at": "2026-03-02T13:00:00Z", "contact": "ana", "event": "signed_up"},
                {
                    "at": "2026-03-04T10:00:00Z",
                    "contact": "ana",
                    "event": "order_placed",
                    "id": "o-1",
                    "data": {"order": "A-1"},
                },
            ],
        )
    )
    sim = loaded.run(SHOP)
    assert [(s.step, s.channel, s.at) for s in sim.outbox] == [
        ("welcome", "email", datetime(2026, 3, 3, 13, tzinfo=UTC)),
        ("receipt", "email", datetime(2026, 3, 4, 10, tzinfo=UTC)),  # preferences: email
        ("thanks_for_reading", "email", datetime(2026, 3, 5, 13, tzinfo=UTC)),
    ]
    assert sim.outbox[1].payload == {"order": "A-1"}
    assert sim.outbox[1].occurrence_key == "shop:receipt:ana:event=o-1"
    assert sim.now == loaded.end


def test_contacts_default_to_every_channel_with_made_up_addresses() -> None:
    sim = Scenario.model_validate(scenario()).run(SHOP)
    sent = sim.assert_sent("welcome", to="ana")
    assert sent.address == "ana@email.example"
    # No timezone of its own: the cadence's (Sao Paulo, UTC-3).
    assert sent.local_at.utcoffset() == timedelta(hours=-3)


def test_run_until_stops_early_and_leaves_later_items_out() -> None:
    loaded = Scenario.model_validate(
        scenario(
            events=[
                {"at": "2026-03-02T13:00:00Z", "contact": "ana", "event": "signed_up"},
                {"at": "2026-03-06T13:00:00Z", "contact": "ana", "event": "order_placed"},
            ]
        )
    )
    sim = loaded.run(SHOP, until=datetime(2026, 3, 4, 12, tzinfo=UTC))
    assert [s.step for s in sim.outbox] == ["welcome"]
    assert sim.now == datetime(2026, 3, 4, 12, tzinfo=UTC)
    with pytest.raises(ScenarioError, match="the scenario starts at"):
        loaded.run(SHOP, until=datetime(2026, 3, 1, tzinfo=UTC))


def test_a_revoked_consent_stops_marketing_not_service_messages() -> None:
    loaded = Scenario.model_validate(
        scenario(
            events=[
                {"at": "2026-03-02T13:00:00Z", "contact": "ana", "event": "signed_up"},
                {
                    "at": "2026-03-02T14:00:00Z",
                    "contact": "ana",
                    "consent": {"channel": "email", "granted": False},
                },
                {"at": "2026-03-03T14:00:00Z", "contact": "ana", "event": "order_placed"},
            ],
            contacts=[{"id": "ana", "addresses": {"email": "ana@example.com"}}],
        )
    )
    sim = loaded.run(SHOP)
    assert [(s.step, s.channel) for s in sim.outbox] == [("receipt", "email")]


def test_opening_a_step_never_sent_names_the_item() -> None:
    loaded = Scenario.model_validate(
        scenario(
            events=[
                {"at": "2026-03-02T13:00:00Z", "contact": "ana", "event": "signed_up"},
                {"at": "2026-03-03T12:00:00Z", "contact": "ana", "open": "welcome"},
            ]
        )
    )
    with pytest.raises(ScenarioError) as raised:
        loaded.run(SHOP)
    assert str(raised.value) == (
        "events[1] at 2026-03-03T12:00:00+00:00 (ana opens 'welcome'): no 'welcome' message "
        "was sent to 'ana' by then, so there is nothing to open or click"
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        (
            {"click": "farewell"},
            "events[0] at 2026-03-03T12:00:00+00:00 (ana clicks 'farewell'): "
            "no cadence has a step 'farewell'",
        ),
        (
            {"consent": {"channel": "pigeon", "granted": True}},
            "(ana grants pigeon consent): no cadence declares the channel 'pigeon' "
            "(channels: email, sms)",
        ),
    ],
)
def test_items_that_do_not_fit_the_cadence_are_errors(item: dict[str, Any], expected: str) -> None:
    loaded = Scenario.model_validate(
        scenario(events=[{"at": "2026-03-03T12:00:00Z", "contact": "ana", **item}])
    )
    with pytest.raises(ScenarioError) as raised:
        loaded.run(SHOP)
    assert expected in str(raised.value)
