"""Personal data out of failure texts: what a provider says back, made safe to store and log.

Providers quote what they were sent when they refuse it: an SMTP server answers ``550 5.1.1
<ana.silva@example.com>: Recipient address rejected``, a gateway answers ``422`` with the JSON
it received, payload and all. Those texts end up in log records and in the ``reason`` of a
failed delivery, where personal data has no business. `redact` turns such a text into one
that can be kept: e-mail addresses, phone numbers and the values the caller knows to be
personal are replaced by placeholders, control characters are dropped and the length is
bounded.

    >>> redact("550 5.1.1 <ana.silva@example.com>: Recipient address rejected")
    '550 5.1.1 <<email>>: Recipient address rejected'
    >>> redact('422 {"to": "+55 11 99999-0000", "name": "Ana Silva"}', known=["Ana Silva"])
    '422 {"to": "<phone>", "name": "<redacted>"}'

The shipped senders (`regua.senders.SMTPSender`, `regua.senders.webhook.WebhookSender` and
`AsyncWebhookSender`) pass the provider's words through `redact` before they raise, with
`personal_strings` of the message as the known values; a sender of your own should do the
same.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Final

from regua.errors import ArgumentTypeError, InvalidArgumentError

if TYPE_CHECKING:
    from regua.ports import Message

__all__ = [
    "EMAIL",
    "LIMIT",
    "PHONE",
    "REDACTED",
    "TRUNCATED",
    "personal_strings",
    "pseudonym",
    "redact",
]

EMAIL: Final = "<email>"
"""What an e-mail address is replaced with."""

PHONE: Final = "<phone>"
"""What a phone number (or any other long run of digits) is replaced with."""

REDACTED: Final = "<redacted>"
"""What a known personal value is replaced with."""

TRUNCATED: Final = "… [truncated]"
"""Appended to a text that was cut to `LIMIT` characters."""

LIMIT: Final = 500
"""The longest text `redact` returns, by default (the truncation mark included)."""

# The placeholders and the truncation mark: kept as they are, so that redacting twice changes
# nothing (and nothing is ever redacted "inside" a placeholder).
_TOKENS = re.compile("|".join(re.escape(token) for token in (EMAIL, PHONE, REDACTED, TRUNCATED)))

# An address: the characters RFC 5322 allows unquoted on the left, an ``@`` (or ``%40``, as in
# a URL's query), a domain. \w admits internationalised addresses. No dot is required on the
# right: ``root@localhost`` is an address too.
_LOCAL = r"\w.!#$%&'*+/=?^`{|}~-"
_EMAIL = rf"(?<![{_LOCAL}])[{_LOCAL}]+(?:@|%40)[\w-]+(?:\.[\w-]+)*"

# A phone number: an optional ``+``, then at least 8 digits grouped by single spaces, dashes,
# dots or parentheses: ``+55 11 99999-0000``, ``(11) 99999-0000``, ``+1 (555) 123-4567``,
# ``5511999990000``. A number glued to a word, a ``+``, a dot, a dash or a slash (an id, a
# version, a path) does not start one; nor do ISO dates, dotted IPv4 addresses and SMTP
# status codes (``550 5.1.1``). Each group is followed by exactly one kind of separator, so
# the pattern cannot backtrack exponentially.
_GROUP = r"\(\d{1,5}\)"
_PHONE = (
    r"(?<![\w+./-])"
    r"(?!\d{4}-\d\d-\d\d(?!\d))"
    r"(?!\d{1,3}(?:\.\d{1,3}){3}(?!\d|\.\d))"
    r"(?!(?:\d{3} )?[245]\.\d{1,3}\.\d{1,3}(?!\d|\.\d))"
    r"(?=(?:[+ ().-]{0,3}\d){8})"
    r"(?:\+ ?)?"
    rf"(?:{_GROUP}|\d+)"
    rf"(?:[ .-]?{_GROUP}|[ .-]\d+|(?<=\))\d+)*"
    r"(?!\w)"
)

_PATTERNS = re.compile(f"(?P<email>{_EMAIL})|(?P<phone>{_PHONE})", re.IGNORECASE)

# The longest text looked at: a provider that answers with a megabyte of HTML gets its first
# part read, the rest dropped (and the result is marked as truncated).
_READ = 16


def redact(text: str, *, known: Iterable[str] = (), limit: int = LIMIT) -> str:
    """`text` (a provider's reply, an error message) without personal data, ready to store or log.

    - E-mail addresses become ``<email>``.
    - Phone numbers become ``<phone>``: an optional ``+`` and at least 8 digits, grouped by
      single spaces, dashes, dots or parentheses (``+55 11 99999-0000``, ``(11) 99999-0000``,
      ``5511999990000``). Any such run of digits is hidden, so long numeric ids go too; SMTP
      codes (``550 5.1.1``), HTTP statuses, ISO dates, times and IPv4 addresses stay.
    - Each string of `known` (the message's address, the payload's and the contact's string
      values: see `personal_strings`) becomes ``<redacted>`` wherever it appears as a whole
      word, in any case, also in its JSON-escaped spelling. Strings of one character are
      ignored.
    - Control and format characters (NUL, which PostgreSQL refuses in text; escape sequences;
      bidirectional overrides) are removed, line breaks and runs of white space become one
      space: the result is one line.
    - A result longer than `limit` is cut (at a space when there is one near the end) and
      ends with ``… [truncated]``.

    The result never holds an e-mail address, a NUL, or more than `limit` characters, and
    redacting it again changes nothing. Placeholders already in `text` are kept as they are.
    Nothing else is guaranteed: a name the caller does not pass in `known` stays.

    Args:
        text: The text to clean.
        known: Strings to hide wherever they appear (a single string counts as one).
        limit: The longest result, in characters (at least 40).

    Raises:
        ArgumentTypeError: `text` or an item of `known` is not a string.
        InvalidArgumentError: `limit` is below 40.

    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"redact() needs a str, got {type(text).__name__}")
    if isinstance(known, str):  # one string is not a list of its characters
        known = [known]
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 40:
        raise InvalidArgumentError(
            f"redact(): limit must be an integer of at least 40, got {limit!r}"
        )
    pattern = _with_known(known)
    cut = len(text) > _READ * limit
    clean = _one_line(text[: _READ * limit] if cut else text)
    if cut:  # the last word may be half of something: drop it
        before, space, _ = clean.rpartition(" ")
        clean = before if space else clean
    result = _settle(clean, pattern)
    if not cut and len(result) <= limit:
        return result
    room = limit - len(TRUNCATED)
    end = min(room, len(result))
    while True:
        head = _settle(_head(result, end), pattern)
        if len(head) <= room:
            return head + TRUNCATED
        end -= len(head) - room


