"""Testing support: tools that make cadences and adapters testable.

- `regua.testing.contracts`: reusable pytest suites (`RepositoryContract`, `SenderContract`)
  that a custom repository or sender subclasses to prove it honours `regua.ports`.

Importing `regua.testing.contracts` needs pytest; importing `regua` never does.
"""
