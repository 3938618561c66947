"""Settings of the example shop: Django's, and regua's in ``REGUA``.

SQLite by default (``db.sqlite3`` here, or the file ``SHOP_DATABASE`` names); set
``SHOP_POSTGRES`` (``postgresql://user@host/db``) to use PostgreSQL. E-mail goes to the
console; in production, a django-anymail backend (``EMAIL_BACKEND``) sends it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("SHOP_SECRET_KEY", "not-a-secret: set SHOP_SECRET_KEY")
DEBUG = os.environ.get("SHOP_DEBUG") == "1"
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "America/Sao_Paulo"
ROOT_URLCONF = "shop_site.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "regua.integrations.django",  # regua's commands and admin pages
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
STATIC_URL = "static/"

DATABASES: dict[str, dict[str, Any]]
if "SHOP_POSTGRES" in os.environ:
    url = urlsplit(os.environ["SHOP_POSTGRES"])
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/"),
            "USER": url.username or "",
            "PASSWORD": url.password or "",
            "HOST": url.hostname or "",
            "PORT": url.port or "",
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SHOP_DATABASE", BASE_DIR / "db.sqlite3"),
        }
    }

EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "Loja Bonita <pedidos@lojabonita.example>"

# --8<-- [start:regua]
REGUA = {
    "CADENCES": "shop.cadences:cadences",
    "SENDERS": "shop.senders:senders",
    "DATABASE": "default",
    # On PostgreSQL, regua's tables in a schema of their own.
    "SCHEMA": "regua" if "SHOP_POSTGRES" in os.environ else None,
    "INTERVAL": 30,  # seconds between two ticks of `manage.py regua_worker`
}
# --8<-- [end:regua]
