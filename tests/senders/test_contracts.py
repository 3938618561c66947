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


pytest_plugins = ["pytester"]


@pytest.mark.slow
def test_a_broken_adapter_fails_with_the_values_that_broke_the_contract(
    pytester: pytest.Pytester,
) -> None:
    # A fresh interpreter, as a project's own run: regua's plugin registers the contract
    # package for assertion rewriting before the suites are imported, so a plain `assert` of
    # a suite shows its operands, and the suites' own messages name the rule and the values.
    pytester.makepyfile(
        """
        import pytest

        from regua.testing.contracts import AsyncSenderContract, SenderContract

        class Mute:
            def send(self, message):
                return None

        class NotASender:
            pass

        class TestMute(SenderContract[Mute]):
            @pytest.fixture
            def sender(self):
                return Mute()

            def delivered_keys(self, sender):
                return []

        class TestNotASender(AsyncSenderContract[NotASender]):
            @pytest.fixture
            def sender(self):
                return NotASender()
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "-p", "no:randomly", "-k", "is_a_sender or TestMute and accepted"
    )
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*keys the provider received",
            "*expected: ?'*'?",  # (fnmatch reads brackets as a set: ? stands for them)
            "*actual:   ??",
            "*where False = isinstance(<*NotASender object at *>, AsyncSender)",
        ]
    )
