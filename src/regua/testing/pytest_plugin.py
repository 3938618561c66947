"""The pytest plugin of regua (registered through the ``pytest11`` entry point).

It provides the `regua_simulation` fixture, a factory of `Simulation`s::

    def test_welcome_goes_out_two_days_later(regua_simulation):
        sim = regua_simulation(shop, start=datetime(2026, 3, 2, 12, tzinfo=timezone.utc))
        sim.add_contact("ana")
        sim.emit("ana", "signed_up")
        sim.advance("3d")
        sim.assert_sent("welcome", to="ana", at=datetime(2026, 3, 4, 12, tzinfo=timezone.utc))

and makes pytest rewrite the assertions of the `regua.testing.contracts` package (each of its
modules), so that a failing contract test shows its values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import pytest

from regua.definitions.cadence import Cadence
from regua.testing.simulation import Simulation

# A package's name covers its submodules (contracts.repository, contracts.senders, ...).
pytest.register_assert_rewrite("regua.testing.contracts")

SimulationFactory = Callable[..., Simulation]


@pytest.fixture
def regua_simulation() -> SimulationFactory:
    """A factory: ``regua_simulation(cadence_or_cadences, start=..., timezone="UTC", ...)``.

    Takes the same arguments as `regua.testing.Simulation`; each call gives a fresh
    simulation on its own in-memory repository.
    """

    def make(
        cadences: Cadence | Iterable[Cadence], *, start: datetime, **options: Any
    ) -> Simulation:
        return Simulation(cadences, start=start, **options)

    return make
