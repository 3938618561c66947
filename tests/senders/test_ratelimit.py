"""RateLimited: a token bucket, tested with a fake clock and a fake sleep (no real time)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from regua import Contact, Message, OutboxSender, PermanentFailure, TemporaryFailure
from regua.ports import Throttled
from regua.records import idempotency_key
from regua.senders import RateLimited
from regua.testing.contracts import SenderContract


class FakeTime:
    """A monotonic clock that only moves when `sleep` is called (or `advance`)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _message(number: int) -> Message:
    key = f"shop:welcome:ana:{number}"
    return Message(
        channel="email",
        address="ana@example.com",
        message="welcome",
        payload={},
        contact=Contact("ana"),
        cadence="shop",
        step="welcome",
        occurrence_key=key,
        idempotency_key=idempotency_key(key),
    )


def _limited(
    per_second: float, burst: int | None = None
) -> tuple[RateLimited[OutboxSender], FakeTime]:
    fake = FakeTime()
    limited = RateLimited(
        OutboxSender(), per_second, burst=burst, clock=fake.clock, sleep=fake.sleep
    )
    return limited, fake


def test_ten_messages_at_five_per_second_take_one_point_eight_seconds() -> None:
    limited, fake = _limited(5, burst=1)
    for number in range(10):
        limited.send(_message(number))
    assert len(limited.sender.outbox) == 10
    assert sum(fake.sleeps) == pytest.approx(1.8)
    assert fake.sleeps == pytest.approx([0.2] * 9)


def test_a_burst_goes_at_once_then_the_rate_applies() -> None:
    limited, fake = _limited(10, burst=4)
    for number in range(8):
        limited.send(_message(number))
    assert fake.sleeps == pytest.approx([0.1] * 4)


def test_the_bucket_refills_while_idle_up_to_the_burst() -> None:
    limited, fake = _limited(2, burst=3)
    for number in range(3):
        limited.send(_message(number))
    assert fake.sleeps == []
    fake.advance(60)  # a long pause refills 3 tokens, not 120
    for number in range(5):
        limited.send(_message(number))
    assert fake.sleeps == pytest.approx([0.5, 0.5])


def test_a_fractional_rate() -> None:
    limited, fake = _limited(0.5)
    for number in range(3):
        limited.send(_message(number))
    assert fake.sleeps == pytest.approx([2.0, 2.0])


def test_callers_racing_from_threads_are_spaced_in_turn() -> None:
    """Reservations are taken under a lock: 8 threads at once wait 0, 0.25, 0.5 ... 1.75."""
    fake = FakeTime()  # time stands still: each thread waits its whole turn
    limited = RateLimited(OutboxSender(), 4, clock=fake.clock, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def reserve() -> None:
        barrier.wait()
        wait = limited.reserve()
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=reserve) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([n * 0.25 for n in range(8)])


def test_results_and_failures_pass_through() -> None:
    class Refusing:
        def send(self, message: Message) -> str | None:
            raise PermanentFailure("no")

    fake = FakeTime()
    limited = RateLimited(Refusing(), 1, clock=fake.clock, sleep=fake.sleep)
    with pytest.raises(PermanentFailure, match="no"):
        limited.send(_message(1))
    with pytest.raises(PermanentFailure):
        limited.send(_message(2))
    assert fake.sleeps == [1.0], "a failed send still used its token"
    outbox, _ = _limited(1)
    assert outbox.send(_message(1)) == _message(1).idempotency_key


@pytest.mark.parametrize("per_second", [0, -1, float("inf"), float("nan")])
def test_per_second_must_be_positive_and_finite(per_second: float) -> None:
    with pytest.raises(ValueError, match="per_second must be a positive, finite number"):
        RateLimited(OutboxSender(), per_second)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="burst must be at least 1"):
        RateLimited(OutboxSender(), 1, burst=0)
    with pytest.raises(TypeError, match="per_second must be a number"):
        RateLimited(OutboxSender(), "5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="burst must be an int"):
        RateLimited(OutboxSender(), 5, burst=1.5)  # type: ignore[arg-type]


def test_close_closes_the_wrapped_sender() -> None:
    class Closable(OutboxSender):
        closed = False

        def close(self) -> None:
            self.closed = True

    inner = Closable()
    RateLimited(inner, 1).close()
    assert inner.closed
    RateLimited(OutboxSender(), 1).close()  # nothing to close: harmless


class Failing:
    def __init__(self, error: Exception) -> None:
        self.error = error
        self.outbox: list[Message] = []

    def send(self, message: Message) -> str | None:
        raise self.error


def _fake_limited(sender: Any) -> RateLimited[Any]:
    fake = FakeTime()
    return RateLimited(sender, 5, clock=fake.clock, sleep=fake.sleep)


class TestRateLimitedSender(SenderContract[RateLimited[Any]]):
    @pytest.fixture
    def sender(self) -> RateLimited[Any]:
        return _fake_limited(OutboxSender())

    @pytest.fixture
    def temporarily_failing_sender(self) -> RateLimited[Any]:
        return _fake_limited(Failing(TemporaryFailure("provider answered 503")))

    @pytest.fixture
    def permanently_failing_sender(self) -> RateLimited[Any]:
        return _fake_limited(Failing(PermanentFailure("provider refused the address")))

    def delivered_keys(self, sender: RateLimited[Any]) -> list[str]:
        return [message.idempotency_key for message in sender.sender.outbox]


def test_a_token_further_than_max_wait_is_throttled_and_none_is_taken() -> None:
    fake = FakeTime()
    limited = RateLimited(
        OutboxSender(), 1, burst=1, max_wait=2, clock=fake.clock, sleep=fake.sleep
    )
    assert [limited.reserve() for _ in range(3)] == [0.0, 1.0, 2.0]
    for _ in range(2):  # refused twice: the queue did not grow
        with pytest.raises(Throttled, match="no token within 2 s") as refused:
            limited.send(_message(1))
        assert refused.value.retry_after == timedelta(seconds=3)
    assert limited.sender.outbox == []
    fake.advance(1)
    assert limited.reserve() == 2.0


def test_max_wait_none_waits_however_long() -> None:
    fake = FakeTime()
    limited = RateLimited(OutboxSender(), 0.01, max_wait=None, clock=fake.clock, sleep=fake.sleep)
    for number in range(3):
        limited.send(_message(number))
    assert fake.sleeps == pytest.approx([100.0, 100.0])


@pytest.mark.parametrize("max_wait", [-1, float("inf"), float("nan"), True, "10"])
def test_max_wait_must_be_a_finite_number_of_seconds(max_wait: Any) -> None:
    with pytest.raises(ValueError, match="max_wait must be a finite number"):
        RateLimited(OutboxSender(), 1, max_wait=max_wait)
