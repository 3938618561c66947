"""Create or migrate regua's tables: run once per deployment, before starting the workers."""

from __future__ import annotations

from shop_celery import DATABASE_URL, SCHEMA

from regua import SQLRepository

if __name__ == "__main__":
    SQLRepository(DATABASE_URL, schema=SCHEMA).close()
    print("regua schema ready")
