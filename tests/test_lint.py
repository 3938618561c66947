"""`regua.lint`: each rule fires on a faulty cadence and stays quiet on its correct twin."""

from __future__ import annotations

import functools
import importlib.util
import itertools
import math
from collections.abc import Sequence
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regua import (
    Cadence,
    Channel,
    Contact,
    Event,
    Policy,
    QuietHours,
    Snapshot,
    Step,
    after_step,
    attr,
    clicked,
    event_count,
    has_event,
    on_event,
    opened,
)
from regua.definitions import All, AnyOf, Clicked, Compare, Condition, Digest, HasEvent, Not, Opened
from regua.errors import InvalidRecordError
from regua.lint import Finding, lint
from regua.planning.conditions import Context, compile_condition
from regua.planning.history import History
from tests.planning.strategies import cadences
from tests.profiles import examples

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
UTC = timezone.utc
NOW = datetime(2026, 5, 4, 12, tzinfo=UTC)


def load_example(name: str) -> Cadence:
    spec = importlib.util.spec_from_file_location(
        f"regua_lint_example_{name}", EXAMPLES / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cadence: Cadence = module.cadence
    return cadence


def shop(*steps: Step, **kwargs: Any) -> Cadence:
    kwargs.setdefault(
        "channels",
        [Channel("email", cost=0.001), Channel("sms", cost=0.05), Channel("phone", cost=2.0)],
    )
    return Cadence("shop", steps=list(steps), **kwargs)


def step(name: str, **kwargs: Any) -> Step:
    """A transactional step (no policy findings) on order_placed, unless told otherwise."""
    kwargs.setdefault("trigger", on_event("order_placed"))
    kwargs.setdefault("channels", ["email"])
    kwargs.setdefault("transactional", True)
    return Step(name, **kwargs)


def codes(cadence: Cadence, **kwargs: Any) -> list[tuple[str, str, str]]:
    return [(f.code, f.severity, f.path) for f in lint(cadence, **kwargs)]


# --- Finding ----------------------------------------------------------------------------------


def test_a_finding_reads_severity_code_path_and_message() -> None:
    finding = Finding("no-expiry", "warning", "steps[4] 'birthday'", "give it an expiry")
    assert str(finding) == "warning no-expiry steps[4] 'birthday': give it an expiry"


def test_findings_are_frozen_values() -> None:
    finding = Finding("no-expiry", "warning", "steps[0] 'a'", "m")
    assert finding == Finding("no-expiry", "warning", "steps[0] 'a'", "m")
    with pytest.raises(AttributeError):
        finding.code = "other"  # type: ignore[misc]


# --- the examples -------------------------------------------------------------------------------


def test_the_service_recovery_example_is_clean() -> None:
    assert lint(load_example("service_recovery")) == []


def test_the_shop_example_has_no_errors_only_marketing_steps_without_expiry() -> None:
    findings = lint(load_example("ecommerce_lifecycle"))
    assert {f.severity for f in findings} == {"warning"}
    assert [(f.code, f.path) for f in findings] == [
        ("no-expiry", "steps[1] 'welcome'"),
        ("no-expiry", "steps[8] 'satisfaction_survey'"),
        ("no-expiry", "steps[9] 'inactive_news'"),
        ("no-expiry", "steps[10] 'inactive_news_sms'"),
        ("no-expiry", "steps[11] 'winback_why_did_you_leave'"),
        ("no-expiry", "steps[12] 'winback_offer'"),
    ]


def test_the_shop_example_with_email_and_sms_senders_lacks_phone_and_whatsapp() -> None:
    findings = lint(load_example("ecommerce_lifecycle"), senders={"email", "sms"})
    no_sender = [(f.severity, f.path) for f in findings if f.code == "no-sender"]
    assert no_sender == [
        ("warning", "steps[4] 'birthday'.route[0].channels[0]"),
        ("warning", "steps[10] 'inactive_news_sms'.channels[1]"),
        ("warning", "steps[12] 'winback_offer'.route[0].channels[0]"),
    ]


def test_lint_is_pure_and_deterministic() -> None:
    cadence = load_example("ecommerce_lifecycle")
    before = cadence.to_json()
    first = lint(cadence, senders=["email"])
    assert lint(cadence, senders=("email",)) == first
    assert lint(Cadence.from_json(before), senders={"email"}) == first
    assert cadence.to_json() == before


# --- unreachable-step -------------------------------------------------------------------------


def test_following_the_expiry_of_a_step_that_never_expires_is_unreachable() -> None:
    cadence = shop(
        step("apology"),
        step("escalate", trigger=after_step("apology", outcome="expired"), channels=["phone"]),
    )
    [finding] = lint(cadence)
    assert finding.code == "unreachable-step"
    assert finding.severity == "error"
    assert finding.path == "steps[1] 'escalate'.trigger"
    assert "after_step('apology', outcome='expired') can never fire" in finding.message
    assert "'apology' has neither expires_after nor deadline" in finding.message


@pytest.mark.parametrize("limit", [{"deadline": "4h"}, {"expires_after": "1d"}])
def test_following_the_expiry_of_a_step_with_a_deadline_or_expiry_is_fine(
    limit: dict[str, str],
) -> None:
    cadence = shop(
        step("apology", **limit),
        step(
            "escalate",
            trigger=after_step("apology", outcome=["expired", "failed"]),
            channels=["phone"],
        ),
    )
    assert lint(cadence) == []


def test_a_follower_of_several_outcomes_is_unreachable_only_when_none_can_happen() -> None:
    x = attr("x")
    cadence = shop(
        step("apology"),  # never expires
        step("never", when=(x > 5) & (x < 3)),  # never sent nor failed, never expires
        step("escalate", trigger=after_step("apology", outcome=["expired", "failed"])),
        step("dead", trigger=after_step("never", outcome=["expired", "sent", "failed"])),
    )
    assert codes(cadence) == [
        ("never-true", "error", "steps[1] 'never'.when"),
        ("unreachable-step", "error", "steps[3] 'dead'.trigger"),
    ]
    message = lint(cadence)[1].message
    assert message.startswith(
        "after_step('never', outcome=['expired', 'sent', 'failed']) can never fire: "
        "step 'never' has neither expires_after nor deadline"
    )
    assert "step 'never' is never sent" in message
    assert "step 'never' is never failed" in message


# --- escalation-gap -----------------------------------------------------------------------------


def test_an_escalation_on_expiry_alone_misses_the_customers_whose_message_failed() -> None:
    cadence = shop(
        step("apology", deadline="4h"),
        step("escalate", trigger=after_step("apology", outcome="expired"), channels=["phone"]),
    )
    [finding] = lint(cadence)
    assert (finding.code, finding.severity, finding.path) == (
        "escalation-gap",
        "warning",
        "steps[1] 'escalate'.trigger",
    )
    assert finding.message == (
        "step 'escalate' follows only the occurrences of 'apology' that expired, not those "
        "that failed: a customer whose 'apology' failed on every channel (retries can run out "
        "long before a deadline) gets no 'escalate'; follow both: "
        "after_step('apology', outcome=['expired', 'failed'])"
    )


def test_the_escalation_gap_suggestion_keeps_the_outcomes_already_followed() -> None:
    cadence = shop(
        step("apology", expires_after="1d"),
        step("escalate", trigger=after_step("apology", outcome=["skipped", "expired"])),
    )
    [finding] = lint(cadence)
    assert finding.code == "escalation-gap"
    assert finding.message.endswith(
        "after_step('apology', outcome=['skipped', 'expired', 'failed'])"
    )


@pytest.mark.parametrize(
    "outcome",
    [
        ["expired", "failed"],
        ["failed", "expired", "skipped"],
        "failed",  # a fallback after a failure, not an escalation of a missed deadline
        "sent",
        "skipped",
    ],
)
def test_no_escalation_gap_when_failed_is_followed_or_expired_is_not(outcome: Any) -> None:
    cadence = shop(
        step("apology", deadline="4h"),
        step("escalate", trigger=after_step("apology", outcome=outcome)),
    )
    assert lint(cadence) == []


def test_no_escalation_gap_after_a_step_that_can_never_fail() -> None:
    x = attr("x")
    cadence = shop(
        step("never", when=(x > 5) & (x < 3), deadline="4h"),  # expires, never sent or failed
        step("escalate", trigger=after_step("never", outcome="expired")),
    )
    assert codes(cadence) == [("never-true", "error", "steps[0] 'never'.when")]


def test_an_unreachable_escalation_is_an_error_not_an_escalation_gap() -> None:
    cadence = shop(
        step("apology"),
        step("escalate", trigger=after_step("apology", outcome="expired")),
    )
    assert codes(cadence) == [("unreachable-step", "error", "steps[1] 'escalate'.trigger")]


def test_the_followers_of_an_unreachable_step_are_unreachable_too() -> None:
    cadence = shop(
        step("apology"),
        step("escalate", trigger=after_step("apology", outcome="expired")),
        step("call_again", trigger=after_step("escalate", outcome="skipped")),
        step("thank", trigger=after_step("call_again")),
        step("unrelated", trigger=after_step("apology")),
    )
    findings = lint(cadence)
    assert [(f.code, f.path) for f in findings] == [
        ("unreachable-step", "steps[1] 'escalate'.trigger"),
        ("unreachable-step", "steps[2] 'call_again'.trigger"),
        ("unreachable-step", "steps[3] 'thank'.trigger"),
    ]
    assert "step 'escalate' it follows can never fire itself" in findings[1].message
    assert "step 'call_again' it follows can never fire itself" in findings[2].message


@pytest.mark.parametrize("transactional", [True, False])
def test_a_skipped_outcome_is_always_reachable(transactional: bool) -> None:
    # Any step is skipped for a contact with no address on its channels (no_channel), even a
    # transactional step with no condition, repeat or cooldown.
    cadence = shop(
        step("confirm", transactional=transactional, expires_after="1d"),
        step("fallback", trigger=after_step("confirm", outcome="skipped")),
    )
    assert [f for f in lint(cadence) if f.code == "unreachable-step"] == []


def test_sent_and_failed_are_always_reachable_for_a_step_that_may_be_due() -> None:
    cadence = shop(
        step("confirm"),
        step("next", trigger=after_step("confirm")),
        step("retry", trigger=after_step("confirm", outcome="failed")),
    )
    assert lint(cadence) == []


def test_a_step_whose_condition_never_holds_is_never_sent_nor_failed() -> None:
    x = attr("x")
    cadence = shop(
        step("never", when=(x > 5) & (x < 3), deadline="1d"),
        step("after_sent", trigger=after_step("never")),
        step("after_failed", trigger=after_step("never", outcome="failed")),
        step("after_skipped", trigger=after_step("never", outcome="skipped")),
        step("after_expired", trigger=after_step("never", outcome="expired")),
    )
    assert codes(cadence) == [
        ("never-true", "error", "steps[0] 'never'.when"),
        ("unreachable-step", "error", "steps[1] 'after_sent'.trigger"),
        ("unreachable-step", "error", "steps[2] 'after_failed'.trigger"),
    ]
    message = lint(cadence)[1].message
    assert "step 'never' is never sent: its condition can never be true" in message


def test_a_step_without_any_sender_is_never_sent_but_may_fail() -> None:
    cadence = shop(
        step("call", channels=["phone"]),
        step("after_sent", trigger=after_step("call")),
        step("after_failed", trigger=after_step("call", outcome="failed")),
    )
    assert codes(cadence, senders={"email"}) == [
        ("no-sender", "error", "steps[0] 'call'"),
        ("unreachable-step", "error", "steps[1] 'after_sent'.trigger"),
    ]
    assert "step 'call' is never sent: none of its channels has a sender" in (
        lint(cadence, senders={"email"})[1].message
    )
    assert codes(cadence) == []


# --- never-true ---------------------------------------------------------------------------------

x = attr("x")
y = attr("y")
orders = event_count("order_placed")
recent_orders = event_count("order_placed", within="30d")

NEVER_TRUE: list[Condition] = [
    (x > 5) & (x < 3),
    (x < 3) & (x > 5),
    (x == 1) & (x == 2),
    (x >= 3) & (x < 3),
    (x > 3) & (x <= 3),
    (x > 3) & (x < 3),
    (x >= 3) & (x <= 3) & (x != 3),
    (x == 1) & (x > 1),
    (x == 1) & (x != 1),
    (x == "gold") & (x == "silver"),
    x.in_(["gold", "silver"]) & x.in_(["bronze"]),
    x.in_(["gold", "silver"]) & (x == "bronze"),
    x.in_([1, 2]) & (x > 2),
    x.in_([]),
    x.in_([None]),
    x == None,  # noqa: E711  a missing or null attribute compares equal to nothing
    (x > 1) & (x < "a"),
    (x == "a") & (x > 1),
    (x > 5) & ~(x > 5),
    ~(x > 5) & (x > 5),
    opened("a") & ~opened("a"),
    (x != 1) & ~x.exists(),
    (x > 5) & ((x < 3) | (x < 2)),
    ((x > 5) & (x < 3)) | ((x == 1) & (x == 2)),
    (x > 4) & ~(x != 3),
    x.exists() & ~(x < 3) & (x < 2),
    (x >= 3) & ~(x >= 3),
    x > math.nan,
    x == math.nan,
    (x > math.inf),
    (x < -math.inf),
    (y == 1) & (x > 2) & (x < 1),
    orders < 0,
    orders <= -1,
    orders == -1,
    orders.in_([-1, -2]),
    (orders > 2) & (orders < 3),
    (orders >= 1) & (orders < 1),
    (orders >= 1) & (orders <= 2) & (orders != 1) & (orders != 2),
    (orders == 2) & ~(orders == 2),
    has_event("order_placed") & (orders == 0),
    ~has_event("order_placed") & (orders >= 1),
    has_event("order_placed", within="30d") & (recent_orders < 1),
    ~(orders >= 0),
]

NOT_FLAGGED: list[Condition] = [
    (x > 3) & (x < 5),
    (x > 3) & (x < 4),  # 3.5
    (x >= 3) & (x <= 3),
    (x == 1) & (x == 1.0),
    (x == 1) & (x == True),  # noqa: E712  1 == True in Python
    (x > 5) | (x < 3),
    (x > 5) & (y < 3),
    x.in_([1, 2]) & (x > 1),
    x.in_(["gold", None]),
    x != None,  # noqa: E711
    (x != 1) & (x != 2),
    ~x.exists(),
    ~(x > 5) & ~(x <= 5),  # a missing attribute
    x.exists() & ~(x < 5) & ~(x >= 5),  # NaN
    (x > "m") & (x < "n"),
    (x >= math.inf),
    opened("a") & ~clicked("a"),
    (orders > 2) & (orders < 4),
    (orders >= 1) & (orders <= 3) & (orders != 1) & (orders != 2),
    orders <= 0,
    ~has_event("order_placed") & (orders == 0),
    has_event("order_placed", within="30d") & (orders >= 1),
    has_event("order_placed", within="30d") & ~has_event("order_placed", within="7d"),
    ~(x == 1) & ~(x == 2),
]

# Never true, but out of the analysis's scope: not flagged, by design.
OUT_OF_SCOPE: list[Condition] = [
    # Different windows of one event are different subjects: never compared.
    (recent_orders >= 3) & (orders < 2),
    # A negated ordering is only analysed against orderings of the same kind of value.
    (x > 5) & ~(x < "a"),
    # A text interval with nothing in it ("a" < x < "a" followed by the NUL character).
    (x > "a") & (x < "a\x00"),
]


def one_step(condition: Condition) -> Cadence:
    return shop(step("a", when=condition))


@pytest.mark.parametrize("condition", NEVER_TRUE, ids=str)
def test_a_condition_that_can_never_hold_is_an_error(condition: Condition) -> None:
    [finding] = lint(one_step(condition))
    assert (finding.code, finding.severity, finding.path) == (
        "never-true",
        "error",
        "steps[0] 'a'.when",
    )
    assert "the condition of step 'a' can never be true" in finding.message


@pytest.mark.parametrize("condition", NOT_FLAGGED + OUT_OF_SCOPE, ids=str)
def test_a_condition_that_may_hold_is_not_flagged(condition: Condition) -> None:
    assert lint(one_step(condition)) == []


def on_the_grid(condition: Condition) -> bool:
    """Whether the brute force below can decide `condition`."""
    return not condition.attributes_used() - {"x"} and not any(
        isinstance(node, (Opened, Clicked))
        or (isinstance(node, (HasEvent, Compare)) and node.within is not None)
        for node in condition.walk()
    )


@pytest.mark.parametrize(
    "condition", [c for c in NEVER_TRUE + NOT_FLAGGED + OUT_OF_SCOPE if on_the_grid(c)], ids=str
)
def test_the_planner_agrees_with_every_listed_verdict(condition: Condition) -> None:
    # The hand-written lists are checked against the planner itself, over a grid of values.
    assert satisfiable_on_grid(condition) is (condition in NOT_FLAGGED)


def test_the_message_names_the_contradiction() -> None:
    [finding] = lint(one_step((x > 5) & (x < 3)))
    assert finding.message == (
        "the condition of step 'a' can never be true (no value of attr('x') satisfies "
        "attr('x') > 5 & attr('x') < 3), so every occurrence is skipped; fix or remove the "
        "condition"
    )
    [finding] = lint(one_step(orders < 0))
    assert "an event count is a whole number, 0 or more" in finding.message
    [finding] = lint(one_step(opened("a") & ~opened("a")))
    assert "it requires both opened('a') and its negation" in finding.message


def test_a_route_that_can_never_be_taken_is_an_error() -> None:
    gold = attr("tier") == "gold"
    cadence = shop(
        step("a", route=[(gold, ["phone"]), (gold & (attr("tier") == "silver"), ["sms"])]),
    )
    [finding] = lint(cadence)
    assert (finding.code, finding.path) == ("never-true", "steps[0] 'a'.route[1].when")
    assert "route 1 of step 'a' can never be taken" in finding.message


def test_conditions_from_yaml_nest_alls_and_double_negations() -> None:
    nested = All(
        all=(
            All(all=(Compare(attr="x", op=">", value=5),)),
            Not(condition=Not(condition=Compare(attr="x", op="<", value=3))),
        )
    )
    assert [f.code for f in lint(one_step(nested))] == ["never-true"]
    either = AnyOf(any=(nested, Compare(attr="x", op="==", value=1)))
    assert lint(one_step(either)) == []


def test_a_negated_alternative_is_analysed_by_de_morgan() -> None:
    # ~((x <= 5) | (x >= 3)) is ~(x <= 5) & ~(x >= 3): a missing x makes both comparisons
    # false, so it holds; so does a NaN. Not flagged.
    assert lint(one_step(~((x <= 5) | (x >= 3)))) == []
    assert lint(one_step(x.exists() & ~((x <= 5) | (x >= 3)))) == []
    # Once x is an ordinary number (x > 0), it is (x > 5) & (x < 3): a contradiction.
    assert [f.code for f in lint(one_step((x > 0) & ~((x <= 5) | (x >= 3))))] == ["never-true"]


def test_a_condition_too_large_to_expand_is_left_alone() -> None:
    big: Condition = (x > 0) | (x > 1) | (x > 2)
    for _ in range(9):
        big = big & ((x > 0) | (x > 1) | (x > 2))
    assert lint(one_step(big)) == []


# --- never-true against the planner: hypothesis -------------------------------------------------

ATTR_VALUES: list[Any] = [-1, 0, 0.5, 1, 2, True, "a", "b", None]
NUMBERS = [-1, 0, 0.5, 1, 2]
_UTC = ZoneInfo("UTC")


def grid(condition: Condition) -> list[Any]:
    """Values for attr('x'): every number the condition names, a point between each two and
    one beyond each end, special floats, and texts around the ones it names."""
    named: list[Any] = []
    for node in condition.walk():
        if isinstance(node, Compare):
            named += list(node.value) if isinstance(node.value, tuple) else [node.value]
    numbers = sorted({float(v) for v in named if isinstance(v, (int, float))} | {0.0})
    values: list[Any] = [*numbers, numbers[0] - 1, numbers[-1] + 1]
    values += [(a + b) / 2 for a, b in itertools.pairwise(numbers)]
    values += [True, False, math.nan, math.inf, -math.inf, ""]
    texts = {v for v in named if isinstance(v, str)}
    values += sorted(texts | {t + "m" for t in texts} | {"a", "m", "z"})
    return values


MISSING = object()


def holds(condition: Condition, value: Any = MISSING, orders_count: int = 0) -> bool:
    attributes = {} if value is MISSING else {"x": value}
    contact = Contact("c", attributes=attributes)
    events = [
        Event("c", "order_placed", NOW - timedelta(days=1, minutes=n), id=f"o{n}")
        for n in range(orders_count)
    ]
    ctx = Context(
        contact=contact,
        history=History(Snapshot(contact, events), "shop", NOW),
        at=NOW,
        tz=_UTC,
        lineage={},
    )
    try:
        return compile_condition(condition)(ctx)
    except InvalidRecordError:
        return False  # an ordering between a number and a text raises: never true


def satisfiable_on_grid(condition: Condition) -> bool:
    uses_counts = any(
        isinstance(node, (Compare, HasEvent)) and getattr(node, "attr", None) is None
        for node in condition.walk()
    )
    counts = range(6) if uses_counts else range(1)
    return any(holds(condition, value, n) for value in [MISSING, *grid(condition)] for n in counts)


def attr_literals(values: Sequence[Any], negations: bool) -> st.SearchStrategy[Condition]:
    ordering = st.tuples(
        st.sampled_from(["<", "<=", ">", ">="]),
        st.sampled_from([v for v in values if v is not None]),
    )
    equality = st.tuples(st.sampled_from(["==", "!="]), st.sampled_from(values))
    membership = st.tuples(st.just("in"), st.lists(st.sampled_from(values), max_size=3).map(tuple))
    shapes = [ordering, equality, membership]
    if negations:
        shapes.append(st.just(("exists", None)))
    literal = st.one_of(*shapes).map(lambda pair: Compare(attr="x", op=pair[0], value=pair[1]))
    if not negations:
        return literal
    return st.tuples(literal, st.booleans()).map(lambda p: ~p[0] if p[1] else p[0])


def conjunctions(literals: st.SearchStrategy[Condition]) -> st.SearchStrategy[Condition]:
    return st.lists(literals, min_size=1, max_size=4).map(
        lambda parts: functools.reduce(lambda left, right: left & right, parts)
    )


def flagged(condition: Condition) -> bool:
    return any(f.code == "never-true" for f in lint(one_step(condition)))


PROPERTY = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY
@given(conjunctions(attr_literals(ATTR_VALUES, negations=True)))
def test_never_true_is_never_said_of_a_satisfiable_condition(condition: Condition) -> None:
    # Sound: a condition lint calls never-true holds for no value (nor a missing attribute).
    if flagged(condition):
        assert not satisfiable_on_grid(condition), str(condition)


@PROPERTY
@given(conjunctions(attr_literals(NUMBERS, negations=False)))
def test_never_true_finds_every_contradiction_between_numbers(condition: Condition) -> None:
    # Complete on comparisons of one attribute with numbers: the grid holds every bound, a
    # point between each two and one beyond each end, so it finds a value whenever one exists.
    assert flagged(condition) is not satisfiable_on_grid(condition), str(condition)


def count_literals() -> st.SearchStrategy[Condition]:
    counts = [-1, 0, 1, 2, 3]
    compare = st.one_of(
        st.tuples(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), st.sampled_from(counts)),
        st.tuples(st.just("in"), st.lists(st.sampled_from(counts), max_size=3).map(tuple)),
    ).map(
        lambda pair: Compare.model_validate(
            {"event_count": "order_placed", "op": pair[0], "value": pair[1]}
        )
    )
    literal = st.one_of(compare, st.just(has_event("order_placed")))
    return st.tuples(literal, st.booleans()).map(lambda p: ~p[0] if p[1] else p[0])


