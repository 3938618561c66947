"""One-click unsubscribe for marketing e-mail: signed links, and what the endpoint does.

A marketing e-mail (a `Message` that is neither transactional nor a task for a human) should
let its recipient withdraw their consent in one click. RFC 2369 defines the
``List-Unsubscribe`` header, which lists where to unsubscribe; RFC 8058 adds
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``, which tells the mail client that an
HTTPS ``POST`` to that link unsubscribes at once, with no page to read and no confirmation
to click. Gmail and Yahoo require both headers on the marketing mail of bulk senders since
2024, and show their own "Unsubscribe" button next to the sender's name when they are there.

`Unsubscribe` configures it (the endpoint's URL, the secret that signs the links, an
optional ``mailto:`` address); `SMTPSender(..., unsubscribe=...)` then adds the headers to
every marketing e-mail, and gives the templates the same link as ``unsubscribe_url`` for the
visible link in the body. On the application's side, the endpoint passes the link's token
to `handle_unsubscribe`, which checks it and withdraws the contact's consent on the channel
(`Repository.set_consent`).

The token
---------

``v1.<payload>.<signature>``: URL-safe (letters, digits, ``-``, ``_`` and two dots), with

- *payload* the unpadded base64url of the compact JSON array ``[contact_id, channel,
  issued_at, cadence, step]``: ``issued_at`` in whole Unix seconds; the cadence and step
  (for reporting: which message made people leave) may be left out;
- *signature* the unpadded base64url of the HMAC-SHA256 of the ASCII text
  ``v1.<payload>``, under a key derived from the secret (HMAC-SHA256 of the label
  ``regua unsubscribe token v1`` under the secret), so that the same secret used elsewhere
  signs nothing that could pass for a token, nor the reverse.

The signature is compared in constant time. Nobody without the secret can make a token, nor
change a contact id or a channel in one: the server checks the hard-to-forge part that RFC
8058 asks for, and forged POSTs cannot unsubscribe other people.

The token is signed, not encrypted: whoever holds it can decode the contact id, the channel,
the instant and the step. It holds nothing else (no address, no name). Encrypting it would
hide the contact id from the person the e-mail is addressed to, who is the one holding the
link, and would need a dependency beyond the standard library; what matters is that a link
cannot be forged or altered. Use contact ids that say nothing by themselves (a UUID, a
database key) rather than an e-mail address or a tax number, and keep the query strings of
unsubscribe requests out of the web server's logs if ids should not be kept there.

A token does not expire unless the endpoint says so (``max_age``): links stay in mailboxes
for years, and an unsubscribe link must keep working (the CAN-SPAM Act asks for at least 30
days after sending; the GDPR, that consent be as easy to withdraw as to give; the LGPD, a
free and easy way to revoke it).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from email import errors as email_errors
from email.headerregistry import Address
from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

import attrs

from regua.errors import (
    ArgumentTypeError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidUnsubscribeToken,
)
from regua.ports import Message, Repository

__all__ = [
    "ONE_CLICK",
    "InvalidUnsubscribeToken",
    "Unsubscribe",
    "UnsubscribeRequest",
    "handle_unsubscribe",
    "read_unsubscribe_token",
    "unsubscribe_token",
]

ONE_CLICK: Final = "List-Unsubscribe=One-Click"
"""The ``List-Unsubscribe-Post`` value (RFC 8058), also the body of a one-click POST."""

Secret = str | bytes
"""A signing secret: bytes as they are, or a ``str`` whose UTF-8 bytes are the key."""

_VERSION: Final = "v1"
_KEY_LABEL: Final = b"regua unsubscribe token v1"
_TOKEN = re.compile(r"v1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)")
_SIGNATURE_LENGTH: Final = 43  # 32 bytes of HMAC-SHA256 in unpadded base64
# What may stand in a List-Unsubscribe URI without escaping: visible ASCII, but not the
# angle brackets and commas that delimit the header's list (RFC 2369), nor quotes.
_URI_TEXT = re.compile(r"[!#-+\--;=?-~]+")
_PARAMETER = re.compile(r"[A-Za-z0-9._~-]+")


@attrs.frozen(slots=True)
class UnsubscribeRequest:
    """What a valid unsubscribe token says: who leaves which channel, and since which e-mail.

    Attributes:
        contact_id: The contact whose consent is withdrawn.
        channel: The channel the e-mail came on (its name: ``"email"``); the consent
            withdrawn is this channel's.
        issued_at: When the link was made (the e-mail was composed), in UTC, to the second.
        cadence: The cadence of the e-mail, if the token carries it.
        step: Its step, if the token carries it: which message made the contact leave.

    """

    contact_id: str
    channel: str
    issued_at: datetime
    cadence: str | None = None
    step: str | None = None


# --- tokens ---------------------------------------------------------------------------------


def unsubscribe_token(
    contact_id: str,
    channel: str,
    secret: Secret,
    *,
    issued_at: datetime | None = None,
    cadence: str | None = None,
    step: str | None = None,
) -> str:
    """A signed, URL-safe token that unsubscribes `contact_id` from `channel`.

    >>> from datetime import datetime, timezone
    >>> token = unsubscribe_token("ana", "email", "a long random secret",
    ...     issued_at=datetime(2026, 3, 2, 15, tzinfo=timezone.utc), step="newsletter")
    >>> read_unsubscribe_token(token, "a long random secret")
    UnsubscribeRequest(contact_id='ana', channel='email', issued_at=datetime.datetime(2026, 3, 2, 15, 0, tzinfo=datetime.timezone.utc), cadence=None, step='newsletter')

    The same arguments always give the same token. See the module for its format.

    Args:
        contact_id: The contact (readable by whoever holds the token: see the module).
        channel: The channel whose marketing consent the token withdraws.
        secret: The signing secret: bytes, or a ``str`` whose UTF-8 bytes are the key. Make
            it long and random (``secrets.token_urlsafe(32)``), and keep it apart from other
            secrets.
        issued_at: When the link is made (an aware datetime; kept to the second); now by
            default.
        cadence: The cadence of the e-mail, for reporting.
        step: The step of the e-mail, for reporting.

    Raises:
        InvalidArgumentError: an empty contact id, channel or secret, or a naive `issued_at`.

    """  # noqa: E501
    key = _key(secret)
    for name, value in (("contact_id", contact_id), ("channel", channel)):
        if not isinstance(value, str) or not value:
            raise InvalidArgumentError(f"{name} must be a non-empty string, got {value!r}")
    if issued_at is None:
        issued_at = datetime.now(timezone.utc)
    elif issued_at.utcoffset() is None:
        raise InvalidArgumentError(f"issued_at must be timezone-aware, got {issued_at!r}")
    fields: list[object] = [contact_id, channel, int(issued_at.timestamp()), cadence, step]
    while fields[-1] is None:  # shorter links: the optional fields at the end are left out
        fields.pop()
    text = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    signed = f"{_VERSION}.{_b64(text.encode('utf-8'))}"
    return f"{signed}.{_signature(key, signed)}"


def read_unsubscribe_token(
    token: str,
    secret: Secret | Sequence[Secret],
    *,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> UnsubscribeRequest:
    """Check `token` and say what it asks for; raise `InvalidUnsubscribeToken` if it fails.

    Nothing is changed: this is for a page that shows what the link would do (the ``GET``
    of a link in the body) before the customer confirms. `handle_unsubscribe` reads the
    token the same way, then withdraws the consent.

    Args:
        token: The token, as taken from the link's query string.
        secret: The signing secret, or a list of secrets: the current one first, then
            retired ones whose links must still work (a token signed with any is accepted).
        max_age: Refuse tokens issued longer ago than this; by default a token never
            expires (see the module).
        now: The current time for `max_age` (an aware datetime); the system clock by default.

    Raises:
        InvalidUnsubscribeToken: ``reason="format"``, ``"mismatch"`` (compared in constant
            time) or ``"expired"``.
        InvalidArgumentError: no secret or an empty one, a `max_age` that is not positive, a naive
            `now`.

    """
    keys = [_key(one) for one in _secrets(secret)]
    if max_age is not None and max_age <= timedelta(0):
        raise InvalidArgumentError(f"max_age must be positive, got {max_age!r}")
    if now is not None and now.utcoffset() is None:
        raise InvalidArgumentError(f"now must be timezone-aware, got {now!r}")
    if not isinstance(token, str) or not token.isascii():
        raise InvalidUnsubscribeToken("not an unsubscribe token", reason="format")
    match = _TOKEN.fullmatch(token)
    if match is None or len(match[2]) != _SIGNATURE_LENGTH:
        raise InvalidUnsubscribeToken(
            "not an unsubscribe token (expected v1.<payload>.<signature>)", reason="format"
        )
    signed, given = token[: match.end(1)], match[2]
    # The signatures are compared as text: a changed character never decodes to the same
    # bytes (the last base64 character has bits that decoders ignore).
    if not any(hmac.compare_digest(_signature(key, signed), given) for key in keys):
        raise InvalidUnsubscribeToken(
            "the unsubscribe token's signature does not match: altered, forged, or signed "
            "with another secret",
            reason="mismatch",
        )
    request = _decode(match[1])
    if max_age is not None:
        current = now if now is not None else datetime.now(timezone.utc)
        if current - request.issued_at > max_age:
            raise InvalidUnsubscribeToken(
                f"the unsubscribe token was issued at {request.issued_at.isoformat()}, more "
                f"than {max_age} ago",
                reason="expired",
            )
    return request


def handle_unsubscribe(
    repository: Repository,
    token: str,
    secret: Secret | Sequence[Secret],
    *,
    max_age: timedelta | None = None,
    now: datetime | None = None,
) -> UnsubscribeRequest:
    """The unsubscribe endpoint's work: check `token`, then withdraw the consent it names.

    Call it when the endpoint receives a ``POST`` (the one-click request of a mail client,
    or the form of the endpoint's own page). It calls ``repository.set_consent(contact_id,
    channel, False)``, which also wakes the contact: its next tick sends no more marketing on
    that channel (transactional messages still go), and occurrences already planned are
    skipped (consent is checked again before every send). It returns the request, for a
    log or a report (`UnsubscribeRequest.step`: which message made the contact leave).

    It is idempotent: a second request with the same token (a mail client retrying, a
    double click) withdraws nothing more and succeeds again. It withdraws consent even if
    the contact granted it again after the e-mail was sent: whoever clicks wants out.

    What to answer (RFC 8058 defines no status code; it only forbids answering the POST with
    a redirect, which mail clients do not follow):

    - it returns: ``200``, with a short text or no body;
    - `InvalidUnsubscribeToken`: ``400``: the link is not one of yours, or was altered;
    - `UnknownContactError` (the contact was deleted): nothing is left to withdraw, and
      nothing will be sent; answer ``200`` too (or ``404``, if you prefer to say so).

    Args:
        repository: Where the contacts are.
        token: The token from the link's query string.
        secret: The signing secret, or a list of secrets (the current one first).
        max_age: Refuse tokens older than this (default: never).
        now: The current time for `max_age`; the system clock by default.

    Raises:
        InvalidUnsubscribeToken: the token was refused; nothing was changed.
        UnknownContactError: the repository has no such contact.

    """
    request = read_unsubscribe_token(token, secret, max_age=max_age, now=now)
    repository.set_consent(request.contact_id, request.channel, False)
    return request


# --- the sender's side ----------------------------------------------------------------------


def _check_url(instance: Unsubscribe, attribute: attrs.Attribute[str], url: str) -> None:
    if not isinstance(url, str) or not url.isascii() or not _URI_TEXT.fullmatch(url):
        raise ConfigurationError(
            f"the unsubscribe url must be an ASCII URL without spaces, commas or angle "
            f"brackets (percent-encode them), got {url!r}"
        )
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.netloc:
        raise ConfigurationError(
            f"the unsubscribe url must be an https:// URL (RFC 8058 requires an HTTPS URI "
            f"for one-click unsubscribe), got {url!r}"
        )
    if parts.fragment:
        raise ConfigurationError(f"the unsubscribe url must have no #fragment, got {url!r}")


def _check_secret(
    instance: Unsubscribe, attribute: attrs.Attribute[Secret], secret: Secret
) -> None:
    _key(secret)


def _check_parameter(instance: Unsubscribe, attribute: attrs.Attribute[str], name: str) -> None:
    if not isinstance(name, str) or not _PARAMETER.fullmatch(name):
        raise ConfigurationError(
            f"parameter must be letters, digits, '.', '_', '~' or '-', got {name!r}"
        )


def _mailto_address(value: str | None) -> str | None:
    """The address of `mailto` (``unsubscribe@loja.com.br`` or ``mailto:...``), or None."""
    if value is None:
        return None
    address = value.strip().removeprefix("mailto:")
    try:
        parsed = Address(addr_spec=address)
    except (ValueError, IndexError, email_errors.MessageError) as exc:
        raise ConfigurationError(
            f"mailto must be an e-mail address, got {value!r}: {exc}"
        ) from None
    if not parsed.username or not parsed.domain or not address.isascii():
        raise ConfigurationError(f"mailto must be an ASCII e-mail address, got {value!r}")
    return parsed.addr_spec


@attrs.frozen(slots=True)
class Unsubscribe:
    """Unsubscribe links for marketing e-mail: ``SMTPSender(..., unsubscribe=Unsubscribe(...))``.

    >>> from regua import Contact, Message
    >>> unsubscribe = Unsubscribe("https://loja.com.br/unsubscribe", secret="a long secret",
    ...                           mailto="unsubscribe@loja.com.br")
    >>> newsletter = Message(channel="email", address="ana@example.com", message="news",
    ...     payload={}, contact=Contact("ana"), cadence="shop", step="newsletter",
    ...     occurrence_key="shop:newsletter:ana:1", idempotency_key="1f2e")
    >>> headers = unsubscribe.headers(newsletter)
    >>> headers["List-Unsubscribe"].startswith("<https://loja.com.br/unsubscribe?token=v1.")
    True
    >>> headers["List-Unsubscribe-Post"]
    'List-Unsubscribe=One-Click'

    Marketing messages only (`applies_to`): a transactional message (an order confirmation)
    or a task for a human gets no unsubscribe link, since consent is not what it is sent on.

    For a marketing message, `headers` gives (RFC 2369 and RFC 8058)::

        List-Unsubscribe: <https://loja.com.br/unsubscribe?token=v1.WyJhbmEi...>,
         <mailto:unsubscribe@loja.com.br?subject=unsubscribe-v1.WyJhbmEi...>
        List-Unsubscribe-Post: List-Unsubscribe=One-Click

    The token (`unsubscribe_token`) names the contact, the message's channel, its cadence
    and step, and the instant; it is signed with `secret`. The ``mailto:`` link is for mail
    clients that only send e-mail; the application reads the token from the subject, after
    ``unsubscribe-``. Another e-mail sender (an e-mail provider's API) can use `headers` and
    `link` the same way.

    RFC 8058 also requires a DKIM signature that covers both headers: sign outgoing mail
    at the relay or provider (most sign every header present), and check a received
    message's ``DKIM-Signature: ... h=`` list once.

    Attributes:
        url: The endpoint (``https://`` is required); the token is added to its query as
            `parameter` (``?token=...``, or ``&token=...`` after a query of its own).
        secret: Signs the tokens: bytes, or a ``str`` whose UTF-8 bytes are the key. The
            endpoint checks them with the same secret (or a list, during a rotation).
        mailto: An address that unsubscribes whoever writes to it, or None.
        parameter: The name of the query parameter that carries the token.

    """

    url: str = attrs.field(validator=_check_url)
    secret: Secret = attrs.field(repr=False, validator=_check_secret)
    mailto: str | None = attrs.field(default=None, converter=_mailto_address)
    parameter: str = attrs.field(default="token", validator=_check_parameter)

    @staticmethod
    def applies_to(message: Message) -> bool:
        """Whether `message` gets unsubscribe links: to the customer, and not transactional."""
        return message.kind == "message" and not message.transactional

    def token(self, message: Message, *, issued_at: datetime | None = None) -> str:
        """The token for `message`: its contact, channel, cadence and step, signed."""
        return unsubscribe_token(
            message.contact.id,
            message.channel,
            self.secret,
            issued_at=issued_at,
            cadence=message.cadence,
            step=message.step,
        )

    def link(self, message: Message, *, issued_at: datetime | None = None) -> str:
        """The HTTPS link that unsubscribes `message`'s contact (for the body, too)."""
        parts = urlsplit(self.url)
        query = f"{parts.query}&" if parts.query else ""
        token = self.token(message, issued_at=issued_at)
        return urlunsplit(parts._replace(query=f"{query}{self.parameter}={token}"))

    def headers(self, message: Message, *, issued_at: datetime | None = None) -> dict[str, str]:
        """``List-Unsubscribe`` and ``List-Unsubscribe-Post`` for `message` (none if not marketing).

        Give `issued_at` to make the links of a message at one instant (the same token in
        the headers and in the body); it defaults to now.
        """
        if not self.applies_to(message):
            return {}
        if issued_at is None:
            issued_at = datetime.now(timezone.utc)
        links = [f"<{self.link(message, issued_at=issued_at)}>"]
        if self.mailto is not None:
            subject = f"unsubscribe-{self.token(message, issued_at=issued_at)}"
            links.append(f"<mailto:{quote(self.mailto, safe='@')}?subject={subject}>")
        return {"List-Unsubscribe": ", ".join(links), "List-Unsubscribe-Post": ONE_CLICK}


# --- internals -------------------------------------------------------------------------------


def _secrets(secret: Secret | Sequence[Secret]) -> list[Secret]:
    if isinstance(secret, (str, bytes, bytearray)):
        return [secret]
    secrets = list(secret)
    if not secrets:
        raise ConfigurationError("give at least one unsubscribe secret")
    return secrets


def _key(secret: Secret) -> bytes:
    if isinstance(secret, str):
        raw = secret.encode("utf-8")
    elif isinstance(secret, (bytes, bytearray)):
        raw = bytes(secret)
    else:
        raise ArgumentTypeError(
            f"the unsubscribe secret must be str or bytes, got {type(secret).__name__}"
        )
    if not raw:
        raise ConfigurationError("the unsubscribe secret must not be empty")
    return hmac.new(raw, _KEY_LABEL, hashlib.sha256).digest()


def _signature(key: bytes, signed: str) -> str:
    return _b64(hmac.new(key, signed.encode("ascii"), hashlib.sha256).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _decode(payload: str) -> UnsubscribeRequest:
    """The request in a payload whose signature checked out (so written by regua)."""
    refused = InvalidUnsubscribeToken(
        "the unsubscribe token's payload is unreadable", reason="format"
    )
    try:
        fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):
        raise refused from None
    if not isinstance(fields, list) or not 3 <= len(fields) <= 5:
        raise refused
    contact_id, channel, stamp, *rest = fields
    cadence, step = (*rest, None, None)[:2]
    if (
        not all(isinstance(text, str) and text for text in (contact_id, channel))
        or not isinstance(stamp, int)
        or isinstance(stamp, bool)
        or not all(value is None or isinstance(value, str) for value in (cadence, step))
    ):
        raise refused
    try:
        issued_at = datetime.fromtimestamp(stamp, timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise refused from None
    return UnsubscribeRequest(contact_id, channel, issued_at, cadence, step)
