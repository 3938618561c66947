"""The console sender: prints one readable line per message, for development."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TextIO

from regua.ports import Message

__all__ = ["ConsoleSender"]

_PAYLOAD_WIDTH = 60


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class ConsoleSender:
    """A `Sender` that prints each message on one line to stdout (or `stream`).

    >>> from regua import Contact, Message
    >>> from datetime import datetime, timezone
    >>> console = ConsoleSender(clock=lambda: datetime(2026, 3, 2, 15, tzinfo=timezone.utc))
    >>> message = Message(channel="email", address="ana@example.com", message="welcome",
    ...     payload={"first_name": "Ana"}, contact=Contact("ana"), cadence="shop",
    ...     step="welcome", occurrence_key="shop:welcome:ana:1", idempotency_key="1f2e")
    >>> console.send(message)
    2026-03-02 15:00:00Z  email  ana@example.com  contact=ana  shop/welcome  welcome  {first_name: Ana}  key=1f2e
    '1f2e'

    It accepts every message and returns its idempotency key as the message id. A retry
    (``attempt`` 2 or more) and a task for a human (``kind="task"``) are marked on the line.
    The payload is shortened to about 60 characters.

    Args:
        stream: Where to write; defaults to `sys.stdout` *at the time of each send* (so that
            redirecting stdout, or pytest's capture, sees the lines).
        clock: Returns the aware datetime printed on each line; defaults to the system clock.

    """  # noqa: E501

    def __init__(
        self, stream: TextIO | None = None, *, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.stream = stream
        self.clock = clock or _utc_now
        self._lock = threading.Lock()

    def send(self, message: Message) -> str | None:
        """Print `message` on one line; return its idempotency key."""
        line = self.format(message)
        with self._lock:
            stream = self.stream if self.stream is not None else sys.stdout
            stream.write(line + "\n")
            stream.flush()
        return message.idempotency_key

    def format(self, message: Message) -> str:
        """The line printed for `message` (without the newline)."""
        now = self.clock().astimezone(timezone.utc)
        parts = [
            now.strftime("%Y-%m-%d %H:%M:%SZ"),
            message.channel,
            message.address,
            f"contact={message.contact.id}",
            f"{message.cadence}/{message.step}",
            message.message,
            _short_payload(message.payload),
        ]
        if message.kind != "message":
            parts.insert(1, f"[{message.kind}]")
        if message.attempt > 1:
            parts.append(f"attempt={message.attempt}")
        parts.append(f"key={message.idempotency_key}")
        return "  ".join(_one_line(part) for part in parts)


def _one_line(text: str) -> str:
    return " ".join(text.split()) if any(c in text for c in "\r\n\t") else text


def _short_payload(payload: dict[str, object]) -> str:
    text = "{" + ", ".join(f"{key}: {value}" for key, value in payload.items()) + "}"
    if len(text) > _PAYLOAD_WIDTH:
        text = text[: _PAYLOAD_WIDTH - 2] + "…}"
    return text
