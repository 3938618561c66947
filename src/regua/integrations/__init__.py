"""Integrations with infrastructure an application already runs (each needs its own extra).

- `regua.integrations.celery`: ticks fanned out over shards and dispatched as Celery tasks
  (extra ``celery``).
"""
