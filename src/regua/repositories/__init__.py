"""Repositories: where contacts, events, deliveries, claims and wake-ups live.

See `regua.ports.Repository` for the contract they honour.
"""
