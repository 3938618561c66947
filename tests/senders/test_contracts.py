"""The shipped senders honour the sender contract."""

from __future__ import annotations

import pytest

from regua import OutboxSender
from regua.testing.contracts import SenderContract


class TestOutboxSender(SenderContract[OutboxSender]):
    @pytest.fixture
    def sender(self) -> OutboxSender:
        return OutboxSender()

    def delivered_keys(self, sender: OutboxSender) -> list[str]:
        return [message.idempotency_key for message in sender.outbox]


class TestDeduplicatingOutboxSender(SenderContract[OutboxSender]):
    @pytest.fixture
    def sender(self) -> OutboxSender:
        return OutboxSender(deduplicate=True)

    def delivered_keys(self, sender: OutboxSender) -> list[str]:
        return [message.idempotency_key for message in sender.outbox]
