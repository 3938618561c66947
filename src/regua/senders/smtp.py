"""The SMTP sender: e-mail through any SMTP server, with the standard library only.

`SMTPSender` renders a `Message` into an e-mail (`RenderedEmail`: subject, text and an
optional HTML part), addresses it to the contact (with their name, RFC 2047-encoded when it is
not ASCII), derives its ``Message-ID`` from the idempotency key, adds one-click unsubscribe
headers to marketing e-mail when given an `Unsubscribe`, and sends it over one SMTP
connection that it keeps open across a batch. SMTP replies and network errors are mapped to
`TemporaryFailure` and `PermanentFailure` (see `SMTPSender`).
"""

from __future__ import annotations

import email.policy
import hashlib
import html
import re
import smtplib
import ssl
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from email import errors as email_errors
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from types import TracebackType
from typing import Literal

import attrs

from regua.errors import ConfigurationError
from regua.ports import Message, OutcomeUnknown, PermanentFailure, TemporaryFailure
from regua.redaction import personal_strings, redact
from regua.senders.unsubscribe import Unsubscribe

__all__ = ["IDEMPOTENCY_HEADER", "RenderedEmail", "Renderer", "SMTPSender", "TemplateRenderer"]

IDEMPOTENCY_HEADER = "X-Regua-Idempotency-Key"
"""The header that carries the message's idempotency key (also in the ``Message-ID``)."""

Security = Literal["starttls", "ssl", "plain"]

_DEFAULT_PORTS: dict[str, int] = {"starttls": 587, "ssl": 465, "plain": 25}
# The characters RFC 5322 allows, unquoted, on the left of a Message-ID (dot-atom-text).
_MSG_ID_LEFT = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# RFC 5322 caps a line at 998 characters; a List-Unsubscribe line holds one URI.
_MAX_URI = 998 - len("List-Unsubscribe: <>,")
_URIS = re.compile(r"<[^<>]*>")


class _URIListHeader(UnstructuredHeader, BaseHeader):
    """A header that lists URIs in angle brackets (``List-Unsubscribe``), folded between them.

    The standard folding cuts a word longer than a line into RFC 2047 encoded-words, which
    no mail client reads back as a URI; here each URI keeps a line of its own, whole.
    """

    def fold(self, *, policy: email.policy.Policy) -> str:
        uris = _URIS.findall(str(self))
        if not uris:  # pragma: no cover - only set by compose, always with URIs
            return super().fold(policy=policy)
        return f"{self.name}: " + f",{policy.linesep} ".join(uris) + policy.linesep


def _policy() -> email.policy.EmailPolicy[EmailMessage]:
    headers = HeaderRegistry()  # a registry of our own: the standard one is shared
    headers.map_to_type("list-unsubscribe", _URIListHeader)
    return email.policy.SMTP.clone(header_factory=headers)


_POLICY = _policy()


@attrs.frozen(slots=True)
class RenderedEmail:
    """The content of one e-mail: what a renderer makes of a `Message`.

    Attributes:
        subject: The subject line (any Unicode; encoded as the standards require).
        text: The plain-text body.
        html: An HTML alternative to `text`, or None for a text-only e-mail.

    """

    subject: str
    text: str
    html: str | None = None


Renderer = Callable[[Message], RenderedEmail]
"""Turns a `Message` (template key, payload, contact) into a `RenderedEmail`.

It may raise `PermanentFailure` (a template that cannot be rendered for this message) or
`TemporaryFailure` (a template store briefly unreachable).
"""


