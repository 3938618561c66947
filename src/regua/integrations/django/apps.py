"""The Django application of regua: ``INSTALLED_APPS = [..., "regua.integrations.django"]``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

__all__ = ["ReguaConfig"]


def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("REGUA", "DATABASES"):
        from regua.integrations.django.configuration import reset

        reset()


class ReguaConfig(AppConfig):
    """regua in a Django project: the label ``regua``, its admin pages and commands."""

    name = "regua.integrations.django"
    label = "regua"
    verbose_name = "regua"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Build the scheduler again when a test overrides ``REGUA`` or ``DATABASES``."""
        setting_changed.connect(_settings_changed, dispatch_uid="regua.settings_changed")
