"""One-click unsubscribe (RFC 2369, RFC 8058): headers, signed tokens, the endpoint's helper."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    InMemoryRepository,
    Message,
    PermanentFailure,
    Repository,
    Scheduler,
    Step,
    on_event,
)
from regua.ports import UnknownContactError
from regua.records import idempotency_key
from regua.senders import (
    InvalidUnsubscribeToken,
    SMTPSender,
    TemplateRenderer,
    Unsubscribe,
    UnsubscribeRequest,
    handle_unsubscribe,
    read_unsubscribe_token,
    unsubscribe_token,
)
from regua.senders.unsubscribe import ONE_CLICK
from tests.senders.test_smtp import Recorder, Server

SECRET = "a long random secret, shared by the sender and the endpoint"
URL = "https://loja.com.br/unsubscribe"
ISSUED = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
TOKEN_TEXT = re.compile(r"v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}")
TEMPLATES: dict[str, tuple[str, str] | tuple[str, str, str]] = {
    "news": (
        "Novidades",
        "Sair da lista: $unsubscribe_url\n",
        '<a href="$unsubscribe_url">Sair</a>',
    ),
    "receipt": ("Pedido $order", "Pedido $order confirmado. $unsubscribe_url\n"),
}


class RawRecorder(Recorder):
    """Also keeps each message as it came over the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.raw: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(envelope.original_content)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    with Server(RawRecorder()) as running:
        yield running


@pytest.fixture
def recorder(server: Server) -> RawRecorder:
    handler = server.handler
    assert isinstance(handler, RawRecorder)
    handler.received.clear()
    handler.raw.clear()
    return handler


def _smtp(port: int, unsubscribe: Unsubscribe | None) -> SMTPSender:
    return SMTPSender(
        "127.0.0.1",
        port,
        security="plain",
        sender="Loja Exemplo <no-reply@loja.com.br>",
        templates=TEMPLATES,
        timeout=30.0,
        unsubscribe=unsubscribe,
    )


@pytest.fixture
def smtp(server: Server, recorder: RawRecorder) -> Iterator[SMTPSender]:
    unsubscribe = Unsubscribe(URL, secret=SECRET, mailto="unsubscribe@loja.com.br")
    with _smtp(server.port, unsubscribe) as sender:
        yield sender


def _message(
    *,
    contact_id: str = "ana",
    template: str = "news",
    step: str = "newsletter",
    transactional: bool = False,
    kind: str = "message",
    payload: dict[str, object] | None = None,
) -> Message:
    key = f"loja:{step}:{contact_id}:1"
    return Message(
        channel="email",
        address="ana@example.com.br",
        message=template,
        payload={"order": "A-1"} if payload is None else payload,
        contact=Contact(contact_id, addresses={"email": "ana@example.com.br"}),
        cadence="loja",
        step=step,
        occurrence_key=key,
        idempotency_key=idempotency_key(key),
        kind=kind,
        transactional=transactional,
    )


def _links(header: str) -> tuple[str, str | None]:
    """(https link, mailto link or None) of a List-Unsubscribe value."""
    links = re.findall(r"<([^<>]*)>", header)
    assert header == ", ".join(f"<{link}>" for link in links)
    https = [link for link in links if link.startswith("https://")]
    mailto = [link for link in links if link.startswith("mailto:")]
    assert len(https) == 1, "RFC 8058: exactly one HTTPS URI"
    assert len(links) == len(https) + len(mailto)
    return https[0], mailto[0] if mailto else None


def _token_of(link: str) -> str:
    match = re.fullmatch(re.escape(URL) + r"\?token=(.+)", link)
    assert match is not None, link
    return match[1]


# --- the headers, as a real SMTP server receives them ----------------------------------------


