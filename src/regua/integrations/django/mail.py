"""`DjangoEmailSender`: regua's e-mail through ``django.core.mail``, whatever the backend.

Django's SMTP backend, its console and in-memory backends for development and tests, and
every provider of django-anymail (Amazon SES, Mailgun, Postmark, SendGrid...) send the same
`EmailMultiAlternatives`; this sender builds it from a `Message` as `SMTPSender` does (the
same renderers, the same ``Message-ID`` and idempotency header) and maps what the backend
raises to `TemporaryFailure` and `PermanentFailure`.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping
from datetime import timedelta
from email.utils import parseaddr

from django import conf
from django.core.mail import EmailMultiAlternatives, get_connection

from regua.errors import ConfigurationError
from regua.ports import Message, OutcomeUnknown, PermanentFailure, TemporaryFailure
from regua.redaction import personal_strings, redact
from regua.senders.smtp import (
    IDEMPOTENCY_HEADER,
    Renderer,
    TemplateRenderer,
    _message_id,
    _parse_address,
)

# Django's settings are read as `conf.settings`, never imported as a global: a doctest finder
# probes every global of a module, and the lazy object raises when Django is not configured.

__all__ = ["DjangoEmailSender", "Prepare"]

Prepare = Callable[[EmailMultiAlternatives, Message], None]
"""Changes the e-mail before it is sent: tags, metadata, a reply-to, attachments..."""


class DjangoEmailSender:
    """A `Sender` that hands each e-mail to Django's e-mail framework.

    >>> sender = DjangoEmailSender(from_email="Shop <no-reply@shop.example>",
    ...     templates={"welcome": ("Welcome, $first_name!", "Hello $first_name.")})
    >>> sender.message_id("6f1c0e2b9d8a4f3e8c7b6a5d4e3f2a1b")
    '<6f1c0e2b9d8a4f3e8c7b6a5d4e3f2a1b@shop.example>'

    The e-mail is an `EmailMultiAlternatives`: the rendered subject and text, the HTML
    alternative when the renderer gives one, from `from_email`, to the contact's address
    (with the contact's ``name`` attribute as display name). It carries ``Message-ID:
    <{idempotency_key}@{domain of from_email}>`` and ``X-Regua-Idempotency-Key``, so a
    retried delivery has the same id as the first, and the extra `headers` given here.

    `send` returns the provider's message id when the backend reports one (django-anymail
    sets ``message.anymail_status.message_id``), the ``Message-ID`` otherwise.

    Failures:

    | what happened | raises |
    |---|---|
    | django-anymail: every recipient refused, an invalid address | `PermanentFailure` |
    | django-anymail: a feature or data the provider cannot take | `PermanentFailure` |
    | django-anymail: an API answer 4xx (but 408 and 429) | `PermanentFailure` |
    | django-anymail: an API answer 408, 429 or 5xx | `TemporaryFailure` |
    | django-anymail: no answer (a timeout, a dropped connection) | `OutcomeUnknown` |
    | SMTP: a 5xx reply | `PermanentFailure` |
    | SMTP: a 4xx reply, connection refused, a network error | `TemporaryFailure` |
    | SMTP: the server closed the connection, a timeout | `OutcomeUnknown` |
    | an address or a header Django refuses, an unknown template | `PermanentFailure` |

    Other exceptions propagate: the scheduler counts them as temporary failures. What a
    provider said is quoted through `regua.redaction.redact`.

    Args:
        from_email: The ``From`` header (``"Shop <no-reply@shop.example>"`` or an address);
            ``settings.DEFAULT_FROM_EMAIL`` when None.
        renderer: Turns a `Message` into a `RenderedEmail` (`TemplateRenderer`,
            `JinjaRenderer`, or a function of yours); defaults to a `TemplateRenderer` over
            `templates`.
        templates: ``{template_key: (subject, text[, html])}`` for the default renderer.
        headers: Extra headers for every e-mail (regua's two headers win on a clash).
        backend: The dotted path of the e-mail backend; ``settings.EMAIL_BACKEND`` when
            None.
        prepare: Called with the e-mail and the `Message` just before sending, to add what
            a provider takes (django-anymail's ``tags``, ``metadata``, ``esp_extra``...).

    """

    def __init__(
        self,
        *,
        from_email: str | None = None,
        renderer: Renderer | None = None,
        templates: Mapping[str, tuple[str, str] | tuple[str, str, str]] | None = None,
        headers: Mapping[str, str] | None = None,
        backend: str | None = None,
        prepare: Prepare | None = None,
    ) -> None:
        if renderer is not None and templates is not None:
            raise ConfigurationError("give a renderer or templates, not both")
        if from_email is not None:
            _domain(from_email)  # fail now, not at the first send
        self._from_email = from_email
        self.renderer: Renderer = renderer or TemplateRenderer(templates or {})
        self.headers = dict(headers or {})
        self.backend = backend
        self.prepare = prepare

    def __repr__(self) -> str:
        return f"DjangoEmailSender(from_email={self._from_email!r}, backend={self.backend!r})"

    @property
    def from_email(self) -> str:
        """The ``From`` header: the one given, else ``settings.DEFAULT_FROM_EMAIL``."""
        if self._from_email is not None:
            return self._from_email
        return str(conf.settings.DEFAULT_FROM_EMAIL)

    def message_id(self, idempotency_key: str) -> str:
        """The ``Message-ID`` of the e-mail for `idempotency_key`: ``<key@domain>``."""
        return _message_id(idempotency_key, _domain(self.from_email))

    def compose(self, message: Message) -> EmailMultiAlternatives:
        """The e-mail that `send` would hand to the backend for `message` (nothing is sent).

        Raises `PermanentFailure` when the address does not parse or the renderer refuses
        the message.
        """
        rendered = self.renderer(message)
        name = message.contact.attributes.get("name")
        display_name = name if isinstance(name, str) else ""
        to = str(_parse_address(message.address, display_name, hide=True))  # a failure hides it
        headers = {
            **self.headers,
            "Message-ID": self.message_id(message.idempotency_key),
            IDEMPOTENCY_HEADER: message.idempotency_key,
        }
        email = EmailMultiAlternatives(
            subject=rendered.subject,
            body=rendered.text,
            from_email=self.from_email,
            to=[to],
            headers=headers,
            connection=get_connection(self.backend) if self.backend is not None else None,
        )
        if rendered.html is not None:
            email.attach_alternative(rendered.html, "text/html")
        return email

    def send(self, message: Message) -> str | None:
        """Render `message`, send it through the backend; return the provider's message id."""
        email = self.compose(message)
        if self.prepare is not None:
            self.prepare(email, message)
        try:
            sent = email.send()
        except Exception as exc:
            failure = _failure(exc, message)
            if failure is None:
                raise
            raise failure from exc
        if not sent:
            raise TemporaryFailure("the e-mail backend sent nothing (is it failing silently?)")
        # django-anymail's id of the message at the provider; for several recipients it
        # would be a set, and there is one.
        status = getattr(email, "anymail_status", None)
        provider_id = getattr(status, "message_id", None)
        if provider_id is not None and not isinstance(provider_id, (set, frozenset)):
            return str(provider_id)
        return str(email.extra_headers["Message-ID"])


def _domain(from_email: str) -> str:
    _, address = parseaddr(from_email)
    domain = address.rpartition("@")[2]
    if "@" not in address or not domain:
        raise ConfigurationError(f"from_email {from_email!r} is not an e-mail address")
    return domain


def _failure(exc: Exception, message: Message) -> TemporaryFailure | PermanentFailure | None:
    """The regua failure for what sending raised; None for an exception left as it is."""
    known = personal_strings(message)

    def said(error: BaseException) -> str:
        text = str(error)
        if isinstance(error, smtplib.SMTPResponseException):
            raw = error.smtp_error
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return redact(text, known=known) or type(error).__name__

    anymail = _anymail_failure(exc, said)
    if anymail is not None:
        return anymail
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = list(exc.recipients.values())
        code, reply = replies[0] if replies else (550, b"recipient refused")
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        shown = redact(text, known=known)
        return _by_code(code, "the SMTP server refused the recipient", shown)
    if isinstance(exc, smtplib.SMTPConnectError):
        return TemporaryFailure(f"cannot connect to the SMTP server: {exc.smtp_code} {said(exc)}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, "the SMTP server answered", said(exc))
    if isinstance(exc, smtplib.SMTPServerDisconnected):  # perhaps once it had the message
        return OutcomeUnknown(f"the SMTP server closed the connection: {said(exc)}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentFailure(f"the SMTP server lacks what the backend needs: {said(exc)}")
    if isinstance(exc, TimeoutError):  # perhaps waiting for the answer to the message
        return OutcomeUnknown(f"the e-mail backend timed out: {said(exc)}")
    if isinstance(exc, OSError):
        return TemporaryFailure(f"the e-mail backend cannot reach its server: {said(exc)}")
    if isinstance(exc, ValueError):  # Django's BadHeaderError, an address it refuses
        return PermanentFailure(f"Django refused the e-mail: {said(exc)}")
    return None


def _anymail_failure(
    exc: Exception, said: Callable[[BaseException], str]
) -> TemporaryFailure | PermanentFailure | None:
    """The failure for a django-anymail error, or None (imported only when anymail is)."""
    if not any(kind.__module__.startswith("anymail.") for kind in type(exc).__mro__):
        return None
    try:
        from anymail import exceptions as anymail
    except ImportError:  # pragma: no cover - an anymail class without anymail
        return None
    esp = getattr(exc, "esp_name", None) or "the e-mail provider"
    if isinstance(exc, anymail.AnymailRecipientsRefused):
        return PermanentFailure(f"{esp} refused the recipient: {said(exc)}")
    if isinstance(
        exc,
        (
            anymail.AnymailInvalidAddress,
            anymail.AnymailUnsupportedFeature,
            anymail.AnymailSerializationError,
        ),
    ):
        return PermanentFailure(f"{esp} cannot take this e-mail: {said(exc)}")
    if isinstance(exc, anymail.AnymailAPIError):
        status = exc.status_code
        if status is None:
            return _network_failure(exc, esp, said)
        reply = f"{esp} answered {status}: {said(exc)}"
        if status in (408, 429) or status >= 500:
            return TemporaryFailure(reply, retry_after=_retry_after(exc))
        if 400 <= status < 500:
            return PermanentFailure(reply)
        return TemporaryFailure(reply)
    if isinstance(exc, anymail.AnymailError):
        return TemporaryFailure(f"{esp}: {said(exc)}")
    return None


def _network_failure(
    exc: Exception, esp: str, said: Callable[[BaseException], str]
) -> TemporaryFailure:
    """No answer from the provider: not delivered only if the connection never opened."""
    import requests

    if isinstance(exc, (requests.exceptions.ConnectTimeout, requests.exceptions.SSLError)):
        return TemporaryFailure(f"cannot reach {esp}: {said(exc)}")
    return OutcomeUnknown(f"no answer from {esp}: {said(exc)}")


def _retry_after(exc: Exception) -> timedelta | None:
    """The provider's ``Retry-After``, when it gave a number of seconds."""
    response = getattr(exc, "response", None)
    value = getattr(response, "headers", {}).get("Retry-After") if response is not None else None
    try:
        seconds = int(str(value))
    except ValueError:
        return None
    return timedelta(seconds=seconds) if seconds > 0 else None


def _by_code(code: int, what: str, reply: str) -> TemporaryFailure | PermanentFailure:
    text = f"{what} {code} {reply}".rstrip()
    if 500 <= code <= 599:
        return PermanentFailure(text)
    return TemporaryFailure(text)
