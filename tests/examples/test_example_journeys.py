"""The example cadences behave as their docstrings say, written with the testing kit."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest
from tests.examples.test_examples import load_example

from regua import DeliveryStatus, Message, PermanentFailure, Sender, TemporaryFailure
from regua.testing import Simulation

UTC = timezone.utc
START = datetime(2026, 3, 2, 12, tzinfo=UTC)  # Monday, 09:00 in Sao Paulo


@pytest.fixture
def shop() -> Simulation:
    return Simulation(load_example("ecommerce_lifecycle").cadence, start=START)


@pytest.fixture
def marketplace() -> Simulation:
    return Simulation(load_example("marketplace_digests").cadence, start=START)


@pytest.fixture
def recovery() -> Simulation:
    return Simulation(load_example("service_recovery").cadence, start=START)


def test_sign_up_confirmation_at_once_then_welcome_at_ten_two_days_later(shop: Simulation) -> None:
    shop.add_contact("ana", timezone="America/Sao_Paulo")
    shop.emit("ana", "signed_up")
    shop.advance("5d")
    shop.assert_sent("signup_confirmation", to="ana", at=START)
    shop.assert_sent("welcome", to="ana", at=datetime(2026, 3, 4, 13, tzinfo=UTC))
    shop.assert_sent("welcome", to="ana", local=time(10))


def test_cart_reminders_stop_when_the_customer_buys(shop: Simulation) -> None:
    shop.add_contact("bruno", timezone="Europe/Lisbon")
    shop.add_contact("carla", timezone="America/New_York")
    for who in ("bruno", "carla"):
        shop.emit(who, "login")
        shop.emit(who, "cart_abandoned")
    shop.advance("1h59m")
    shop.emit("carla", "order_placed")
    shop.advance("3d")
    shop.assert_sequence(["cart_reminder", "cart_second_reminder"], to="bruno")
    shop.assert_not_sent("cart_reminder", to="carla")
    shop.assert_sent("order_confirmation", to="carla")


@pytest.mark.parametrize(
    ("tier", "channel"), [("gold", "phone"), ("silver", "sms"), ("bronze", "email")]
)
def test_birthday_at_nine_on_the_channel_of_the_customers_value(
    shop: Simulation, tier: str, channel: str
) -> None:
    shop.add_contact("ana", timezone="America/Sao_Paulo", tier=tier, birth_date="1990-03-10")
    shop.emit("ana", "login")
    shop.advance("10d")
    shop.assert_sent("birthday", to="ana", local=time(9), channel=channel, times=1)


def test_inactivity_news_then_sms_when_unopened_then_win_back(shop: Simulation) -> None:
    shop.add_contact("diego", timezone="America/Sao_Paulo")
    shop.emit("diego", "login")
    shop.advance("200d")
    steps = [s.step for s in shop.sent(to="diego")]
    assert steps[:3] == ["inactive_news", "inactive_news_sms", "winback_why_did_you_leave"]
    assert "winback_offer" in steps
    shop.assert_sent("inactive_news", to="diego", local=time(10))


def test_a_missed_apology_deadline_escalates_to_the_account_manager(
    recovery: Simulation,
) -> None:
    recovery.add_contact("eva", tier="gold")
    recovery.emit("eva", "incident_opened")
    recovery.advance("1m")
    recovery.assert_sent("acknowledgement", to="eva")
    recovery.downtime("6h")  # the workers are down past the apology's deadline
    recovery.advance("1m")
    recovery.assert_not_sent("apology", to="eva")
    recovery.assert_sent("escalation_call", to="eva", channel="phone")
    [expired] = [d for d in recovery.deliveries("eva") if d.step == "apology"]
    assert (expired.status.value, expired.reason) == ("expired", "deadline")


class _NoMailbox:
    """An e-mail provider that rejects every message for good: the mailbox does not exist."""

    def send(self, message: Message) -> str | None:
        raise PermanentFailure("550 no such mailbox")


class _ProviderDown:
    """A provider that is down for the whole incident: every attempt fails for now."""

    def send(self, message: Message) -> str | None:
        raise TemporaryFailure("503 service unavailable")


@pytest.mark.parametrize(
    ("senders", "addresses"),
    [
        # Only an e-mail address, and the mailbox does not exist: no retry can help.
        ({"email": _NoMailbox()}, {"email": "eva@example.com", "phone": "+55 11 5555-0100"}),
        # Both providers down: the default retry policy gives up on each channel within
        # minutes, hours before the apology's deadline.
        ({"email": _ProviderDown(), "sms": _ProviderDown()}, None),
    ],
    ids=["permanent-failure", "retries-run-out"],
)
def test_an_apology_that_failed_before_its_deadline_escalates_too(
    senders: dict[str, Sender], addresses: dict[str, str] | None
) -> None:
    recovery = Simulation(load_example("service_recovery").cadence, start=START, senders=senders)
    recovery.add_contact("eva", tier="gold", addresses=addresses)
    recovery.emit("eva", "incident_opened")
    recovery.advance("1d")
    [apology] = [d for d in recovery.deliveries("eva") if d.step == "apology"]
    assert apology.status == DeliveryStatus.FAILED
    assert apology.at < START + timedelta(hours=4)  # well before the deadline
    # The account manager is asked to call as soon as the apology has failed, once.
    recovery.assert_sent("escalation_call", to="eva", channel="phone", at=apology.at, times=1)
    recovery.assert_not_sent("compensation", to="eva")


def test_parcels_shipped_together_make_one_update_and_one_review_request(
    marketplace: Simulation,
) -> None:
    marketplace.add_contact("ana", consents=[])  # service messages need no consent
    for seller in ("books", "shoes", "tea"):
        marketplace.emit("ana", "order_shipped", seller=seller)
        marketplace.advance("25m")
    marketplace.advance("7d")
    update = marketplace.assert_sent("shipping_updates", to="ana", channel="sms", times=1)
    assert [e["data"]["seller"] for e in update.payload["events"]] == ["books", "shoes", "tea"]
    assert update.local_at.time() == time(11)  # two hours after the first parcel
    marketplace.assert_sequence(["shipping_updates"], to="ana")  # no consent: no review request


def test_watched_price_drops_make_one_summary_at_six_in_the_evening(
    marketplace: Simulation,
) -> None:
    marketplace.add_contact("bia")
    marketplace.emit("bia", "price_dropped", item="kettle", watched=True)
    marketplace.advance("3h")
    marketplace.emit("bia", "price_dropped", item="toaster", watched=False)  # not watched
    marketplace.emit("bia", "price_dropped", item="lamp", watched=True)
    marketplace.advance("1d")
    summary = marketplace.assert_sent("price_drop_summary", to="bia", local=time(18), times=1)
    assert [e["data"]["item"] for e in summary.payload["events"]] == ["kettle", "lamp"]
    assert summary.payload["utm_campaign"] == "price_drops"


def test_a_conversation_with_a_seller_is_one_email(marketplace: Simulation) -> None:
    marketplace.add_contact("caio")
    for text in ("hi", "it ships tomorrow", "tracking: XY123"):
        marketplace.emit("caio", "seller_message", text=text)
        marketplace.advance("5m")
    marketplace.advance("1h")
    message = marketplace.assert_sent("seller_messages", to="caio", times=1)
    assert len(message.payload["events"]) == 3
