"""regua's tables, seen by Django: unmanaged models for the admin, to read and never write.

`SQLRepository` owns these tables (it creates and migrates them); Django neither creates nor
migrates them (``managed = False``) and the admin only reads them. Only the columns worth
reading are mapped. With ``REGUA["SCHEMA"]`` (PostgreSQL), each table is named with its
schema, read from the settings when Django starts.
"""

from __future__ import annotations

import json
from typing import Any

from django import conf
from django.db import models

from regua.records import DeliveryStatus

__all__ = ["Contact", "Delivery", "Error", "Event", "Failure"]


def _table(name: str) -> str:
    """The table's name for Django: ``"schema"."name"`` when regua's tables have a schema.

    Django leaves a name already in double quotes as it is, so the schema reaches the SQL;
    this works on PostgreSQL, the one database with schemas that regua runs on.
    """
    regua = getattr(conf.settings, "REGUA", None)
    schema = regua.get("SCHEMA") if isinstance(regua, dict) else None
    if not schema:
        return name
    quoted = str(schema).replace('"', '""')
    return f'"{quoted}"."{name}"'


class StoredJSON(models.TextField):  # type: ignore[type-arg]
    """A JSON column written by regua, read back as Python values.

    SQLite hands the text over (parsed here); psycopg parses PostgreSQL's ``json`` itself.
    Values JSON cannot express are shown as regua stores them, tagged (``{"$date": ...}``).
    """

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        """The stored value, parsed when the driver left it as text."""
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


STATUSES = [(status.value, status.value) for status in DeliveryStatus]


class Contact(models.Model):
    """A row of ``regua_contacts``: one contact, as regua last stored it."""

    id = models.CharField(primary_key=True, max_length=255)
    attributes = StoredJSON()
    timezone = models.CharField(max_length=64, null=True)
    consents = StoredJSON()
    preferences = StoredJSON()
    addresses = StoredJSON()
    created_at = models.DateTimeField(null=True)
    version = models.IntegerField()
    wakeup_at = models.DateTimeField("next wake-up", null=True)
    lease_owner = models.CharField(max_length=255, null=True)
    lease_until = models.DateTimeField(null=True)

    class Meta:  # noqa: D106 - Django's model options
        managed = False
        db_table = _table("regua_contacts")
        ordering = ["id"]
        verbose_name = "contact"
        default_permissions = ("view",)

    def __str__(self) -> str:
        return str(self.id)


class Event(models.Model):
    """A row of ``regua_events``: something that happened to a contact."""

    serial = models.BigIntegerField(primary_key=True)
    contact_id = models.CharField("contact", max_length=255)
    event_id = models.CharField("event id", max_length=255)
    name = models.CharField(max_length=255)
    at = models.DateTimeField()
    data = StoredJSON()
    ref = models.CharField(max_length=255, null=True)

    class Meta:  # noqa: D106 - Django's model options
        managed = False
        db_table = _table("regua_events")
        ordering = ["-serial"]
        verbose_name = "event"
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.name} {self.event_id} of {self.contact_id}"


class Delivery(models.Model):
    """A row of ``regua_deliveries``: how one occurrence of a step ended."""

    serial = models.BigIntegerField(primary_key=True)
    occurrence_key = models.CharField("occurrence", max_length=255)
    cadence = models.CharField(max_length=255)
    step = models.CharField(max_length=255)
    contact_id = models.CharField("contact", max_length=255)
    status = models.CharField(max_length=16, choices=STATUSES)
    at = models.DateTimeField()
    channel = models.CharField(max_length=255, null=True)
    reason = models.CharField(max_length=255, null=True)
    variant = models.CharField(max_length=255, null=True)
    message_id = models.CharField("message id", max_length=255, null=True)

    class Meta:  # noqa: D106 - Django's model options
        managed = False
        db_table = _table("regua_deliveries")
        ordering = ["-serial"]
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"
        default_permissions = ("view",)

    def __str__(self) -> str:
        return str(self.occurrence_key)


class Failure(Delivery):
    """A failed delivery (a dead letter): every channel failed, or retries ran out."""

    class Meta:  # noqa: D106 - Django's model options
        proxy = True
        verbose_name = "failed delivery"
        verbose_name_plural = "failed deliveries (dead letters)"
        default_permissions = ("view",)


class Error(models.Model):
    """A row of ``regua_errors``: an error met while evaluating a contact."""

    serial = models.BigIntegerField(primary_key=True)
    contact_id = models.CharField("contact", max_length=255)
    at = models.DateTimeField()
    error = models.TextField()

    class Meta:  # noqa: D106 - Django's model options
        managed = False
        db_table = _table("regua_errors")
        ordering = ["-serial"]
        verbose_name = "error"
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"error of {self.contact_id} at {self.at:%Y-%m-%d %H:%M}"