@pytest.mark.slow
@PROPERTY
@given(conjunctions(count_literals()))
def test_never_true_is_exact_on_event_counts(condition: Condition) -> None:
    # A count is a whole number, 0 or more: lint is exact there. Counts past 4 behave alike.
    satisfiable = any(holds(condition, orders_count=n) for n in range(6))
    assert flagged(condition) is not satisfiable, str(condition)


def condition_trees() -> st.SearchStrategy[Condition]:
    leaves = st.one_of(attr_literals(ATTR_VALUES, negations=True), count_literals())
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, min_size=1, max_size=3).map(lambda p: All(all=tuple(p))),
            st.lists(children, min_size=1, max_size=3).map(lambda p: AnyOf(any=tuple(p))),
            children.map(lambda c: Not(condition=c)),
        ),
        max_leaves=8,
    )


@pytest.mark.slow
@PROPERTY
@given(condition_trees())
def test_never_true_is_sound_on_nested_alternatives_and_negations(condition: Condition) -> None:
    if flagged(condition):
        assert not satisfiable_on_grid(condition), str(condition)


@pytest.mark.slow
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cadences())
def test_lint_runs_on_any_valid_cadence(cadence: Cadence) -> None:
    findings = lint(cadence, senders={"email"})
    assert findings == lint(cadence, senders={"email"})
    assert all(f.severity in ("error", "warning") for f in findings)
    order = [int(f.path.split("]")[0].removeprefix("steps[")) for f in findings]
    assert order == sorted(order)