def test_marketing_mail_arrives_with_one_click_unsubscribe_headers(
    smtp: SMTPSender, recorder: RawRecorder
) -> None:
    before = datetime.now(timezone.utc).replace(microsecond=0)
    smtp.send(_message())
    (received,) = recorder.messages
    assert received["List-Unsubscribe-Post"] == ONE_CLICK == "List-Unsubscribe=One-Click"
    https, mailto = _links(str(received["List-Unsubscribe"]))
    assert https.startswith(f"{URL}?token=v1.")
    token = _token_of(https)
    assert TOKEN_TEXT.fullmatch(token)
    assert mailto == f"mailto:unsubscribe@loja.com.br?subject=unsubscribe-{token}"
    request = read_unsubscribe_token(token, SECRET)
    assert (request.contact_id, request.channel, request.cadence, request.step) == (
        "ana",
        "email",
        "loja",
        "newsletter",
    )
    assert before <= request.issued_at <= datetime.now(timezone.utc)


def test_the_body_gets_the_same_link_as_unsubscribe_url(
    smtp: SMTPSender, recorder: RawRecorder
) -> None:
    smtp.send(_message())
    (received,) = recorder.messages
    https, _ = _links(str(received["List-Unsubscribe"]))
    text, html = received.get_body(("plain",)), received.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().strip() == f"Sair da lista: {https}"
    assert html.get_content().strip() == f'<a href="{https}">Sair</a>'  # no & to escape


def test_a_payload_of_its_own_keeps_its_unsubscribe_url(
    smtp: SMTPSender, recorder: RawRecorder
) -> None:
    smtp.send(_message(payload={"unsubscribe_url": "https://loja.com.br/preferences"}))
    (received,) = recorder.messages
    text = received.get_body(("plain",))
    assert text is not None
    assert text.get_content().strip() == "Sair da lista: https://loja.com.br/preferences"
    assert received["List-Unsubscribe"].startswith(f"<{URL}?token=v1.")


