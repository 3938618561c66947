"""Read-only Django admin pages over regua's tables: contacts, events, deliveries, errors.

Nothing can be added, changed or deleted here: regua's tables are written by regua alone.
A staff user needs the ``regua.view_*`` permissions (a superuser has them). Contacts'
attributes and addresses are personal data: grant them as you would your customers' own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from regua.definitions.cadence import Cadence
from regua.errors import ReguaError
from regua.integrations.django.configuration import get_cadences, setting
from regua.integrations.django.models import Contact, Delivery, Error, Event, Failure
from regua.records import DeliveryStatus

__all__ = [
    "CadenceFilter",
    "ChannelFilter",
    "ContactAdmin",
    "DeliveryAdmin",
    "ErrorAdmin",
    "EventAdmin",
    "FailureAdmin",
    "ReadOnlyAdmin",
    "StepFilter",
]


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """An admin that shows rows and never adds, changes or deletes one.

    It reads from the database of ``REGUA["DATABASE"]``.
    """

    actions = None
    list_per_page = 50
    show_full_result_count = False  # no second COUNT(*) over a large table

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """The rows, from regua's database."""
        rows: QuerySet[Any] = super().get_queryset(request).using(setting("DATABASE", "default"))
        return rows

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never: regua writes its tables."""
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never: regua writes its tables."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """Never: regua writes its tables."""
        return False

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Also filter by contact from a link (``?contact_id=...``)."""
        if lookup == "contact_id":
            return True
        allowed: Callable[..., Any] = super().lookup_allowed
        if request is None:  # Django 4.2 passes no request; Django 6 requires one
            return bool(allowed(lookup, value))
        return bool(allowed(lookup, value, request))


class _ConfiguredFilter(admin.SimpleListFilter):
    """A filter whose choices come from the configured cadences, not from the table.

    Django's default filter for a column reads its distinct values: a scan of the whole
    table on every page. A value no configured cadence has any more is not offered.
    """

    def names(self, cadences: list[Cadence]) -> set[str]:
        """The values to offer."""
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        """The values, sorted; none when the cadences cannot be loaded."""
        try:
            cadences = get_cadences()
        except (ImproperlyConfigured, ReguaError):
            return []
        return [(name, name) for name in sorted(self.names(cadences))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        """The rows with the chosen value."""
        value = self.value()
        if value is None:
            return queryset
        chosen: QuerySet[Any] = queryset.filter(**{str(self.parameter_name): value})
        return chosen


class CadenceFilter(_ConfiguredFilter):
    """By cadence."""

    title = "cadence"
    parameter_name = "cadence"

    def names(self, cadences: list[Cadence]) -> set[str]:
        """The cadences' names."""
        return {cadence.name for cadence in cadences}


class StepFilter(_ConfiguredFilter):
    """By step (of any cadence)."""

    title = "step"
    parameter_name = "step"

    def names(self, cadences: list[Cadence]) -> set[str]:
        """The steps' names."""
        return {step.name for cadence in cadences for step in cadence.steps}


class ChannelFilter(_ConfiguredFilter):
    """By channel."""

    title = "channel"
    parameter_name = "channel"

    def names(self, cadences: list[Cadence]) -> set[str]:
        """The channels' names."""
        return {channel.name for cadence in cadences for channel in cadence.channels}


def _pretty(value: Any) -> str:
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, sort_keys=True, default=str))


def _listed(model: type[Any], contact_id: str) -> str:
    meta = model._meta
    url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
    return f"{url}?{urlencode({'contact_id': contact_id})}"


@admin.register(Contact)
class ContactAdmin(ReadOnlyAdmin):
    """regua's contacts, found by id; each links to its events, deliveries and errors."""

    list_display = ["id", "timezone", "created_at", "wakeup_at", "lease_owner", "version"]
    search_fields = ["=id"]
    fields = readonly_fields = (
        "id",
        "timezone",
        "created_at",
        "history",
        "shown_attributes",
        "shown_consents",
        "shown_preferences",
        "shown_addresses",
        "version",
        "wakeup_at",
        "lease_owner",
        "lease_until",
    )

    @admin.display(description="attributes")
    def shown_attributes(self, contact: Contact) -> str:
        """The attributes, as JSON."""
        return _pretty(contact.attributes)

    @admin.display(description="consents")
    def shown_consents(self, contact: Contact) -> str:
        """The consented channels, as JSON."""
        return _pretty(contact.consents)

    @admin.display(description="preferences")
    def shown_preferences(self, contact: Contact) -> str:
        """The preferences, as JSON."""
        return _pretty(contact.preferences)

    @admin.display(description="addresses")
    def shown_addresses(self, contact: Contact) -> str:
        """The addresses, as JSON."""
        return _pretty(contact.addresses)

    @admin.display(description="history")
    def history(self, contact: Contact) -> str:
        """Links to the contact's events, deliveries, failures and errors."""
        links = [
            (_listed(model, str(contact.id)), model._meta.verbose_name_plural)
            for model in (Event, Delivery, Failure, Error)
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    """What happened to each contact, the latest recorded first."""

    list_display = ["at", "contact_id", "name", "event_id", "ref"]
    search_fields = ["=contact_id"]
    fields = readonly_fields = (
        "serial",
        "contact_id",
        "name",
        "event_id",
        "at",
        "ref",
        "shown_data",
    )

    @admin.display(description="data")
    def shown_data(self, event: Event) -> str:
        """The event's data, as JSON."""
        return _pretty(event.data)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    """Every outcome: sent, failed, cancelled, skipped, expired; the latest recorded first."""

    list_display = ["at", "contact_id", "cadence", "step", "status", "channel", "reason"]
    list_filter = ["status", CadenceFilter, StepFilter, ChannelFilter]
    # Indexed columns only: one that is not would make every search read the whole table.
    search_fields = ["=contact_id", "=occurrence_key"]
    fields = readonly_fields = (
        "serial",
        "occurrence_key",
        "contact_id",
        "cadence",
        "step",
        "status",
        "at",
        "channel",
        "reason",
        "variant",
        "message_id",
    )


@admin.register(Failure)
class FailureAdmin(DeliveryAdmin):
    """The dead letters: occurrences every channel failed. ``regua redrive`` retries them."""

    # A failed delivery has no channel: every channel it had failed (the reason says how).
    list_display = ["at", "contact_id", "cadence", "step", "reason"]
    list_filter = [CadenceFilter, StepFilter]
    ordering = ["-at"]  # the index on (status, at)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        """The failed deliveries only."""
        rows: QuerySet[Any] = (
            super().get_queryset(request).filter(status=DeliveryStatus.FAILED.value)
        )
        return rows


@admin.register(Error)
class ErrorAdmin(ReadOnlyAdmin):
    """Errors met while evaluating a contact (bad data, a cadence that raised)."""

    list_display = ["at", "contact_id", "short_error"]
    search_fields = ["=contact_id"]
    fields = readonly_fields = ("serial", "contact_id", "at", "error")

    @admin.display(description="error")
    def short_error(self, error: Error) -> str:
        """The error's first line."""
        text = str(error.error)
        first = text.splitlines()[0] if text else ""
        return first if len(first) <= 120 else first[:119] + "…"
