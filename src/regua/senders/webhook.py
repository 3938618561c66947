"""The webhook sender: POSTs each message as signed JSON to an HTTP endpoint.

This is the adapter for SMS, WhatsApp and push gateways that accept a webhook, and for
creating tasks for a human in a CRM ("the account manager should call"): the receiving side
gets one JSON document per message and decides what to do with it. It needs the optional
extra ``http`` (httpx): ``pip install 'regua[http]'``. Importing this module works without
it; constructing a `WebhookSender` then raises `MissingDependencyError`.
`AsyncWebhookSender` is the same sender for asyncio (`regua.AsyncScheduler`), on an
`httpx.AsyncClient`: same request, same signature, same outcomes. `verify_signature`,
for the receiving side, needs only the standard library.

Requests are signed as [Standard Webhooks](https://www.standardwebhooks.com) specifies, so
that any of its libraries (``standardwebhooks`` for Python, and others for most languages)
verifies them, as does `verify_signature`.

The request
-----------

One ``POST`` per message, to the sender's URL (or the URL of the message's channel), with
the body a UTF-8 JSON object::

    {"channel": "sms", "address": "+5511990000001", "message": "cart_reminder",
     "variant": null, "payload": {...}, "contact_id": "ana", "locale": "pt-BR",
     "cadence": "shop", "step": "cart_reminder",
     "occurrence_key": "shop:cart_reminder:ana:...", "idempotency_key": "3f0c...",
     "attempt": 1, "kind": "message", "sent_at": "2025-03-01T12:00:00.123+00:00"}

``variant`` is the experiment variant assigned to the contact (`regua.Message.variant`),
null outside an experiment; ``locale`` is the contact's locale (`regua.Contact.locale`: its
``locale`` attribute as a BCP 47 language tag, ``pt_br`` read as ``pt-BR``), null when it
has none or the attribute is not a language tag.
``kind`` is ``message`` (to the customer) or ``task`` (for a human); ``attempt`` counts the
attempts on this channel; ``sent_at`` is the instant of this attempt, in UTC. Payload values
that JSON lacks are written as strings: datetimes, dates and times in ISO 8601, decimals as
their digits, sets as sorted lists.

Headers (names are case-insensitive, as always in HTTP):

- ``Content-Type``: ``application/json``.
- ``Idempotency-Key`` and ``webhook-id``: the message's idempotency key, the same on every
  retry of one occurrence, so that the receiver can recognise a repeated delivery and
  answer 2xx without acting twice.
- ``webhook-timestamp``: when the request was signed, in whole seconds since the Unix
  epoch, as decimal ASCII digits (``1740830400``).
- ``webhook-signature``: ``v1,`` followed by the base64 (standard alphabet, padded) of the
  HMAC-SHA256 of the bytes ``<id>.<timestamp>.<body>`` (the ``webhook-id`` and
  ``webhook-timestamp`` values, each followed by one ASCII full stop, then the request body
  exactly as sent). `verify_signature` also accepts several space-separated signatures
  (``v1,<base64> v1,<base64>``, any one matching), so that a proxy can sign with two
  secrets during a rotation; signatures of other versions (``v1a,...``) are skipped.

The secret is given as Standard Webhooks writes it, ``whsec_`` followed by the base64 of the
key bytes (``whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw``), or as the key bytes themselves. Any
other ``str`` is taken as text, its UTF-8 bytes being the key, so that a secret chosen as a
passphrase works: other Standard Webhooks libraries read every string secret as base64, so
give them the ``whsec_`` form of such a key,
``"whsec_" + base64.b64encode(secret.encode()).decode()``.

The receiver must verify the signature over the raw body, before parsing it, and reject a
timestamp too far from its own clock (five minutes by default), which stops replays:
`verify_signature` does both.

The answer
----------

| response | outcome |
|---|---|
| 2xx | sent; the JSON answer's ``"id"``, if any, is the provider's message id |
| 408, 429 | `TemporaryFailure`; ``Retry-After`` (seconds or an HTTP date) becomes ``retry_after`` |
| 5xx | `TemporaryFailure` (with ``retry_after`` if the answer has ``Retry-After``) |
| timeout, refused or lost connection | `TemporaryFailure` |
| 3xx (redirects are never followed) | `PermanentFailure` |
| any other status (other 4xx) | `PermanentFailure`: the status, the redacted start of the body |

Retries are left to the scheduler (`regua.scheduler.RetryPolicy`); the sender makes one
request per call. Failure texts name the endpoint by scheme, host and port only, never its
path or query, which may hold a token; what the receiver answered is quoted through
`regua.redaction.redact`, which hides addresses, phone numbers and the message's personal values (a
receiver that refuses a message often echoes it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from enum import Enum
from types import TracebackType
from typing import Any, Final
from urllib.parse import urlsplit

from regua._exports import publish
from regua.errors import (
    ConfigurationError,
    InvalidArgumentError,
    InvalidSignature,
    MissingDependencyError,
)
from regua.ports import Message, OutcomeUnknown, PermanentFailure, TemporaryFailure
from regua.redaction import personal_strings, redact

try:
    import httpx
except ImportError:  # the `http` extra is not installed: WebhookSender() says so
    _HAVE_HTTPX = False
else:
    _HAVE_HTTPX = True

__all__ = [
    "ID_HEADER",
    "SECRET_PREFIX",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "AsyncWebhookSender",
    "InvalidSignature",
    "WebhookSender",
    "sign",
    "verify_signature",
]

ID_HEADER: Final = "webhook-id"
"""The header carrying the message's id: its idempotency key, the same on every retry."""