def test_long_links_keep_a_line_each_and_are_never_encoded(
    smtp: SMTPSender, recorder: RawRecorder
) -> None:
    contact_id = "cliente-" + "x" * 300  # a token far longer than a 78-character line
    smtp.send(_message(contact_id=contact_id))
    (raw,) = recorder.raw
    head = raw.partition(b"\r\n\r\n")[0].decode("ascii")
    lines = head.split("\r\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("List-Unsubscribe:"))
    assert lines[start].startswith(f"List-Unsubscribe: <{URL}?token=v1.")
    assert lines[start].endswith(">,")
    assert lines[start + 1].startswith(" <mailto:unsubscribe@loja.com.br?subject=unsub")
    assert lines[start + 2] == "List-Unsubscribe-Post: List-Unsubscribe=One-Click"
    assert "=?" not in lines[start] + lines[start + 1], "no RFC 2047 encoded-words"
    assert all(len(line) <= 998 for line in lines)
    (received,) = recorder.messages
    https, _ = _links(str(received["List-Unsubscribe"]))
    assert read_unsubscribe_token(_token_of(https), SECRET).contact_id == contact_id


@pytest.mark.parametrize(
    ("transactional", "kind"),
    [(True, "message"), (False, "task"), (True, "task")],
    ids=["transactional", "task", "transactional-task"],
)
def test_transactional_mail_and_tasks_have_no_unsubscribe_headers(
    smtp: SMTPSender, recorder: RawRecorder, transactional: bool, kind: str
) -> None:
    smtp.send(_message(template="receipt", step="receipt", transactional=transactional, kind=kind))
    (received,) = recorder.messages
    assert received["List-Unsubscribe"] is None
    assert received["List-Unsubscribe-Post"] is None
    assert b"List-Unsubscribe" not in recorder.raw[0]
    # and no link in the body: the placeholder stays as written
    assert received.get_content().strip() == "Pedido A-1 confirmado. $unsubscribe_url"


def test_without_the_option_nothing_is_added(server: Server, recorder: RawRecorder) -> None:
    with _smtp(server.port, None) as sender:
        sender.send(_message())
    (received,) = recorder.messages
    assert received["List-Unsubscribe"] is None
    text = received.get_body(("plain",))
    assert text is not None
    assert text.get_content().strip() == "Sair da lista: $unsubscribe_url"


def test_without_mailto_the_header_has_the_https_link_only() -> None:
    unsubscribe = Unsubscribe(URL, secret=SECRET)
    headers = unsubscribe.headers(_message(), issued_at=ISSUED)
    https, mailto = _links(headers["List-Unsubscribe"])
    assert mailto is None
    assert https == unsubscribe.link(_message(), issued_at=ISSUED)
    assert headers["List-Unsubscribe-Post"] == ONE_CLICK


def test_a_url_with_a_query_gets_the_token_appended() -> None:
    unsubscribe = Unsubscribe(f"{URL}?lang=pt-BR", secret=SECRET, parameter="t")
    link = unsubscribe.link(_message(), issued_at=ISSUED)
    token = unsubscribe.token(_message(), issued_at=ISSUED)
    assert link == f"{URL}?lang=pt-BR&t={token}"


def test_headers_for_one_instant_are_the_same_every_time() -> None:
    unsubscribe = Unsubscribe(URL, secret=SECRET, mailto="mailto:unsubscribe@loja.com.br")
    assert unsubscribe.mailto == "unsubscribe@loja.com.br"
    first = unsubscribe.headers(_message(), issued_at=ISSUED)
    assert first == unsubscribe.headers(_message(), issued_at=ISSUED)
    assert first != unsubscribe.headers(_message(), issued_at=ISSUED + timedelta(seconds=1))
    assert unsubscribe.headers(_message(transactional=True), issued_at=ISSUED) == {}
    assert unsubscribe.headers(_message(kind="task"), issued_at=ISSUED) == {}


def test_a_link_too_long_for_a_header_line_is_a_permanent_failure() -> None:
    smtp = _smtp(25, Unsubscribe(URL, secret=SECRET))
    with pytest.raises(PermanentFailure, match=r"unsubscribe link is \d+ characters long"):
        smtp.compose(_message(contact_id="x" * 800))


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"url": "http://loja.com.br/unsubscribe"}, "https://"),
        ({"url": "loja.com.br/unsubscribe"}, "https://"),
        ({"url": "https:///unsubscribe"}, "https://"),
        ({"url": "https://loja.com.br/sair#agora"}, "fragment"),
        ({"url": "https://loja.com.br/a,b"}, "commas"),
        ({"url": "https://loja.com.br/<b>"}, "angle"),
        ({"url": "https://loja.com.br/a b"}, "spaces"),
        ({"url": "https://lojá.com.br/sair"}, "ASCII"),
        ({"secret": ""}, "must not be empty"),
        ({"secret": b""}, "must not be empty"),
        ({"mailto": "not an address"}, "mailto"),
        ({"mailto": "sair@"}, "mailto"),
        ({"mailto": "saír@loja.com.br"}, "ASCII"),
        ({"parameter": ""}, "parameter"),
        ({"parameter": "to ken"}, "parameter"),
    ],
)
def test_bad_options_are_refused(options: dict[str, Any], error: str) -> None:
    arguments: dict[str, Any] = {"url": URL, "secret": SECRET, **options}
    with pytest.raises(ValueError, match=error):
        Unsubscribe(**arguments)


def test_the_secret_is_not_in_the_repr() -> None:
    assert SECRET not in repr(Unsubscribe(URL, secret=SECRET))
    assert SECRET not in repr(_smtp(25, Unsubscribe(URL, secret=SECRET)).unsubscribe)


# --- tokens -------------------------------------------------------------------------------------


def test_a_token_reads_back() -> None:
    token = unsubscribe_token(
        "joão-42", "email", SECRET, issued_at=ISSUED, cadence="loja", step="newsletter"
    )
    assert TOKEN_TEXT.fullmatch(token)
    assert read_unsubscribe_token(token, SECRET) == UnsubscribeRequest(
        "joão-42", "email", ISSUED, cadence="loja", step="newsletter"
    )


def test_cadence_and_step_are_optional() -> None:
    token = unsubscribe_token("ana", "sms", SECRET, issued_at=ISSUED)
    assert read_unsubscribe_token(token, SECRET) == UnsubscribeRequest("ana", "sms", ISSUED)
    with_step = unsubscribe_token("ana", "sms", SECRET, issued_at=ISSUED, step="flash_sale")
    assert read_unsubscribe_token(with_step, SECRET).step == "flash_sale"
    assert read_unsubscribe_token(with_step, SECRET).cadence is None


