"""WebhookSender against a real HTTP server on loopback, and the signature helpers.

Signatures are checked both ways against ``standardwebhooks``, the reference implementation
of Standard Webhooks: it verifies what the sender signs, and `verify_signature` verifies what
it signs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
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
import httpx
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

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

KEY = b"regua-test-key-of-24-b\x00\xff"
SECRET = "whsec_" + base64.b64encode(KEY).decode()  # the Standard Webhooks form
PLAIN_SECRET = "a shared secret, não base64"  # any other str: its UTF-8 bytes are the key
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
    assert headers["webhook-id"] == sent.idempotency_key
    assert headers["authorization"] == "Bearer t0ken"
    timestamp = headers["webhook-timestamp"]
    assert timestamp.isdigit()
    assert before <= int(timestamp) <= after  # signed while sending, in whole seconds
    assert headers["webhook-signature"].startswith("v1,")
    assert not any(name.startswith("x-regua") for name in headers)  # the former scheme is gone
    verify_signature(request.body, headers, SECRET)
    assert headers["webhook-signature"] == sign(
        request.body, webhook_id=sent.idempotency_key, timestamp=timestamp, secret=SECRET
    )

    document = request.json()
    sent_at = datetime.fromisoformat(str(document.pop("sent_at")))
    assert sent_at.utcoffset() == timedelta(0)
    assert abs(sent_at.timestamp() - int(timestamp)) < 1.5
    assert document == {
        "channel": "sms",
        "address": "+5511990000001",
        "message": "cart_reminder",
        "variant": None,
        "payload": {"first_name": "João", "total": 129.9, "at": "2026-05-04T00:00:00+00:00"},
        "contact_id": "ana",
        "locale": None,
        "cadence": "shop",
        "step": "cart_reminder",
        "occurrence_key": sent.occurrence_key,
        "idempotency_key": sent.idempotency_key,
        "attempt": 2,
        "kind": "task",
    }
    assert "João".encode() in request.body  # UTF-8, not \\u escapes


def test_the_body_carries_the_variant_and_the_contact_locale(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    contact = Contact("ana", addresses={"sms": "+5511990000001"}, attributes={"locale": "pt_br"})
    make_sender().send(message(contact=contact, variant="short_copy"))
    not_a_tag = Contact("bia", addresses={"sms": "+5511990000002"}, attributes={"locale": "?"})
    make_sender().send(message(contact=not_a_tag))
    first, second = (request.json() for request in loopback.received)
    assert (first["variant"], first["locale"]) == ("short_copy", "pt-BR")  # as the renderer
    assert (second["variant"], second["locale"]) == (None, None)


def test_signature_is_hmac_sha256_over_id_timestamp_body(loopback: Loopback) -> None:
    with WebhookSender(loopback.url, secret=KEY) as sender:
        sender.send(message())
    [request] = loopback.received
    signed = "{}.{}.".format(request.headers["webhook-id"], request.headers["webhook-timestamp"])
    digest = hmac.new(KEY, signed.encode() + request.body, hashlib.sha256).digest()
    assert request.headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()


def test_every_retry_of_one_occurrence_has_the_same_webhook_id(
    loopback: Loopback, make_sender: Callable[..., WebhookSender]
) -> None:
    sender = make_sender()
    sender.send(message(1))
    sender.send(message(1, attempt=2))
    sender.send(message(2))
    first, retry, other = (request.headers["webhook-id"] for request in loopback.received)
    assert first == retry == idempotency_key("shop:cart_reminder:ana:1")
    assert other != first


# --- against the reference implementation ---------------------------------------------------------


def standard_receiver(secret: str | bytes) -> Callable[[Received, int], Answer]:
    """A receiver that checks each request with ``standardwebhooks``: 401 when it fails."""

    def respond(request: Received, number: int) -> Answer:
        try:
            document = Webhook(secret).verify(request.body, request.headers)
        except WebhookVerificationError as error:
            return 401, {"Content-Type": "text/plain"}, str(error).encode()
        return (
            200,
            {"Content-Type": "application/json"},
            json.dumps({"id": f"{document['idempotency_key']}-{number}"}).encode(),
        )

    return respond


@pytest.mark.parametrize(
    ("secret", "reference_secret"),
    [
        (SECRET, SECRET),  # whsec_ + base64: the same string on both sides
        (KEY, KEY),  # the key bytes
        (KEY, SECRET),
        (PLAIN_SECRET, PLAIN_SECRET.encode()),  # a plain str is its UTF-8 bytes
        (PLAIN_SECRET, "whsec_" + base64.b64encode(PLAIN_SECRET.encode()).decode()),
    ],
    ids=["whsec", "bytes", "bytes-whsec", "plain-str", "plain-str-whsec"],
)
def test_the_reference_implementation_verifies_what_the_sender_signs(
    loopback: Loopback, secret: str | bytes, reference_secret: str | bytes
) -> None:
    loopback.respond = standard_receiver(reference_secret)
    sent = message()
    with WebhookSender(loopback.url, secret=secret) as sender:
        assert sender.send(sent) == f"{sent.idempotency_key}-1"
    [request] = loopback.received
    assert Webhook(reference_secret).verify(request.body, request.headers)["message"] == (
        "cart_reminder"
    )
    verify_signature(request.body, request.headers, reference_secret)


def test_a_receiver_with_another_secret_refuses_the_request(loopback: Loopback) -> None:
    loopback.respond = standard_receiver("whsec_" + base64.b64encode(b"another key").decode())
    with (
        WebhookSender(loopback.url, secret=SECRET) as sender,
        pytest.raises(PermanentFailure, match="HTTP 401"),
    ):
        sender.send(message())


def test_verify_signature_accepts_what_the_reference_implementation_signs(
    loopback: Loopback,
) -> None:
    body = json.dumps({"channel": "sms", "address": "+5511990000001"}).encode()
    signed_at = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_2fQhmHhZ7rYOkPqW",
        "webhook-timestamp": str(int(signed_at.timestamp())),
        "webhook-signature": Webhook(SECRET).sign("msg_2fQhmHhZ7rYOkPqW", signed_at, body),
    }
    httpx.post(loopback.url, content=body, headers=headers).raise_for_status()
    [request] = loopback.received
    assert request.body == body
    verify_signature(request.body, request.headers, SECRET)
    verify_signature(request.body, request.headers, KEY)
    with pytest.raises(InvalidSignature) as raised:
        verify_signature(request.body + b" ", request.headers, SECRET)
    assert raised.value.reason == "mismatch"


def test_tampered_wrong_secret_and_stale_requests_fail_on_both_sides(loopback: Loopback) -> None:
    with WebhookSender(loopback.url, secret=SECRET) as sender:
        sender.send(message())
    [request] = loopback.received
    body, headers = request.body, request.headers
    stamp = int(headers["webhook-timestamp"])
    tampered = body.replace(b"cart_reminder", b"cart_remindeR")
    wrong = "whsec_" + base64.b64encode(b"a wrong key").decode()
    stale = {
        **headers,
        "webhook-timestamp": str(stamp - 600),
        "webhook-signature": sign(
            body, webhook_id=headers["webhook-id"], timestamp=stamp - 600, secret=SECRET
        ),
    }
    other_id = {**headers, "webhook-id": "another-id"}

    for bad_body, bad_headers, secret, reason in [
        (tampered, headers, SECRET, "mismatch"),
        (body, other_id, SECRET, "mismatch"),
        (body, headers, wrong, "mismatch"),
        (body, stale, SECRET, "expired"),
    ]:
        with pytest.raises(InvalidSignature) as raised:
            verify_signature(bad_body, bad_headers, secret)
        assert raised.value.reason == reason
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(bad_body, bad_headers)
    Webhook(SECRET).verify(body, headers)  # the untouched request passes


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
        ("https://example.com", {"secret": b""}, "secret must not be empty"),
        ("https://example.com", {"secret": "whsec_"}, "secret must not be empty"),
        ("https://example.com", {"secret": "whsec_not base64!"}, "base64 of the key"),
        ("https://example.com", {"secret": "whsec_AAA-_w"}, "standard alphabet"),
        ("https://example.com", {"timeout": 0}, "timeout must be positive"),
        ("https://example.com", {"headers": {"idempotency-key": "x"}}, "may not set"),
        ("https://example.com", {"headers": {"Webhook-Signature": "x"}}, "may not set"),
        ("https://example.com", {"headers": {"webhook-id": "x"}}, "may not set"),
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


# --- sign and verify_signature -------------------------------------------------------------------

BODY = b'{"channel":"sms","idempotency_key":"abc"}'
NOW = 1_780_000_000
ID = "abc"


def signed(
    body: bytes = BODY, *, secret: str | bytes = SECRET, stamp: int | str = NOW, **changes: str
) -> dict[str, str]:
    """The headers of a request with `body`, signed at `stamp`, then altered by `changes`."""
    headers = {
        "webhook-id": ID,
        "webhook-timestamp": str(stamp),
        "webhook-signature": sign(body, webhook_id=ID, timestamp=stamp, secret=secret),
    }
    return {**headers, **{name.replace("_", "-"): value for name, value in changes.items()}}


def test_sign_matches_the_reference_implementation() -> None:
    at = datetime.fromtimestamp(NOW, UTC)
    for secret, reference in [(SECRET, SECRET), (KEY, KEY), (PLAIN_SECRET, PLAIN_SECRET.encode())]:
        assert sign(BODY, webhook_id=ID, timestamp=NOW, secret=secret) == Webhook(reference).sign(
            ID, at, BODY
        )
    # The example secret of the specification, as printed (with its padding, or without).
    example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    assert sign(BODY, webhook_id=ID, timestamp=NOW, secret=example) == Webhook(example).sign(
        ID, at, BODY
    )
    unpadded = "whsec_" + base64.b64encode(b"12345").decode().rstrip("=")
    assert sign(BODY, webhook_id=ID, timestamp=str(NOW), secret=unpadded) == sign(
        BODY, webhook_id=ID, timestamp=NOW, secret=b"12345"
    )
    with pytest.raises(ValueError, match="whole Unix seconds"):
        sign(BODY, webhook_id=ID, timestamp="12.5", secret=SECRET)


def test_the_secret_forms() -> None:
    def signature(secret: str | bytes) -> str:
        return sign(BODY, webhook_id=ID, timestamp=NOW, secret=secret)

    assert signature(SECRET) == signature(KEY) == signature(bytearray(KEY))
    assert signature(PLAIN_SECRET) == signature(PLAIN_SECRET.encode("utf-8"))
    assert signature("whsec-test") == signature(b"whsec-test")  # no "whsec_": plain text
    assert signature(SECRET) != signature(SECRET.encode())


def test_verify_accepts_a_valid_signature() -> None:
    headers = signed()
    assert verify_signature(BODY, headers, SECRET, now=NOW) is None
    verify_signature(BODY, headers, KEY, now=NOW + 299)
    verify_signature(BODY, headers, SECRET, now=datetime.fromtimestamp(NOW, UTC))
    # names in any case, any mapping
    verify_signature(
        BODY, {name.title(): value for name, value in headers.items()}, SECRET, now=NOW
    )
    verify_signature(BODY, httpx.Headers(headers), SECRET, now=NOW)
    # a plain str secret on both sides
    verify_signature(BODY, signed(secret=PLAIN_SECRET), PLAIN_SECRET, now=NOW)


def test_verify_accepts_any_of_several_signatures() -> None:
    """A secret rotation: signed with the old and the new secret, any one matching is enough."""
    mine = signed()["webhook-signature"]
    old = signed(secret=b"the old key")["webhook-signature"]
    verify_signature(BODY, signed(webhook_signature=f"{old} {mine}"), SECRET, now=NOW)
    verify_signature(BODY, signed(webhook_signature=f"{mine}  {old}"), SECRET, now=NOW)
    # signatures of other versions (v1a: asymmetric) are skipped
    verify_signature(BODY, signed(webhook_signature=f"v1a,c2lnbmF0dXJl {mine}"), SECRET, now=NOW)
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(BODY, signed(webhook_signature=old), SECRET, now=NOW)


def test_verify_rejects_a_tampered_body() -> None:
    with pytest.raises(InvalidSignature, match="mismatch") as raised:
        verify_signature(BODY.replace(b"sms", b"sm5"), signed(), SECRET, now=NOW)
    assert raised.value.reason == "mismatch"
    assert isinstance(raised.value, ReguaError)


def test_verify_rejects_a_tampered_timestamp_or_id() -> None:
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(BODY, signed(webhook_timestamp=str(NOW + 1)), SECRET, now=NOW)
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(BODY, signed(webhook_id="abd"), SECRET, now=NOW)


def test_verify_rejects_the_wrong_secret() -> None:
    with pytest.raises(InvalidSignature, match="mismatch"):
        verify_signature(BODY, signed(secret="another-secret"), SECRET, now=NOW)
    with pytest.raises(InvalidSignature, match="mismatch"):  # whsec_ decoded, not its text
        verify_signature(BODY, signed(secret=SECRET.encode()), SECRET, now=NOW)


GOOD = sign(BODY, webhook_id=ID, timestamp=NOW, secret=SECRET)


@pytest.mark.parametrize(
    "changes",
    [
        {"webhook_id": ""},
        {"webhook_timestamp": ""},
        {"webhook_timestamp": "12.5"},
        {"webhook_timestamp": "-5"},
        {"webhook_timestamp": "yesterday"},
        {"webhook_signature": ""},
        {"webhook_signature": "abc"},
        {"webhook_signature": "v1=" + "0" * 64},  # regua's former scheme
        {"webhook_signature": "v1," + GOOD[3:-2]},
        {"webhook_signature": "v1," + GOOD[3:].replace("=", "")},
        {"webhook_signature": "v1," + GOOD[3:-1] + "-"},
        {"webhook_signature": "v2," + GOOD[3:]},
        {"webhook_signature": f",{GOOD[3:]}"},
        {"webhook_signature": f"{GOOD} v1,short"},
    ],
    ids=repr,
)
def test_verify_rejects_malformed_headers(changes: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature, match=r"malformed|missing") as raised:
        verify_signature(BODY, signed(**changes), SECRET, now=NOW)
    assert raised.value.reason == "format"


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_verify_rejects_a_missing_header(name: str) -> None:
    headers = signed()
    del headers[name]
    with pytest.raises(InvalidSignature, match=name) as raised:
        verify_signature(BODY, headers, SECRET, now=NOW)
    assert raised.value.reason == "format"


def test_verify_rejects_a_timestamp_too_old() -> None:
    headers = signed()
    with pytest.raises(InvalidSignature, match="too old") as raised:
        verify_signature(BODY, headers, SECRET, now=NOW + 301)
    assert raised.value.reason == "expired"
    verify_signature(BODY, headers, SECRET, now=NOW + 3600, tolerance=3600)
    with pytest.raises(InvalidSignature, match="too old"):
        verify_signature(BODY, headers, SECRET, now=NOW + 61, tolerance=timedelta(minutes=1))


def test_verify_rejects_a_timestamp_too_far_in_the_future() -> None:
    headers = signed()
    with pytest.raises(InvalidSignature, match="future") as raised:
        verify_signature(BODY, headers, SECRET, now=NOW - 301)
    assert raised.value.reason == "future"
    verify_signature(BODY, headers, SECRET, now=NOW - 300)


def test_verify_rejects_a_naive_now_and_a_bad_secret() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify_signature(BODY, signed(), SECRET, now=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="must not be empty"):
        verify_signature(BODY, signed(), "", now=NOW)
    with pytest.raises(ValueError, match="base64"):
        verify_signature(BODY, signed(), "whsec_%%%", now=NOW)


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
    assert (
        first.headers["webhook-id"]
        == second.headers["webhook-id"]
        == (idempotency_key(claim.occurrence_key))
    )
    assert (first.json()["attempt"], second.json()["attempt"]) == (1, 2)
