"""The planner: pure computation of what is due, for one contact, at one instant.

`plan`, `plan_contact`, `Plan` and `explain` are also exported from `regua`; the occurrences
a plan is made of, their states, the reasons that close them, the checks that conclude
about them (and the trace that follows them) and an explanation's parts are imported from
here.
"""

from regua.planning.checks import Check, Trace, checks_of
from regua.planning.explain import Explanation, explain
from regua.planning.occurrences import Occurrence, OccurrenceState, Plan, Reason
from regua.planning.planner import plan, plan_contact

__all__ = [
    "Check",
    "Explanation",
    "Occurrence",
    "OccurrenceState",
    "Plan",
    "Reason",
    "Trace",
    "checks_of",
    "explain",
    "plan",
    "plan_contact",
]