def test_a_token_is_deterministic_and_kept_to_the_second() -> None:
    later = ISSUED + timedelta(microseconds=999_999)
    token = unsubscribe_token("ana", "email", SECRET, issued_at=later)
    assert token == unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    local = ISSUED.astimezone(timezone(timedelta(hours=-3)))
    assert token == unsubscribe_token("ana", "email", SECRET, issued_at=local)
    assert read_unsubscribe_token(token, SECRET).issued_at == ISSUED


def test_str_and_bytes_secrets_are_the_same_key() -> None:
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    assert token == unsubscribe_token("ana", "email", SECRET.encode(), issued_at=ISSUED)
    assert read_unsubscribe_token(token, SECRET.encode()).contact_id == "ana"


def test_the_payload_holds_only_the_ids_the_instant_and_the_step() -> None:
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED, cadence="loja", step="n")
    payload = token.split(".")[1]
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert decoded == ["ana", "email", int(ISSUED.timestamp()), "loja", "n"]


def _reason(token: object, secret: Any = SECRET, **options: Any) -> str:
    with pytest.raises(InvalidUnsubscribeToken) as refused:
        read_unsubscribe_token(token, secret, **options)  # type: ignore[arg-type]
    assert not isinstance(token, str) or len(token) < 8 or token not in str(refused.value)
    return refused.value.reason


def test_a_token_for_another_contact_with_the_old_signature_is_refused() -> None:
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    version, _, signature = token.split(".")
    other = json.dumps(["bruno", "email", int(ISSUED.timestamp())], separators=(",", ":"))
    forged = base64.urlsafe_b64encode(other.encode()).decode().rstrip("=")
    assert _reason(f"{version}.{forged}.{signature}") == "mismatch"


def test_a_token_signed_with_another_secret_is_refused() -> None:
    token = unsubscribe_token("ana", "email", "another secret", issued_at=ISSUED)
    assert _reason(token) == "mismatch"


def test_a_rotation_accepts_the_current_and_the_retired_secrets() -> None:
    old = unsubscribe_token("ana", "email", "retired secret", issued_at=ISSUED)
    new = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    for token in (old, new):
        assert read_unsubscribe_token(token, [SECRET, b"retired secret"]).contact_id == "ana"
    assert _reason(old, [SECRET]) == "mismatch"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "v1.",
        "v1..",
        "v2.WyJhbmEiXQ.x",
        "v1.WyJhbmEiXQ",
        "v1.WyJhbmEiXQ.short",
        "v1.WyJhbmEiXQ." + "A" * 44,
        "v1.WyJhbmEiXQ." + "A" * 42 + "é",
        "v1.WyJh=bmEiXQ." + "A" * 43,
        " v1.WyJhbmEiXQ." + "A" * 43,
        None,
        b"v1.WyJhbmEiXQ." + b"A" * 43,
    ],
)
def test_what_is_not_a_token_is_refused_as_format(token: object) -> None:
    assert _reason(token) == "format"


def test_a_signed_payload_that_is_not_ours_is_refused_as_format() -> None:
    from regua.senders.unsubscribe import _key, _signature

    for fields in ([], ["ana"], ["ana", "email", "x"], ["", "email", 1], {"c": 1}, "text"):
        payload = base64.urlsafe_b64encode(json.dumps(fields).encode()).decode().rstrip("=")
        signed = f"v1.{payload}"
        assert _reason(f"{signed}.{_signature(_key(SECRET), signed)}") == "format"


def test_max_age_refuses_older_tokens() -> None:
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    month = timedelta(days=30)
    request = read_unsubscribe_token(token, SECRET, max_age=month, now=ISSUED + month)
    assert request.contact_id == "ana"
    late = ISSUED + month + timedelta(seconds=1)
    assert _reason(token, max_age=month, now=late) == "expired"
    assert read_unsubscribe_token(token, SECRET, now=late + 100 * month).contact_id == "ana"


def test_max_age_reads_the_system_clock_by_default() -> None:
    token = unsubscribe_token("ana", "email", SECRET)
    assert read_unsubscribe_token(token, SECRET, max_age=timedelta(minutes=1)).channel == "email"
    old = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    assert _reason(old, max_age=timedelta(minutes=1)) == "expired"


