"""Erasing a contact (the right to erasure: LGPD art. 18, GDPR art. 17): what goes, what stays.

A repository that can erase (both shipped ones: ``erase_contact``) removes, in one
transaction, everything it stores about one contact: the contact (data, addresses, consents),
its events with their data, its claims, the errors recorded while evaluating it and its
folded history. Its deliveries, the record of what was sent, go too with
``keep="nothing"``; with ``keep="pseudonymous"`` (the default) each is kept in a form that
names nobody, so that aggregate reports (`regua.report`, experiment results) still count what
was sent:

- the contact id becomes its keyed pseudonym (`regua.redaction.pseudonym`: ``c-`` and 20 hex
  digits of an HMAC-SHA256 under a key of the application's), the id of a contact row with no
  data at all, which is never due, under which the kept deliveries are read;
- the occurrence key becomes `pseudonymous_key`'s form, ``<cadence>:<step>:<pseudonym>:erased=
  <digest>``, where the digest is an HMAC of the whole original key: with the key, whoever
  asks "was this occurrence sent before the erasure?" can compute it and look; without it,
  nothing in it leads back to the contact or to what fired the occurrence;
- the reason is passed through `regua.redaction.redact` with the contact's id, addresses, attribute
  values and event data as known values (regua's own one-word reasons, such as
  ``holdout``, which reports read, stay as they are); the provider's message id and a
  digest's collected event ids are dropped: they lead to the provider's records and to the
  events, which hold the person.

Cadence, step, status, instant, channel and experiment variant stay: they are what reports
count. Whoever holds the key can still tell which pseudonym is whose: kept deliveries are
pseudonymous data, not anonymous, until the key is destroyed, or until they are erased in
turn (erase the pseudonym with ``keep="nothing"`` once their retention period ends).

A contact created again later under the same id is, for regua, a new contact: nothing kept
can be matched to the id without the key, and regua never uses the key to recognise one. See
``docs/operations.md`` for what the application does so that a returning customer is not
sent again what was sent before the erasure.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Literal, get_args

import attrs

from regua.errors import InvalidArgumentError
from regua.planning.keys import occurrence_key, split_occurrence_key
from regua.records import Contact, Delivery, Event
from regua.redaction import pseudonym, redact

__all__ = [
    "ErasureReport",
    "Keep",
    "erasure_pseudonym",
    "is_pseudonymous_key",
    "personal_values",
    "pseudonymous_delivery",
    "pseudonymous_key",
]

Keep = Literal["nothing", "pseudonymous"]
"""What an erasure keeps of the contact's deliveries: nothing, or their pseudonymous form."""

ERASED_SOURCE = "erased="
"""How the source part of a pseudonymous occurrence key starts; no trigger makes one."""

_PSEUDONYMOUS_KEY = re.compile(r"[^:]*:[^:]*:c-[0-9a-f]{20}:erased=[0-9a-f]{32}")

# regua's own reasons (``holdout``, ``condition_false``...): one lower-case word, which
# names no one; reports read some of them.
_OWN_REASON = re.compile(r"[a-z]+(?:_[a-z]+)*")


@attrs.frozen(slots=True)
class ErasureReport:
    """What `erase_contact` removed, or would remove (``dry_run=True``), for one contact.

    Attributes:
        contact_id: The contact erased (as asked; the repository keeps it nowhere).
        keep: What was kept of its deliveries: ``"nothing"`` or ``"pseudonymous"``.
        applied: False for a dry run: nothing was changed.
        found: Whether the contact itself was stored. An erasure of an id with no contact
            still removes what is stored under it (an outcome a worker recorded after an
            earlier erasure), and is otherwise a no-op.
        events: Its events removed, their data included.
        deliveries: Its deliveries: removed, or with ``keep="pseudonymous"`` kept under
            `pseudonym` in their pseudonymous form.
        claims: Its claims removed (occurrences being sent or waiting for a retry).
        errors: The errors recorded while evaluating it, removed.
        folds: Its folded histories removed (0 or 1).
        pseudonym: With ``keep="pseudonymous"``: the contact's pseudonym, the id the kept
            deliveries are stored under. None with ``keep="nothing"``.
        held_until: When a worker held the contact's lease at the erasure: the end of that
            lease. A worker evaluating it then may still record, until that instant, what it
            was doing (an outcome, a released claim, an error) under the contact's id;
            erase the contact again after it to remove those too. None when no worker held
            it.

    """

    contact_id: str
    keep: Keep
    applied: bool
    found: bool
    events: int = 0
    deliveries: int = 0
    claims: int = 0
    errors: int = 0
    folds: int = 0
    pseudonym: str | None = None
    held_until: datetime | None = None


