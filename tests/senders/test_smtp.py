"""SMTPSender against a real SMTP server (aiosmtpd) on 127.0.0.1, started by the tests."""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from regua import Contact, Message, PermanentFailure, TemporaryFailure
from regua.records import idempotency_key
from regua.senders import RenderedEmail, SMTPSender
from regua.senders.smtp import TemplateRenderer
from regua.testing.contracts import SenderContract

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller")
aiosmtpd_smtp = pytest.importorskip("aiosmtpd.smtp")

TEMPLATES = {
    "welcome": ("Bem-vinda, $first_name!", "Olá $first_name, número $number.\n"),
    "receipt": (
        "Receipt $order",
        "Order $order: $total",
        "<p>Order <b>$order</b>: $total</p>",
    ),
}


_SUBJECT = "Bem-vinda, João!"


class Recorder:
    """An aiosmtpd handler: records what it receives; answers `rcpt_reply`/`data_reply`."""

    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None) -> None:
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.received: list[tuple[Any, EmailMessage, list[str]]] = []

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply is not None:
            return self.data_reply
        parsed = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((session.peer, parsed, list(envelope.rcpt_tos)))
        return "250 Message accepted"

    @property
    def messages(self) -> list[EmailMessage]:
        return [message for _, message, _ in self.received]

    @property
    def keys(self) -> list[str]:
        return [str(message["X-Regua-Idempotency-Key"]) for message in self.messages]

    @property
    def connections(self) -> int:
        return len({peer for peer, _, _ in self.received})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, handler: Recorder, **options: Any) -> None:
        self.handler = handler
        self.port = _free_port()
        self.controller = aiosmtpd_controller.Controller(
            handler, hostname="127.0.0.1", port=self.port, **options
        )

    def __enter__(self) -> Server:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(Recorder()) as running:
        yield running


@pytest.fixture
def recorder(server: Server) -> Recorder:
    server.handler.received.clear()
    server.handler.rcpt_reply = server.handler.data_reply = None
    return server.handler


def _sender(port: int, **options: Any) -> SMTPSender:
    options.setdefault("security", "plain")
    options.setdefault("templates", TEMPLATES)
    options.setdefault("timeout", 30.0)  # a bound for a hung test, not a speed
    return SMTPSender("127.0.0.1", port, sender="Loja Exemplo <no-reply@loja.example>", **options)


@pytest.fixture
def smtp(server: Server, recorder: Recorder) -> Iterator[SMTPSender]:
    with _sender(server.port) as sender:
        yield sender


def _message(
    number: int = 1,
    *,
    address: str = "joao@example.com",
    template: str = "welcome",
    name: str | None = "João Silva",
    payload: dict[str, object] | None = None,
) -> Message:
    attributes: dict[str, object] = {"first_name": "João"}
    if name is not None:
        attributes["name"] = name
    occurrence = f"shop:welcome:joao:{number}"
    return Message(
        channel="email",
        address=address,
        message=template,
        payload={"number": number} if payload is None else payload,
        contact=Contact("joao", attributes=attributes, addresses={"email": address}),
        cadence="shop",
        step="welcome",
        occurrence_key=occurrence,
        idempotency_key=idempotency_key(occurrence),
    )


# --- what the server receives ----------------------------------------------------------------


def test_a_sent_message_arrives_with_its_headers_and_body(
    smtp: SMTPSender, recorder: Recorder
) -> None:
    message = _message()
    message_id = smtp.send(message)
    (received,) = recorder.messages
    key = message.idempotency_key
    assert message_id == f"<{key}@loja.example>"
    assert received["Message-ID"] == message_id
    assert received["X-Regua-Idempotency-Key"] == key
    assert received["Subject"] == _SUBJECT
    assert received["From"] == "Loja Exemplo <no-reply@loja.example>"
    assert received["To"] == "João Silva <joao@example.com>"
    assert received["Date"]
    body = received.get_body(("plain",))
    assert body is not None
    assert body.get_content_charset() == "utf-8"
    assert body.get_content() == "Olá João, número 1.\r\n"  # CRLF: lines as on the wire
    (_, _, recipients) = recorder.received[0]
    assert recipients == ["joao@example.com"]


