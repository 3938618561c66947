"""Testing support: simulate cadences on a virtual clock, and prove custom adapters.

- `Simulation` runs cadences on the real scheduler with a virtual clock and offers assertions
  with readable failure messages (`assert_sent`, `assert_not_sent`, `assert_sequence`).
- `regua.testing.contracts` holds test suites that custom repositories and senders subclass.
- `Scenario` reads a scripted scenario (contacts, events, opens, clicks, consent changes) from
  YAML or JSON and runs it through a simulation, as `regua simulate` does.
- The pytest plugin (installed with regua) gives the `regua_simulation` fixture.
"""

from regua._exports import publish
from regua.testing.scenario import Scenario, ScenarioError
from regua.testing.simulation import Sent, Simulation, SimulationAssertionError

__all__ = ["Scenario", "ScenarioError", "Sent", "Simulation", "SimulationAssertionError"]

publish(__name__, [Scenario, ScenarioError, Sent, Simulation, SimulationAssertionError])
