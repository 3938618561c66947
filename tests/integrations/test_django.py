"""The Django integration, tested inside a real Django project, on SQLite and PostgreSQL.

The project (``django_project/``: settings, a ``shop`` app with customers and orders, and its
tests) runs in a pytest process of its own, with pytest-django: Django's settings and app
registry are global to a process, and must not reach the rest of this suite. The PostgreSQL
run needs PostgreSQL at ``REGUA_POSTGRES_URL`` (skipped without it, failing under
``REGUA_REQUIRE_SERVICES=1``); Django's test runner makes a database of its own there and
drops it at the end.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.repositories.conftest import POSTGRES_URL

pytest.importorskip("django", reason="the django extra is not installed")
pytest.importorskip("pytest_django", reason="pytest-django is not installed")

# A Django project's own pytest run, in a process of its own.
pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parent / "django_project"


def postgres_reachable() -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_URL)
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError:
        return False
    finally:
        engine.dispose()
    return True


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_the_django_project(database: str, tmp_path: Path) -> None:
    if database == "postgres" and not postgres_reachable():
        skip_or_fail("PostgreSQL is not reachable on 127.0.0.1:5432")
    environment = {
        **os.environ,
        "REGUA_TEST_DATABASE": database,
        "REGUA_DJANGO_DIR": str(tmp_path),
        "REGUA_POSTGRES_URL": POSTGRES_URL,
        # Only the two plugins the project needs: starting others costs seconds.
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    plugins = ["-p", "pytest_django.plugin", "-p", "pytest_timeout"]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", *plugins],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    passed = re.search(r"(\d+) passed", output)
    assert passed is not None, output
    assert int(passed.group(1)) >= 40, output
