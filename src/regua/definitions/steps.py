"""Steps: one message (or task) of a cadence, with when it fires and how it is delivered."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, JsonValue, field_validator, model_validator

from regua.definitions.conditions import ConditionType
from regua.definitions.digests import Digest
from regua.definitions.durations import Duration, NonNegativeDuration, PositiveDuration
from regua.definitions.experiments import Variants, check_experiment
from regua.definitions.fields import (
    DefinitionModel,
    Instant,
    Name,
    TimeOfDay,
    positional_name,
)
from regua.definitions.goals import Goal
from regua.definitions.triggers import EventTrigger, TriggerType

__all__ = ["Route", "Step"]


class Route(DefinitionModel):
    """Channels for contacts matching a condition: ``(attr("tier") == "gold", ["phone"])``.

    A step's routes are tried in order; the first whose condition holds gives the candidate
    channels, else the step's own `channels`.
    """

    when: ConditionType
    channels: tuple[Name, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _from_pair(cls, data: Any) -> Any:
        if isinstance(data, (tuple, list)):
            if len(data) != 2:
                raise ValueError("a route is a pair (condition, [channels])")
            when, channels = data
            if isinstance(channels, str):
                channels = [channels]
            return {"when": when, "channels": channels}
        return data


def _trigger_kind(trigger: object) -> str:
    name = type(trigger).__name__.removesuffix("Trigger")
    return "after_step" if name == "AfterStep" else name.lower()


class Step(DefinitionModel):
    """One message of a cadence: its trigger, timing, conditions, channels and policy.

    >>> from regua import on_event
    >>> Step("welcome", trigger=on_event("signed_up"), delay="2d", channels=["email"]).delay
    Duration('2d')

    Timing: an occurrence is due at trigger + `delay`, moved to the first local `at` time at
    or after that instant when `at` is given. `deadline` (counted from the trigger) and
    `expires_after` (counted from the due instant) bound how late it may still be sent;
    past them the occurrence is recorded as expired.

    With a `digest`, the events of an ``on_event`` trigger are collected into one message per
    window (see `Digest`): the window replaces `delay` and `at`, the trigger instant is the
    window's first event and the message is due when the window closes.

    Experiments: with `variants` (``{"short": 50, "long": 50}``) each contact is assigned one
    variant, carried by the message; the `holdout` variant gets no message. Steps sharing an
    `experiment` name share the assignment. A `goal` is measured by `regua.report` and, unless
    it says ``exit=False``, ends the journey when reached (see docs/goals.md).
    """

    name: Name
    trigger: TriggerType
    digest: Digest | None = None
    message: Name | None = Field(
        default=None, description="Template key handed to the sender; defaults to the step name."
    )
    channels: tuple[Name, ...] = ()
    route: tuple[Route, ...] = ()
    prefer: Literal["order", "cheapest"] = "order"
    delay: NonNegativeDuration = Duration()
    at: TimeOfDay | None = None
    when: ConditionType | None = None
    cancel_on: tuple[Name, ...] = ()
    cancel_key: Name | None = Field(
        default=None,
        description=(
            "The event data field that ties a cancel_on event to the occurrence it cancels: "
            "with cancel_key='cart_id', buying cart C-1 cancels the reminder of cart C-1 only."
        ),
    )
    repeat: Literal["every", "once"] = "every"
    cooldown: PositiveDuration | None = None
    expires_after: PositiveDuration | None = None
    deadline: PositiveDuration | None = None
    transactional: bool = Field(
        default=False,
        description=(
            "A transactional message (an order confirmation, a password reset): sent without "
            "marketing consent, at any hour, outside caps and goals."
        ),
    )
    service: bool = Field(
        default=False,
        description=(
            "A service message (a delivery window, an appointment reminder): sent without "
            "marketing consent, outside caps and goals, but never in quiet hours."
        ),
    )
    topic: Name | None = Field(
        default=None,
        description=(
            "What a marketing message is about (newsletter, offers, surveys): besides consent "
            "to the whole channel, consent to this topic on it ('email:offers') allows it."
        ),
    )
    priority: int = 0
    on_cap: Literal["defer", "skip"] = "defer"
    active_from: Instant | None = None
    payload: dict[str, JsonValue] = Field(default_factory=dict)
    description: str | None = None
    variants: Variants | None = Field(
        default=None, description="Experiment variants and their relative weights."
    )
    experiment: Name | None = Field(
        default=None, description="Experiment name, shared by steps assigned alike."
    )
    holdout: Name | None = Field(default=None, description="The variant that gets no message.")
    goal: Goal | None = None

    def __init__(self, name: str | None = None, /, **data: Any) -> None:
        super().__init__(**positional_name(name, data))

    @property
    def experiment_name(self) -> str | None:
        """The experiment this step belongs to (`experiment`, else its name); None if none."""
        if self.variants is None:
            return None
        return self.experiment if self.experiment is not None else self.name

    @property
    def message_key(self) -> str:
        """The template key handed to the sender: `message`, or the step name."""
        return self.message if self.message is not None else self.name

    @field_validator("channels", "cancel_on")
    @classmethod
    def _no_duplicates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        seen: set[str] = set()
        for item in value:
            if item in seen:
                raise ValueError(f"{item!r} is listed twice")
            seen.add(item)
        return value

    @model_validator(mode="after")
    def _check_step(self) -> Step:
        if not self.channels and not self.route:
            raise ValueError(f"step {self.name!r} needs 'channels' or 'route' to be deliverable")
        if self.deadline is not None and self.deadline.approximate() <= self.delay.approximate():
            raise ValueError(
                f"step {self.name!r}: deadline {self.deadline} (counted from the trigger) is not "
                f"after the delay {self.delay}, so every occurrence would expire unsent"
            )
        if self.cancel_key is not None:
            if not self.cancel_on:
                raise ValueError(
                    f"step {self.name!r}: cancel_key {self.cancel_key!r} ties cancel_on events "
                    "to an occurrence, but the step has no cancel_on"
                )
            if not isinstance(self.trigger, EventTrigger) or self.digest is not None:
                raise ValueError(
                    f"step {self.name!r}: cancel_key compares the cancel_on event's data with "
                    "the triggering event's, so the trigger must be an event trigger without a "
                    f"digest, not a {_trigger_kind(self.trigger)} trigger"
                    + (" with a digest" if self.digest is not None else "")
                )
        if self.topic is not None and not self.marketing:
            raise ValueError(
                f"step {self.name!r}: a topic is what marketing consent is given for; a "
                "transactional or service step needs no consent, so it has no topic"
            )
        if self.transactional and self.service:
            raise ValueError(
                f"step {self.name!r} is transactional or service, not both: a transactional "
                "message goes at any hour, a service message waits out quiet hours"
            )
        check_experiment(
            self.name, self.variants, self.experiment, self.holdout, not self.marketing
        )
        return self

    @property
    def marketing(self) -> bool:
        """Neither transactional nor service: a marketing message.

        Only marketing messages need the contact's consent on the channel, count toward and
        are held by frequency caps, and end when the cadence's goal is reached. Quiet hours
        hold marketing and service messages; transactional ones go at any hour.
        """
        return not (self.transactional or self.service)

    @model_validator(mode="after")
    def _check_digest(self) -> Step:
        digest = self.digest
        if digest is None:
            return self
        if isinstance(self.trigger, EventTrigger) and self.trigger.of_step is not None:
            raise ValueError(
                f"step {self.name!r}: a digest collects events, and an engagement trigger "
                "(of_step) fires once per message engaged with: give the digest "
                f"on_event({self.trigger.event!r})"
            )
        if not isinstance(self.trigger, EventTrigger):
            raise ValueError(
                f"step {self.name!r}: a digest collects events, so its trigger must be an "
                f"event trigger (on_event(...); in YAML 'trigger: {{event: ...}}'), not a "
                f"{_trigger_kind(self.trigger)} trigger"
            )
        if self.delay or self.at is not None:
            raise ValueError(
                f"step {self.name!r}: a digest is due when its window closes; give the timing "
                "as the digest's window and until, not as delay or at"
            )
        if (
            self.deadline is not None
            and digest.window is not None
            and self.deadline.approximate() <= digest.window.approximate()
        ):
            raise ValueError(
                f"step {self.name!r}: deadline {self.deadline} (counted from the first event) "
                f"is not after the digest window {digest.window}, so every digest would expire "
                "unsent"
            )
        return self

    def channels_named(self) -> frozenset[str]:
        """Every channel this step may use, in `channels` and in its routes."""
        names = set(self.channels)
        for route in self.route:
            names.update(route.channels)
        return frozenset(names)

    def attributes_used(self) -> frozenset[str]:
        """The contact attributes read by this step's trigger, condition and routes."""
        used = set(self.trigger.attributes_used())
        if self.when is not None:
            used |= self.when.attributes_used()
        for route in self.route:
            used |= route.when.attributes_used()
        return frozenset(used)
