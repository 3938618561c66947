"""WebhookSender against a real HTTP server on loopback, and the signature helper."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
import pytest

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    Scheduler,
    Step,
    on_event,
)
from regua.errors import MissingDependencyError, ReguaError
from regua.ports import Message, PermanentFailure, TemporaryFailure
from regua.records import idempotency_key
from regua.senders.webhook import InvalidSignature, WebhookSender, sign, verify_signature
from regua.testing.contracts import SenderContract

SECRET = "whsec-test"
UTC = timezone.utc


@attrs.frozen
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def json(self) -> dict[str, object]:
        document = json.loads(self.body)
        assert isinstance(document, dict)
        return document


Answer = tuple[int, dict[str, str], bytes]


def ok_with_id(request: Received, number: int) -> Answer:
    return 200, {"Content-Type": "application/json"}, json.dumps({"id": f"msg-{number}"}).encode()


class Loopback:
    """A ThreadingHTTPServer on 127.0.0.1 that records POSTs and answers with `respond`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.respond: Callable[[Received, int], Answer] = ok_with_id
        self.release = threading.Event()  # ends handlers that wait on it
        self._lock = threading.Lock()
        loopback = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                request = Received(
                    self.path,
                    {name.lower(): value for name, value in self.headers.items()},
                    self.rfile.read(length),
                )
                with loopback._lock:
                    loopback.received.append(request)
                    number = len(loopback.received)
                status, headers, body = loopback.respond(request, number)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = False  # server_close() joins every handler thread
            block_on_close = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass  # the client gave up (a timeout test): nothing to report

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks"

    def keys(self) -> list[str]:
        with self._lock:
            return [request.headers["idempotency-key"] for request in self.received]

    def answer(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.respond = lambda request, number: (status, headers or {}, body)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def loopback() -> Iterator[Loopback]:
    server = Loopback()
    yield server
    server.close()


@pytest.fixture
def make_sender(loopback: Loopback) -> Iterator[Callable[..., WebhookSender]]:
    senders: list[WebhookSender] = []

    def make(url: str | dict[str, str] | None = None, **options: object) -> WebhookSender:
        options.setdefault("timeout", 30.0)  # a bound for a hung test, not a speed
        sender = WebhookSender(url or loopback.url, secret=SECRET, **options)  # type: ignore[arg-type]
        senders.append(sender)
        return sender

    yield make
    for sender in senders:
        sender.close()


def message(
    number: int = 1, *, channel: str = "sms", address: str = "+5511990000001", **changes: object
) -> Message:
    occurrence_key = f"shop:cart_reminder:ana:{number}"
    built = Message(
        channel=channel,
        address=address,
        message="cart_reminder",
        payload={"first_name": "João", "total": 129.9, "at": datetime(2026, 5, 4, tzinfo=UTC)},
        contact=Contact("ana", addresses={channel: address}),
        cadence="shop",
        step="cart_reminder",
        occurrence_key=occurrence_key,
        idempotency_key=idempotency_key(occurrence_key),
    )
    return attrs.evolve(built, **changes)


# --- what the server receives --------------------------------------------------------------------


def test_posts_signed_json_with_the_documented_headers(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    sender = make_sender(headers={"Authorization": "Bearer t0ken"})
    sent = message(attempt=2, kind="task")

    before = int(time.time())
    assert sender.send(sent) == "msg-1"
    after = time.time()

    [request] = loopback.received
    headers = request.headers
    assert request.path == "/hooks"
    assert headers["content-type"] == "application/json"
    assert headers["idempotency-key"] == sent.idempotency_key
    assert headers["authorization"] == "Bearer t0ken"
    timestamp = headers["x-regua-timestamp"]
    assert timestamp.isdigit()
    assert before <= int(timestamp) <= after  # signed while sending, in whole seconds
    assert headers["x-regua-signature"].startswith("v1=")
    verify_signature(request.body, timestamp, headers["x-regua-signature"], SECRET)
    assert headers["x-regua-signature"] == sign(request.body, timestamp, SECRET)

    document = request.json()
    sent_at = datetime.fromisoformat(str(document.pop("sent_at")))
    assert sent_at.utcoffset() == timedelta(0)
    assert abs(sent_at.timestamp() - int(timestamp)) < 1.5
    assert document == {
        "channel": "sms",
        "address": "+5511990000001",
        "message": "cart_reminder",
        "payload": {"first_name": "João", "total": 129.9, "at": "2026-05-04T00:00:00+00:00"},
        "contact_id": "ana",
        "cadence": "shop",
        "step": "cart_reminder",
        "occurrence_key": sent.occurrence_key,
        "idempotency_key": sent.idempotency_key,
        "attempt": 2,
        "kind": "task",
    }
    assert "João".encode() in request.body  # UTF-8, not \\u escapes


def test_signature_is_hmac_sha256_over_timestamp_dot_body(loopback: Loopback) -> None:
    import hashlib
    import hmac

    with WebhookSender(loopback.url, secret=SECRET.encode()) as sender:
        sender.send(message())
    [request] = loopback.received
    timestamp = request.headers["x-regua-timestamp"]
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert request.headers["x-regua-signature"] == f"v1={expected}"


def test_a_2xx_without_an_id_is_sent_with_no_provider_id(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    sender = make_sender()
    loopback.answer(202)
    assert sender.send(message()) is None
    loopback.answer(200, {"Content-Type": "text/plain"}, b"ok")
    assert sender.send(message()) is None
    loopback.answer(201, {"Content-Type": "application/json"}, b'{"id": 42}')
    assert sender.send(message()) == "42"
    assert len(loopback.received) == 3


def test_per_channel_urls(loopback: Loopback, make_sender: Callable[..., WebhookSender]) -> None:
    base = loopback.url.removesuffix("/hooks")
    sender = make_sender({"sms": f"{base}/sms", "phone": f"{base}/crm/tasks"})

    sender.send(message(channel="sms"))
    sender.send(message(2, channel="phone", address="+551130000000", kind="task"))

    assert [r.path for r in loopback.received] == ["/sms", "/crm/tasks"]
    assert [r.json()["channel"] for r in loopback.received] == ["sms", "phone"]
    with pytest.raises(PermanentFailure, match="no webhook URL for channel 'email'"):
        sender.send(message(channel="email", address="ana@example.com"))
    assert len(loopback.received) == 2


# --- failures ------------------------------------------------------------------------------------


def test_429_with_retry_after_seconds_is_temporary(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    loopback.answer(429, {"Retry-After": "120"})
    with pytest.raises(TemporaryFailure, match="HTTP 429") as raised:
        make_sender().send(message())
    assert raised.value.retry_after == timedelta(seconds=120)


def test_429_with_retry_after_http_date_is_temporary(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    later = (datetime.now(UTC) + timedelta(seconds=90)).replace(microsecond=0)
    loopback.answer(429, {"Retry-After": format_datetime(later, usegmt=True)})
    sender = make_sender()
    before = datetime.now(UTC)
    with pytest.raises(TemporaryFailure) as raised:
        sender.send(message())
    after = datetime.now(UTC)
    # From the moment the answer was read, however long the request took.
    retry_after = raised.value.retry_after
    assert retry_after is not None
    assert max(timedelta(0), later - after) <= retry_after <= later - before


def test_429_with_a_past_or_garbled_retry_after(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    sender = make_sender()
    loopback.answer(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(TemporaryFailure) as raised:
        sender.send(message())
    assert raised.value.retry_after == timedelta(0)
    loopback.answer(429, {"Retry-After": "soon"})
    with pytest.raises(TemporaryFailure) as raised:
        sender.send(message())
    assert raised.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_5xx_and_408_are_temporary(
    loopback: Loopback, make_sender: Callable[..., WebhookSender], status: int
) -> None:
    loopback.answer(status, body=b"upstream down")
    with pytest.raises(TemporaryFailure, match=f"HTTP {status}") as raised:
        make_sender().send(message())
    assert raised.value.retry_after is None
    assert "/hooks" not in str(raised.value)  # the path may hold a token: never in logs


def test_503_with_retry_after_passes_it_on(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    loopback.answer(503, {"Retry-After": "30"})
    with pytest.raises(TemporaryFailure) as raised:
        make_sender().send(message())
    assert raised.value.retry_after == timedelta(seconds=30)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_4xx_are_permanent_with_status_and_body(
    loopback: Loopback, make_sender: Callable[..., WebhookSender], status: int
) -> None:
    loopback.answer(status, body=b'{"error": "invalid phone number"}\n' + b"x" * 1000)
    with pytest.raises(PermanentFailure) as raised:
        make_sender().send(message())
    text = str(raised.value)
    assert f"HTTP {status}" in text
    assert '{"error": "invalid phone number"}' in text
    assert len(text) < 400  # an excerpt, not the whole body
    assert not isinstance(raised.value, TemporaryFailure)


def echo(status: int) -> Callable[[Received, int], Answer]:
    """A receiver that refuses the message, quoting back the whole request it received."""

    def respond(request: Received, number: int) -> Answer:
        body = b'{"error": "invalid destination", "received": ' + request.body + b"}"
        return status, {"Content-Type": "application/json"}, body

    return respond


# What a message holds about its contact; a receiver that echoes the request sends them back.
PERSONAL = ["+5511990000001", "João", "Jo\\u00e3o", "Ana Souza", "ana.souza@example.com"]


def a_personal_message() -> Message:
    contact = Contact(
        "ana",
        addresses={"sms": "+5511990000001", "email": "ana.souza@example.com"},
        attributes={"name": "Ana Souza"},
    )
    return message(contact=contact)


def test_a_refusal_that_echoes_the_request_is_quoted_without_personal_data(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    loopback.respond = echo(422)
    with pytest.raises(PermanentFailure) as raised:
        make_sender().send(a_personal_message())
    text = str(raised.value)
    assert text.startswith("webhook http://127.0.0.1:")
    assert 'HTTP 422 Unprocessable Entity: {"error": "invalid destination", "received": {' in text
    assert [value for value in PERSONAL if value.lower() in text.lower()] == []
    assert "\n" not in text
    assert len(text) < 400


def test_a_failed_delivery_records_and_logs_no_personal_data(
    loopback: Loopback,
    make_sender: Callable[..., WebhookSender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="regua")
    scheduler, repository = scheduler_with(make_sender())
    repository.upsert_contact(a_personal_message().contact)
    loopback.respond = echo(422)

    scheduler.tick(T0)

    [failed] = repository.failed_deliveries()
    assert failed.reason is not None
    assert "HTTP 422" in failed.reason
    logged = [record.getMessage() for record in caplog.records]
    assert any("HTTP 422" in line for line in logged)
    for text in [failed.reason, *logged]:
        assert [value for value in PERSONAL if value.lower() in text.lower()] == [], text


def test_redirects_are_not_followed(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    loopback.answer(302, {"Location": "https://elsewhere.example/hooks?token=1"})
    with pytest.raises(PermanentFailure, match=r"HTTP 302.*https://elsewhere\.example"):
        make_sender().send(message())
    assert len(loopback.received) == 1


def test_a_server_slower_than_the_timeout_is_temporary(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    def slow(request: Received, number: int) -> Answer:
        loopback.release.wait()  # released at teardown: never answers in time
        return 200, {}, b""

    loopback.respond = slow
    with pytest.raises(TemporaryFailure, match=r"timed out after 0\.2 s"):
        make_sender(timeout=0.2).send(message())


def test_connection_refused_is_temporary(make_sender: Callable[..., WebhookSender]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TemporaryFailure, match="unreachable"):
        make_sender(f"http://127.0.0.1:{port}/hooks").send(message())


# --- construction --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "options", "error"),
    [
        ("ftp://example.com/x", {}, "http:// or https://"),
        ({}, {}, "is empty"),
        ({"sms": "example.com"}, {}, "channel 'sms'"),
        ("https://example.com", {"secret": ""}, "secret must not be empty"),
        ("https://example.com", {"timeout": 0}, "timeout must be positive"),
        ("https://example.com", {"headers": {"idempotency-key": "x"}}, "may not set"),
    ],
)
def test_invalid_configuration_fails_at_construction(
    url: str | dict[str, str], options: dict[str, object], error: str
) -> None:
    options.setdefault("secret", SECRET)
    with pytest.raises(ValueError, match=error):
        WebhookSender(url, **options)  # type: ignore[arg-type]


def test_without_httpx_construction_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from regua.senders import webhook

    monkeypatch.setattr(webhook, "_HAVE_HTTPX", False)
    with pytest.raises(MissingDependencyError, match=r"pip install 'regua\[http\]'"):
        WebhookSender("https://example.com", secret=SECRET)


def test_a_client_passed_in_is_used_and_not_closed(loopback: Loopback) -> None:
    import httpx

    with httpx.Client() as client:
        with WebhookSender(loopback.url, secret=SECRET, client=client) as sender:
            assert sender.send(message()) == "msg-1"
        assert not client.is_closed
    assert "127.0.0.1" in repr(sender)


# --- the contract --------------------------------------------------------------------------------


class TestWebhookSenderContract(SenderContract[WebhookSender]):
    channel = "sms"
    address = "+5511990000001"

    @pytest.fixture
    def sender(self, make_sender: Callable[..., WebhookSender]) -> WebhookSender:
        return make_sender()

    @pytest.fixture
    def temporarily_failing_sender(
        self, loopback: Loopback, make_sender: Callable[..., WebhookSender]
    ) -> WebhookSender:
        loopback.answer(503)
        return make_sender()

    @pytest.fixture
    def permanently_failing_sender(
        self, loopback: Loopback, make_sender: Callable[..., WebhookSender]
    ) -> WebhookSender:
        loopback.answer(400, body=b"invalid recipient")
        return make_sender()

    @pytest.fixture(autouse=True)
    def _server(self, loopback: Loopback) -> None:
        self.loopback = loopback

    def delivered_keys(self, sender: WebhookSender) -> list[str]:
        return self.loopback.keys()


# --- verify_signature ----------------------------------------------------------------------------

BODY = b'{"channel":"sms","idempotency_key":"abc"}'
NOW = 1_780_000_000


def test_verify_accepts_a_valid_signature() -> None:
    signature = sign(BODY, str(NOW), SECRET)
    assert verify_signature(BODY, str(NOW), signature, SECRET, now=NOW) is None
    verify_signature(BODY, str(NOW), signature, SECRET.encode(), now=NOW + 299)
    verify_signature(BODY, str(NOW), signature, SECRET, now=datetime.fromtimestamp(NOW, UTC))
    # several entries (a secret rotation): any one matching is enough
    other = sign(BODY, str(NOW), "old-secret")
    verify_signature(BODY, str(NOW), f"{other}, {signature}", SECRET, now=NOW)


def test_verify_rejects_a_tampered_body() -> None:
    signature = sign(BODY, str(NOW), SECRET)
    with pytest.raises(InvalidSignature, match="mismatch") as raised:
        verify_signature(BODY.replace(b"sms", b"sm5"), str(NOW), signature, SECRET, now=NOW)
    assert raised.value.reason == "mismatch"
    assert isinstance(raised.value, ReguaError)


def test_verify_rejects_a_tampered_timestamp() -> None:
    signature = sign(BODY, str(NOW), SECRET)
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(BODY, str(NOW + 1), signature, SECRET, now=NOW)


def test_verify_rejects_the_wrong_secret() -> None:
    signature = sign(BODY, str(NOW), "another-secret")
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(BODY, str(NOW), signature, SECRET, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        (str(NOW), ""),
        (str(NOW), "abc"),
        (str(NOW), "v2=" + "0" * 64),
        (str(NOW), "v1=" + "0" * 63),
        (str(NOW), "v1=" + "G" * 64),
        (str(NOW), "sha256=" + "0" * 64),
        ("", "v1=" + "0" * 64),
        ("12.5", "v1=" + "0" * 64),
        ("-5", "v1=" + "0" * 64),
        ("yesterday", "v1=" + "0" * 64),
    ],
)
def test_verify_rejects_malformed_headers(timestamp: str, signature: str) -> None:
    with pytest.raises(InvalidSignature, match="malformed") as raised:
        verify_signature(BODY, timestamp, signature, SECRET, now=NOW)
    assert raised.value.reason == "format"


def test_verify_rejects_a_timestamp_too_old() -> None:
    signature = sign(BODY, str(NOW), SECRET)
    with pytest.raises(InvalidSignature, match="too old") as raised:
        verify_signature(BODY, str(NOW), signature, SECRET, now=NOW + 301)
    assert raised.value.reason == "expired"
    verify_signature(BODY, str(NOW), signature, SECRET, now=NOW + 3600, tolerance=3600)
    with pytest.raises(InvalidSignature, match="too old"):
        verify_signature(
            BODY, str(NOW), signature, SECRET, now=NOW + 61, tolerance=timedelta(minutes=1)
        )


def test_verify_rejects_a_timestamp_too_far_in_the_future() -> None:
    signature = sign(BODY, str(NOW), SECRET)
    with pytest.raises(InvalidSignature, match="future") as raised:
        verify_signature(BODY, str(NOW), signature, SECRET, now=NOW - 301)
    assert raised.value.reason == "future"
    verify_signature(BODY, str(NOW), signature, SECRET, now=NOW - 300)


def test_verify_rejects_a_naive_now() -> None:
    signature = sign(BODY, str(NOW), SECRET)
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_signature(BODY, str(NOW), signature, SECRET, now=datetime(2026, 1, 1))


# --- with the scheduler --------------------------------------------------------------------------

T0 = datetime(2026, 5, 4, 15, tzinfo=UTC)


def scheduler_with(sender: WebhookSender) -> tuple[Scheduler, InMemoryRepository]:
    cadence = Cadence(
        "shop",
        channels=[Channel("sms", cost=0.05)],
        steps=[
            Step("confirm", trigger=on_event("order_placed"), channels=["sms"], transactional=True)
        ],
    )
    repository = InMemoryRepository()
    repository.upsert_contact(Contact("ana", addresses={"sms": "+5511990000001"}))
    repository.record_event(Event("ana", "order_placed", T0, id="order-1", data={"order": "A1"}))
    return Scheduler([cadence], repository=repository, senders={"sms": sender}), repository


def test_the_scheduler_sends_a_due_action_through_the_webhook(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    scheduler, _ = scheduler_with(make_sender())
    [action] = scheduler.preview(T0)

    report = scheduler.tick(T0)

    assert len(report.sent) == 1
    [request] = loopback.received
    assert request.headers["idempotency-key"] == action.idempotency_key
    document = request.json()
    assert document["occurrence_key"] == action.occurrence_key
    assert document["payload"] == {"order": "A1"}
    assert scheduler.tick(T0 + timedelta(minutes=1)).sent == ()
    assert len(loopback.received) == 1


def test_a_503_makes_the_scheduler_defer_then_retry_with_the_same_key(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    scheduler, _ = scheduler_with(make_sender())
    loopback.answer(503, {"Retry-After": "600"})

    report = scheduler.tick(T0)

    assert report.sent == ()
    [claim] = report.deferred
    assert claim.attempts == 1
    assert claim.until >= T0 + timedelta(seconds=600)
    assert "HTTP 503" in (claim.last_error or "")

    loopback.respond = ok_with_id
    retried = scheduler.tick(claim.until + timedelta(seconds=1))
    assert len(retried.sent) == 1
    first, second = loopback.received
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert (first.json()["attempt"], second.json()["attempt"]) == (1, 2)
