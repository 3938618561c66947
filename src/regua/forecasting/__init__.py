"""Forecasts: what cadences will send, to whom, on which channel and at what cost.

`forecast` projects each contact forward on the planner alone (no I/O, nothing sent) and
counts the messages per day, channel and step, with their cost, per contact, and the peak
day. `forecast_diff` compares what two versions of a cadence would send to the same contacts.
Scripted `Assumptions` (seeded, reproducible) add events and channel failures.
"""

from regua.forecasting.assumptions import Assumptions, ChannelFailure, EventRate
from regua.forecasting.changes import ForecastDiff, MessageChange, StepChange, forecast_diff
from regua.forecasting.contact_files import ContactFileError, ContactRecord, read_contacts
from regua.forecasting.forecaster import forecast
from regua.forecasting.projection import ProjectedMessage, Projection, ProjectionError, project
from regua.forecasting.result import Forecast, ForecastRow, PeakDay

__all__ = [
    "Assumptions",
    "ChannelFailure",
    "ContactFileError",
    "ContactRecord",
    "EventRate",
    "Forecast",
    "ForecastDiff",
    "ForecastRow",
    "MessageChange",
    "PeakDay",
    "ProjectedMessage",
    "Projection",
    "ProjectionError",
    "StepChange",
    "forecast",
    "forecast_diff",
    "project",
    "read_contacts",
]
