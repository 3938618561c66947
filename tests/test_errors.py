"""Errors name what is wrong without quoting a contact's personal data."""

from __future__ import annotations

import logging

import pytest

from regua.errors import personal_value


def test_values_are_hidden_unless_debug_logging_is_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="regua")
    assert personal_value("31/02/1990") == (
        "a str of 10 characters (the value is shown only with DEBUG logging on)"
    )
    caplog.set_level(logging.DEBUG, logger="regua")
    assert personal_value("31/02/1990") == "str '31/02/1990'"
    assert personal_value("x" * 1000, limit=10) == "str 'xxxxxxxxx..."
