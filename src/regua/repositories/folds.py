"""A folded history (`regua.fold`) as JSON text, for repositories that store folds.

The events a fold kept and the deliveries it kept from before its cutoff are written: a
repository reads the rest (every delivery stamped at or after the cutoff, and every record
added after the fold) from its own tables. Decoding checks every field, so that a stored
fold that cannot be read is ignored (the whole history is read instead), never half-used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from regua.errors import InvalidArgumentError, InvalidRecordError
from regua.records import Delivery, DeliveryStatus, Event, Fold, Snapshot

__all__ = ["decode_fold", "encode_fold"]

_FORMAT = 1


def encode_fold(snapshot: Snapshot) -> str:
    """The fold of `snapshot`, its events and the deliveries before its cutoff, as JSON."""
    fold = snapshot.fold
    if fold is None:
        raise InvalidArgumentError(f"the snapshot of contact {snapshot.contact.id!r} is not folded")
    cutoff = fold.cutoff
    body = {
        "format": _FORMAT,
        "cutoff": cutoff.isoformat(),
        "valid_from": fold.valid_from.isoformat(),
        "event_cutoff": None if fold.event_cutoff is None else fold.event_cutoff.isoformat(),
        "event_cutoffs": {name: at.isoformat() for name, at in fold.event_cutoffs.items()},
        "fingerprints": dict(fold.fingerprints),
        "counts": dict(fold.counts),
        "last": {name: at.isoformat() for name, at in fold.last.items()},
        "engaged": [
            [c, kind, step, at.isoformat()] for (c, kind, step), at in fold.engaged.items()
        ],
        "size": fold.size,
        "events": [[e.name, e.id, e.at.isoformat(), e.data, e.ref] for e in snapshot.events],
        "deliveries": [
            [
                d.cadence,
                d.step,
                d.occurrence_key,
                d.status.value,
                d.at.isoformat(),
                d.channel,
                d.reason,
                list(d.collected),
                d.variant,
                d.message_id,
                d.detail,
            ]
            for d in snapshot.deliveries
            if d.at < cutoff
        ],
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def decode_fold(text: str, contact_id: str) -> tuple[Fold, list[Event], list[Delivery]]:
    """The fold and kept records `encode_fold` wrote for `contact_id`.

    Raises:
        InvalidRecordError: the text is not such a fold (naming the contact).

    """
    try:
        body = json.loads(text)
        if not isinstance(body, Mapping) or body.get("format") != _FORMAT:
            raise ValueError("not a fold of this format")
        events = [
            Event(contact_id, name, _instant(at), id=event_id, data=data, ref=ref)
            for name, event_id, at, data, ref in body["events"]
        ]
        deliveries = [
            Delivery(
                cadence,
                step,
                contact_id,
                key,
                DeliveryStatus(status),
                _instant(at),
                channel=channel,
                reason=reason,
                collected=tuple(collected),
                variant=variant,
                # Folds stored before deliveries kept message ids (and details) have nine
                # fields (ten).
                message_id=later[0] if later else None,
                detail=later[1] if len(later) > 1 else None,
            )
            for (
                cadence,
                step,
                key,
                status,
                at,
                channel,
                reason,
                collected,
                variant,
                *later,
            ) in body["deliveries"]
        ]
        cutoff = _instant(body["cutoff"])
        event_cutoff = None if body["event_cutoff"] is None else _instant(body["event_cutoff"])
        event_cutoffs = {str(name): _instant(at) for name, at in body["event_cutoffs"].items()}
        default = cutoff if event_cutoff is None else event_cutoff
        fold = Fold(
            cutoff=cutoff,
            valid_from=_instant(body["valid_from"]),
            fingerprints=_strings(body["fingerprints"]),
            event_cutoff=event_cutoff,
            event_cutoffs=event_cutoffs,
            counts={str(name): int(count) for name, count in body["counts"].items()},
            last={str(name): _instant(at) for name, at in body["last"].items()},
            engaged={(str(c), str(k), str(s)): _instant(at) for c, k, s, at in body["engaged"]},
            kept_events=frozenset(
                (e.name, e.id) for e in events if e.at < event_cutoffs.get(e.name, default)
            ),
            kept_deliveries=frozenset((d.occurrence_key, d.status.value, d.at) for d in deliveries),
            size=int(body["size"]),
        )
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise InvalidRecordError(
            f"contact {contact_id!r}: its stored fold cannot be read ({type(exc).__name__})"
        ) from None
    return fold, events, deliveries


def _instant(text: Any) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("a naive instant")
    return value


def _strings(value: Any) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise TypeError("not a mapping")
    return {str(k): str(v) for k, v in value.items()}
