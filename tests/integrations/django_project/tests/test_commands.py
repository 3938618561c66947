"""regua_tick sends through Django's e-mail, regua_check exits as `regua check`, regua_worker
stops on a signal."""

from __future__ import annotations

import io
import signal
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError
from orders import place_order

from regua import Delivery, DeliveryStatus, SQLRepository
from regua.integrations.django import get_scheduler
from regua.records import idempotency_key
from regua.scheduler import TickReport

NOW = "2026-03-02T15:01:00Z"


def tick(*arguments: str) -> str:
    out = io.StringIO()
    call_command("regua_tick", "--now", NOW, *arguments, stdout=out, stderr=out)
    return out.getvalue()


def test_a_tick_sends_the_confirmation_through_djangos_mail(repository: SQLRepository) -> None:
    order = place_order()
    assert "1 evaluated, 1 sent, 0 deferred, 0 failed" in tick()

    [email] = mail.outbox
    assert email.subject == f"Order {order.pk} confirmed"
    assert email.body == f"Hello Ana, we have your order {order.pk} (129.9)."
    assert email.alternatives[0][1] == "text/html"
    assert email.from_email == "Loja <loja@shop.example>"
    assert email.to == ["Ana Souza <ana@example.com>"]
    occurrence = f"shop:order_confirmation:{order.customer_id}:event={order.pk}"
    key = idempotency_key(occurrence)
    assert email.extra_headers["X-Regua-Idempotency-Key"] == key
    assert email.extra_headers["Message-ID"] == f"<{key}@shop.example>"
    assert email.message()["Message-ID"] == f"<{key}@shop.example>"

    [delivery] = [d for d in repository.history(str(order.customer_id)) if isinstance(d, Delivery)]
    assert (delivery.occurrence_key, delivery.status) == (occurrence, DeliveryStatus.SENT)
    assert delivery.message_id == f"<{key}@shop.example>"

    assert "0 evaluated, 0 sent" in tick()  # nothing is due any more
    assert len(mail.outbox) == 1


def test_the_provider_message_id_is_stored(repository: SQLRepository, settings: Any) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    order = place_order()
    out = tick("-v", "2")
    assert "1 sent" in out
    assert f"sent shop:order_confirmation:{order.customer_id}:event={order.pk} on email" in out
    [email] = mail.outbox
    assert email.anymail_test_params["extra_headers"]["X-Regua-Idempotency-Key"]
    [delivery] = [d for d in repository.history(str(order.customer_id)) if isinstance(d, Delivery)]
    assert delivery.message_id == "0"  # anymail's test backend: the index in the outbox


def test_a_refused_address_is_a_dead_letter(repository: SQLRepository) -> None:
    order = place_order(email="not an address")
    assert "0 sent, 0 deferred, 1 failed" in tick()
    [failed] = repository.failed_deliveries()
    assert failed.contact_id == str(order.customer_id)
    assert failed.reason is not None
    assert "not an address" not in failed.reason
    assert mail.outbox == []


def test_a_bad_now_is_a_usage_error(repository: SQLRepository) -> None:
    with pytest.raises(CommandError, match="no UTC offset"):
        call_command("regua_tick", "--now", "2026-03-02T15:00")


# --- regua_check -----------------------------------------------------------------------------


def check(*arguments: str) -> int:
    """Run ``manage.py regua_check`` as a shell would: its exit status."""
    try:
        execute_from_command_line(["manage.py", "regua_check", *arguments])
    except SystemExit as exit:
        return int(exit.code or 0)
    return 0


def test_regua_check_passes(settings: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert check() == 0
    assert capsys.readouterr().out == (
        "OK: cadence 'shop' (1 step, 1 channel): 0 errors, 0 warnings\n"
    )


def test_regua_check_fails_on_a_channel_without_sender(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.REGUA = {**settings.REGUA, "CADENCES": "shop.cadences:broken"}
    assert check() == 1
    out, err = capsys.readouterr()
    assert "broken: error no-sender steps[0] 'text_them'" in out
    assert "FAILED: cadence 'broken' (1 step, 2 channels): 1 error, 0 warnings" in err
    assert check("--senders", "email,sms") == 0


def test_regua_check_strict_fails_on_warnings(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.REGUA = {**settings.REGUA, "CADENCES": ["shop.cadences:warned"]}
    assert check() == 0
    assert "warned: warning no-expiry" in capsys.readouterr().out
    assert check("--strict") == 1
    assert "1 warning (--strict: warnings fail)" in capsys.readouterr().err


def test_regua_check_fails_on_a_cadence_it_cannot_load(
    settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.REGUA = {**settings.REGUA, "CADENCES": "shop/missing.yaml"}
    assert check() == 1
    assert "settings.REGUA['CADENCES']: shop/missing.yaml: no such file" in capsys.readouterr().err


# --- regua_worker ------------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_the_worker_stops_on_a_signal_after_its_tick(
    repository: SQLRepository, monkeypatch: pytest.MonkeyPatch, signum: signal.Signals
) -> None:
    place_order()
    scheduler = get_scheduler()
    real_tick = scheduler.tick
    ticks: list[TickReport] = []

    def tick_then_signal(*args: Any, **kwargs: Any) -> TickReport:
        report = real_tick(*args, **kwargs)
        ticks.append(report)
        signal.raise_signal(signum)  # as `kill` would, while the worker waits for the next
        return report

    monkeypatch.setattr(scheduler, "tick", tick_then_signal)
    handler = signal.getsignal(signum)
    out = io.StringIO()
    call_command("regua_worker", "-v", "2", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        f"regua worker {scheduler.worker}: a tick every 5 s; stop it with SIGTERM or Ctrl-C"
    )
    assert "1 sent" in lines[1]
    assert lines[2] == f"regua worker {scheduler.worker} stopped"
    assert len(ticks) == 1
    assert len(mail.outbox) == 1
    assert signal.getsignal(signum) is handler  # restored


def test_the_worker_interval_option(
    repository: SQLRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    scheduler = get_scheduler()
    seen: list[object] = []
    monkeypatch.setattr(scheduler, "run", lambda interval, **kwargs: seen.append(interval))
    call_command("regua_worker", "--interval", "0.5", stdout=io.StringIO())
    assert [str(interval) for interval in seen] == ["0:00:00.500000"]
