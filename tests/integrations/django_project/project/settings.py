"""Settings of the test project: SQLite or PostgreSQL, by ``REGUA_TEST_DATABASE``.

``REGUA_TEST_DATABASE=sqlite`` (the default) keeps both databases (the one named here and
Django's test database) in files under ``REGUA_DJANGO_DIR`` (a new temporary directory when
unset): regua's own connection cannot reach an in-memory one. ``postgres`` uses
``REGUA_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``) and a
test database of its own, dropped at the end, with regua's tables in the schema ``regua``.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

DATABASE = os.environ.get("REGUA_TEST_DATABASE", "sqlite")
FOLDER = Path(os.environ.get("REGUA_DJANGO_DIR") or tempfile.mkdtemp(prefix="regua-django-"))

SECRET_KEY = "regua-tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "project.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Fast to hash: the tests log users in, nothing here guards a real password.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "regua.integrations.django",
    "shop",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if DATABASE == "postgres":
    url = sa.make_url(
        os.environ.get("REGUA_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    )
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.database,
            "USER": url.username or "",
            "PASSWORD": url.password or "",
            "HOST": url.host or "",
            "PORT": url.port or "",
            # One of its own per run: runs side by side never meet.
            "TEST": {"NAME": f"regua_django_{uuid.uuid4().hex[:12]}"},
        }
    }
    SCHEMA: str | None = "regua"
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": FOLDER / "shop.db",
            "TEST": {"NAME": str(FOLDER / "test-shop.db")},
        }
    }
    SCHEMA = None

REGUA = {
    "CADENCES": "shop.cadences:cadences",
    "SENDERS": "shop.regua_senders:senders",
    "DATABASE": "default",
    "SCHEMA": SCHEMA,
    "INTERVAL": 5,
}