class TemplateRenderer:
    """The default renderer: `string.Template` templates, filled with `safe_substitute`.

    >>> render = TemplateRenderer({"welcome": ("Welcome, $first_name!", "Hello $first_name.")})

    `templates` maps a template key (a step's ``message``) to ``(subject, text)`` or
    ``(subject, text, html)``. The variables are the contact's attributes, then the message's
    payload (which wins on a name clash), plus ``contact_id``, ``address``, ``cadence`` and
    ``step``. Placeholders are ``$name`` or ``${name}``; ``$$`` is a literal ``$``. A
    placeholder with no value is left as written, and nothing in a template or in the data is
    ever evaluated. Values are inserted into the HTML part HTML-escaped.

    An unknown template key raises `PermanentFailure`.
    """

    def __init__(self, templates: Mapping[str, tuple[str, str] | tuple[str, str, str]]) -> None:
        compiled: dict[str, tuple[string.Template, string.Template, string.Template | None]] = {}
        for key, parts in templates.items():
            if len(parts) not in (2, 3):
                raise ConfigurationError(
                    f"template {key!r} must be (subject, text) or (subject, text, html), "
                    f"got {len(parts)} parts"
                )
            subject, text = parts[0], parts[1]
            html_part = parts[2] if len(parts) == 3 else None
            compiled[key] = (
                string.Template(subject),
                string.Template(text),
                None if html_part is None else string.Template(html_part),
            )
        self._templates = compiled

    def __call__(self, message: Message) -> RenderedEmail:
        """Render `message` with the template named by ``message.message``."""
        try:
            subject, text, html_part = self._templates[message.message]
        except KeyError:
            known = ", ".join(sorted(self._templates)) or "none"
            raise PermanentFailure(
                f"no e-mail template {message.message!r} (templates: {known})"
            ) from None
        values = self.variables(message)
        return RenderedEmail(
            # A subject is one line: a value with a line break must not start a new header.
            subject=" ".join(subject.safe_substitute(values).split()),
            text=text.safe_substitute(values),
            html=None
            if html_part is None
            else html_part.safe_substitute({k: html.escape(v) for k, v in values.items()}),
        )

    def missing_templates(self, keys: Iterable[str]) -> dict[str, str]:
        """Which of these template keys have no template, each with why (`regua check`)."""
        known = ", ".join(sorted(self._templates)) or "none"
        return {
            key: f"no e-mail template {key!r} (templates: {known})"
            for key in keys
            if key not in self._templates
        }

    @staticmethod
    def variables(message: Message) -> dict[str, str]:
        """The template variables for `message`, as strings."""
        values: dict[str, object] = {
            **message.contact.attributes,
            **message.payload,
            "contact_id": message.contact.id,
            "address": message.address,
            "cadence": message.cadence,
            "step": message.step,
        }
        return {str(k): "" if v is None else str(v) for k, v in values.items()}


