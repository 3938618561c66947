"""The shop's app: it connects the receivers that keep regua in sync."""

from django.apps import AppConfig


class ShopConfig(AppConfig):
    """The shop."""

    name = "shop"

    def ready(self) -> None:
        """Connect the signal receivers of `shop.regua_sync`."""
        from shop import regua_sync  # noqa: F401