# --- no-sender ----------------------------------------------------------------------------------


def test_a_step_none_of_whose_channels_has_a_sender_is_an_error() -> None:
    cadence = shop(step("a", channels=["sms"], route=[(x == 1, ["phone"])]))
    [finding] = lint(cadence, senders={"email"})
    assert (finding.code, finding.severity, finding.path) == ("no-sender", "error", "steps[0] 'a'")
    assert "no channel of step 'a' has a sender ('sms', 'phone')" in finding.message


def test_a_step_with_some_channels_lacking_a_sender_is_a_warning() -> None:
    cadence = shop(step("a", channels=["email"], route=[(x == 1, ["phone", "email"])]))
    [finding] = lint(cadence, senders={"email", "sms"})
    assert (finding.code, finding.severity, finding.path) == (
        "no-sender",
        "warning",
        "steps[0] 'a'.route[0].channels[0]",
    )
    assert "'phone'" in finding.message


def test_senders_for_every_channel_or_no_senders_given_find_nothing() -> None:
    cadence = shop(step("a", channels=["email", "sms"], route=[(x == 1, ["phone"])]))
    assert lint(cadence, senders={"email", "sms", "phone", "extra"}) == []
    assert lint(cadence) == []


# --- no-template --------------------------------------------------------------------------------


