"""DjangoEmailSender: the e-mail it builds, and what each backend failure becomes."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
import requests
from anymail.exceptions import AnymailAPIError, AnymailRequestsAPIError
from anymail.message import AnymailRecipientStatus
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from shop.regua_senders import TEMPLATES

from regua import Contact
from regua.integrations.django import DjangoEmailSender
from regua.ports import Message, OutcomeUnknown, PermanentFailure, TemporaryFailure
from regua.records import idempotency_key

OCCURRENCE = "shop:order_confirmation:7:event=42"
KEY = idempotency_key(OCCURRENCE)
ANA = Contact("7", attributes={"name": "Ána Souza", "first_name": "Ána"})


def message(address: str = "ana@example.com") -> Message:
    return Message(
        channel="email",
        address=address,
        message="order_confirmation",
        payload={"order_id": 42, "total": 129.9},
        contact=ANA,
        cadence="shop",
        step="order_confirmation",
        occurrence_key=OCCURRENCE,
        idempotency_key=KEY,
    )


class Raising(BaseEmailBackend):
    """A backend whose every send raises `error`."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise self.error


def raising(error: Exception) -> Callable[[EmailMultiAlternatives, Message], None]:
    def prepare(email: EmailMultiAlternatives, message: Message) -> None:
        email.connection = Raising(error)

    return prepare


def anymail_answering(response: Any) -> Callable[[EmailMultiAlternatives, Message], None]:
    def prepare(email: EmailMultiAlternatives, message: Message) -> None:
        email.anymail_test_response = response  # read by anymail's test backend

    return prepare


def http_error(status: int, headers: dict[str, str] | None = None) -> AnymailAPIError:
    response = requests.Response()
    response.status_code = status
    response.reason = "Whatever"
    response.headers.update(headers or {})
    response._content = b'{"message": "ana@example.com is unknown"}'
    return AnymailRequestsAPIError(response=response, esp_name="Postmark")


def test_the_email(settings: Any) -> None:
    sender = DjangoEmailSender(
        from_email="Loja <loja@shop.example>",
        templates=TEMPLATES,
        headers={"Message-ID": "<mine@x>", "X-Campaign": "orders"},
    )
    assert sender.send(message()) == f"<{KEY}@shop.example>"
    [email] = mail.outbox
    assert email.subject == "Order 42 confirmed"
    assert email.body == "Hello Ána, we have your order 42 (129.9)."
    assert email.alternatives[0][1] == "text/html"
    assert email.to == ["Ána Souza <ana@example.com>"]
    assert email.extra_headers == {
        "Message-ID": f"<{KEY}@shop.example>",  # regua's wins
        "X-Regua-Idempotency-Key": KEY,
        "X-Campaign": "orders",
    }
    assert "=?utf-8?" in str(email.message()["To"])  # the name is encoded for the wire


def test_from_email_defaults_to_djangos(settings: Any) -> None:
    settings.DEFAULT_FROM_EMAIL = "Shop <hello@shop.example>"
    sender = DjangoEmailSender(templates=TEMPLATES)
    sender.send(message())
    assert mail.outbox[0].from_email == "Shop <hello@shop.example>"
    assert mail.outbox[0].extra_headers["Message-ID"] == f"<{KEY}@shop.example>"


def test_prepare_sees_the_email_before_it_goes(settings: Any) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"

    def tag(email: EmailMultiAlternatives, message: Message) -> None:
        email.metadata = {"occurrence_key": message.occurrence_key}  # django-anymail's

    sender = DjangoEmailSender(from_email="loja@shop.example", templates=TEMPLATES, prepare=tag)
    assert sender.send(message()) == "0"  # anymail's test backend: the index in the outbox
    assert mail.outbox[0].anymail_test_params["metadata"] == {"occurrence_key": OCCURRENCE}