class SMTPSender:
    """A `Sender` that delivers e-mail through an SMTP server.

    >>> sender = SMTPSender("smtp.example.com", username="shop", password="secret",
    ...     templates={"welcome": ("Welcome, $first_name!", "Hello $first_name.")})

    Nothing connects until the first `send`. The connection is then kept open and reused for
    the next messages (a whole batch goes over one connection); when the server has closed it
    meanwhile, the sender reconnects once, transparently. `close()` ends it (the sender is
    also a context manager). Sends from several threads are serialised on the connection.

    Each e-mail carries ``Message-ID: <{idempotency_key}@{domain of sender}>`` and an
    ``X-Regua-Idempotency-Key`` header, so a retried delivery has the same id as the first.
    The recipient's display name comes from the contact's ``name`` attribute, when present;
    non-ASCII names and subjects are RFC 2047-encoded, bodies are UTF-8.

    With `unsubscribe`, each marketing e-mail (a message to the customer that is not
    transactional) carries ``List-Unsubscribe`` (an HTTPS link, and a ``mailto:`` one if
    configured) and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 2369 and RFC
    8058, which Gmail and Yahoo require of bulk senders), and its templates get the same
    HTTPS link as ``unsubscribe_url`` (unless the payload has one), for the visible link in
    the body. Transactional e-mails and tasks for a human get neither.

    Failures:

    | what happened | raises |
    |---|---|
    | a 4xx reply (to MAIL, RCPT, DATA, AUTH...): 421, 450, 451, 452 | `TemporaryFailure` |
    | connection refused or lost, timeout, TLS error, disconnection | `TemporaryFailure` |
    | a 5xx reply: 550 (recipient rejected), 552, 554, 535 (bad login) | `PermanentFailure` |
    | an address that does not parse, an unknown template | `PermanentFailure` |
    | the server lacks STARTTLS or AUTH that the sender needs | `PermanentFailure` |

    A failure's text names the server and quotes its reply through `regua.redaction.redact`: the
    addresses, phone numbers and personal values of the message that a reply repeats are
    hidden (an invalid address is not quoted at all).

    Args:
        host: The SMTP server.
        port: Defaults to 587 for ``starttls``, 465 for ``ssl``, 25 for ``plain``.
        security: ``starttls`` (upgrade a plain connection; the server must offer it),
            ``ssl`` (TLS from the first byte, "SMTPS") or ``plain`` (no encryption: for a
            local relay or tests only).
        username: Log in with this user (and `password`) when given.
        password: The password for `username`.
        sender: The ``From`` header, ``"Display Name <address>"`` or a bare address; its
            address is also the envelope sender, and its domain the ``Message-ID``'s.
        renderer: Turns a `Message` into a `RenderedEmail`; defaults to a
            `TemplateRenderer` over `templates`.
        templates: ``{template_key: (subject, text[, html])}`` for the default renderer.
        timeout: Seconds to wait for the server on each network operation.
        local_hostname: The name sent in EHLO; defaults to this host's FQDN.
        ssl_context: The TLS settings for ``starttls`` and ``ssl``; defaults to
            `ssl.create_default_context()` (certificates verified against the system's CAs).
        unsubscribe: One-click unsubscribe links for marketing e-mail (`Unsubscribe`: the
            endpoint's URL and the secret that signs the links), or None for none.

    """

    def __init__(
        self,
        host: str,
        port: int | None = None,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        sender: str = "Shop <no-reply@example.com>",
        renderer: Renderer | None = None,
        templates: Mapping[str, tuple[str, str] | tuple[str, str, str]] | None = None,
        timeout: float = 30.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        unsubscribe: Unsubscribe | None = None,
    ) -> None:
        if security not in _DEFAULT_PORTS:
            raise ConfigurationError(
                f"security must be 'starttls', 'ssl' or 'plain', got {security!r}"
            )
        if renderer is not None and templates is not None:
            raise ConfigurationError("give a renderer or templates, not both")
        if username is not None and password is None:
            raise ConfigurationError("a username needs a password")
        if timeout <= 0:
            raise ConfigurationError(f"timeout must be positive, got {timeout}")
        self.host = host
        self.port = _DEFAULT_PORTS[security] if port is None else port
        self.security: Security = security
        self.username = username
        self._password = password
        self.from_address = _parse_from(sender)
        self.renderer: Renderer = renderer or TemplateRenderer(templates or {})
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.ssl_context = ssl_context
        self.unsubscribe = unsubscribe
        self._connection: smtplib.SMTP | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"SMTPSender({self.host!r}, {self.port}, security={self.security!r})"

    def missing_templates(self, keys: Iterable[str]) -> dict[str, str]:
        """Which of these template keys the renderer lacks, each with why (`regua check`).

        Asks the renderer's own ``missing_templates``; a renderer without one (a function of
        your own) cannot be checked, and nothing is said missing.
        """
        check = getattr(self.renderer, "missing_templates", None)
        return {} if check is None else dict(check(keys))

    # --- the Sender protocol ---------------------------------------------------------------

    def send(self, message: Message) -> str | None:
        """Render and send `message`; return its ``Message-ID``."""
        email_message = self.compose(message)
        message_id = str(email_message["Message-ID"])
        recipient = message.address.strip()
        with self._lock:
            for attempt in (1, 2):
                reused = self._connection is not None
                try:
                    connection = self._connect()
                    refused = connection.send_message(
                        email_message,
                        from_addr=self.from_address.addr_spec,
                        to_addrs=[recipient],
                    )
                except (smtplib.SMTPServerDisconnected, ConnectionError) as exc:
                    self._drop()
                    if attempt == 1 and reused:
                        continue  # the server closed an idle connection: reconnect once
                    raise _failure(exc, self, message) from exc
                except Exception as exc:
                    if not _keeps_connection(exc):
                        self._drop()
                    raise _failure(exc, self, message) from exc
                if refused:  # only one recipient, so never reached; kept for safety
                    reply = redact(repr(refused), known=personal_strings(message))
                    raise PermanentFailure(f"{self.host} refused the recipient: {reply}")
                return message_id
        raise AssertionError("unreachable")  # pragma: no cover

    # --- composing -------------------------------------------------------------------------

    def compose(self, message: Message) -> EmailMessage:
        """The e-mail that `send` would deliver for `message` (nothing is sent).

        Raises `PermanentFailure` when the address does not parse or the renderer refuses
        the message.
        """
        unsubscribe: dict[str, str] = {}
        to_render = message
        if self.unsubscribe is not None and self.unsubscribe.applies_to(message):
            issued_at = datetime.now(timezone.utc)  # one instant: one token, header and body
            unsubscribe = self.unsubscribe.headers(message, issued_at=issued_at)
            link = self.unsubscribe.link(message, issued_at=issued_at)
            longest = max(len(uri) for uri in _URIS.findall(unsubscribe["List-Unsubscribe"]))
            if longest > _MAX_URI:
                raise PermanentFailure(
                    f"the unsubscribe link is {longest} characters long, more than an e-mail "
                    f"header line holds: shorten the unsubscribe URL or the contact id"
                )
            to_render = attrs.evolve(message, payload={"unsubscribe_url": link, **message.payload})
        rendered = self.renderer(to_render)
        name = message.contact.attributes.get("name")
        to = _parse_address(message.address, name if isinstance(name, str) else "", hide=True)
        email_message = EmailMessage(policy=_POLICY)
        try:
            email_message["From"] = self.from_address
            email_message["To"] = to
            email_message["Subject"] = rendered.subject
            email_message["Date"] = formatdate(usegmt=True)
            email_message["Message-ID"] = self.message_id(message.idempotency_key)
            email_message[IDEMPOTENCY_HEADER] = message.idempotency_key
            for header, value in unsubscribe.items():
                email_message[header] = value
        except (ValueError, email_errors.MessageError) as exc:
            reason = redact(str(exc), known=personal_strings(message))
            raise PermanentFailure(f"cannot build the e-mail: {reason}") from exc
        email_message.set_content(rendered.text, cte=_cte(rendered.text))
        if rendered.html is not None:
            email_message.add_alternative(rendered.html, subtype="html", cte=_cte(rendered.html))
        return email_message

    def message_id(self, idempotency_key: str) -> str:
        """The ``Message-ID`` of the e-mail for `idempotency_key`: ``<key@domain>``."""
        return _message_id(idempotency_key, self.from_address.domain)

    # --- the connection --------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection, if one is open (the next `send` opens a new one)."""
        with self._lock:
            connection, self._connection = self._connection, None
            if connection is None:
                return
            try:
                connection.quit()
            except (smtplib.SMTPException, OSError):
                connection.close()

    def __enter__(self) -> SMTPSender:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _connect(self) -> smtplib.SMTP:
        if self._connection is not None:
            return self._connection
        context = self.ssl_context
        if context is None and self.security != "plain":
            context = ssl.create_default_context()
        connection: smtplib.SMTP
        if self.security == "ssl":
            connection = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=context,
            )
        else:
            connection = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            connection.ehlo()
            if self.security == "starttls":
                connection.starttls(context=context)
                connection.ehlo()
            if self.username is not None and self._password is not None:
                connection.login(self.username, self._password)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()


