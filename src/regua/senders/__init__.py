"""Senders: adapters that deliver messages on a channel (see `regua.ports.Sender`)."""

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

__all__ = [
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
    "handle_unsubscribe",
    "read_unsubscribe_token",
    "unsubscribe_token",
]
