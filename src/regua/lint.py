"""Lint: find mistakes in a valid cadence before a customer does.

Validation rejects what cannot work at all (an unknown channel, a cycle of ``after_step``).
`lint` looks for what is allowed but almost certainly wrong: a step that can never fire, an
escalation that misses the customers whose message failed, a condition that can never be
true, a channel nobody can send on, a marketing message that may go out days late after
downtime.

>>> from regua import Cadence, Channel, Step, after_step, on_event
>>> cadence = Cadence("shop", channels=[Channel("email")], steps=[
...     Step("ack", trigger=on_event("order_placed"), channels=["email"], transactional=True),
...     Step("escalate", trigger=after_step("ack", outcome="expired"), channels=["email"],
...          transactional=True),
... ])
>>> [str(finding) for finding in lint(cadence)]  # doctest: +NORMALIZE_WHITESPACE
["error unreachable-step steps[1] 'escalate'.trigger: after_step('ack',
  outcome='expired') can never fire: step 'ack' has neither expires_after nor deadline, so
  it never expires; give 'ack' a deadline or an expires_after, or follow another outcome"]

Lint is pure: it reads the definition only, never a contact, a repository or the clock. Its
verdicts are about the *current* definition: deliveries recorded under an earlier version of
a cadence may still fire a step that lint calls unreachable.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import time
from typing import Any, Literal

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.conditions import (
    All,
    AnyOf,
    Clicked,
    Compare,
    Condition,
    HasEvent,
    Not,
    Opened,
)
from regua.definitions.durations import Duration
from regua.definitions.policy import QuietHours
from regua.definitions.steps import Step
from regua.definitions.triggers import AfterStepTrigger, EventTrigger
from regua.errors import ArgumentTypeError

__all__ = ["Finding", "Severity", "lint"]

Severity = Literal["error", "warning"]
"""``error``: the cadence cannot do what it says; ``warning``: it may not do what you mean."""


@attrs.frozen(slots=True)
class Finding:
    """One problem `lint` found in a cadence.

    Attributes:
        code: A stable machine identifier: ``unreachable-step``, ``escalation-gap``,
            ``never-true``, ``no-sender``, ``no-expiry``, ``quiet-hours-at`` or
            ``digest-cancels-itself``.
        severity: ``error`` or ``warning``.
        path: Where, in the style of validation errors: ``steps[3] 'cart_second'.when``.
        message: A sentence naming the step and field, and saying what to do.

    """

    code: str
    severity: Severity
    path: str
    message: str

    def __str__(self) -> str:
        """``"warning no-expiry steps[4] 'birthday': ..."``."""
        return f"{self.severity} {self.code} {self.path}: {self.message}"


def lint(
    cadence: Cadence, *, senders: Collection[str] | Mapping[str, object] | None = None
) -> list[Finding]:
    """Check a cadence for steps that cannot fire, conditions that cannot hold and more.

    `senders` names the channels the application has a sender for (the keys of the
    `Scheduler`'s ``senders`` mapping will do); only when it is given are channels checked.
    Given the mapping itself (channel -> sender), the step's message keys are checked too,
    against each sender that can say which it lacks (``missing_templates``, as
    `regua.senders.SMTPSender` with `TemplateRenderer` or `JinjaRenderer` does).
    Findings come in step order, then by code. The rules:

    * ``never-true`` (error): a step's `when`, or a route's condition, that no contact can
      ever satisfy, such as ``(attr("x") > 5) & (attr("x") < 3)``. Never said of a
      condition some contact could satisfy; contradictions across attributes, or between
      two windows of one event, are not looked for.
    * ``unreachable-step`` (error): an ``after_step`` follower none of whose outcomes can
      happen: ``expired`` after a step with neither `expires_after` nor `deadline`; ``sent``
      or ``failed`` after a step whose `when` is never true; ``sent`` after a step none of
      whose channels has a sender; and any follower of an unreachable step. ``skipped`` is
      always reachable: any step is skipped for a contact with no address on its channels.
    * ``escalation-gap`` (warning): an ``after_step`` follower of ``expired`` that does not
      also follow ``failed``. A message that did not reach the customer ends expired or
      failed depending on how its channels failed (a permanent failure, or retries running
      out, ends it failed well before its deadline), so such an escalation misses the
      customers whose message failed; ``after_step(step, outcome=["expired", "failed"])``
      covers both.
    * ``no-sender`` (with `senders`): error when no channel of a step has a sender, warning
      when some have none.
    * ``no-expiry`` (warning): a marketing step with neither `expires_after` nor `deadline`,
      which catch-up would send however late after downtime.
    * ``quiet-hours-at`` (warning): a marketing step whose ``at=`` time (or digest `until`
      time) falls inside the cadence's quiet hours (or those of every channel it may use), so
      it is always deferred.
    * ``digest-cancels-itself`` (warning): a digest step cancelled by the very event it
      collects, so that no digest ever holds more than one event.
    * ``no-template`` (error; with a mapping of `senders`): a step's message key that the
      sender of one of its channels has no template for (or one that does not compile),
      which fails every message sent there.

    Raises:
        ArgumentTypeError: `senders` is a single string rather than a collection of names.

    """
    if isinstance(senders, str):
        raise ArgumentTypeError(
            f"senders takes a collection of channel names, not the string {senders!r}"
        )
    found: list[tuple[int, Finding]] = []
    never_true_when: dict[str, str] = {}
    for index, step in enumerate(cadence.steps):
        where = f"steps[{index}] {step.name!r}"
        if step.when is not None:
            reason = _never_true(step.when)
            if reason is not None:
                never_true_when[step.name] = reason
                found.append(
                    (
                        index,
                        Finding(
                            "never-true",
                            "error",
                            f"{where}.when",
                            f"the condition of step {step.name!r} can never be true ({reason}),"
                            " so every occurrence is skipped; fix or remove the condition",
                        ),
                    )
                )
        for route_index, route in enumerate(step.route):
            reason = _never_true(route.when)
            if reason is not None:
                found.append(
                    (
                        index,
                        Finding(
                            "never-true",
                            "error",
                            f"{where}.route[{route_index}].when",
                            f"route {route_index} of step {step.name!r} can never be taken: its "
                            f"condition can never be true ({reason}); fix or remove the route",
                        ),
                    )
                )
    never_sent = dict(never_true_when)
    if senders is not None:
        found += _no_sender(cadence, frozenset(senders))
        for step in cadence.steps:
            if step.name not in never_sent and not step.channels_named() & frozenset(senders):
                never_sent[step.name] = "none of its channels has a sender"
        if isinstance(senders, Mapping):
            found += _no_template(cadence, senders)
    unreachable = _unreachable(cadence, never_true_when, never_sent)
    found += unreachable
    unreachable_steps = {cadence.steps[index].name for index, _ in unreachable}
    found += _escalation_gap(cadence, never_true_when, unreachable_steps)
    found += _no_expiry(cadence)
    found += _quiet_hours_at(cadence)
    found += _digest_cancels_itself(cadence)
    found.sort(key=lambda item: (item[0], item[1].code, item[1].path))
    return [finding for _, finding in found]


# --- unreachable-step ---------------------------------------------------------------------------


def _unreachable(
    cadence: Cadence, never_true_when: dict[str, str], never_sent: dict[str, str]
) -> list[tuple[int, Finding]]:
    steps = {step.name: step for step in cadence.steps}
    # step name -> why it can never fire (None: it may fire); the after_step chain is acyclic.
    memo: dict[str, str | None] = {}

    def why_never_fires(step: Step) -> str | None:
        if step.name in memo:
            return memo[step.name]
        trigger = step.trigger
        why: str | None = None
        if isinstance(trigger, AfterStepTrigger):
            source = steps[trigger.after_step]
            if why_never_fires(source) is not None:
                why = f"step {source.name!r} it follows can never fire itself"
            else:
                # Unreachable only when none of the outcomes followed can happen.
                reasons = [why_never_ends(source, outcome) for outcome in trigger.outcomes]
                if all(reason is not None for reason in reasons):
                    why = "; ".join(dict.fromkeys(r for r in reasons if r is not None))
        memo[step.name] = why
        return why

    def why_never_ends(source: Step, outcome: str) -> str | None:
        if outcome == "expired" and source.expires_after is None and source.deadline is None:
            return (
                f"step {source.name!r} has neither expires_after nor deadline, so it never "
                f"expires; give {source.name!r} a deadline or an expires_after, or follow "
                "another outcome"
            )
        if outcome in ("sent", "failed") and source.name in never_true_when:
            return (
                f"step {source.name!r} is never {outcome}: its condition can never "
                f"be true ({never_true_when[source.name]})"
            )
        if outcome == "sent" and source.name in never_sent:
            return f"step {source.name!r} is never sent: {never_sent[source.name]}"
        return None

    found: list[tuple[int, Finding]] = []
    for index, step in enumerate(cadence.steps):
        why = why_never_fires(step)
        if why is not None:
            assert isinstance(step.trigger, AfterStepTrigger)
            trigger = step.trigger
            found.append(
                (
                    index,
                    Finding(
                        "unreachable-step",
                        "error",
                        f"steps[{index}] {step.name!r}.trigger",
                        f"after_step({trigger.after_step!r}, outcome={_outcome(trigger)}) can "
                        f"never fire: {why}",
                    ),
                )
            )
    return found


def _outcome(trigger: AfterStepTrigger) -> str:
    """`outcome` as written in Python: ``'expired'`` or ``['expired', 'failed']``."""
    if isinstance(trigger.outcome, str):
        return repr(trigger.outcome)
    return repr(list(trigger.outcome))


# --- escalation-gap -----------------------------------------------------------------------------


def _escalation_gap(
    cadence: Cadence, never_true_when: dict[str, str], unreachable: set[str]
) -> list[tuple[int, Finding]]:
    # An occurrence that did not reach the customer ends expired (past its deadline or
    # expiry) or failed (every channel failed, e.g. retries ran out before the deadline):
    # which one depends on how fast the channels fail, not on the customer.
    found: list[tuple[int, Finding]] = []
    for index, step in enumerate(cadence.steps):
        trigger = step.trigger
        if not isinstance(trigger, AfterStepTrigger) or step.name in unreachable:
            continue
        outcomes = trigger.outcomes
        if "expired" not in outcomes or "failed" in outcomes:
            continue
        source = trigger.after_step
        if source in never_true_when:
            continue  # never sent, so never failed either
        suggested = repr([*outcomes, "failed"])
        found.append(
            (
                index,
                Finding(
                    "escalation-gap",
                    "warning",
                    f"steps[{index}] {step.name!r}.trigger",
                    f"step {step.name!r} follows only the occurrences of {source!r} that "
                    f"expired, not those that failed: a customer whose {source!r} failed on "
                    "every channel (retries can run out long before a deadline) gets no "
                    f"{step.name!r}; follow both: after_step({source!r}, outcome={suggested})",
                ),
            )
        )
    return found


# --- no-sender ----------------------------------------------------------------------------------


def _no_sender(cadence: Cadence, senders: frozenset[str]) -> list[tuple[int, Finding]]:
    found: list[tuple[int, Finding]] = []
    for index, step in enumerate(cadence.steps):
        where = f"steps[{index}] {step.name!r}"
        # Every place a channel is named, in the order a reader meets them.
        places = [(f"channels[{i}]", name) for i, name in enumerate(step.channels)]
        for route_index, route in enumerate(step.route):
            places += [
                (f"route[{route_index}].channels[{i}]", name)
                for i, name in enumerate(route.channels)
            ]
        lacking = [(place, name) for place, name in places if name not in senders]
        if not lacking:
            continue
        lacking_names = list(dict.fromkeys(name for _, name in lacking))
        listed = ", ".join(repr(name) for name in lacking_names)
        if len(lacking_names) == len(step.channels_named()):
            found.append(
                (
                    index,
                    Finding(
                        "no-sender",
                        "error",
                        where,
                        f"no channel of step {step.name!r} has a sender ({listed}), so it can "
                        "never be delivered; register a sender for one of them",
                    ),
                )
            )
        else:
            found.append(
                (
                    index,
                    Finding(
                        "no-sender",
                        "warning",
                        f"{where}.{lacking[0][0]}",
                        f"step {step.name!r} may use {listed}, with no sender: a channel "
                        "without a sender fails permanently, so contacts reached there fall "
                        "back to the next channel, or fail; register a sender or drop it",
                    ),
                )
            )
    return found


# --- no-template --------------------------------------------------------------------------------


def _no_template(cadence: Cadence, senders: Mapping[str, object]) -> list[tuple[int, Finding]]:
    checks = {
        channel: check
        for channel, sender in senders.items()
        if callable(check := getattr(sender, "missing_templates", None))
    }
    keys = {step.message_key for step in cadence.steps}
    missing = {channel: dict(check(sorted(keys))) for channel, check in checks.items()}
    found: list[tuple[int, Finding]] = []
    for index, step in enumerate(cadence.steps):
        key = step.message_key
        for channel in sorted(step.channels_named()):
            why = missing.get(channel, {}).get(key)
            if why is None:
                continue
            found.append(
                (
                    index,
                    Finding(
                        "no-template",
                        "error",
                        f"steps[{index}] {step.name!r}.message",
                        f"the {channel!r} sender cannot render message {key!r} of step "
                        f"{step.name!r}: {why}; every message sent there fails",
                    ),
                )
            )
    return found


# --- no-expiry ----------------------------------------------------------------------------------


def _no_expiry(cadence: Cadence) -> list[tuple[int, Finding]]:
    return [
        (
            index,
            Finding(
                "no-expiry",
                "warning",
                f"steps[{index}] {step.name!r}",
                f"{'service' if step.service else 'marketing'} step {step.name!r} has neither "
                "expires_after nor deadline: after "
                "downtime it is sent however late, since catch-up only drops what is past its "
                "expiry; give it an expires_after (e.g. '1d')",
            ),
        )
        for index, step in enumerate(cadence.steps)
        if not step.transactional and step.expires_after is None and step.deadline is None
    ]


# --- quiet-hours-at -----------------------------------------------------------------------------


def _quiet_hours_at(cadence: Cadence) -> list[tuple[int, Finding]]:
    found: list[tuple[int, Finding]] = []
    policy_window = cadence.policy.quiet_hours
    for index, step in enumerate(cadence.steps):
        # A digest closes at its `until` time of day, as a step with `at` is due at it.
        at, field = step.at, "at"
        if at is None and step.digest is not None:
            at, field = step.digest.until, "digest.until"
        if step.transactional or at is None:
            continue
        window: QuietHours | None = None
        whose = ""
        if policy_window is not None and policy_window.covers(at):
            window, whose = policy_window, "the cadence's quiet hours"
        else:
            # A channel's own window defers only when that channel comes first; only when every
            # channel the step may use holds `at` in its window is the step always deferred.
            windows = [cadence.channel(name).quiet_hours for name in sorted(step.channels_named())]
            if windows and all(w is not None and w.covers(at) for w in windows):
                window = windows[0]
                whose = "the quiet hours of every channel it may use"
        if window is None:
            continue
        found.append(
            (
                index,
                Finding(
                    "quiet-hours-at",
                    "warning",
                    f"steps[{index}] {step.name!r}.{field}",
                    f"step {step.name!r} is due at {_hhmm(at)} local time, inside "
                    f"{whose} ({_hhmm(window.start)}-{_hhmm(window.end)}), so it is always "
                    f"deferred to {_hhmm(window.end)}; move {field} outside the window",
                ),
            )
        )
    return found


# --- digest-cancels-itself ---------------------------------------------------------------------


def _digest_cancels_itself(cadence: Cadence) -> list[tuple[int, Finding]]:
    found: list[tuple[int, Finding]] = []
    for index, step in enumerate(cadence.steps):
        trigger = step.trigger
        if step.digest is None or not isinstance(trigger, EventTrigger):
            continue
        if trigger.event not in step.cancel_on:
            continue
        found.append(
            (
                index,
                Finding(
                    "digest-cancels-itself",
                    "warning",
                    f"steps[{index}] {step.name!r}.cancel_on",
                    f"digest step {step.name!r} is cancelled by {trigger.event!r}, the event it "
                    "collects: the second event of a window cancels the digest, and the events "
                    f"after it start a new one; drop {trigger.event!r} from cancel_on",
                ),
            )
        )
    return found


def _hhmm(value: time) -> str:
    return value.strftime("%H:%M")


# --- never-true: the condition analysis -------------------------------------------------------
#
# A condition is put in disjunctive normal form (De Morgan through `~`); it is never true when
# every conjunction is unsatisfiable. A conjunction is unsatisfiable when it holds an atom and
# its negation, or when the literals on one subject (an attribute, or the count of one event
# in one window) admit no value. Subjects are analysed apart: nothing is inferred between two
# attributes, or between two windows of the same event.
#
# The analysis follows the planner's evaluation exactly: a missing or null attribute makes
# every comparison false (so `~comparison` true); an ordering between incomparable values
# (a number and a text) raises rather than being true; an event count is a whole number, 0 or
# more, and `has_event(e, within=w)` is `event_count(e, within=w) >= 1`. Attribute values are
# assumed to be ordinary Python values (numbers, text, dates), whose == and < mean what they
# say; NaN is taken into account (it makes every ordering false).

_MAX_TERMS = 256

_Literal = tuple[Condition, bool]
_Term = list[_Literal]

_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_NEGATED_OP = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<", "in": "not in"}


def _never_true(condition: Condition) -> str | None:
    """Why `condition` can never be true, or None when it may be (or lint cannot tell).

    Exact in one direction: a condition some contact could satisfy is never reported.

    >>> from regua import attr
    >>> _never_true((attr("age") > 65) & (attr("age") < 18))
    "no value of attr('age') satisfies attr('age') > 65 & attr('age') < 18"
    >>> _never_true((attr("age") > 65) | (attr("age") < 18)) is None
    True
    """
    terms = _dnf(condition, positive=True)
    if terms is None:
        return None
    reasons: list[str] = []
    for term in terms:
        reason = _unsatisfiable(term)
        if reason is None:
            return None
        reasons.append(reason)
    if len(reasons) == 1:
        return reasons[0]
    unique = list(dict.fromkeys(reasons))
    return f"none of its {len(reasons)} alternatives can hold: " + "; ".join(unique)


def _dnf(condition: Condition, *, positive: bool) -> list[_Term] | None:
    """The condition (or its negation) as a list of conjunctions; None when too large."""
    if isinstance(condition, Not):
        return _dnf(condition.condition, positive=not positive)
    conjunctive = isinstance(condition, All) == positive
    if isinstance(condition, (All, AnyOf)):
        parts = [_dnf(child, positive=positive) for child in condition.children()]
        if any(part is None for part in parts):
            return None
        if not conjunctive:
            terms = [term for part in parts if part is not None for term in part]
            return terms if len(terms) <= _MAX_TERMS else None
        product: list[_Term] = [[]]
        for part in parts:
            assert part is not None
            product = [left + right for left in product for right in part]
            if len(product) > _MAX_TERMS:
                return None
        return product
    return [[(condition, positive)]]


def _show(literal: _Literal) -> str:
    atom, positive = literal
    text = str(atom)
    if positive:
        return text
    return f"~({text})" if isinstance(atom, Compare) else f"~{text}"


def _unsatisfiable(term: _Term) -> str | None:
    for position, (atom, positive) in enumerate(term):
        for other, other_positive in term[position + 1 :]:
            if other_positive != positive and other == atom:
                return f"it requires both {atom} and its negation"
    attributes: dict[str, list[tuple[Compare, bool]]] = {}
    counts: dict[tuple[str, Duration | None], list[tuple[Compare, bool]]] = {}
    for atom, positive in term:
        if isinstance(atom, Compare):
            if atom.attr is not None:
                attributes.setdefault(atom.attr, []).append((atom, positive))
            else:
                assert atom.event_count is not None
                counts.setdefault((atom.event_count, atom.within), []).append((atom, positive))
        elif isinstance(atom, HasEvent):
            as_count = Compare(event_count=atom.has_event, within=atom.within, op=">=", value=1)
            counts.setdefault((atom.has_event, atom.within), []).append((as_count, positive))
        else:
            assert isinstance(atom, (Opened, Clicked))
    for name, literals in attributes.items():
        if not _attribute_satisfiable(literals):
            return _no_value(f"attr({name!r})", literals)
    for (event, within), literals in counts.items():
        if not _count_satisfiable(literals):
            window = "" if within is None else f", within={str(within)!r}"
            subject = f"event_count({event!r}{window})"
            return _no_value(subject, literals) + " (an event count is a whole number, 0 or more)"
    return None


def _no_value(subject: str, literals: list[tuple[Compare, bool]]) -> str:
    return f"no value of {subject} satisfies " + " & ".join(_show(lit) for lit in literals)


def _count_satisfiable(literals: Iterable[tuple[Compare, bool]]) -> bool:
    # The count always exists, so a negated comparison is exactly the opposite comparison.
    low, high = 0, math.inf
    candidates: set[int] | None = None
    excluded: set[int] = set()
    for compare, positive in literals:
        op = compare.op if positive else _NEGATED_OP[compare.op]
        value = compare.value
        if op in ("in", "not in"):
            values = {v for v in value if isinstance(v, int)} if isinstance(value, tuple) else set()
            if op == "in":
                candidates = values if candidates is None else candidates & values
            else:
                excluded |= values
            continue
        assert isinstance(value, int)
        if op == "==":
            candidates = {value} if candidates is None else candidates & {value}
        elif op == "!=":
            excluded.add(value)
        elif op == "<":
            high = min(high, value - 1)
        elif op == "<=":
            high = min(high, value)
        elif op == ">":
            low = max(low, value + 1)
        else:
            low = max(low, value)
    if candidates is not None:
        return any(low <= c <= high and c not in excluded for c in candidates)
    if high == math.inf:
        return True
    return high >= low and len({v for v in excluded if low <= v <= high}) < high - low + 1


def _evaluate(compare: Compare, value: Any) -> bool | None:
    """The planner's verdict on a present attribute holding `value`; None when it raises."""
    op, expected = compare.op, compare.value
    if op == "exists":
        return True
    if op == "==":
        return bool(value == expected)
    if op == "!=":
        return bool(value != expected)
    if op == "in":
        return value in (expected if isinstance(expected, tuple) else ())
    try:
        return bool(_ORDERINGS[op](value, expected))
    except TypeError:
        return None


def _kind(value: Any) -> str | None:
    if isinstance(value, (int, float)):  # bool included: True compares as 1
        return "number"
    if isinstance(value, str):
        return "text"
    return None


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _attribute_satisfiable(literals: list[tuple[Compare, bool]]) -> bool:
    positives = [compare for compare, positive in literals if positive]
    if not positives:
        # A missing attribute makes every negated comparison true.
        return True
    # From here on the attribute is present and not null: every comparison with a missing or
    # null value is false.
    if any(compare.op == "exists" for compare, positive in literals if not positive):
        return False
    candidates: list[Any] | None = None
    for compare, positive in literals:
        if positive and compare.op == "==":
            candidates = [compare.value]
        elif positive and compare.op == "in" and isinstance(compare.value, tuple):
            candidates = list(compare.value)
        elif not positive and compare.op == "!=":
            candidates = [compare.value]  # present and not different: equal
        if candidates is not None:
            break
    if candidates is not None:
        # The value equals one of the candidates, and an ordinary value that equals another
        # compares like it: try each one against every literal.
        return any(
            candidate is not None
            and all(_evaluate(compare, candidate) is positive for compare, positive in literals)
            for candidate in candidates
        )
    orderings = [c for c in positives if c.op in _ORDERINGS]
    if not orderings:
        # Only `!=`, `exists` and negations: a value unlike any named one (or NaN, which
        # makes every ordering false) satisfies them.
        return True
    kinds = {_kind(c.value) for c in orderings}
    if len(kinds) > 1 or any(_is_nan(c.value) for c in orderings):
        # A value cannot be compared with both a number and a text; nothing orders with NaN.
        return False
    kind = kinds.pop()
    # The value is comparable with `kind` and not NaN (it satisfied an ordering), so a negated
    # ordering of the same kind is exactly the opposite ordering.
    low: tuple[Any, bool] | None = None  # (bound, inclusive)
    high: tuple[Any, bool] | None = None
    excluded: list[Any] = []
    for compare, positive in literals:
        value = compare.value
        op = compare.op if positive else _NEGATED_OP[compare.op]
        if op in _ORDERINGS:
            if _kind(value) != kind or _is_nan(value):
                continue
            if op in (">", ">="):
                bound = (value, op == ">=")
                if low is None or value > low[0] or (value == low[0] and not bound[1]):
                    low = bound
            else:
                bound = (value, op == "<=")
                if high is None or value < high[0] or (value == high[0] and not bound[1]):
                    high = bound
        elif op == "!=":
            excluded.append(value)
        elif op == "not in" and isinstance(value, tuple):
            excluded.extend(value)
    if kind == "number":
        # Values range over the extended reals: infinity is a value, nothing is beyond it.
        low = low or (-math.inf, True)
        high = high or (math.inf, True)
    if low is None or high is None:
        return True
    if low[0] > high[0]:
        return False
    if low[0] == high[0]:
        point = low[0]
        return low[1] and high[1] and not any(_kind(e) == kind and e == point for e in excluded)
    # More than one value lies between the bounds: numbers are dense, and a text interval is
    # not analysed further (("a", "a\x00") is empty, but lint does not go that far).
    return True
