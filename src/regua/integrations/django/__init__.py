"""Run regua in a Django project: settings, management commands, admin pages, e-mail.

Install the ``django`` extra (``pip install 'regua[django,postgres]'``), add the app and a
``REGUA`` setting::

    INSTALLED_APPS = [..., "regua.integrations.django"]
    REGUA = {
        "CADENCES": "shop.cadences:all",         # module:attribute, a file, or a list
        "SENDERS": "shop.regua_senders:senders",  # a dict {channel: Sender}, or a factory
        "DATABASE": "default",                   # the DATABASES alias of regua's tables
    }

Then:

- ``python manage.py regua_worker`` ticks until SIGTERM or Ctrl-C, ``regua_tick`` ticks once,
  ``regua_check`` validates and lints the configured cadences;
- the admin shows regua's contacts, events, deliveries, dead letters and errors, read-only;
- `record_event_on_commit`, `upsert_contact_on_commit` and `set_consent_on_commit` tell regua
  of a change once the transaction that made it commits;
- `DjangoEmailSender` sends regua's e-mails through ``django.core.mail`` (any backend,
  django-anymail's included);
- `get_repository` and `get_scheduler` give this process's repository and scheduler.

regua's tables live in the Django database ``REGUA["DATABASE"]`` (SQLite or PostgreSQL),
reached through regua's own SQLAlchemy connections (`database_url`).
"""

from __future__ import annotations

from regua.errors import MissingDependencyError

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise MissingDependencyError("regua.integrations.django", "django", "django") from exc

from regua.integrations.django.configuration import (
    database_url,
    get_repository,
    get_scheduler,
    reset,
)
from regua.integrations.django.mail import DjangoEmailSender
from regua.integrations.django.transactions import (
    record_event_on_commit,
    set_consent_on_commit,
    upsert_contact_on_commit,
)

__all__ = [
    "DjangoEmailSender",
    "database_url",
    "get_repository",
    "get_scheduler",
    "record_event_on_commit",
    "reset",
    "set_consent_on_commit",
    "upsert_contact_on_commit",
]
