"""A contact as a file writes it: the records of scenario files and forecast contact files.

`regua.testing.Scenario` (``regua simulate``) and `regua.forecasting.read_contacts`
(``regua forecast``) read contacts from YAML, JSON, JSON Lines or CSV; both validate each one
as a `ScenarioContact`, which leaves out what a file need not say and gives it a default
when the contact is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from regua.definitions.fields import TimezoneName

__all__ = ["ScenarioContact"]


class ScenarioContact(BaseModel):
    """A contact of the scenario; what is left out gets a convenient default.

    Attributes:
        id: The contact's id.
        timezone: Its IANA timezone (default: the cadence's).
        attributes: What the cadences read (``tier``, ``birth_date``...).
        consents: Marketing consents (default: every channel of the cadences).
        preferences: Preferred channels, best first.
        addresses: Channel -> address (default: a made-up address on every channel).
        created_at: When the contact joined (default: the scenario's start).

    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    timezone: TimezoneName | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    consents: list[str] | None = None
    preferences: list[str] = Field(default_factory=list)
    addresses: dict[str, str] | None = None
    created_at: datetime | None = None

    @model_validator(mode="after")
    def _attribute_names(self) -> ScenarioContact:
        clashes = sorted(set(self.attributes) & _CONTACT_FIELDS)
        if clashes:
            raise ValueError(
                f"contact {self.id!r}: attributes may not be named {', '.join(clashes)} "
                "(a field of the contact itself)"
            )
        return self


_CONTACT_FIELDS = frozenset(
    {"id", "contact_id", "timezone", "consents", "preferences", "addresses", "created_at"}
)
