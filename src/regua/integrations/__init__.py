"""Integrations with infrastructure an application already runs (each needs its own extra).

- `regua.integrations.celery`: ticks fanned out over shards and dispatched as Celery tasks
  (extra ``celery``).
- `regua.integrations.django`: a Django app: the ``REGUA`` setting, management commands,
  read-only admin pages, after-commit hooks and an e-mail sender over ``django.core.mail``
  (extra ``django``).
"""
