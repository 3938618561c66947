"""Channels: the ways a cadence reaches a customer (e-mail, SMS, a call), with their cost."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from regua.definitions.fields import DefinitionModel, Name, positional_name
from regua.definitions.policy import FrequencyCap, QuietHours

__all__ = ["Channel", "ChannelKind"]


ChannelKind = Literal["message", "task"]
"""``message``: delivered to the customer; ``task``: work for a human (a manager's call)."""


class Channel(DefinitionModel):
    """A way to reach the customer, with its cost to the company.

    >>> Channel("sms", cost=0.05).name
    'sms'

    The contact's consent and address for a channel are looked up under its `name`. A
    channel may have quiet hours and caps of its own, applied on top of the cadence's.
    """

    name: Name
    cost: float = Field(
        default=0.0, ge=0, allow_inf_nan=False, description="Cost of one message, any currency."
    )
    kind: ChannelKind = "message"
    quiet_hours: QuietHours | None = None
    caps: tuple[FrequencyCap, ...] = ()
    description: str | None = None

    def __init__(self, name: str | None = None, /, **data: object) -> None:
        super().__init__(**positional_name(name, data))
