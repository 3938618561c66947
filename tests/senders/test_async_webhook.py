"""AsyncWebhookSender: the webhook request and answers of WebhookSender, on httpx.AsyncClient."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from datetime import timedelta

import attrs
import httpx
import pytest
from standardwebhooks import Webhook

from regua import Contact
from regua.errors import MissingDependencyError
from regua.ports import Message, PermanentFailure, TemporaryFailure
from regua.senders import webhook
from regua.senders.webhook import (
    AsyncWebhookSender,
    InvalidSignature,
    WebhookSender,
    verify_signature,
)
from regua.testing.contracts import AsyncSenderContract
from tests.senders.test_webhook import (
    KEY,
    PERSONAL,
    PLAIN_SECRET,
    SECRET,
    Loopback,
    a_personal_message,
    echo,
    standard_receiver,
)

MessageFactory = Callable[[], Message]


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    yield server
    server.close()


def a_message() -> Message:
    class Suite(AsyncSenderContract[AsyncWebhookSender]):
        channel = "sms"
        address = "+5511990000001"

    return Suite().make_message()


def send(sender: AsyncWebhookSender, message: Message) -> str | None:
    async def go() -> str | None:
        async with sender:
            return await sender.send(message)

    return asyncio.run(go())


class TestAsyncWebhookSenderContract(AsyncSenderContract[AsyncWebhookSender]):
    channel = "sms"
    address = "+5511990000001"

    @pytest.fixture(autouse=True)
    def _server(self, loopback: Loopback) -> None:
        self.loopback = loopback

    def _make(self, loop: asyncio.AbstractEventLoop) -> Iterator[AsyncWebhookSender]:
        sender = AsyncWebhookSender(self.loopback.url, secret=SECRET, timeout=30.0)
        yield sender
        loop.run_until_complete(sender.aclose())

    @pytest.fixture
    def sender(self, loop: asyncio.AbstractEventLoop) -> Iterator[AsyncWebhookSender]:
        yield from self._make(loop)

    @pytest.fixture
    def temporarily_failing_sender(
        self, loop: asyncio.AbstractEventLoop
    ) -> Iterator[AsyncWebhookSender]:
        self.loopback.answer(503)
        yield from self._make(loop)

    @pytest.fixture
    def permanently_failing_sender(
        self, loop: asyncio.AbstractEventLoop
    ) -> Iterator[AsyncWebhookSender]:
        self.loopback.answer(400, body=b"invalid recipient")
        yield from self._make(loop)

    def delivered_keys(self, sender: AsyncWebhookSender) -> list[str]:
        return self.loopback.keys()


def test_the_request_is_the_one_the_synchronous_sender_makes(loopback: Loopback) -> None:
    message = a_message()
    with WebhookSender(loopback.url, secret=SECRET, headers={"Authorization": "Bearer t"}) as sync:
        assert sync.send(message) == "msg-1"
    asynchronous = AsyncWebhookSender(
        loopback.url, secret=SECRET, headers={"Authorization": "Bearer t"}
    )
    assert send(asynchronous, message) == "msg-2"
    first, second = loopback.received
    for request in (first, second):
        verify_signature(request.body, request.headers, SECRET)
        Webhook(SECRET).verify(request.body, request.headers)
        assert request.headers["idempotency-key"] == message.idempotency_key
        assert request.headers["webhook-id"] == message.idempotency_key
        assert request.headers["authorization"] == "Bearer t"
        assert request.path == "/hooks"
    assert first.headers.keys() == second.headers.keys()
    documents = [json.loads(r.body) for r in (first, second)]
    for document in documents:
        document.pop("sent_at")
    assert documents[0] == documents[1]
    assert documents[0]["variant"] is None
    assert documents[0]["locale"] is None


@pytest.mark.parametrize(
    ("secret", "reference_secret"),
    [(SECRET, SECRET), (KEY, SECRET), (PLAIN_SECRET, PLAIN_SECRET.encode())],
    ids=["whsec", "bytes", "plain-str"],
)
def test_the_reference_implementation_verifies_what_the_sender_signs(
    loopback: Loopback, secret: str | bytes, reference_secret: str | bytes
) -> None:
    loopback.respond = standard_receiver(reference_secret)
    message = attrs.evolve(
        a_message(),
        variant="b",
        contact=Contact("c1", addresses={"sms": "+5511990000001"}, attributes={"locale": "es-AR"}),
    )
    assert send(AsyncWebhookSender(loopback.url, secret=secret), message) == (
        f"{message.idempotency_key}-1"
    )
    [request] = loopback.received
    document = Webhook(reference_secret).verify(request.body, request.headers)
    assert (document["variant"], document["locale"]) == ("b", "es-AR")
    verify_signature(request.body, request.headers, secret)


def test_tampered_wrong_secret_and_stale_requests_fail(loopback: Loopback) -> None:
    assert send(AsyncWebhookSender(loopback.url, secret=SECRET), a_message()) == "msg-1"
    [request] = loopback.received
    stamp = int(request.headers["webhook-timestamp"])
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(request.body.replace(b"sms", b"sm5"), request.headers, SECRET)
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(request.body, request.headers, PLAIN_SECRET)
    with pytest.raises(InvalidSignature, match="too old"):
        verify_signature(request.body, request.headers, SECRET, now=stamp + 301)

    loopback.respond = standard_receiver("whsec_" + "QQ==" * 6)  # another key
    with pytest.raises(PermanentFailure, match="HTTP 401"):
        send(AsyncWebhookSender(loopback.url, secret=SECRET), a_message())


@pytest.mark.parametrize(
    ("status", "headers", "failure", "text"),
    [
        (429, {"Retry-After": "7"}, TemporaryFailure, "HTTP 429"),
        (502, {}, TemporaryFailure, "HTTP 502"),
        (301, {"Location": "https://elsewhere.example/x"}, PermanentFailure, "not followed"),
        (422, {}, PermanentFailure, "HTTP 422"),
    ],
)
def test_answers_map_to_the_outcomes_of_the_synchronous_sender(
    loopback: Loopback,
    status: int,
    headers: dict[str, str],
    failure: type[Exception],
    text: str,
) -> None:
    loopback.answer(status, headers, b"nope")
    message = a_message()
    with pytest.raises(failure) as synchronous, WebhookSender(loopback.url, secret=SECRET) as sync:
        sync.send(message)
    with pytest.raises(failure) as asynchronous:
        send(AsyncWebhookSender(loopback.url, secret=SECRET), message)
    assert text in str(asynchronous.value)
    assert str(asynchronous.value) == str(synchronous.value)
    if status == 429:
        assert isinstance(asynchronous.value, TemporaryFailure)
        assert asynchronous.value.retry_after == timedelta(seconds=7)


def test_a_refusal_that_echoes_the_request_is_quoted_without_personal_data(
    loopback: Loopback,
) -> None:
    loopback.respond = echo(422)
    with pytest.raises(PermanentFailure) as raised:
        send(AsyncWebhookSender(loopback.url, secret=SECRET), a_personal_message())
    text = str(raised.value)
    assert "HTTP 422 Unprocessable Entity: {" in text
    assert [value for value in PERSONAL if value.lower() in text.lower()] == []


def test_a_timeout_and_a_refused_connection_are_temporary() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    client = httpx.AsyncClient(transport=httpx.MockTransport(slow))
    sender = AsyncWebhookSender(
        "https://hooks.example/p?token=secret", secret=SECRET, client=client
    )
    with pytest.raises(TemporaryFailure, match=r"https://hooks\.example timed out after 10 s"):
        send(sender, a_message())
    assert not client.is_closed, "a client passed in is the caller's to close"
    asyncio.run(client.aclose())

    with pytest.raises(TemporaryFailure, match="unreachable") as raised:
        send(AsyncWebhookSender("http://127.0.0.1:9/hooks?token=s3", secret=SECRET), a_message())
    assert "s3" not in str(raised.value)


def test_configuration_errors_are_those_of_the_synchronous_sender(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match="must be an http"):
        AsyncWebhookSender("ftp://x", secret=SECRET)
    with pytest.raises(ValueError, match="may not set Idempotency-Key"):
        AsyncWebhookSender("http://x", secret=SECRET, headers={"Idempotency-Key": "1"})
    with pytest.raises(ValueError, match="max_connections"):
        AsyncWebhookSender("http://x", secret=SECRET, max_connections=0)
    assert repr(AsyncWebhookSender("http://x:81/p?t=1", secret=SECRET)) == (
        "AsyncWebhookSender('http://x:81', timeout=10)"
    )
    monkeypatch.setattr(webhook, "_HAVE_HTTPX", False)
    with pytest.raises(MissingDependencyError, match=r"AsyncWebhookSender.*regua\[http\]"):
        AsyncWebhookSender("http://x", secret=SECRET)
