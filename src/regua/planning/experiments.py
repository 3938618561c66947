"""Experiment assignment: which variant of an experiment a contact is in.

Two rules, applied in order:

1. **A recorded assignment is kept.** The first delivery of the experiment recorded for the
   contact (sent, failed, or held out) carries its variant (`regua.Delivery.variant`); every
   later occurrence of any step of that experiment uses it, whatever the weights say now.
   Re-weighting, adding a variant or giving one a weight of 0 therefore never moves a contact
   who has been assigned. (A recorded variant the experiment no longer declares is ignored,
   and the contact is assigned afresh by rule 2.)
2. **Otherwise the contact's bucket decides.** `bucket` hashes the cadence name, the
   experiment name and the contact id with BLAKE2b into a point of ``[0, total weight)``;
   the variants, in their declared order, own consecutive ranges of that interval, as wide as
   their weights. The hash is the same in every process, on every machine and in every
   release (never Python's `hash`, which is salted per process), so workers and re-runs agree.
   Changing weights moves only the contacts whose point crosses a moved boundary: going from
   ``{"a": 50, "b": 50}`` to ``{"a": 70, "b": 30}`` moves exactly the 20% between 50 and 70.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import attrs

from regua.definitions.cadence import Cadence
from regua.records import Delivery

__all__ = ["Experiments", "assign_variant", "bucket", "recorded_assignments"]

_SCALE = 1 << 64


def bucket(cadence: str, experiment: str, contact_id: str, total: int) -> int:
    """The contact's point in ``[0, total)`` for one experiment: uniform, stable, exact.

    >>> bucket("shop", "welcome_copy", "ana", 100)
    34

    Cadence and experiment names cannot contain ``:``, so the hashed text is unambiguous.
    The 64-bit digest is scaled with integer arithmetic (no float rounding).
    """
    if total <= 0:
        raise ValueError(f"total weight must be positive, got {total}")
    text = f"{cadence}:{experiment}:{contact_id}".encode()
    digest = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")
    return digest * total // _SCALE


def assign_variant(
    cadence: str, experiment: str, contact_id: str, variants: Mapping[str, int]
) -> str:
    """The variant the contact's bucket falls in, under the current weights (rule 2)."""
    point = bucket(cadence, experiment, contact_id, sum(variants.values()))
    upper = 0
    for name, weight in variants.items():
        upper += weight
        if point < upper:
            return name
    raise AssertionError("unreachable: the point is below the total weight")  # pragma: no cover


def recorded_assignments(
    deliveries: Iterable[Delivery],
    experiment_of: Mapping[str, str],
    variants_of: Mapping[str, Mapping[str, int]],
) -> dict[str, str]:
    """Experiment name -> the variant of the contact's first delivery that recorded one (rule 1).

    `deliveries` are one contact's deliveries of one cadence, oldest first; `experiment_of`
    maps a step to its experiment, `variants_of` an experiment to its declared variants.
    """
    assigned: dict[str, str] = {}
    for delivery in deliveries:
        if delivery.variant is None:
            continue
        experiment = experiment_of.get(delivery.step)
        if experiment is None or experiment in assigned:
            continue
        if delivery.variant in variants_of[experiment]:
            assigned[experiment] = delivery.variant
    return assigned


@attrs.frozen(slots=True)
class Experiments:
    """A cadence's experiments: which step belongs to which, and their declared variants."""

    experiment_of: dict[str, str]
    """Step name -> experiment name, for the steps with variants."""
    variants_of: dict[str, dict[str, int]]
    """Experiment name -> its variants and weights."""

    @classmethod
    def of(cls, cadence: Cadence) -> Experiments:
        """Index the experiments of `cadence`."""
        experiment_of: dict[str, str] = {}
        variants_of: dict[str, dict[str, int]] = {}
        for step in cadence.steps:
            name = step.experiment_name
            if name is not None and step.variants is not None:
                experiment_of[step.name] = name
                variants_of.setdefault(name, dict(step.variants))
        return cls(experiment_of, variants_of)
