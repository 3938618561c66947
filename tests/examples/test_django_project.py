"""The Django example project works as its README says (SQLite, e-mail on the console).

Each step is a ``manage.py`` command in a process of its own, as a shell runs them: Django's
settings never enter this suite's process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("django", reason="the django extra is not installed")

# Each step is a manage.py command in a process of its own.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "django_project"

# What the shop's views would do, then a hook lost: bulk_create sends no post_save signal.
SCRIPT = """
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from shop.models import Customer, Order

with transaction.atomic():
    ana = Customer.objects.create(name="Ana Souza", email="ana@example.com")
    Order.objects.create(customer=ana, total_cents=12990, placed_at=timezone.now())
call_command("regua_tick")
Order.objects.bulk_create([Order(customer=ana, total_cents=4500, placed_at=timezone.now())])
call_command("regua_tick")
call_command("regua_resync")
call_command("regua_tick")
call_command("regua_resync")
"""


def manage(*arguments: str, database: Path) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "SHOP_DATABASE": str(database)}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_example_shop_confirms_each_order_once(tmp_path: Path) -> None:
    database = tmp_path / "shop.db"
    migrate = manage("migrate", "-v", "0", database=database)
    assert migrate.returncode == 0, migrate.stderr

    check = manage("regua_check", database=database)
    assert (check.returncode, check.stdout) == (
        0,
        "OK: cadence 'loja_bonita' (2 steps, 1 channel): 0 errors, 0 warnings\n",
    ), check.stderr

    run = manage("shell", "-c", SCRIPT, database=database)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert out.count("Subject: Pedido 1 confirmado") == 1
    assert "To: Ana Souza <ana@example.com>" in out
    assert "X-Regua-Idempotency-Key: " in out
    # The order whose hook was lost: found by the re-sync, then confirmed, once.
    first, resync, again = out.partition("1 missing events stored")
    assert resync, out
    assert "Pedido 2" not in first
    assert again.count("Subject: Pedido 2 confirmado") == 1
    assert again.rstrip().endswith("0 missing events stored")
