"""Repositories: where contacts, events, deliveries, claims and wake-ups live.

See `regua.ports.Repository` for the contract they honour. `InMemoryRepository` keeps
everything in the process; `SQLRepository` (the ``sql`` extra) stores it in any database
SQLAlchemy speaks, and is imported only when first asked for. Both are also exported from
`regua`.
"""

from typing import TYPE_CHECKING, Any

from regua.repositories.memory import InMemoryRepository

if TYPE_CHECKING:
    from regua.repositories.sql import SQLRepository

__all__ = ["InMemoryRepository", "SQLRepository"]


def __getattr__(name: str) -> Any:
    # SQLRepository needs the `sql` extra: import it only when asked for.
    if name == "SQLRepository":
        from regua.repositories.sql import SQLRepository

        return SQLRepository
    raise AttributeError(f"module 'regua.repositories' has no attribute {name!r}")
