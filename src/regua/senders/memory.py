"""The outbox sender: keeps every message in memory, for tests, simulations and previews."""

from __future__ import annotations

import threading

from regua.ports import Message

__all__ = ["OutboxSender"]


class OutboxSender:
    """A `Sender` that delivers into a list, `outbox`, in the order messages were sent.

    >>> from regua import OutboxSender
    >>> sender = OutboxSender()
    >>> sender.outbox
    []

    It accepts every message. `keys()` counts deliveries per idempotency key, so a test can
    assert that nothing was delivered twice; `deduplicate=True` makes it behave like a
    provider that honours idempotency keys (a repeated key is accepted but not stored again).
    """

    in_process = True
    """It does no I/O and cannot hang: the scheduler calls it on the tick's own thread,
    without the send timeout's thread handoff (see `regua.Sender`)."""

    def __init__(self, *, deduplicate: bool = False) -> None:
        self.outbox: list[Message] = []
        self.deduplicate = deduplicate
        self._seen: dict[str, int] = {}
        self._lock = threading.Lock()

    def send(self, message: Message) -> str | None:
        """Append `message` to the outbox; return its idempotency key as the message id."""
        with self._lock:
            count = self._seen.get(message.idempotency_key, 0)
            self._seen[message.idempotency_key] = count + 1
            if not (self.deduplicate and count):
                self.outbox.append(message)
        return message.idempotency_key

    def keys(self) -> dict[str, int]:
        """How many times each idempotency key was handed to `send`."""
        with self._lock:
            return dict(self._seen)

    def clear(self) -> None:
        """Forget every message sent so far."""
        with self._lock:
            self.outbox.clear()
            self._seen.clear()