def test_mistakes_in_the_arguments_are_errors_not_refusals() -> None:
    naive = datetime(2026, 3, 2, 15)
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    with pytest.raises(ValueError, match="timezone-aware"):
        unsubscribe_token("ana", "email", SECRET, issued_at=naive)
    with pytest.raises(ValueError, match="contact_id"):
        unsubscribe_token("", "email", SECRET)
    with pytest.raises(ValueError, match="channel"):
        unsubscribe_token("ana", "", SECRET)
    with pytest.raises(ValueError, match="must not be empty"):
        unsubscribe_token("ana", "email", "")
    with pytest.raises(TypeError, match="str or bytes"):
        unsubscribe_token("ana", "email", 42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timezone-aware"):
        read_unsubscribe_token(token, SECRET, max_age=timedelta(days=1), now=naive)
    with pytest.raises(ValueError, match="positive"):
        read_unsubscribe_token(token, SECRET, max_age=timedelta(0))
    with pytest.raises(ValueError, match="at least one"):
        read_unsubscribe_token(token, [])
    with pytest.raises(ValueError, match="must not be empty"):
        read_unsubscribe_token("garbage", [SECRET, ""])  # checked before the token


def test_a_last_character_that_decodes_to_the_same_bytes_is_refused() -> None:
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    signature = token.rsplit(".", 1)[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    digest = base64.urlsafe_b64decode(signature + "=")
    twins = [
        token[:-1] + char
        for char in alphabet
        if char != token[-1] and base64.urlsafe_b64decode(signature[:-1] + char + "=") == digest
    ]
    assert len(twins) == 3  # the last character carries 4 bits, and 2 that decoders ignore
    for twin in twins:
        assert _reason(twin) == "mismatch"


@given(
    contact_id=st.text(min_size=1, max_size=40),
    channel=st.sampled_from(["email", "newsletter", "e-mail marketing"]),
    step=st.none() | st.text(max_size=20),
    data=st.data(),
)
def test_any_token_altered_in_one_character_is_refused(
    contact_id: str, channel: str, step: str | None, data: st.DataObject
) -> None:
    token = unsubscribe_token(contact_id, channel, SECRET, issued_at=ISSUED, step=step)
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="index")
    replacement = data.draw(st.characters().filter(lambda c: c != token[index]), label="char")
    altered = token[:index] + replacement + token[index + 1 :]
    with pytest.raises(InvalidUnsubscribeToken) as refused:
        read_unsubscribe_token(altered, SECRET)
    assert refused.value.reason in ("format", "mismatch")


@given(contact_id=st.text(min_size=1, max_size=40), data=st.data())
def test_any_token_with_a_character_added_or_removed_is_refused(
    contact_id: str, data: st.DataObject
) -> None:
    token = unsubscribe_token(contact_id, "email", SECRET, issued_at=ISSUED, step="news")
    index = data.draw(st.integers(min_value=0, max_value=len(token) - 1), label="index")
    if data.draw(st.booleans(), label="remove"):
        altered = token[:index] + token[index + 1 :]
    else:
        altered = token[:index] + data.draw(st.characters(), label="char") + token[index:]
    with pytest.raises(InvalidUnsubscribeToken):
        read_unsubscribe_token(altered, SECRET)


# --- the endpoint's helper, on each repository ---------------------------------------------------


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repository]:
    if request.param == "memory":
        yield InMemoryRepository()
        return
    from regua import SQLRepository

    sql = SQLRepository(f"sqlite:///{tmp_path / 'regua.db'}")
    yield sql
    sql.close()


def _ana() -> Contact:
    return Contact(
        "ana",
        timezone="America/Sao_Paulo",
        consents={"email", "sms"},
        addresses={"email": "ana@example.com.br", "sms": "+5511990000001"},
    )


def _consents(repository: Repository, contact_id: str = "ana") -> set[str]:
    contact = repository.get_contact(contact_id)
    assert contact is not None
    return set(contact.consents)


def test_handle_unsubscribe_withdraws_the_channels_consent(repository: Repository) -> None:
    repository.upsert_contact(_ana())
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED, step="newsletter")
    request = handle_unsubscribe(repository, token, SECRET)
    assert request == UnsubscribeRequest("ana", "email", ISSUED, step="newsletter")
    assert _consents(repository) == {"sms"}
    assert handle_unsubscribe(repository, token, SECRET) == request  # a second POST is fine
    assert _consents(repository) == {"sms"}


