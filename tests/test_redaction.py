"""`redact`: what a provider says back, without the personal data it quotes."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regua import Contact, Message
from regua.records import idempotency_key
from regua.redaction import EMAIL, LIMIT, PHONE, REDACTED, TRUNCATED, personal_strings, redact

# --- what is hidden, what stays ------------------------------------------------------------------


def test_an_smtp_refusal_keeps_its_codes_and_loses_the_address() -> None:
    reply = "550 5.1.1 <nobody.secret@example.com>: Recipient address rejected"
    assert redact(reply) == f"550 5.1.1 <{EMAIL}>: Recipient address rejected"


@pytest.mark.parametrize(
    "number",
    [
        "+55 11 99999-0000",
        "+5511999990000",
        "+55 (11) 99999-0000",
        "(11) 99999-0000",
        "11 99999 0000",
        "99999-0000",
        "+1 (555) 123-4567",
        "+1-555-123-4567",
        "555.123.4567",
        "01.23.45.67.89",
        "tel:+5511999990000",
        "123.456.789-09",
    ],
)
def test_phone_numbers_are_hidden(number: str) -> None:
    text = f"invalid destination {number}: not a mobile"
    redacted = redact(text)
    assert redacted.startswith("invalid destination ")
    assert redacted.endswith(": not a mobile")
    assert PHONE in redacted
    assert not re.search(r"\d{3}", redacted), redacted


@pytest.mark.parametrize(
    "text",
    [
        "550 5.1.1 No such user",
        "452 4.2.2 Mailbox full",
        "554 5.7.1 Message rejected as spam",
        "webhook https://hooks.example answered HTTP 422 Unprocessable Entity",
        "HTTP/1.1 503 Service Unavailable",
        "retry after 120 s",
        "sent at 2026-03-02T15:00:00.123+00:00",
        "sent at 2026-03-02 15:00",
        "cannot reach 127.0.0.1:2525",
        "from 192.168.100.200",
        "queued as 3f0c9a12345678bb, id abc12345678901",
        "version 1.2.3, 5.7.1",
        "quota 1000/day",
    ],
)
def test_codes_statuses_dates_and_hosts_stay(text: str) -> None:
    assert redact(text) == text


def test_a_webhook_body_that_echoes_the_payload_loses_the_known_values() -> None:
    body = json.dumps(
        {
            "error": "invalid template",
            "received": {
                "address": "+5511990000001",
                "payload": {"first_name": "João", "coupon": "BEMVINDO10", "city": "São Paulo"},
            },
        }
    )
    redacted = redact(body, known=["+5511990000001", "João", "BEMVINDO10", "São Paulo"])
    assert json.loads(redacted) == {
        "error": "invalid template",
        "received": {
            "address": REDACTED,  # a known value, before being a phone number
            "payload": {"first_name": REDACTED, "coupon": REDACTED, "city": REDACTED},
        },
    }


def test_known_values_are_found_in_any_case_and_in_their_json_spelling() -> None:
    assert redact(r'{"name": "Jo\u00e3o"} JOÃO joão', known=["João"]) == (
        f'{{"name": "{REDACTED}"}} {REDACTED} {REDACTED}'
    )


def test_known_values_are_whole_words_only() -> None:
    # "Bo" is someone's name; "Body" and "bob" are not about them.
    assert redact("Body: Bo, bob", known=["Bo"]) == f"Body: {REDACTED}, bob"


def test_one_character_known_values_and_a_single_string_are_handled() -> None:
    assert redact("A reply", known=["A", ""]) == "A reply"
    assert redact("Ana Silva was refused", known="Ana Silva") == f"{REDACTED} was refused"


def test_control_characters_are_removed_and_the_result_is_one_line() -> None:
    text = "bad\x00 request\r\n\tline two \x1b[31mred\x1b[0m \u202eevil\u2028end"
    assert redact(text) == "bad request line two [31mred[0m evil end"


def test_a_long_text_is_cut_and_marked() -> None:
    text = "refused: " + "because " * 200
    redacted = redact(text)
    assert len(redacted) <= LIMIT
    assert redacted.endswith(TRUNCATED)
    assert redacted.startswith("refused: because because")
    assert redact("x" * 100, limit=40) == "x" * (40 - len(TRUNCATED)) + TRUNCATED


def test_a_huge_text_is_read_only_in_part_and_without_catastrophic_backtracking() -> None:
    for huge in ("1 " * 200_000, "1" * 400_000 + "x", "a." * 200_000, "(1)" * 100_000 + "a"):
        redacted = redact(huge)
        assert len(redacted) <= LIMIT
        assert redacted.endswith(TRUNCATED)


def test_placeholders_in_the_text_are_kept() -> None:
    text = f"{EMAIL} {PHONE} {REDACTED} done{TRUNCATED}"
    assert redact(text, known=["email", "phone", "done"]) == (
        f"{EMAIL} {PHONE} {REDACTED} {REDACTED}{TRUNCATED}"
    )


def test_bad_arguments_are_refused_naming_them() -> None:
    with pytest.raises(TypeError, match="known must hold strings, got int at position 1"):
        redact("text", known=["a", 5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="redact\\(\\) needs a str, got bytes"):
        redact(b"text")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="limit must be an integer of at least 40, got 10"):
        redact("text", limit=10)


def test_personal_strings_of_a_message() -> None:
    contact = Contact(
        "c1",
        addresses={"email": "ana@example.com", "sms": "+5511990000001"},
        attributes={"name": "Ana Silva", "tier": "gold", "age": 31, "tags": ["vip", {"x": "y"}]},
    )
    message = Message(
        channel="email",
        address="ana@example.com",
        message="welcome",
        payload={"coupon": "BEMVINDO10", "total": 10.5, "items": [{"sku": "CAMISETA-P"}]},
        contact=contact,
        cadence="shop",
        step="welcome",
        occurrence_key="shop:welcome:c1:1",
        idempotency_key=idempotency_key("shop:welcome:c1:1"),
    )
    assert sorted(personal_strings(message)) == sorted(
        [
            "c1",  # the contact's id: often a tax number or an address itself
            "ana@example.com",
            "ana@example.com",
            "+5511990000001",
            "BEMVINDO10",
            "CAMISETA-P",
            "Ana Silva",
            "gold",
            "vip",
            "y",
        ]
    )


# --- properties ----------------------------------------------------------------------------------

# Provider text: words, punctuation, numbers, control characters and any other character.
PIECES = ["550 5.1.1", " <", ">: ", '"', "\x00", "\n", " ", ".", "@", "-", "+", "(", ")", "…"]
NUMBERS = ["+55 11 99999-0000", "(11) 9999-0000", "12345678", "2026-03-02"]
fragments = st.text(max_size=30) | st.sampled_from([*PIECES, *NUMBERS, EMAIL, TRUNCATED])
limits = st.integers(min_value=40, max_value=600)


@pytest.mark.slow
@given(
    addresses=st.lists(st.emails(), min_size=1, max_size=5),
    before=st.lists(fragments, max_size=6),
    between=st.lists(fragments, max_size=6),
    limit=limits,
)
def test_no_generated_address_survives(
    addresses: list[str], before: list[str], between: list[str], limit: int
) -> None:
    pieces = [*before]
    for address, glue in zip(addresses, [*between, *[" "] * len(addresses)], strict=False):
        pieces += [address, glue]
    redacted = redact("".join(pieces), limit=limit)
    for address in addresses:
        assert address.lower() not in redacted.lower()


@pytest.mark.slow
@given(
    text=st.lists(fragments | st.emails(), max_size=12).map("".join),
    known=st.lists(st.text(min_size=1, max_size=12), max_size=4),
    limit=limits,
)
def test_redacting_twice_changes_nothing(text: str, known: list[str], limit: int) -> None:
    once = redact(text, known=known, limit=limit)
    assert redact(once, known=known, limit=limit) == once


@given(text=st.text(max_size=2000), known=st.lists(st.text(max_size=8), max_size=3), limit=limits)
def test_the_result_is_short_one_line_and_storable(text: str, known: list[str], limit: int) -> None:
    redacted = redact(text, known=known, limit=limit)
    assert len(redacted) <= limit
    assert "\x00" not in redacted
    assert not [c for c in redacted if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp")]
    assert redacted == " ".join(redacted.split())  # one line, single spaces
    redacted.encode("utf-8")  # no lone surrogate: PostgreSQL takes it


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyzçãéÁ", min_size=2, max_size=10)


@pytest.mark.slow
@given(
    known=st.lists(names, min_size=1, max_size=4),
    words=st.lists(names | st.sampled_from(["HTTP 422", "550 5.1.1", "{", '"', ":"]), max_size=8),
    order=st.randoms(use_true_random=False),
)
def test_known_words_do_not_survive(known: list[str], words: list[str], order: object) -> None:
    tokens = [*words, *known, *(name.upper() for name in known)]
    order.shuffle(tokens)  # type: ignore[attr-defined]
    redacted = redact(" ".join(tokens), known=known, limit=10_000)
    remaining = {token.lower() for token in re.split(r"\W+", redacted)}
    assert not remaining & {name.lower() for name in known}
