"""The shop's app: connects the signals that keep regua in sync."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    name = "shop"

    def ready(self) -> None:
        from shop import regua_sync  # noqa: F401 - connects its receivers