def _message_id(idempotency_key: str, domain: str) -> str:
    """``<key@domain>``; a key RFC 5322 does not allow there is replaced by a hash of it."""
    left = idempotency_key
    if not _MSG_ID_LEFT.fullmatch(left):
        left = hashlib.blake2b(left.encode("utf-8"), digest_size=16).hexdigest()
    return f"<{left}@{domain}>"


def _keeps_connection(exc: BaseException) -> bool:
    """Whether the connection is still usable after `exc` (smtplib sent RSET after a refusal)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code != 421 for code, _ in exc.recipients.values())
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code != 421


def _failure(
    exc: BaseException, sender: SMTPSender, message: Message
) -> TemporaryFailure | PermanentFailure:
    """The regua failure for an error raised while talking to the server.

    What the server said is quoted through `redact`: a refusal often repeats the recipient's
    address, and a rejected message its content.
    """
    where = f"{sender.host}:{sender.port}"
    known = personal_strings(message)

    def said(text: object) -> str:
        return redact(_text(text) if isinstance(text, bytes) else str(text), known=known)

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        code, text = replies[0] if replies else (550, b"recipient refused")
        return _by_code(code, f"{where} refused the recipient", said(text))
    if isinstance(exc, smtplib.SMTPConnectError):
        reply = f"{exc.smtp_code} {said(exc.smtp_error)}"
        return TemporaryFailure(f"cannot connect to {where}: {reply}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, f"{where} answered", said(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPServerDisconnected):  # perhaps once it had the message
        return OutcomeUnknown(f"{where} closed the connection: {said(exc)}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentFailure(f"{where} does not support what the sender needs: {said(exc)}")
    if isinstance(exc, TimeoutError):  # perhaps waiting for the answer to the message
        return OutcomeUnknown(f"{where} timed out: {said(exc) or 'no answer'}")
    if isinstance(exc, OSError):
        return TemporaryFailure(f"cannot reach {where}: {said(exc)}")
    return TemporaryFailure(f"SMTP error with {where}: {type(exc).__name__}: {said(exc)}")


_NO_SUCH_MAILBOX = re.compile(r"5\.1\.(1|10)\b")
"""Enhanced status codes of an address that does not exist (RFC 3463: bad destination
mailbox; RFC 7505: a domain that accepts no mail)."""


def _by_code(code: int, what: str, reply: str) -> TemporaryFailure | PermanentFailure:
    message = f"{what} {code} {reply}".rstrip()
    if 500 <= code <= 599:
        # A mailbox that does not exist bounces every message: the address is suppressed.
        gone = code in (550, 551, 553, 556) and _NO_SUCH_MAILBOX.match(reply.lstrip())
        return PermanentFailure(message, suppress="address" if gone else None)
    return TemporaryFailure(message)  # 4xx, and any reply that makes no sense here


def _text(text: bytes | str) -> str:
    return text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)


def _cte(text: str) -> str | None:
    """7bit for ASCII text; quoted-printable otherwise, which every server accepts."""
    return None if text.isascii() else "quoted-printable"


def _parse_address(address: str, display_name: str = "", *, hide: bool = False) -> Address:
    """An `Address`, or `PermanentFailure` when `address` is not a valid e-mail address.

    With `hide` (a contact's address), the failure's text does not quote the address.
    """
    shown = "" if hide else f" {address!r}"
    try:
        parsed = Address(display_name=display_name, addr_spec=address.strip())
    except (ValueError, IndexError, email_errors.MessageError) as exc:
        reason = redact(str(exc), known=[address, display_name]) if hide else str(exc)
        raise PermanentFailure(f"invalid e-mail address{shown}: {reason}") from None
    if not parsed.username or not parsed.domain:
        raise PermanentFailure(f"invalid e-mail address{shown}: no user or no domain")
    return parsed


def _parse_from(sender: str) -> Address:
    """The `From` address: ``"Name <addr>"`` or a bare address; ValueError when invalid."""
    name, addr_spec = parseaddr(sender)
    try:
        return _parse_address(addr_spec or sender, name)
    except PermanentFailure as exc:
        raise ConfigurationError(f"sender: {exc}") from None