def test_non_ascii_names_and_subjects_are_rfc2047_encoded_and_bodies_utf8(
    smtp: SMTPSender, recorder: Recorder
) -> None:
    smtp.send(_message())
    (received,) = recorder.messages
    raw = received.as_bytes(policy=email.policy.SMTP)
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.isascii(), "headers on the wire are ASCII"
    assert raw.isascii(), "the body is quoted-printable, so every server accepts it"
    lines = {line.split(b":")[0]: line for line in head.split(b"\r\n")}
    for header, decoded in [(b"To", "João Silva <joao@example.com>"), (b"Subject", _SUBJECT)]:
        assert b"=?utf-8?" in lines[header], "RFC 2047 encoded-words"
        words = email.header.decode_header(lines[header].split(b": ", 1)[1].decode("ascii"))
        assert str(email.header.make_header(words)) == decoded
    assert b'Content-Type: text/plain; charset="utf-8"' in head
    assert b"Ol=C3=A1 Jo=C3=A3o" in body


def test_an_html_alternative_is_sent_with_escaped_values(
    smtp: SMTPSender, recorder: Recorder
) -> None:
    smtp.send(_message(template="receipt", payload={"order": "<A-1>", "total": "R$ 10"}))
    (received,) = recorder.messages
    assert received.get_content_type() == "multipart/alternative"
    text, html = received.get_body(("plain",)), received.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == "Order <A-1>: R$ 10"
    assert html.get_content().strip() == "<p>Order <b>&lt;A-1&gt;</b>: R$ 10</p>"
    assert received["Subject"] == "Receipt <A-1>"


def test_a_contact_without_a_name_gets_a_bare_address(smtp: SMTPSender, recorder: Recorder) -> None:
    smtp.send(_message(name=None))
    assert recorder.messages[0]["To"] == "joao@example.com"


def test_several_sends_reuse_one_connection(smtp: SMTPSender, recorder: Recorder) -> None:
    for number in range(5):
        smtp.send(_message(number))
    assert len(recorder.messages) == 5
    assert recorder.connections == 1


def test_a_connection_closed_by_the_server_is_reopened(
    smtp: SMTPSender, recorder: Recorder
) -> None:
    smtp.send(_message(1))
    assert smtp._connection is not None
    smtp._connection.sock.shutdown(socket.SHUT_RDWR)  # as if the server timed us out
    smtp.send(_message(2))
    assert recorder.keys == [_message(1).idempotency_key, _message(2).idempotency_key]
    assert recorder.connections == 2


def test_close_ends_the_connection_and_the_next_send_opens_one(
    smtp: SMTPSender, recorder: Recorder
) -> None:
    smtp.send(_message(1))
    smtp.close()
    smtp.close()  # harmless
    smtp.send(_message(2))
    assert recorder.connections == 2


def test_a_custom_renderer_is_used(server: Server, recorder: Recorder) -> None:
    def render(message: Message) -> RenderedEmail:
        return RenderedEmail(subject=f"[{message.step}]", text=repr(message.payload))

    with _sender(server.port, templates=None, renderer=render) as sender:
        sender.send(_message(payload={"x": 1}))
    (received,) = recorder.messages
    assert received["Subject"] == "[welcome]"
    assert received.get_content().strip() == "{'x': 1}"


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stage", "reply", "kind"),
    [
        ("rcpt", "451 4.7.1 Greylisted, try again later", TemporaryFailure),
        ("rcpt", "452 4.2.2 Mailbox full", TemporaryFailure),
        ("rcpt", "550 5.1.1 No such user", PermanentFailure),
        ("data", "451 4.3.0 Local error", TemporaryFailure),
        ("data", "554 5.7.1 Message rejected as spam", PermanentFailure),
    ],
)
def test_server_replies_map_to_failure_kinds(
    smtp: SMTPSender, recorder: Recorder, stage: str, reply: str, kind: type[Exception]
) -> None:
    setattr(recorder, f"{stage}_reply", reply)
    with pytest.raises(kind) as raised:
        smtp.send(_message())
    code = reply.split()[0]
    assert code in str(raised.value)
    assert reply.split(" ", 2)[2] in str(raised.value)
    # The connection survives a refusal: the next message goes over it.
    setattr(recorder, f"{stage}_reply", None)
    smtp.send(_message(2))
    assert recorder.connections == 1


