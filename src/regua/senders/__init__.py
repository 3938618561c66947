"""Senders: adapters that deliver messages on a channel (see `regua.ports.Sender`).

`WebhookSender` and `AsyncWebhookSender` need the ``http`` extra and are imported only when
first asked for. `OutboxSender`, the in-memory sender of tests and tutorials, is also
exported from `regua`.
"""

from typing import TYPE_CHECKING, Any

from regua.senders.console import ConsoleSender
from regua.senders.jinja import JinjaRenderer
from regua.senders.memory import OutboxSender
from regua.senders.ratelimit import RateLimited
from regua.senders.shared_ratelimit import (
    PostgresRateLimitBackend,
    RateLimitBackend,
    RedisRateLimitBackend,
    SharedRateLimited,
    TokenReservation,
)
from regua.senders.smtp import RenderedEmail, SMTPSender, TemplateRenderer
from regua.senders.unsubscribe import (
    InvalidUnsubscribeToken,
    Unsubscribe,
    UnsubscribeRequest,
    handle_unsubscribe,
    read_unsubscribe_token,
    unsubscribe_token,
)

if TYPE_CHECKING:
    from regua.senders.webhook import AsyncWebhookSender, WebhookSender

__all__ = [
    "AsyncWebhookSender",
    "ConsoleSender",
    "InvalidUnsubscribeToken",
    "JinjaRenderer",
    "OutboxSender",
    "PostgresRateLimitBackend",
    "RateLimitBackend",
    "RateLimited",
    "RedisRateLimitBackend",
    "RenderedEmail",
    "SMTPSender",
    "SharedRateLimited",
    "TemplateRenderer",
    "TokenReservation",
    "Unsubscribe",
    "UnsubscribeRequest",
    "WebhookSender",
    "handle_unsubscribe",
    "read_unsubscribe_token",
    "unsubscribe_token",
]


def __getattr__(name: str) -> Any:
    # The webhook senders need the `http` extra: import them only when asked for.
    if name in {"AsyncWebhookSender", "WebhookSender"}:
        from regua.senders import webhook

        return getattr(webhook, name)
    raise AttributeError(f"module 'regua.senders' has no attribute {name!r}")