def test_a_message_the_email_templates_lack_is_an_error() -> None:
    from regua.senders import SMTPSender

    email = SMTPSender("smtp.example.com", templates={"confirm": ("Pedido $order", "Obrigado!")})
    cadence = shop(
        step("confirm"),
        step("shipped", message="order_shipped", channels=["email", "sms"]),
        step("sms_only", channels=["sms"]),
    )
    findings = lint(cadence, senders={"email": email, "sms": object()})
    assert [(f.code, f.severity, f.path) for f in findings] == [
        ("no-template", "error", "steps[1] 'shipped'.message")
    ]
    assert "the 'email' sender cannot render message 'order_shipped' of step 'shipped'" in (
        findings[0].message
    )
    assert "(templates: confirm)" in findings[0].message
    assert lint(cadence, senders={"email", "sms"}) == []  # names alone: nothing to ask


def test_a_jinja_template_missing_incomplete_or_broken_is_an_error(tmp_path: Path) -> None:
    pytest.importorskip("jinja2")
    from regua.senders import JinjaRenderer, SMTPSender

    files = {
        "en/confirm.subject.txt": "Order {{ order }}",
        "en/confirm.txt": "Thanks!",
        "pt-BR/confirm.subject.txt": "Pedido {{ order }}",
        "pt-BR/confirm.txt": "Obrigado!",
        "en/shipped.subject.txt": "Shipped",
        "en/shipped.txt": "On its way",
        "pt-BR/shipped.txt": "A caminho",  # no subject: Portuguese contacts would fail
        "en/survey.subject.txt": "How was it?",
        "en/survey.txt": "{% if %}",  # does not compile
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    email = SMTPSender("smtp.example.com", renderer=JinjaRenderer(tmp_path))
    cadence = shop(*(step(name) for name in ("confirm", "shipped", "survey", "welcome")))
    findings = {f.path: f.message for f in lint(cadence, senders={"email": email})}
    assert sorted(findings) == [
        "steps[1] 'shipped'.message",
        "steps[2] 'survey'.message",
        "steps[3] 'welcome'.message",
    ]
    assert "pt-BR/shipped.subject.txt" in findings["steps[1] 'shipped'.message"]
    assert "en/survey.txt, line 1: syntax error" in findings["steps[2] 'survey'.message"]
    assert "no e-mail template 'welcome'" in findings["steps[3] 'welcome'.message"]


# --- no-expiry ----------------------------------------------------------------------------------


def test_a_marketing_step_without_expiry_is_a_warning() -> None:
    [finding] = lint(shop(step("promo", transactional=False)))
    assert (finding.code, finding.severity, finding.path) == (
        "no-expiry",
        "warning",
        "steps[0] 'promo'",
    )
    assert "after downtime it is sent however late" in finding.message
    assert "expires_after" in finding.message


@pytest.mark.parametrize(
    "kwargs",
    [
        {"transactional": False, "expires_after": "1d"},
        {"transactional": False, "deadline": "2d"},
        {"transactional": True},
    ],
)
def test_an_expiring_or_transactional_step_is_fine(kwargs: dict[str, Any]) -> None:
    assert lint(shop(step("promo", **kwargs))) == []


# --- quiet-hours-at -----------------------------------------------------------------------------

NIGHT = Policy(quiet_hours=QuietHours(start=time(21), end=time(8)))


def marketing(name: str, **kwargs: Any) -> Step:
    return step(name, transactional=False, expires_after="1d", **kwargs)


@pytest.mark.parametrize("at", [time(21), time(23, 30), time(0), time(7, 59)])
def test_a_marketing_step_due_inside_quiet_hours_is_a_warning(at: time) -> None:
    [finding] = lint(shop(marketing("promo", at=at), policy=NIGHT))
    assert (finding.code, finding.severity, finding.path) == (
        "quiet-hours-at",
        "warning",
        "steps[0] 'promo'.at",
    )
    assert "always deferred to 08:00" in finding.message
    assert "the cadence's quiet hours (21:00-08:00)" in finding.message


@pytest.mark.parametrize("at", [time(8), time(12), time(20, 59)])
def test_a_marketing_step_due_outside_quiet_hours_is_fine(at: time) -> None:
    assert lint(shop(marketing("promo", at=at), policy=NIGHT)) == []


def test_a_daytime_quiet_window_is_checked_too() -> None:
    lunch = Policy(quiet_hours=QuietHours(start=time(12), end=time(14)))
    assert [f.code for f in lint(shop(marketing("p", at=time(13)), policy=lunch))] == [
        "quiet-hours-at"
    ]
    assert lint(shop(marketing("p", at=time(14)), policy=lunch)) == []


def test_transactional_steps_and_steps_without_at_ignore_quiet_hours() -> None:
    assert lint(shop(step("receipt", at=time(23)), policy=NIGHT)) == []
    assert lint(shop(marketing("promo"), policy=NIGHT)) == []


def test_channel_quiet_hours_count_only_when_every_channel_is_quiet() -> None:
    channels = [
        Channel("email"),
        Channel("sms", quiet_hours=QuietHours(start=time(20), end=time(9))),
        Channel("whatsapp", quiet_hours=QuietHours(start=time(19), end=time(10))),
    ]
    always = shop(marketing("p", at=time(8, 30), channels=["sms", "whatsapp"]), channels=channels)
    [finding] = lint(always)
    assert finding.code == "quiet-hours-at"
    assert "the quiet hours of every channel it may use" in finding.message
    sometimes = shop(marketing("p", at=time(8, 30), channels=["sms", "email"]), channels=channels)
    assert lint(sometimes) == []


def test_a_marketing_digest_closing_inside_quiet_hours_is_a_warning() -> None:
    late = marketing("digest", digest=Digest(until=time(22)))
    [finding] = lint(shop(late, policy=NIGHT))
    assert (finding.code, finding.path) == ("quiet-hours-at", "steps[0] 'digest'.digest.until")
    assert "due at 22:00 local time" in finding.message
    assert "move digest.until outside the window" in finding.message
    assert lint(shop(marketing("digest", digest=Digest(until=time(18))), policy=NIGHT)) == []
    assert lint(shop(marketing("digest", digest=Digest("2h")), policy=NIGHT)) == []


# --- digest-cancels-itself ----------------------------------------------------------------------


def test_a_digest_cancelled_by_the_event_it_collects_is_a_warning() -> None:
    collects = step("digest", digest=Digest("2h"), cancel_on=["order_placed", "refund"])
    [finding] = lint(shop(collects))
    assert (finding.code, finding.severity, finding.path) == (
        "digest-cancels-itself",
        "warning",
        "steps[0] 'digest'.cancel_on",
    )
    assert "drop 'order_placed' from cancel_on" in finding.message
    assert lint(shop(step("digest", digest=Digest("2h"), cancel_on=["refund"]))) == []
    # Without a digest, cancelling the previous occurrence on the next event is a pattern.
    assert lint(shop(step("latest_only", cancel_on=["order_placed"]))) == []


# --- order ----------------------------------------------------------------------------------------


def test_findings_come_in_step_order_then_by_code() -> None:
    cadence = shop(
        marketing("first", at=time(23), when=(x > 2) & (x < 1)),
        step("second", trigger=after_step("first", outcome="failed"), transactional=False),
        policy=NIGHT,
    )
    assert [(f.path, f.code) for f in lint(cadence, senders={"sms"})] == [
        ("steps[0] 'first'.when", "never-true"),
        ("steps[0] 'first'", "no-sender"),
        ("steps[0] 'first'.at", "quiet-hours-at"),
        ("steps[1] 'second'", "no-expiry"),
        ("steps[1] 'second'", "no-sender"),
        ("steps[1] 'second'.trigger", "unreachable-step"),
    ]


def test_senders_must_be_a_collection_of_names_not_one_string() -> None:
    with pytest.raises(TypeError, match="collection of channel names"):
        lint(shop(step("a")), senders="email")


def test_senders_may_be_the_schedulers_mapping() -> None:
    cadence = shop(step("a", channels=["email", "sms"]))
    assert [f.severity for f in lint(cadence, senders={"email": object()})] == ["warning"]