def test_a_backend_named_by_path(settings: Any) -> None:
    sender = DjangoEmailSender(
        from_email="loja@shop.example",
        templates=TEMPLATES,
        backend="django.core.mail.backends.dummy.EmailBackend",
    )
    sender.send(message())
    assert mail.outbox == []


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="not an e-mail address"):
        DjangoEmailSender(from_email="Loja")
    with pytest.raises(ValueError, match="a renderer or templates, not both"):
        DjangoEmailSender(renderer=lambda message: None, templates=TEMPLATES)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("prepare", "failure", "text"),
    [
        (
            anymail_answering(
                {"recipient_status": {"ana@example.com": AnymailRecipientStatus(None, "rejected")}}
            ),
            PermanentFailure,
            "Test refused the recipient",
        ),
        (anymail_answering(http_error(422)), PermanentFailure, "Postmark answered 422"),
        (anymail_answering(http_error(503)), TemporaryFailure, "Postmark answered 503"),
        (anymail_answering(http_error(429)), TemporaryFailure, "Postmark answered 429"),
        (
            raising(
                smtplib.SMTPRecipientsRefused({"ana@example.com": (550, b"no ana@example.com")})
            ),
            PermanentFailure,
            "refused the recipient 550 no <email>",
        ),
        (
            raising(smtplib.SMTPRecipientsRefused({"ana@example.com": (450, b"mailbox busy")})),
            TemporaryFailure,
            "refused the recipient 450 mailbox busy",
        ),
        (raising(smtplib.SMTPDataError(554, b"spam")), PermanentFailure, "answered 554 spam"),
        (
            raising(smtplib.SMTPSenderRefused(451, b"later", "loja@shop.example")),
            TemporaryFailure,
            "answered 451 later",
        ),
        (raising(smtplib.SMTPServerDisconnected("gone")), OutcomeUnknown, "closed the connection"),
        (raising(smtplib.SMTPConnectError(421, b"busy")), TemporaryFailure, "cannot connect"),
        (raising(TimeoutError("timed out")), OutcomeUnknown, "timed out"),
        (
            raising(ConnectionRefusedError(111, "Connection refused")),
            TemporaryFailure,
            "cannot reach its server",
        ),
    ],
)
def test_failures(
    settings: Any,
    prepare: Callable[[EmailMultiAlternatives, Message], None],
    failure: type[Exception],
    text: str,
) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    sender = DjangoEmailSender(from_email="loja@shop.example", templates=TEMPLATES, prepare=prepare)
    with pytest.raises(failure) as raised:
        sender.send(message())
    assert type(raised.value) is failure
    assert text in str(raised.value)
    assert "ana@example.com" not in str(raised.value)


def test_retry_after_is_kept(settings: Any) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    answer = anymail_answering(http_error(429, {"Retry-After": "30"}))
    sender = DjangoEmailSender(from_email="loja@shop.example", templates=TEMPLATES, prepare=answer)
    with pytest.raises(TemporaryFailure) as raised:
        sender.send(message())
    assert raised.value.retry_after == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("cause", "failure"),
    [(requests.ConnectTimeout, TemporaryFailure), (requests.ReadTimeout, OutcomeUnknown)],
)
def test_no_answer_from_the_provider(
    settings: Any, cause: type[Exception], failure: type[Exception]
) -> None:
    # What anymail raises when requests raised: both its error and requests' own.
    error = type("AnymailRequestsAPIError", (AnymailRequestsAPIError, cause), {})("no answer")
    sender = DjangoEmailSender(
        from_email="loja@shop.example", templates=TEMPLATES, prepare=raising(error)
    )
    with pytest.raises(failure) as raised:
        sender.send(message())
    assert type(raised.value) is failure


def test_permanent_failures_before_sending(settings: Any) -> None:
    sender = DjangoEmailSender(from_email="loja@shop.example", templates=TEMPLATES)
    with pytest.raises(PermanentFailure, match="invalid e-mail address") as raised:
        sender.send(message("ana at example"))
    assert "ana at example" not in str(raised.value)
    with pytest.raises(PermanentFailure, match="no e-mail template 'order_confirmation'"):
        DjangoEmailSender(from_email="loja@shop.example").send(message())
    bad_header = DjangoEmailSender(
        from_email="loja@shop.example", templates=TEMPLATES, headers={"X-Note": "a\nb"}
    )
    with pytest.raises(PermanentFailure, match="Django refused the e-mail"):
        bad_header.send(message())
    assert mail.outbox == []


def test_a_backend_that_sends_nothing(settings: Any) -> None:
    class Silent(BaseEmailBackend):
        def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
            return 0

    def silent(email: EmailMultiAlternatives, message: Message) -> None:
        email.connection = Silent()

    sender = DjangoEmailSender(from_email="loja@shop.example", templates=TEMPLATES, prepare=silent)
    with pytest.raises(TemporaryFailure, match="sent nothing"):
        sender.send(message())
