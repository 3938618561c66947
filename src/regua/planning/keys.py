"""Occurrence keys: how cadence, step, contact and source make one string, and back.

An occurrence key is ``<cadence>:<step>:<contact>:<source>``. The cadence name, the step
name and the contact id are each written with `key_part`, which percent-encodes the three
characters that delimit a key: ``%`` (the escape character itself) as ``%25``, ``:`` (which
ends the cadence, step and contact parts) as ``%3A`` and ``/`` (which ends the step name in
an ``after=<step>/<source>`` source) as ``%2F``. Every other character is kept as it is, so
a key made of ordinary ids (letters, digits, ``_ - . @``, and any other character but those
three) is the same as keys have always been, byte for byte.

The source is the rest of the key, after the third ``:``: it is whatever fired the
occurrence, as `regua.planning.firings` and `regua.planning.digests` write it
(``event=<event id>``, ``digest=<event id>``, ``year=2026``, ``at=20260504T120000Z``,
``after=<step>/<source of that step's occurrence>``...). Being last, it needs no escaping:
an event id is written as it is, even with a ``:`` in it, and a nested source stays
unambiguous because the step name before its ``/`` is written with `key_part`.

So two different (cadence, step, contact, source) never share a key (nor, therefore, an
idempotency key), and `split_occurrence_key` reads the four parts back.

Keys recorded before the parts were escaped differ from today's only for a contact id (or
a name) holding ``%``, ``:`` or ``/``; `current_key` reads such a recorded key as the key
the same occurrence has now, so that what was recorded under it stays recorded.
"""

from __future__ import annotations

import re

from regua.errors import InvalidArgumentError

__all__ = [
    "after_source",
    "current_key",
    "key_part",
    "occurrence_key",
    "occurrence_prefix",
    "parse_after_source",
    "split_occurrence_key",
    "unquote_key_part",
]

SEPARATOR = ":"
"""Ends the cadence, step and contact parts of a key."""

AFTER_PREFIX = "after="
"""How an after_step source starts: ``after=<step>/<source of that step's occurrence>``."""

_UNQUOTED = {"%25": "%", "%3A": ":", "%2F": "/"}
_ESCAPE = re.compile("%(?:25|3A|2F)")


def key_part(text: str) -> str:
    """`text` as one part of a key: ``%``, ``:`` and ``/`` percent-encoded, the rest kept.

    >>> key_part("ana@example.com"), key_part("acme:event=1"), key_part("50%/off")
    ('ana@example.com', 'acme%3Aevent=1', '50%25%2Foff')
    """
    if "%" not in text and ":" not in text and "/" not in text:
        return text  # ordinary ids: the common case, unchanged
    return text.replace("%", "%25").replace(":", "%3A").replace("/", "%2F")


def unquote_key_part(text: str) -> str:
    """The text `key_part` wrote as `text` (a ``%`` not starting an escape is kept)."""
    if "%" not in text:
        return text
    return _ESCAPE.sub(lambda match: _UNQUOTED[match.group()], text)


def occurrence_prefix(cadence: str, step: str, contact_id: str) -> str:
    """What every key of this step for this contact starts with: ``<cadence>:<step>:<contact>:``."""
    return f"{key_part(cadence)}:{key_part(step)}:{key_part(contact_id)}:"


def occurrence_key(cadence: str, step: str, contact_id: str, source: str) -> str:
    """The key of the occurrence of `step` that `source` fired for the contact.

    >>> occurrence_key("shop", "order_confirmation", "ana", "event=o1")
    'shop:order_confirmation:ana:event=o1'
    >>> occurrence_key("shop", "order_confirmation", "acme:event=1", "event=2")
    'shop:order_confirmation:acme%3Aevent=1:event=2'
    """
    return occurrence_prefix(cadence, step, contact_id) + source


def split_occurrence_key(key: str) -> tuple[str, str, str, str]:
    """The (cadence, step, contact id, source) that `occurrence_key` made `key` of.

    Raises:
        InvalidArgumentError: `key` has fewer than four parts, so no occurrence key is written so.

    """
    parts = key.split(SEPARATOR, 3)
    if len(parts) != 4:
        raise InvalidArgumentError(
            f"occurrence key {key!r}: expected '<cadence>:<step>:<contact>:<source>'"
        )
    cadence, step, contact_id, source = parts
    return unquote_key_part(cadence), unquote_key_part(step), unquote_key_part(contact_id), source


def after_source(step: str, source: str) -> str:
    """The source of an after_step follower's occurrence: ``after=<step>/<source>``.

    `source` is the source of the occurrence of `step` it follows.
    """
    return f"{AFTER_PREFIX}{key_part(step)}/{source}"


def parse_after_source(source: str) -> tuple[str, str] | None:
    """The (step, source) that `after_source` made `source` of; None for another kind."""
    if not source.startswith(AFTER_PREFIX):
        return None
    step, _, rest = source[len(AFTER_PREFIX) :].partition("/")
    return unquote_key_part(step), rest


def current_key(key: str, cadence: str, step: str, contact_id: str) -> str:
    """The key the occurrence recorded under `key` has now.

    `key` as it is, unless it was written before the parts of keys were escaped, for a
    contact id (or a name) holding ``%``, ``:`` or ``/``: then the same occurrence's key
    today. `cadence`, `step` and `contact_id` are the recorded delivery's.
    """
    prefix = occurrence_prefix(cadence, step, contact_id)
    if key.startswith(prefix):
        return key
    legacy = f"{cadence}:{step}:{contact_id}:"
    if key.startswith(legacy):
        return prefix + key[len(legacy) :]
    return key
