"""`SenderContract` and `AsyncSenderContract`: the suites that prove a sender."""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import ClassVar, Generic, TypeVar

import pytest

from regua.errors import ReguaError
from regua.ports import AsyncSender, Message, PermanentFailure, Sender, TemporaryFailure
from regua.records import Contact, idempotency_key
from regua.testing.contracts._support import _expect, _in_threads

__all__ = ["AsyncSenderContract", "SenderContract"]

SenderT = TypeVar("SenderT", bound="Sender | AsyncSender")
"""The type of sender a `SenderContract` subclass tests."""


class SenderContract(Generic[SenderT]):
    """The behaviour every `regua.ports.Sender` must have, as a pytest suite.

    Subclass it in a test module (the subclass's name must start with ``Test``), define a
    ``sender`` fixture on the subclass that returns a working sender (backed by a fake
    provider: a local server, a stub client, an outbox), and implement `delivered_keys`,
    which says what that provider received::

        import pytest

        from regua.testing.contracts import SenderContract

        class TestMySender(SenderContract[MySender]):
            channel = "sms"                     # the channel, and an address it accepts
            address = "+5511990000001"

            @pytest.fixture
            def sender(self) -> MySender:
                return MySender(client=FakeSmsClient())

            def delivered_keys(self, sender: MySender) -> list[str]:
                return [sms.idempotency_key for sms in sender.client.received]

    To check failures, also define on the subclass the fixtures
    ``temporarily_failing_sender`` (its `send` must raise `TemporaryFailure`, e.g. the fake
    provider answers 503) and ``permanently_failing_sender`` (it must raise
    `PermanentFailure`, e.g. the provider rejects the recipient); the tests that need one
    are skipped, saying so, when it is not defined.

    The tests check that `send` accepts a `Message` and returns a message id or None; that
    an accepted message reaches the provider carrying its idempotency key, in the order sent;
    that sending a message again (a retry after a crash) is not an error and carries the
    same key, so that the provider can recognise it; that a send from another thread works;
    and that failures raise the right `ReguaError` subclass with a useful text.
    """

    channel: ClassVar[str] = "email"
    """The channel of the messages the suite sends."""

    address: ClassVar[str] = "ana@example.com"
    """The address the suite sends to; override it with one your sender accepts."""

    def delivered_keys(self, sender: SenderT) -> Sequence[str]:
        """The idempotency keys of the messages the provider received, in the order received.

        Override this: read them from the fake provider behind `sender` (an outbox, the
        ``Idempotency-Key`` headers a stub server saw, the ``Message-ID`` of captured mail).
        One entry per message the provider received, repeats included.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must implement delivered_keys(sender): the idempotency "
            "keys of the messages the provider received, in order"
        )

    def deliver(self, sender: SenderT, message: Message) -> str | None:
        """Send `message` with `sender` as the scheduler does; every test sends through it."""
        result = sender.send(message)
        if result is None or isinstance(result, str):
            return result
        raise TypeError(
            f"{type(sender).__name__}.send returned {type(result).__name__}, not str or None"
            " (an async sender? test it with AsyncSenderContract)"
        )

    def make_message(self, number: int = 1, *, attempt: int = 1) -> Message:
        """The `number`-th test message, on `channel` to `address`; override to adapt it."""
        contact = Contact(
            "ana",
            attributes={"first_name": "Ana"},
            timezone="America/Sao_Paulo",
            consents={self.channel},
            addresses={self.channel: self.address},
        )
        occurrence_key = f"contract:welcome:ana:{number}"
        return Message(
            channel=self.channel,
            address=self.address,
            message="welcome",
            payload={"first_name": "Ana", "number": number},
            contact=contact,
            cadence="contract",
            step="welcome",
            occurrence_key=occurrence_key,
            idempotency_key=idempotency_key(occurrence_key),
            attempt=attempt,
        )

    @pytest.fixture
    def temporarily_failing_sender(self) -> SenderT:
        """A sender whose `send` raises `TemporaryFailure`; define it to test that path."""
        pytest.skip(f"{type(self).__name__} defines no temporarily_failing_sender fixture")

    @pytest.fixture
    def permanently_failing_sender(self) -> SenderT:
        """A sender whose `send` raises `PermanentFailure`; define it to test that path."""
        pytest.skip(f"{type(self).__name__} defines no permanently_failing_sender fixture")

    def _sent(self, sender: SenderT, send: Callable[[], object]) -> list[str]:
        """The keys the provider received while `send()` ran."""
        before = list(self.delivered_keys(sender))
        send()
        after = list(self.delivered_keys(sender))
        _expect(after[: len(before)], before, "delivered_keys must keep earlier deliveries")
        return after[len(before) :]

    def test_is_a_sender(self, sender: SenderT) -> None:
        """The adapter has the `send` method of the `Sender` protocol."""
        assert isinstance(sender, Sender), f"{sender!r} has no send(message) method"

    def test_send_returns_a_message_id_or_none(self, sender: SenderT) -> None:
        """`send` accepts a `Message` and returns the provider's id (a non-empty str) or None."""
        result = self.deliver(sender, self.make_message())
        if not (result is None or (isinstance(result, str) and result)):
            pytest.fail(f"send() must return a non-empty str or None, not {result!r}")

    def test_an_accepted_message_reaches_the_provider_with_its_key(self, sender: SenderT) -> None:
        """Returning normally means the provider got the message, with its idempotency key."""
        message = self.make_message()
        keys = self._sent(sender, lambda: self.deliver(sender, message))
        _expect(keys, [message.idempotency_key], "keys the provider received")

    def test_messages_reach_the_provider_in_the_order_sent(self, sender: SenderT) -> None:
        """Distinct messages are each delivered once, in order; none is taken for another."""
        messages = [self.make_message(number) for number in (1, 2, 3)]
        keys = self._sent(sender, lambda: [self.deliver(sender, message) for message in messages])
        _expect(keys, [m.idempotency_key for m in messages], "keys the provider received")

    def test_a_resent_message_keeps_its_idempotency_key(self, sender: SenderT) -> None:
        """Sending a message again (a retry) is not an error; the provider sees the same key.

        Once if the sender or the provider deduplicates, twice otherwise.
        """
        first, retry = self.make_message(attempt=1), self.make_message(attempt=2)
        keys = self._sent(
            sender, lambda: (self.deliver(sender, first), self.deliver(sender, retry))
        )
        if keys not in ([first.idempotency_key], [first.idempotency_key] * 2):
            pytest.fail(
                f"a message sent twice must reach the provider once or twice with its key "
                f"{first.idempotency_key!r}; it received {keys!r}"
            )

    def test_send_works_from_another_thread(self, sender: SenderT) -> None:
        """The scheduler's worker thread need not be the one that built the sender."""
        message = self.make_message()
        keys = self._sent(sender, lambda: _in_threads(1, lambda index: sender.send(message)))
        _expect(keys, [message.idempotency_key], "keys received from another thread")

    def test_a_temporary_failure_raises_temporary_failure(
        self, temporarily_failing_sender: SenderT
    ) -> None:
        """A failure that may pass raises `TemporaryFailure`, with a text and a sane delay."""
        with pytest.raises(TemporaryFailure) as raised:
            self.deliver(temporarily_failing_sender, self.make_message())
        assert isinstance(raised.value, ReguaError)
        assert str(raised.value), "the failure's text is recorded: say what went wrong"
        retry_after = raised.value.retry_after
        if retry_after is not None and retry_after < timedelta(0):
            pytest.fail(f"retry_after must be None or non-negative, not {retry_after!r}")

    def test_a_permanent_failure_raises_permanent_failure(
        self, permanently_failing_sender: SenderT
    ) -> None:
        """A failure that never passes on this channel raises `PermanentFailure`, with a text."""
        with pytest.raises(PermanentFailure) as raised:
            self.deliver(permanently_failing_sender, self.make_message())
        assert isinstance(raised.value, ReguaError)
        assert not isinstance(raised.value, TemporaryFailure), "it cannot be both"
        assert str(raised.value), "the failure's text is recorded: say what went wrong"


