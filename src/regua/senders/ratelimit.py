"""A rate limit for any sender: a token bucket that waits for its turn."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, TypeVar

from regua.errors import ArgumentTypeError, ConfigurationError
from regua.ports import Message, Sender, Throttled

__all__ = ["RateLimited"]

S = TypeVar("S", bound=Sender)


def token_rate(per_second: object, burst: object) -> tuple[float, int]:
    """A token bucket's rate and burst, checked (a `burst` of None is 1).

    `per_second` must be a positive, finite number and `burst` an int of at least 1.

    Raises:
        ArgumentTypeError: either has the wrong type.
        ConfigurationError: either is out of range.

    """
    if isinstance(per_second, bool) or not isinstance(per_second, int | float):
        raise ArgumentTypeError(f"per_second must be a number, got {per_second!r}")
    if not math.isfinite(per_second) or per_second <= 0:
        raise ConfigurationError(f"per_second must be a positive, finite number, got {per_second}")
    if burst is None:
        burst = 1
    if isinstance(burst, bool) or not isinstance(burst, int):
        raise ArgumentTypeError(f"burst must be an int, got {burst!r}")
    if burst < 1:
        raise ConfigurationError(f"burst must be at least 1, got {burst}")
    return float(per_second), burst


class RateLimited(Generic[S]):
    """A `Sender` that passes messages to `sender` at most `per_second` times a second.

    >>> from regua import OutboxSender
    >>> limited = RateLimited(OutboxSender(), per_second=10)

    A token bucket: the bucket holds up to `burst` tokens and refills at `per_second` tokens a
    second; each `send` takes one token, and when none is left it *blocks* (sleeps) until its
    token is due, then calls the wrapped sender. So over any interval of `t` seconds at most
    ``burst + per_second * t`` messages go through, which keeps you under a provider's limit
    ("10 messages per second"). The bucket starts full.

    It is safe to share between threads: each caller reserves its token under a lock and
    sleeps without holding it, so waiting callers are served in the order they arrived, each
    ``1 / per_second`` apart. A send that fails still used its token (the provider saw the
    request). Return values and failures of the wrapped sender pass through unchanged.

    A send waits `max_wait` seconds at most: when its token is further away, it takes none
    and raises `regua.ports.Throttled` (with `retry_after`), and the scheduler defers the message
    on the same channel without counting an attempt. Keep `max_wait` below the scheduler's
    `send_timeout` (30 s by default): a send abandoned at its timeout is of unknown outcome,
    and one still asleep here would be sent after all.

    Args:
        sender: The sender to limit.
        per_second: Messages per second; a positive, finite number (``0.5`` is one message
            every two seconds).
        burst: How many messages may go at once after a quiet period; default 1 (strictly
            spaced). At least 1.
        max_wait: The longest a send sleeps for its token, in seconds (default 10); None
            waits however long it takes (then keep the scheduler's ``send_timeout=None``).
        clock: A monotonic clock in seconds; inject a fake one in tests.
        sleep: Sleeps for a number of seconds; inject a fake one in tests.

    """

    def __init__(
        self,
        sender: S,
        per_second: float,
        *,
        burst: int | None = None,
        max_wait: float | None = 10.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        per_second, burst = token_rate(per_second, burst)
        if max_wait is not None and (
            isinstance(max_wait, bool)
            or not isinstance(max_wait, int | float)
            or not math.isfinite(max_wait)
            or max_wait < 0
        ):
            raise ConfigurationError(
                f"max_wait must be a finite number of seconds >= 0, got {max_wait!r}"
            )
        self.max_wait = None if max_wait is None else float(max_wait)
        self.sender = sender
        self.per_second = float(per_second)
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._updated: float | None = None

    def __repr__(self) -> str:
        return f"RateLimited({self.sender!r}, per_second={self.per_second:g}, burst={self.burst})"

    def send(self, message: Message) -> str | None:
        """Wait for a token, then send `message` with the wrapped sender.

        Raises:
            Throttled: The token is more than `max_wait` away; none was taken, and the
                wrapped sender was not called.

        """
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return self.sender.send(message)

    def reserve(self) -> float:
        """Take a token now; return how many seconds to wait before using it (0: at once).

        `send` calls it; use it directly to pace something other than a `send`.

        Raises:
            Throttled: The token would be more than `max_wait` away; none is taken.

        """
        with self._lock:
            now = self._clock()
            if self._updated is not None:
                elapsed = max(0.0, now - self._updated)
                self._tokens = min(float(self.burst), self._tokens + elapsed * self.per_second)
            self._updated = now
            # A negative balance is a queue of reservations: each waits its turn.
            wait = 0.0 if self._tokens >= 1.0 else (1.0 - self._tokens) / self.per_second
            if self.max_wait is not None and wait > self.max_wait:
                raise Throttled(
                    f"rate limit: no token within {self.max_wait:g} s (the next is "
                    f"{wait:.3g} s away)",
                    retry_after=timedelta(seconds=wait),
                )
            self._tokens -= 1.0
            return wait

    def close(self) -> None:
        """Close the wrapped sender, if it has a ``close()`` method."""
        close = getattr(self.sender, "close", None)
        if callable(close):
            close()