@pytest.mark.parametrize(
    ("stage", "reply", "suppress"),
    [
        ("rcpt", "550 5.1.1 No such user", "address"),
        ("rcpt", "550 5.1.10 Recipient address has null MX", "address"),
        ("rcpt", "550 5.7.1 Relaying denied", None),
        ("data", "554 5.7.1 Message rejected as spam", None),
        ("rcpt", "452 4.2.2 Mailbox full", None),
    ],
)
def test_a_mailbox_that_does_not_exist_suppresses_the_address(
    smtp: SMTPSender, recorder: Recorder, stage: str, reply: str, suppress: str | None
) -> None:
    """Only a bad destination mailbox (5.1.1, 5.1.10) is the address's fault for good."""
    setattr(recorder, f"{stage}_reply", reply)
    with pytest.raises((PermanentFailure, TemporaryFailure)) as raised:
        smtp.send(_message())
    assert getattr(raised.value, "suppress", None) == suppress


@pytest.mark.parametrize(
    ("stage", "reply", "kept"),
    [
        (
            "rcpt",
            "550 5.1.1 <{address}>: Recipient address rejected",
            "refused the recipient 550 5.1.1 <<email>>: Recipient address rejected",
        ),
        (
            "rcpt",
            "450 4.2.0 {address}: Recipient address rejected: Greylisted",
            "refused the recipient 450 4.2.0 <email>: Recipient address rejected: Greylisted",
        ),
        (
            "data",
            "554 5.7.1 Rejected: Olá João Silva, call +55 11 99999-0000",
            "answered 554 5.7.1 Rejected: Olá <redacted>, call <phone>",
        ),
    ],
)
def test_a_reply_that_quotes_the_recipient_is_quoted_without_personal_data(
    smtp: SMTPSender, recorder: Recorder, stage: str, reply: str, kept: str
) -> None:
    address = "nobody.secret@example.com"
    setattr(recorder, f"{stage}_reply", reply.format(address=address))
    with pytest.raises((PermanentFailure, TemporaryFailure)) as raised:
        smtp.send(_message(address=address))
    text = str(raised.value)
    assert text.endswith(kept)
    for personal in (address, "João Silva", "99999-0000"):
        assert personal not in text


@pytest.mark.parametrize("address", ["joao.silva@", "joao.silva@example.com\r\nBcc: x@example.com"])
def test_an_invalid_address_is_not_quoted(smtp: SMTPSender, address: str) -> None:
    with pytest.raises(PermanentFailure, match="invalid e-mail address") as raised:
        smtp.send(_message(address=address))
    assert "joao.silva" not in str(raised.value)


def test_a_server_that_is_down_is_a_temporary_failure() -> None:
    with _sender(_free_port()) as sender, pytest.raises(TemporaryFailure, match="cannot reach"):
        sender.send(_message())


def test_a_server_that_does_not_answer_is_a_temporary_failure() -> None:
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        sender = _sender(silent.getsockname()[1], timeout=0.2)
        with sender, pytest.raises(TemporaryFailure, match="timed out"):
            sender.send(_message())


@pytest.mark.parametrize(
    "address", ["not an address", "joao@", "@example.com", "", "a@b\r\nBcc: x@example.com"]
)
def test_an_invalid_address_is_a_permanent_failure(
    smtp: SMTPSender, recorder: Recorder, address: str
) -> None:
    with pytest.raises(PermanentFailure, match="invalid e-mail address"):
        smtp.send(_message(address=address))
    assert recorder.messages == []


def test_an_unknown_template_is_a_permanent_failure(smtp: SMTPSender) -> None:
    with pytest.raises(PermanentFailure, match=r"no e-mail template 'nope' \(templates: "):
        smtp.send(_message(template="nope"))


def test_starttls_that_the_server_does_not_offer_is_a_permanent_failure(
    server: Server, recorder: Recorder
) -> None:
    with (
        _sender(server.port, security="starttls") as sender,
        pytest.raises(PermanentFailure, match="STARTTLS"),
    ):
        sender.send(_message())