def personal_strings(message: Message) -> list[str]:
    """The strings of `message` that are personal data: what to pass as `redact`'s `known`.

    The contact's id (often a tax number or an e-mail address itself), the message's
    address, the contact's addresses on every channel, and every string value (at any depth
    of nested mappings and lists) of the message's payload and of the contact's attributes.
    """
    found: list[str] = [message.contact.id, message.address, *message.contact.addresses.values()]
    found.extend(_strings(message.payload))
    found.extend(_strings(message.contact.attributes))
    return found


# --- internals ---------------------------------------------------------------------------------


def _strings(value: object, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif depth >= 20:
        return
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item, depth + 1)


def _with_known(known: Iterable[str]) -> re.Pattern[str]:
    """The pattern of addresses, the `known` strings and phone numbers."""
    spellings: set[str] = set()
    for number, value in enumerate(known):
        if not isinstance(value, str):
            raise ArgumentTypeError(
                f"redact(): known must hold strings, got {type(value).__name__} "
                f"at position {number}"
            )
        for spelling in (
            value,
            json.dumps(value)[1:-1],
            json.dumps(value, ensure_ascii=False)[1:-1],
        ):
            spelling = _one_line(spelling)
            # Two characters at least. Placeholders are never looked into, so a string that
            # holds one could never match.
            if len(spelling) >= 2 and not _TOKENS.search(spelling):
                spellings.add(spelling)
    if not spellings:
        return _PATTERNS
    # Longest first: of two known strings starting at one place, the longer one is hidden.
    alternatives = "|".join(
        (r"(?<!\w)" if s[0].isalnum() or s[0] == "_" else "")
        + re.escape(s)
        + (r"(?!\w)" if s[-1].isalnum() or s[-1] == "_" else "")
        for s in sorted(spellings, key=lambda s: (-len(s), s))
    )
    # Between addresses (which hide whatever they hold) and phone numbers, so that a known
    # string that starts with a number is not passed over.
    return re.compile(
        f"(?P<email>{_EMAIL})|(?P<known>{alternatives})|(?P<phone>{_PHONE})", re.IGNORECASE
    )


def _replace(match: re.Match[str]) -> str:
    if match.lastgroup == "email":
        return EMAIL
    if match.lastgroup == "phone":
        return PHONE
    return REDACTED


def _settle(text: str, pattern: re.Pattern[str]) -> str:
    """Replace matches between the placeholders, again until nothing changes."""
    while True:
        pieces = _TOKENS.split(text)
        tokens = _TOKENS.findall(text)
        replaced = [pattern.sub(_replace, piece) for piece in pieces]
        result = "".join(
            piece + (tokens[number] if number < len(tokens) else "")
            for number, piece in enumerate(replaced)
        )
        # Each pass turns some characters into placeholders, so this ends.
        if result == text:
            return result
        text = result


def _head(text: str, end: int) -> str:
    """`text` cut at `end`, not inside a placeholder, at a space if one is near."""
    for token in _TOKENS.finditer(text):
        if token.start() < end < token.end():
            end = token.start()
            break
    space = text.rfind(" ", 0, end + 1)
    if space >= end - 20 and space > 0:
        end = space
    return text[:end].rstrip()


def _one_line(text: str) -> str:
    """`text` without control or format characters, its white space runs one space each."""
    if not (text.isascii() and text.isprintable()):
        text = "".join(
            " " if char.isspace() else char
            for char in text
            if char.isspace() or unicodedata.category(char) not in ("Cc", "Cf", "Cs")
        )
    return " ".join(text.split())


def pseudonym(contact_id: str, key: str | bytes) -> str:
    """A stable stand-in for `contact_id` in logs: ``c-`` and 20 hex digits of an HMAC.

    The same id and key always give the same pseudonym, so every log record of one contact
    can be found together, and support can find a customer's records by computing theirs;
    without the key, the pseudonym says nothing about the id (HMAC-SHA256, 80 bits kept:
    collisions are negligible for any base). `Scheduler(log_key=...)` puts it in each log
    record about a contact as ``regua_contact``. A `str` key is used as its UTF-8 bytes.

    >>> pseudonym("ana", "a secret of the application")
    'c-42f7bcaf431c39752212'
    """
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not key:
        raise InvalidArgumentError("the pseudonym key must not be empty")
    digest = hmac.new(key, contact_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"c-{digest[:20]}"
