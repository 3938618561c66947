"""ConsoleSender: one readable line per message."""

from __future__ import annotations

import io
import re
from datetime import datetime, timezone

import pytest

from regua import Contact, Message
from regua.records import idempotency_key
from regua.senders import ConsoleSender
from regua.testing.contracts import SenderContract

T0 = datetime(2026, 3, 2, 15, 4, 5, tzinfo=timezone.utc)


def _message(**changes: object) -> Message:
    fields: dict[str, object] = {
        "channel": "sms",
        "address": "+5511990000001",
        "message": "cart_reminder",
        "payload": {"first_name": "Ana", "items": 3},
        "contact": Contact("ana"),
        "cadence": "shop",
        "step": "cart_1",
        "occurrence_key": "shop:cart_1:ana:1",
        "idempotency_key": idempotency_key("shop:cart_1:ana:1"),
    }
    fields.update(changes)
    return Message(**fields)  # type: ignore[arg-type]


def test_one_line_per_message_with_every_part() -> None:
    stream = io.StringIO()
    sender = ConsoleSender(stream, clock=lambda: T0)
    message = _message()
    assert sender.send(message) == message.idempotency_key
    assert stream.getvalue() == (
        "2026-03-02 15:04:05Z  sms  +5511990000001  contact=ana  shop/cart_1  cart_reminder  "
        f"{{first_name: Ana, items: 3}}  key={message.idempotency_key}\n"
    )


def test_defaults_to_stdout_at_send_time(capsys: pytest.CaptureFixture[str]) -> None:
    ConsoleSender(clock=lambda: T0).send(_message())
    assert capsys.readouterr().out.startswith("2026-03-02 15:04:05Z  sms  +5511990000001")


def test_the_time_is_printed_in_utc() -> None:
    stream = io.StringIO()
    local = datetime.fromisoformat("2026-03-02T12:04:05-03:00")
    ConsoleSender(stream, clock=lambda: local).send(_message())
    assert stream.getvalue().startswith("2026-03-02 15:04:05Z")


def test_long_payloads_are_shortened_and_line_breaks_removed() -> None:
    stream = io.StringIO()
    message = _message(payload={"note": "line one\nline two " + "x" * 200})
    ConsoleSender(stream, clock=lambda: T0).send(message)
    (line,) = stream.getvalue().splitlines()
    payload = re.search(r"\{note: .*?\}", line)
    assert payload is not None
    assert payload.group().endswith("…}")
    assert len(payload.group()) == 60
    assert "line one line two" in line


def test_tasks_and_retries_are_marked() -> None:
    stream = io.StringIO()
    ConsoleSender(stream, clock=lambda: T0).send(_message(kind="task", attempt=3))
    line = stream.getvalue()
    assert line.startswith("2026-03-02 15:04:05Z  [task]  sms")
    assert "  attempt=3  key=" in line


class TestConsoleSender(SenderContract[ConsoleSender]):
    @pytest.fixture
    def sender(self) -> ConsoleSender:
        return ConsoleSender(io.StringIO())

    def delivered_keys(self, sender: ConsoleSender) -> list[str]:
        assert isinstance(sender.stream, io.StringIO)
        return re.findall(r"  key=(\S+)$", sender.stream.getvalue(), re.MULTILINE)