# --- the default renderer --------------------------------------------------------------------


def test_the_default_renderer_never_evaluates_data() -> None:
    render = TemplateRenderer(
        {"t": ("$first_name ${missing} $$5", "{first_name} $first_name.__class__ $number")}
    )
    message = _message(template="t", payload={"number": "${first_name}", "first_name": "{0}"})
    rendered = render(message)
    assert rendered.subject == "{0} ${missing} $5"
    assert rendered.text == "{first_name} {0}.__class__ ${first_name}"


def test_a_subject_stays_on_one_line() -> None:
    render = TemplateRenderer({"t": ("Hi $first_name", "")})
    rendered = render(_message(template="t", payload={"first_name": "Ana\r\nBcc: x@y.example"}))
    assert rendered.subject == "Hi Ana Bcc: x@y.example"


def test_bad_construction_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="security must be"):
        SMTPSender("localhost", security="tls")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not both"):
        SMTPSender("localhost", templates={}, renderer=TemplateRenderer({}))
    with pytest.raises(ValueError, match="sender: invalid e-mail address"):
        SMTPSender("localhost", sender="Shop <nobody>")
    with pytest.raises(ValueError, match="subject, text"):
        TemplateRenderer({"t": ("only a subject",)})  # type: ignore[dict-item]
    assert SMTPSender("localhost").port == 587
    assert SMTPSender("localhost", security="ssl").port == 465


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (and its key), made with `cryptography`."""
    crypto = pytest.importorskip("cryptography", reason="cryptography makes the test cert")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    ok = (auth.login, auth.password) == (b"shop", b"s3cret")
    # handled=False: aiosmtpd answers a refusal with 535 (with the default, True, it stays
    # silent, expecting the authenticator to have answered).
    return aiosmtpd_smtp.AuthResult(success=ok, handled=False)


def test_starttls_and_login(certificate: tuple[Path, Path]) -> None:
    handler = Recorder()
    options = {
        "tls_context": _server_context(certificate),
        "require_starttls": True,
        "authenticator": _authenticate,
        "auth_required": True,
    }
    client = ssl.create_default_context(cafile=str(certificate[0]))
    with Server(handler, **options) as server:
        with _sender(
            server.port, security="starttls", ssl_context=client, username="shop", password="s3cret"
        ) as sender:
            sender.send(_message(1))
            sender.send(_message(2))
        assert len(handler.messages) == 2
        assert handler.connections == 1
        with (
            _sender(
                server.port,
                security="starttls",
                ssl_context=client,
                username="shop",
                password="wrong",
            ) as sender,
            pytest.raises(PermanentFailure, match="535"),
        ):
            sender.send(_message(3))
        untrusting = ssl.create_default_context()  # the system CAs do not know this cert
        with (
            _sender(server.port, security="starttls", ssl_context=untrusting) as sender,
            pytest.raises(TemporaryFailure, match="CERTIFICATE_VERIFY_FAILED"),
        ):
            sender.send(_message(4))
    assert len(handler.messages) == 2


# --- the sender contract ---------------------------------------------------------------------


class TestSMTPSender(SenderContract[SMTPSender]):
    address = "ana@example.com"

    recorder: Recorder

    @pytest.fixture
    def sender(self, server: Server, recorder: Recorder) -> Iterator[SMTPSender]:
        self.recorder = recorder  # pytest binds class fixtures to the test's instance
        with _sender(server.port) as sender:
            yield sender

    @pytest.fixture
    def temporarily_failing_sender(
        self, server: Server, recorder: Recorder
    ) -> Iterator[SMTPSender]:
        recorder.rcpt_reply = "451 4.7.1 Try again later"
        with _sender(server.port) as sender:
            yield sender

    @pytest.fixture
    def permanently_failing_sender(
        self, server: Server, recorder: Recorder
    ) -> Iterator[SMTPSender]:
        recorder.rcpt_reply = "550 5.1.1 No such user"
        with _sender(server.port) as sender:
            yield sender

    def delivered_keys(self, sender: SMTPSender) -> list[str]:
        """The X-Regua-Idempotency-Key headers the server received, in order."""
        return self.recorder.keys
