"""Experiments: a step sent in several variants, each contact in one of them.

A step with ``variants={"short": 50, "long": 50}`` is an experiment: each contact is assigned
one variant, by weight, and the variant travels with the message (`regua.Message.variant`), so
that the template picks the copy. A `holdout` variant receives no message at all, but its
contacts are recorded, so that the report compares the others against doing nothing.
Steps naming the same `experiment` share one assignment per contact. The assignment rule
lives in `regua.planning.experiments`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field

from regua.definitions.fields import Name

__all__ = ["Variants", "Weight", "check_experiment"]

Weight = Annotated[int, Field(ge=0, strict=True)]
"""A variant's relative weight: a whole number, 0 or more (0 stops new assignments)."""

Variants = dict[Name, Weight]
"""Variant names and their relative weights, in the order that fixes the buckets."""


def check_experiment(
    step: str,
    variants: Mapping[str, int] | None,
    experiment: str | None,
    holdout: str | None,
    transactional: bool,
) -> None:
    """Raise `ValueError` naming the step when its experiment fields do not fit together."""
    if variants is None:
        for field, value in (("experiment", experiment), ("holdout", holdout)):
            if value is not None:
                raise ValueError(
                    f"step {step!r}: {field!r} is set but 'variants' is not; an experiment "
                    "needs variants and weights, e.g. variants={'short': 50, 'long': 50}"
                )
        return
    if len(variants) < 2:
        raise ValueError(
            f"step {step!r}: an experiment needs at least two variants, got {sorted(variants)}"
        )
    if not any(variants.values()):
        raise ValueError(f"step {step!r}: every variant weighs 0; give one a positive weight")
    if holdout is not None:
        if holdout not in variants:
            raise ValueError(
                f"step {step!r}: holdout {holdout!r} is not one of the variants "
                f"({', '.join(variants)})"
            )
        if transactional:
            raise ValueError(
                f"step {step!r}: a transactional or service step cannot hold contacts out; "
                "the customer needs the message"
            )