def test_a_refused_token_changes_nothing(repository: Repository) -> None:
    repository.upsert_contact(_ana())
    forged = unsubscribe_token("ana", "email", "not our secret", issued_at=ISSUED)
    with pytest.raises(InvalidUnsubscribeToken):
        handle_unsubscribe(repository, forged, SECRET)
    token = unsubscribe_token("ana", "email", SECRET, issued_at=ISSUED)
    with pytest.raises(InvalidUnsubscribeToken, match="issued at 2026-03-02T15:00:00"):
        handle_unsubscribe(
            repository, token, SECRET, max_age=timedelta(days=30), now=ISSUED + timedelta(days=31)
        )
    assert _consents(repository) == {"email", "sms"}


def test_an_unknown_contact_is_an_unknown_contact_error(repository: Repository) -> None:
    token = unsubscribe_token("deleted", "email", SECRET, issued_at=ISSUED)
    with pytest.raises(UnknownContactError, match="deleted"):
        handle_unsubscribe(repository, token, SECRET)


def test_after_unsubscribing_the_next_tick_sends_no_marketing_but_still_transactional(
    repository: Repository, server: Server, recorder: RawRecorder
) -> None:
    shop = Cadence(
        "loja",
        timezone="America/Sao_Paulo",
        channels=[Channel("email"), Channel("sms")],
        steps=[
            Step(
                "newsletter",
                trigger=on_event("newsletter_ready"),
                message="news",
                channels=["email"],
            ),
            Step(
                "sms_offer", trigger=on_event("newsletter_ready"), message="offer", channels=["sms"]
            ),
            Step(
                "order_confirmation",
                trigger=on_event("order_placed"),
                message="receipt",
                channels=["email"],
                transactional=True,
            ),
        ],
    )
    sms: list[Message] = []

    class SMS:
        def send(self, message: Message) -> str:
            sms.append(message)
            return message.idempotency_key

    unsubscribe = Unsubscribe(URL, secret=SECRET)
    with _smtp(server.port, unsubscribe) as smtp:
        scheduler = Scheduler([shop], repository=repository, senders={"email": smtp, "sms": SMS()})
        repository.upsert_contact(_ana())
        first = datetime(2026, 3, 2, 13, 0, tzinfo=timezone.utc)
        repository.record_event(Event("ana", "newsletter_ready", first, id="news-1"))
        assert len(scheduler.tick(first).sent) == 2
        (newsletter,) = recorder.messages
        assert newsletter["X-Regua-Idempotency-Key"]
        https, _ = _links(str(newsletter["List-Unsubscribe"]))

        # the mail client's one-click POST reaches the endpoint, which does this:
        request = handle_unsubscribe(repository, _token_of(https), SECRET)
        assert (request.contact_id, request.channel, request.step) == ("ana", "email", "newsletter")

        second = first + timedelta(days=7)
        repository.record_event(Event("ana", "newsletter_ready", second, id="news-2"))
        repository.record_event(
            Event("ana", "order_placed", second, id="A-1", data={"order": "A-1"})
        )
        report = scheduler.tick(second)

    assert sorted((d.step, d.channel) for d in report.sent) == [
        ("order_confirmation", "email"),
        ("sms_offer", "sms"),
    ]
    assert [(d.step, d.reason) for d in report.skipped] == [("newsletter", "no_channel")]
    assert len(recorder.messages) == 2
    receipt = recorder.messages[1]
    assert receipt["Subject"] == "Pedido A-1"
    assert receipt["List-Unsubscribe"] is None
    assert [m.step for m in sms] == ["sms_offer", "sms_offer"]  # the SMS consent stays


def test_the_message_given_to_the_sender_is_left_as_it_is() -> None:
    smtp = _smtp(25, Unsubscribe(URL, secret=SECRET))
    message = _message()
    assert "unsubscribe_url" not in TemplateRenderer.variables(message)
    text = smtp.compose(message).get_body(("plain",))
    assert message.payload == {"order": "A-1"}
    assert text is not None
    assert text.get_content().startswith(f"Sair da lista: {URL}?token=v1.")
