"""The planner: pure computation of what is due, for one contact, at one instant.

`plan`, `plan_contact`, `Plan` and `explain` are also exported from `regua`; the occurrences
a plan is made of, their states, the reasons that close them and an explanation's parts are
imported from here.
"""

from regua.planning.explain import Explanation, explain
from regua.planning.occurrences import Occurrence, OccurrenceState, Plan, Reason
from regua.planning.planner import plan, plan_contact

__all__ = [
    "Explanation",
    "Occurrence",
    "OccurrenceState",
    "Plan",
    "Reason",
    "explain",
    "plan",
    "plan_contact",
]
