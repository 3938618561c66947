"""Senders: adapters that deliver messages on a channel (see `regua.ports.Sender`)."""
