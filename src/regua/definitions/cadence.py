"""Cadence: a company's whole relationship plan with its customers, as one validated object."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from pydantic import Field, model_validator

from regua.definitions.channels import Channel
from regua.definitions.conditions import Clicked, Opened
from regua.definitions.fields import DefinitionModel, Name, TimezoneName, positional_name
from regua.definitions.goals import Goal
from regua.definitions.policy import Policy
from regua.definitions.steps import Step
from regua.definitions.triggers import AfterStepTrigger
from regua.documents import LoadLimits, load_json, load_yaml, read_document
from regua.errors import MissingDependencyError, NotFoundError, UnknownStepError

__all__ = ["Cadence", "schema"]


class Cadence(DefinitionModel):
    """A named set of steps, the channels they may use, a policy and a default timezone.

    >>> from regua import Channel, Step, on_event
    >>> c = Cadence(
    ...     "onboarding",
    ...     channels=[Channel("email", cost=0.001)],
    ...     steps=[Step("welcome", trigger=on_event("signed_up"), channels=["email"])],
    ... )
    >>> c.step("welcome").message_key
    'welcome'

    Validated at construction: step and channel names are unique, every channel a step or
    route names is declared, every ``after_step`` names a step of this cadence and the chain
    has no cycle. Errors name the path, e.g. ``steps[2] 'cart_2' .channels: unknown channel``.
    Wall-clock rules use the contact's timezone, falling back to `timezone`. A cadence `goal`
    applies to every marketing step that declares none (see docs/goals.md).
    """

    name: Name
    steps: tuple[Step, ...] = Field(json_schema_extra={"minItems": 1})
    channels: tuple[Channel, ...] = Field(json_schema_extra={"minItems": 1})
    policy: Policy = Policy()
    timezone: TimezoneName = "UTC"
    description: str | None = None
    goal: Goal | None = None

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(**positional_name(name, data))

    @model_validator(mode="after")
    def _check_references(self) -> Cadence:
        problems: list[str] = []
        # Checked here rather than with Field(min_length=1): pydantic would also report an
        # empty tuple when the only step is invalid, hiding the real error behind a false one.
        if not self.steps:
            problems.append("steps: a cadence needs at least one step")
        if not self.channels:
            problems.append("channels: a cadence needs at least one channel")
        channel_names = [channel.name for channel in self.channels]
        for index, name in enumerate(channel_names):
            if name in channel_names[:index]:
                problems.append(f"channels[{index}]: duplicate channel name {name!r}")
        declared = set(channel_names)
        known = ", ".join(sorted(declared))
        step_names = [step.name for step in self.steps]
        for index, step in enumerate(self.steps):
            where = f"steps[{index}] {step.name!r}"
            if step.name in step_names[:index]:
                problems.append(f"{where}: duplicate step name {step.name!r}")
            for position, channel in enumerate(step.channels):
                if channel not in declared:
                    problems.append(
                        f"{where}.channels[{position}]: unknown channel {channel!r} "
                        f"(declared: {known})"
                    )
            for route_index, route in enumerate(step.route):
                for position, channel in enumerate(route.channels):
                    if channel not in declared:
                        problems.append(
                            f"{where}.route[{route_index}].channels[{position}]: unknown "
                            f"channel {channel!r} (declared: {known})"
                        )
            conditions = [("when", step.when)] if step.when is not None else []
            conditions += [(f"route[{i}].when", r.when) for i, r in enumerate(step.route)]
            for field, condition in conditions:
                for node in condition.walk():
                    named = node.opened if isinstance(node, Opened) else None
                    named = node.clicked if isinstance(node, Clicked) else named
                    if named is not None and named not in step_names:
                        problems.append(
                            f"{where}.{field}: {node} names no step of cadence {self.name!r}"
                        )
            trigger = step.trigger
            of_step = getattr(trigger, "of_step", None)
            if of_step is not None and of_step not in step_names:
                problems.append(
                    f"{where}.trigger.of_step: no step named {of_step!r} in cadence {self.name!r}"
                )
            if isinstance(trigger, AfterStepTrigger) and trigger.after_step not in step_names:
                problems.append(
                    f"{where}.trigger.after_step: no step named {trigger.after_step!r} in "
                    f"cadence {self.name!r}"
                )
        problems += self._experiment_mismatches()
        if not problems:
            cycle = self._after_step_cycle()
            if cycle:
                problems.append(
                    "after_step chain forms a cycle: " + " -> ".join(repr(s) for s in cycle)
                )
        if problems:
            raise ValueError(f"cadence {self.name!r}: " + "; ".join(problems))
        return self

    def _experiment_mismatches(self) -> list[str]:
        # Steps of one experiment share each contact's assignment, so they must agree on it.
        first: dict[str, tuple[int, Step]] = {}
        problems: list[str] = []
        for index, step in enumerate(self.steps):
            name = step.experiment_name
            if name is None:
                continue
            if name not in first:
                first[name] = (index, step)
                continue
            other_index, other = first[name]
            if step.variants != other.variants or list(step.variants or ()) != list(
                other.variants or ()
            ):
                problems.append(
                    f"steps[{index}] {step.name!r}.variants: experiment {name!r} has variants "
                    f"{step.variants} here but {other.variants} in steps[{other_index}] "
                    f"{other.name!r}; steps of one experiment declare the same variants, in "
                    "the same order"
                )
            elif step.holdout != other.holdout:
                problems.append(
                    f"steps[{index}] {step.name!r}.holdout: experiment {name!r} holds out "
                    f"{step.holdout!r} here but {other.holdout!r} in steps[{other_index}] "
                    f"{other.name!r}"
                )
        return problems

    def _after_step_cycle(self) -> list[str]:
        follows = {
            step.name: step.trigger.after_step
            for step in self.steps
            if isinstance(step.trigger, AfterStepTrigger)
        }
        for start in follows:
            path = [start]
            current = follows.get(start)
            while current is not None:
                if current in path:
                    cycle = path[path.index(current) :]
                    # The chain is followed backwards (step -> the step it waits for);
                    # report it in firing order.
                    cycle.reverse()
                    return [*cycle, cycle[0]]
                path.append(current)
                current = follows.get(current)
        return []

    # --- lookups -----------------------------------------------------------------------------

    def step(self, name: str) -> Step:
        """The step called `name`; `UnknownStepError` (a `KeyError`) naming the steps otherwise."""
        for step in self.steps:
            if step.name == name:
                return step
        raise UnknownStepError(
            f"cadence {self.name!r} has no step {name!r} "
            f"(steps: {', '.join(s.name for s in self.steps)})"
        )

    def channel(self, name: str) -> Channel:
        """The channel called `name`; `NotFoundError` (a `KeyError`) naming the channels."""
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise NotFoundError(
            f"cadence {self.name!r} has no channel {name!r} "
            f"(channels: {', '.join(c.name for c in self.channels)})"
        )

    def attributes_used(self) -> frozenset[str]:
        """Every contact attribute the cadence reads: conditions, routes and date triggers.

        The answer to "why do we keep this data?": anything not listed here is not needed
        by this cadence.
        """
        return frozenset().union(*(step.attributes_used() for step in self.steps))

    # --- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A plain, JSON-compatible mapping, leaving out fields that hold their default."""
        return self.model_dump(mode="json", by_alias=True, exclude_defaults=True)

    @classmethod
    def from_dict(cls, data: Any) -> Cadence:
        """Validate a mapping (as produced by `to_dict`, or loaded from YAML/JSON)."""
        return cls.model_validate(data)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The cadence as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str | bytes, *, limits: LoadLimits | None = None) -> Cadence:
        """Parse and validate JSON text.

        Raises:
            LoadError: the text is past one of its `limits` (default `LoadLimits()`).
            json.JSONDecodeError: the text is not JSON.
            pydantic.ValidationError: the cadence is invalid; the message names the field.

        """
        return cls.from_dict(load_json(text, limits=limits))

    def to_yaml(self) -> str:
        """The cadence as YAML text (needs the ``yaml`` extra)."""
        yaml = _yaml()
        return str(
            yaml.dump(
                self.to_dict(),
                Dumper=_safe_dumper(yaml),
                sort_keys=False,
                allow_unicode=True,
                width=100,
            )
        )

    @classmethod
    def from_yaml(cls, text: str | bytes, *, limits: LoadLimits | None = None) -> Cadence:
        """Parse and validate YAML text (needs the ``yaml`` extra), with PyYAML's safe loader.

        Raises:
            LoadError: the text is past one of its `limits` (default `LoadLimits()`): too
                large, too many nodes once aliases are expanded, or nested too deeply.
            yaml.YAMLError: the text is not YAML.
            pydantic.ValidationError: the cadence is invalid; the message names the field.

        """
        return cls.from_dict(load_yaml(text, limits=limits, feature="YAML cadences"))

    @classmethod
    def from_file(
        cls, path: str | os.PathLike[str], *, limits: LoadLimits | None = None
    ) -> Cadence:
        """Load a cadence from a ``.yaml``/``.yml`` or ``.json`` file, by its suffix.

        Raises:
            LoadError: the file is past one of its `limits` (default `LoadLimits()`); the
                message names the file and the limit.
            OSError: the file cannot be read.
            InvalidArgumentError: an unknown suffix.
            ValueError: bad JSON (`json.JSONDecodeError`).
            yaml.YAMLError: the file is not valid YAML.
            pydantic.ValidationError: the cadence is invalid; the message names the field.

        """
        return cls.from_dict(read_document(path, limits=limits, feature="YAML cadences"))


def _yaml() -> Any:
    try:
        import yaml
    except ImportError:
        raise MissingDependencyError("YAML cadences", "yaml", "yaml") from None
    return yaml


_TIME_OF_DAY = re.compile(r"\d\d:\d\d")


def _safe_dumper(yaml: Any) -> Any:
    """PyYAML's safe dumper, writing strings that hold a NEL (U+0085) double-quoted.

    With ``allow_unicode`` PyYAML writes a NEL raw inside a quoted scalar, where YAML reads it
    back as a line break (folded to a space); in double quotes it is written as an escape.
    """

    class _Dumper(yaml.SafeDumper):  # type: ignore[misc]
        pass

    def represent_str(dumper: Any, value: str) -> Any:
        style = '"' if "\x85" in value else None
        if style is None and _TIME_OF_DAY.fullmatch(value):
            # Quote every time of day alike, so files read the same ('09:00' and '21:00'):
            # YAML 1.1 would read an unquoted 21:00 as a number.
            style = "'"
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    _Dumper.add_representer(str, represent_str)
    return _Dumper


def schema() -> dict[str, Any]:
    """The JSON Schema of a cadence's serialised (YAML/JSON) form."""
    return Cadence.model_json_schema(by_alias=True, mode="validation")
