"""Contract test suites: prove that a custom adapter honours `regua.ports`.

A repository or sender written for your storage or your provider subclasses the matching
suite in a pytest test module and provides a fixture that builds it; pytest then runs, against
that adapter, every test the reference adapters pass::

    import pytest

    from regua.ports import Repository
    from regua.testing.contracts import RepositoryContract

    class TestMyRepository(RepositoryContract):
        @pytest.fixture
        def repository(self) -> Repository:
            return MyRepository(...)    # a fresh, empty repository for each test

The suites are plain classes whose names do not start with ``Test``, so pytest collects
them only through your subclasses. `RepositoryContract` lives in
`regua.testing.contracts.repository`, `SenderContract` and `AsyncSenderContract` in
`regua.testing.contracts.senders`; import them from here. Importing this package needs pytest
(a test dependency); importing `regua` does not.

Every instant used is a fixed, timezone-aware UTC datetime: nothing reads the wall clock, so
a failure reproduces exactly. Each failure message names the rule of `regua.ports` that was
broken and shows the expected and actual values. See ``docs/testing-adapters.md`` for a
complete example and what each group of tests checks.
"""

from __future__ import annotations

from regua.testing.contracts.repository import RepositoryContract
from regua.testing.contracts.senders import AsyncSenderContract, SenderContract

__all__ = ["AsyncSenderContract", "RepositoryContract", "SenderContract"]