class AsyncSenderContract(SenderContract[SenderT]):
    """The behaviour every `regua.ports.AsyncSender` must have, as a pytest suite.

    The same tests as `SenderContract` (define the same fixtures and `delivered_keys`), each
    send awaited on an event loop of the test's own, plus one for concurrency: several sends
    awaited at once each reach the provider once. The suite provides a ``loop`` fixture (a
    fresh event loop, closed after the test) for fixtures that must close the sender on the
    loop that used it::

        import pytest

        from regua.testing.contracts import AsyncSenderContract

        class TestMyAsyncSender(AsyncSenderContract[MyAsyncSender]):
            @pytest.fixture
            def sender(self, loop):
                sender = MyAsyncSender(client=FakeSmsClient())
                yield sender
                loop.run_until_complete(sender.aclose())

            def delivered_keys(self, sender):
                return [sms.idempotency_key for sms in sender.client.received]
    """

    concurrent_sends: ClassVar[int] = 10
    """How many messages `test_concurrent_sends_each_reach_the_provider_once` awaits at once."""

    @pytest.fixture
    def loop(self) -> Iterator[asyncio.AbstractEventLoop]:
        """A fresh event loop for the test, closed after it."""
        loop = asyncio.new_event_loop()
        yield loop
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    @pytest.fixture(autouse=True)
    def _use_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def deliver(self, sender: SenderT, message: Message) -> str | None:
        """Await ``sender.send(message)`` on the test's event loop."""
        return self._loop.run_until_complete(self._send(sender, message))

    async def _send(self, sender: SenderT, message: Message) -> str | None:
        result = sender.send(message)
        if not inspect.isawaitable(result):
            raise TypeError(
                f"{type(sender).__name__}.send is not a coroutine function "
                "(a synchronous sender? test it with SenderContract)"
            )
        answer: str | None = await result
        return answer

    def test_is_a_sender(self, sender: SenderT) -> None:
        """The adapter has the coroutine method `send` of the `AsyncSender` protocol."""
        assert isinstance(sender, AsyncSender), f"{sender!r} has no send(message) method"
        assert inspect.iscoroutinefunction(sender.send), f"{sender!r}.send is not async def"

    def test_send_works_from_another_thread(self, sender: SenderT) -> None:
        """Replaced, for an async sender, by the concurrency test: not collected."""

    test_send_works_from_another_thread.__test__ = False  # type: ignore[attr-defined]

    def test_concurrent_sends_each_reach_the_provider_once(self, sender: SenderT) -> None:
        """Messages awaited at once (as `AsyncScheduler` does) each reach the provider once."""
        messages = [self.make_message(number) for number in range(1, self.concurrent_sends + 1)]

        async def send_all() -> list[str | None]:
            return await asyncio.gather(*(self._send(sender, m) for m in messages))

        keys = self._sent(sender, lambda: self._loop.run_until_complete(send_all()))
        _expect(
            Counter(keys),
            Counter(m.idempotency_key for m in messages),
            "keys the provider received from concurrent sends (in any order)",
        )