def erasure_pseudonym(contact_id: str, keep: str, key: str | bytes | None) -> str | None:
    """The id the kept deliveries go under: None with ``keep="nothing"``.

    Raises:
        InvalidArgumentError: `keep` is neither ``"nothing"`` nor ``"pseudonymous"``, or it is
            ``"pseudonymous"`` and `key` is missing or empty.

    """
    if keep not in get_args(Keep):
        raise InvalidArgumentError(f"keep must be 'nothing' or 'pseudonymous', not {keep!r}")
    if keep == "nothing":
        return None
    if not key:
        raise InvalidArgumentError(
            "keep='pseudonymous' needs a key (the secret the pseudonyms are made with, "
            "as Scheduler(log_key=...)); or keep='nothing'"
        )
    return pseudonym(contact_id, key)


def pseudonymous_key(occurrence: str, key: str | bytes) -> str:
    """The pseudonymous form of an occurrence key, as an erasure keeps it.

    ``<cadence>:<step>:<pseudonym of the contact>:erased=<32 hex digits>``, the digits an
    HMAC-SHA256 of the whole key: with the key, the kept record of an occurrence of an
    erased contact can be found again; without it, nothing in it names the contact or what
    fired the occurrence.

    >>> pseudonymous_key("shop:birthday:ana:year=2026", "a secret of the application")
    'shop:birthday:c-42f7bcaf431c39752212:erased=a04131c0b257e8d9e75d69acf7fa16d3'

    Raises:
        InvalidArgumentError: `occurrence` is not ``<cadence>:<step>:<contact>:<source>``, or `key`
            is empty.

    """
    cadence, step, contact_id, _ = split_occurrence_key(occurrence)
    return _pseudonymous_key(cadence, step, contact_id, occurrence, key)


def _pseudonymous_key(
    cadence: str, step: str, contact_id: str, occurrence: str, key: str | bytes
) -> str:
    secret = key.encode("utf-8") if isinstance(key, str) else key
    # Another message than the contact's pseudonym's: the two HMACs never coincide.
    digest = hmac.new(secret, b"occurrence\x00" + occurrence.encode("utf-8"), hashlib.sha256)
    source = ERASED_SOURCE + digest.hexdigest()[:32]
    return occurrence_key(cadence, step, pseudonym(contact_id, key), source)


def is_pseudonymous_key(occurrence: str) -> bool:
    """Whether `occurrence` is the pseudonymous form of a key (`pseudonymous_key`).

    Repositories leave such an outcome alone when asked to redrive it: its contact was
    erased.
    """
    return _PSEUDONYMOUS_KEY.fullmatch(occurrence) is not None


def pseudonymous_delivery(
    delivery: Delivery, key: str | bytes, *, known: Iterable[str] = ()
) -> Delivery:
    """`delivery` as an erasure keeps it, naming nobody.

    The contact id becomes its pseudonym, the occurrence key `pseudonymous_key`'s form (of
    the delivery's own cadence, step and contact), the reason is redacted with `known` (the
    contact's personal values: `personal_values`) unless it is one of regua's one-word
    reasons, and the message id, the detail and the collected event ids are dropped.
    Cadence, step, status, instant, channel and variant stay.
    """
    known = list(known)
    reason = delivery.reason
    if reason is not None and _OWN_REASON.fullmatch(reason) is None:
        reason = redact(reason, known=[delivery.contact_id, *known])
    return attrs.evolve(
        delivery,
        contact_id=pseudonym(delivery.contact_id, key),
        occurrence_key=_pseudonymous_key(
            delivery.cadence, delivery.step, delivery.contact_id, delivery.occurrence_key, key
        ),
        reason=reason,
        collected=(),
        message_id=None,
        detail=None,
    )


def personal_values(contact: Contact | None, events: Iterable[Event] = ()) -> list[str]:
    """The strings of a contact and its events that are personal data, for `redact`.

    The contact's id, its addresses, and every string value (at any depth) of its attributes
    and of the events' data.
    """
    found: list[str] = []
    if contact is not None:
        found.append(contact.id)
        found.extend(_strings(contact.addresses))
        found.extend(_strings(contact.attributes))
    for event in events:
        found.extend(_strings(event.data))
    return list(dict.fromkeys(found))


def _strings(value: object, depth: int = 0) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif depth >= 40:
        return
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item, depth + 1)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings(item, depth + 1)