TIMESTAMP_HEADER: Final = "webhook-timestamp"
"""The header carrying the signing time, in whole Unix seconds."""

SIGNATURE_HEADER: Final = "webhook-signature"
"""The header carrying ``v1,<base64 HMAC-SHA256(key, f"{id}.{timestamp}.{body}")>``."""

SECRET_PREFIX: Final = "whsec_"
"""How a Standard Webhooks secret starts: ``whsec_`` and then the base64 of the key bytes."""

_RESERVED = frozenset(
    name.lower()
    for name in ("Content-Type", "Idempotency-Key", ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
)
_EXCERPT = 200
_POOL_CONNECTIONS = 4  # connections per httpx.AsyncClient of an AsyncWebhookSender
_BASE64_SHA256 = re.compile(r"[A-Za-z0-9+/]{43}=")  # 32 bytes in padded base64


def _key(secret: str | bytes) -> bytes:
    """The HMAC key of `secret`: ``whsec_`` + base64 decoded, bytes as they are, else UTF-8."""
    if isinstance(secret, str) and secret.startswith(SECRET_PREFIX):
        encoded = secret[len(SECRET_PREFIX) :]
        try:  # the padding may be left out, as some providers print secrets
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except ValueError:  # binascii.Error, or characters outside ASCII
            raise ConfigurationError(
                f"a webhook secret that starts with {SECRET_PREFIX!r} must continue with the "
                "base64 of the key bytes (standard alphabet)"
            ) from None
    else:
        key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ConfigurationError("the webhook secret must not be empty")
    return key


def _timestamp(timestamp: str | int) -> str:
    stamp = str(timestamp).strip()
    if not stamp.isascii() or not stamp.isdigit():
        raise InvalidArgumentError(f"the timestamp must be whole Unix seconds, got {timestamp!r}")
    return stamp


def _signature(key: bytes, webhook_id: str, stamp: str, body: bytes) -> str:
    signed = f"{webhook_id}.{stamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return f"v1,{base64.b64encode(digest).decode('ascii')}"


def sign(body: bytes, *, webhook_id: str, timestamp: str | int, secret: str | bytes) -> str:
    """The ``webhook-signature`` value of `body` with this id and timestamp, signed with `secret`.

    Args:
        body: The request body, exactly as sent.
        webhook_id: The ``webhook-id`` header.
        timestamp: The ``webhook-timestamp`` header: whole Unix seconds.
        secret: ``whsec_`` + the base64 of the key, the key bytes, or any other ``str``
            (its UTF-8 bytes are the key).

    Raises:
        InvalidArgumentError: an empty secret, a ``whsec_`` secret that is not base64, or a
            timestamp that is not whole seconds.

    >>> sign(b'{"a":1}', webhook_id="msg_1", timestamp=1700000000,
    ...      secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    'v1,hVsFLpmw4Ib/Xm0eZLt3KqYBZdt0U8gdGeuz0EsGv78='

    """
    return _signature(_key(secret), webhook_id, _timestamp(timestamp), body)


def verify_signature(
    body: bytes,
    headers: Mapping[str, str],
    secret: str | bytes,
    *,
    tolerance: float | timedelta = 300,
    now: float | datetime | None = None,
) -> None:
    """Check a Standard Webhooks request (one from a `WebhookSender`); raise if it fails.

    Call it on the receiving side with the raw request body (bytes, before any JSON
    parsing) and the request's headers. It returns None when the request is authentic and
    fresh.

    Args:
        body: The request body, exactly as received.
        headers: The request headers, any mapping (names are compared case-insensitively):
            ``webhook-id``, ``webhook-timestamp`` (Unix seconds) and ``webhook-signature``
            (``v1,<base64>``, or several signatures separated by spaces, any one matching
            being enough; signatures of other versions are skipped).
        secret: The secret shared with the sender: ``whsec_`` + the base64 of the key, the
            key bytes, or any other ``str`` (its UTF-8 bytes are the key).
        tolerance: How far (seconds, or a timedelta) the timestamp may be from `now`,
            in either direction.
        now: The current time (Unix seconds or an aware datetime); the system clock by
            default.

    Raises:
        InvalidSignature: a missing or malformed header, or no ``v1`` signature
            (``reason="format"``), no signature that matches (``"mismatch"``, compared in
            constant time), a timestamp older than `tolerance` (``"expired"``) or further
            than `tolerance` in the future (``"future"``).
        InvalidArgumentError: an empty secret, a ``whsec_`` secret that is not base64, a naive
            `now`.

    """
    key = _key(secret)
    fields = {str(name).lower(): str(value) for name, value in headers.items()}
    webhook_id = fields.get(ID_HEADER, "")
    if not webhook_id:
        raise InvalidSignature(f"missing {ID_HEADER} header", reason="format")
    stamp = fields.get(TIMESTAMP_HEADER, "").strip()
    if not stamp.isascii() or not stamp.isdigit():
        raise InvalidSignature(
            f"malformed {TIMESTAMP_HEADER} {stamp[:40]!r}: expected whole Unix seconds",
            reason="format",
        )
    signature = fields.get(SIGNATURE_HEADER, "")
    candidates: list[str] = []
    for entry in signature.split():
        version, sep, value = entry.partition(",")
        if not sep or not version or (version == "v1" and not _BASE64_SHA256.fullmatch(value)):
            raise InvalidSignature(
                f"malformed {SIGNATURE_HEADER} {signature[:80]!r}: expected 'v1,' and the "
                "base64 of 32 bytes",
                reason="format",
            )
        if version == "v1":
            candidates.append(entry)
    if not candidates:
        raise InvalidSignature(
            f"malformed {SIGNATURE_HEADER} {signature[:80]!r}: no 'v1,' signature",
            reason="format",
        )
    expected = _signature(key, webhook_id, stamp, body).encode("ascii")
    matched = False
    for candidate in candidates:  # compare with every entry: no early exit
        matched |= hmac.compare_digest(candidate.encode("ascii"), expected)
    if not matched:
        raise InvalidSignature(
            "signature mismatch: the body, the id, the timestamp or the secret differs from "
            "what was signed",
            reason="mismatch",
        )
    if isinstance(now, datetime):
        if now.tzinfo is None or now.utcoffset() is None:
            raise InvalidArgumentError(f"now must be a timezone-aware datetime, got {now!r}")
        current = now.timestamp()
    else:
        current = time.time() if now is None else float(now)
    limit = tolerance.total_seconds() if isinstance(tolerance, timedelta) else float(tolerance)
    age = current - int(stamp)
    if age > limit:
        raise InvalidSignature(
            f"timestamp too old: signed {age:.0f} s ago, more than the {limit:g} s tolerated",
            reason="expired",
        )
    if -age > limit:
        raise InvalidSignature(
            f"timestamp too far in the future: {-age:.0f} s ahead of this clock, more than "
            f"the {limit:g} s tolerated",
            reason="future",
        )


def _json_default(value: object) -> object:
    if isinstance(value, (datetime, date, dtime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, (tuple, bytes)):
        return list(value) if isinstance(value, tuple) else value.decode("utf-8", "replace")
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _origin(url: str) -> str:
    """Scheme, host and port of `url`: safe to log (no path, query or credentials)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _check_url(url: str, where: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"{where} must be an http:// or https:// URL, got {url!r}")
    return url


def _retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A ``Retry-After`` header (delay-seconds or an HTTP-date) as a delay; None if absent."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": UTC by RFC 5322
        when = when.replace(tzinfo=timezone.utc)
    return max(timedelta(0), when - now)


class _Webhook:
    """What `WebhookSender` and `AsyncWebhookSender` share: configuration, request, answer."""

    def __init__(
        self,
        url_or_urls: str | Mapping[str, str],
        *,
        secret: str | bytes,
        timeout: float,
        headers: Mapping[str, str] | None,
    ) -> None:
        if not _HAVE_HTTPX:
            raise MissingDependencyError(type(self).__name__, "http", "httpx")
        if isinstance(url_or_urls, str):
            self.url: str | None = _check_url(url_or_urls, "the webhook URL")
            self.urls: dict[str, str] = {}
        else:
            if not url_or_urls:
                raise ConfigurationError("the mapping of channels to webhook URLs is empty")
            self.url = None
            self.urls = {
                channel: _check_url(url, f"the webhook URL of channel {channel!r}")
                for channel, url in url_or_urls.items()
            }
        self._secret = _key(secret)
        if not timeout > 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout!r}")
        self.timeout = float(timeout)
        extra = dict(headers or {})
        clash = sorted(name for name in extra if name.lower() in _RESERVED)
        if clash:
            raise ConfigurationError(
                f"headers may not set {', '.join(clash)}: the sender sets them"
            )
        self._headers = extra

    def _request(self, message: Message) -> tuple[str, dict[str, Any], str]:
        """The URL and the signed request (`post`'s arguments) of `message`, and the origin."""
        url = self.url if self.url is not None else self.urls.get(message.channel)
        if url is None:
            raise PermanentFailure(
                f"no webhook URL for channel {message.channel!r} "
                f"(channels: {', '.join(sorted(self.urls))})"
            )
        now = time.time()
        stamp = str(int(now))
        body = self._body(message, datetime.fromtimestamp(now, timezone.utc))
        headers = {
            **self._headers,
            "Content-Type": "application/json",
            "Idempotency-Key": message.idempotency_key,
            ID_HEADER: message.idempotency_key,
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: _signature(self._secret, message.idempotency_key, stamp, body),
        }
        request = {
            "content": body,
            "headers": headers,
            "timeout": self.timeout,
            "follow_redirects": False,
        }
        return url, request, _origin(url)

    def _unreachable(self, exc: httpx.TransportError, where: str) -> TemporaryFailure:
        # Once the request may have been written, the endpoint may have taken it: a retry
        # stays on this channel (same idempotency key) instead of moving to the next one.
        after_writing = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.ReadError, httpx.WriteError)
        written = isinstance(exc, (*after_writing, httpx.RemoteProtocolError))
        failure = OutcomeUnknown if written else TemporaryFailure
        if isinstance(exc, httpx.TimeoutException):
            return failure(
                f"webhook {where} timed out after {self.timeout:g} s ({type(exc).__name__})"
            )
        if written:
            return failure(
                f"webhook {where} dropped the connection: {type(exc).__name__}: {redact(str(exc))}"
            )
        return TemporaryFailure(
            f"webhook {where} unreachable: {type(exc).__name__}: {redact(str(exc))}"
        )

    def __repr__(self) -> str:
        target = (
            _origin(self.url)
            if self.url is not None
            else {channel: _origin(url) for channel, url in self.urls.items()}
        )
        return f"{type(self).__name__}({target!r}, timeout={self.timeout:g})"

    # --- internals -----------------------------------------------------------------------------

    @staticmethod
    def _body(message: Message, sent_at: datetime) -> bytes:
        document = {
            "channel": message.channel,
            "address": message.address,
            "message": message.message,
            "variant": message.variant,
            "payload": message.payload,
            "contact_id": message.contact.id,
            "locale": message.contact.locale,
            "cadence": message.cadence,
            "step": message.step,
            "occurrence_key": message.occurrence_key,
            "idempotency_key": message.idempotency_key,
            "attempt": message.attempt,
            "kind": message.kind,
            "sent_at": sent_at.isoformat(timespec="milliseconds"),
        }
        try:
            text = json.dumps(
                document, default=_json_default, ensure_ascii=False, separators=(",", ":")
            )
        except (TypeError, ValueError) as exc:
            raise PermanentFailure(
                f"the payload of {message.occurrence_key!r} cannot be sent as JSON: {exc}"
            ) from exc
        return text.encode("utf-8")

    @staticmethod
    def _outcome(response: httpx.Response, where: str, message: Message) -> str | None:
        status = response.status_code
        if 200 <= status < 300:
            return _Webhook._provider_id(response)
        known = personal_strings(message)
        phrase = redact(response.reason_phrase, known=known, limit=_EXCERPT)
        what = f"webhook {where} answered HTTP {status} {phrase}".rstrip()
        if status in (408, 429) or 500 <= status < 600:
            retry_after = _retry_after(
                response.headers.get("Retry-After"), datetime.now(timezone.utc)
            )
            if retry_after is not None:
                what += f" (retry after {retry_after.total_seconds():g} s)"
            raise TemporaryFailure(what, retry_after=retry_after)
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            target = f" to {_origin(location)}" if urlsplit(location).hostname else ""
            raise PermanentFailure(f"{what}: a redirect{target}, which is not followed")
        # Not the body as it came: a receiver that refuses a message often echoes it.
        excerpt = redact(response.text, known=known, limit=_EXCERPT)
        raise PermanentFailure(f"{what}: {excerpt}" if excerpt else what)

    @staticmethod
    def _provider_id(response: httpx.Response) -> str | None:
        if not response.content:
            return None
        try:
            answer = response.json()
        except ValueError:  # not JSON: accepted, without an id
            return None
        if isinstance(answer, dict):
            provider_id = answer.get("id")
            if isinstance(provider_id, (str, int)) and not isinstance(provider_id, bool):
                return str(provider_id) or None
        return None


class WebhookSender(_Webhook):
    """A `Sender` that POSTs each message as signed JSON to an HTTP endpoint.

    Requests are signed as [Standard Webhooks](https://www.standardwebhooks.com) specifies
    (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``). See the module's
    documentation for the body, the headers, the signature and how each answer is mapped.
    One `httpx.Client` (a connection pool, safe across threads) is reused for every message;
    `close()` it, or use the sender as a context manager.

    Args:
        url_or_urls: One URL for every channel, or a mapping ``{channel: url}``; a message
            on a channel the mapping lacks fails permanently.
        secret: The secret shared with the receiver, for the HMAC signature:
            ``whsec_`` + the base64 of the key (the Standard Webhooks form), the key bytes,
            or any other ``str`` (its UTF-8 bytes are the key).
        timeout: Seconds allowed to connect, and then for each read and write.
        headers: Extra headers sent with every request (an ``Authorization`` token...);
            they may not replace the headers the sender sets itself.
        client: An `httpx.Client` to use instead of the sender's own (for a proxy, mTLS,
            or a mock transport in tests); the sender does not close it, and its redirect
            setting is ignored (redirects are never followed).

    Raises:
        MissingDependencyError: httpx (the extra ``http``) is not installed.
        ConfigurationError: an empty secret, a ``whsec_`` secret that is not base64, a URL that is
            not http(s), an empty mapping, a non-positive timeout, or `headers` naming a
            header the sender sets.

    """

    def __init__(
        self,
        url_or_urls: str | Mapping[str, str],
        *,
        secret: str | bytes,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        super().__init__(url_or_urls, secret=secret, timeout=timeout, headers=headers)
        self._owns_client = client is None
        self._client = client if client is not None else httpx.Client(follow_redirects=False)

    # --- the Sender protocol -------------------------------------------------------------------

    def send(self, message: Message) -> str | None:
        """POST `message`; return the id in the JSON answer, if any.

        Raises:
            TemporaryFailure: 408, 429, 5xx, a timeout or a connection error.
            PermanentFailure: any other non-2xx answer, or no URL for the channel.

        """
        url, request, where = self._request(message)
        try:
            response = self._client.post(url, **request)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, where) from exc
        return self._outcome(response, where, message)

    # --- lifecycle -----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the sender's connections (not those of a client passed in)."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> WebhookSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncWebhookSender(_Webhook):
    """An `AsyncSender` that POSTs each message as signed JSON: `WebhookSender` for asyncio.

    The request, the signature and how each answer is mapped to an outcome are exactly
    those of `WebhookSender` (see the module's documentation). One `httpx.AsyncClient` is
    reused for every message and serves concurrent sends (`regua.AsyncScheduler` runs up to
    its `concurrency` at once): the sender's own connections (`max_connections` of them)
    are spread over a few small `httpx.AsyncClient` pools, each request going to the least
    busy one, because one large httpx pool spends CPU time on every request in proportion
    to the square of its connections. `aclose()` the sender, or use it as an async context
    manager.

    Args:
        url_or_urls: One URL for every channel, or a mapping ``{channel: url}``.
        secret: The secret shared with the receiver, for the HMAC signature (as for
            `WebhookSender`).
        timeout: Seconds allowed to connect, and then for each read and write.
        headers: Extra headers sent with every request; they may not replace the headers
            the sender sets itself.
        max_connections: How many connections the sender may open: keep it at least the
            scheduler's `concurrency`, or sends queue for a connection.
        client: An `httpx.AsyncClient` to use instead of the sender's own (a proxy, mTLS, a
            mock transport in tests); the sender does not close it.

    Raises:
        MissingDependencyError: httpx (the extra ``http``) is not installed.
        ConfigurationError: as for `WebhookSender`, or `max_connections` below 1.

    """

    def __init__(
        self,
        url_or_urls: str | Mapping[str, str],
        *,
        secret: str | bytes,
        timeout: float = 10.0,
        headers: Mapping[str, str] | None = None,
        max_connections: int = 50,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(url_or_urls, secret=secret, timeout=timeout, headers=headers)
        if max_connections < 1:
            raise ConfigurationError(f"max_connections must be at least 1, got {max_connections}")
        self._owns_client = client is None
        if client is not None:
            self._clients = [client]
        else:
            # httpcore's connection pool does, on every request, work proportional to the
            # square of its connections (it checks each one, and counts the idle ones for
            # each); with 50 busy connections that CPU cost, not the network, bounds the
            # throughput. Several small pools, each request going to the least busy, keep
            # it flat (see benchmarks/async_webhook.py).
            pools = -(-max_connections // _POOL_CONNECTIONS)
            size = -(-max_connections // pools)
            limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
            tls = httpx.create_ssl_context()  # loading the CA bundle once, not per pool
            self._clients = [
                httpx.AsyncClient(follow_redirects=False, limits=limits, verify=tls)
                for _ in range(pools)
            ]
        self._in_flight = [0] * len(self._clients)

    async def send(self, message: Message) -> str | None:
        """POST `message`; return the id in the JSON answer, if any.

        Raises:
            TemporaryFailure: 408, 429, 5xx, a timeout or a connection error.
            PermanentFailure: any other non-2xx answer, or no URL for the channel.

        """
        url, request, where = self._request(message)
        pool = self._in_flight.index(min(self._in_flight))
        self._in_flight[pool] += 1
        try:
            response = await self._clients[pool].post(url, **request)
        except httpx.TransportError as exc:
            raise self._unreachable(exc, where) from exc
        finally:
            self._in_flight[pool] -= 1
        return self._outcome(response, where, message)

    async def aclose(self) -> None:
        """Close the sender's connections (not those of a client passed in)."""
        if self._owns_client:
            for client in self._clients:
                await client.aclose()

    async def __aenter__(self) -> AsyncWebhookSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


# Documented, and pickled, as `regua.senders.WebhookSender` (this module loads on first use).
publish("regua.senders", [WebhookSender, AsyncWebhookSender])
