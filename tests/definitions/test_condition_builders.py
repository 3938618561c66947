"""Conditions: builders, operators, rendering and what they read."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from regua import attr, clicked, event_count, has_event, opened
from regua.definitions import All, AnyOf, Clicked, Compare, Duration, HasEvent, Not, Opened

GOLD = attr("tier") == "gold"
ACTIVE = has_event("login", within="30d")
LOYAL = event_count("order_delivered", within="1y") >= 3


@pytest.mark.parametrize(
    ("condition", "op", "value"),
    [
        (attr("tier") == "gold", "==", "gold"),
        (attr("tier") != "gold", "!=", "gold"),
        (attr("age") < 18, "<", 18),
        (attr("age") <= 18, "<=", 18),
        (attr("ltv") > 1000.5, ">", 1000.5),
        (attr("ltv") >= 1000, ">=", 1000),
        (attr("tier").in_(["gold", "platinum"]), "in", ("gold", "platinum")),
        (attr("tier").in_(iter(["gold"])), "in", ("gold",)),
        (attr("vip").exists(), "exists", None),
    ],
)
def test_attribute_comparisons(condition: Compare, op: str, value: Any) -> None:
    assert isinstance(condition, Compare)
    assert condition.attr in {"tier", "age", "ltv", "vip"}
    assert condition.event_count is None
    assert condition.op == op
    assert condition.value == value


def test_attribute_builder_names_the_attribute() -> None:
    assert (attr("tier") == "gold").attr == "tier"
    assert (attr("tier") == "gold") == Compare(attr="tier", op="==", value="gold")


def test_event_count_comparisons() -> None:
    condition = event_count("order_delivered", within="1y") >= 3
    assert condition == Compare(event_count="order_delivered", within="1y", op=">=", value=3)
    assert condition.within == Duration(months=12)
    assert condition.attr is None
    assert (event_count("login") < 1).within is None
    assert event_count("login").in_([0, 1]).value == (0, 1)


def test_event_builders() -> None:
    assert has_event("order_placed") == HasEvent(has_event="order_placed")
    assert has_event("login", within="P30D").within == Duration(days=30)
    assert opened("welcome") == Opened(opened="welcome")
    assert clicked("welcome") == Clicked(clicked="welcome")


def test_has_event_window_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="within"):
        has_event("login", within="0d")


def test_in_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError, match="list of values"):
        attr("tier").in_("gold")


# --- combining ------------------------------------------------------------------------------------


def test_and_or_not_build_the_tree() -> None:
    gold, active, loyal = GOLD, ACTIVE, LOYAL
    assert gold & active == All(all=(gold, active))
    assert gold | active == AnyOf(any=(gold, active))
    assert ~gold == Not(condition=gold)
    assert (gold | active) & ~loyal == All(all=(AnyOf(any=(gold, active)), Not(condition=loyal)))


def test_chains_flatten_into_one_node() -> None:
    gold, active, loyal = GOLD, ACTIVE, LOYAL
    assert gold & active & loyal == All(all=(gold, active, loyal))
    assert gold | active | loyal == AnyOf(any=(gold, active, loyal))
    both = (gold & active) & (loyal & opened("x"))
    assert both == All(all=(gold, active, loyal, opened("x")))
    # Different operators do not flatten into each other.
    mixed = gold & (active | loyal)
    assert mixed == All(all=(gold, AnyOf(any=(active, loyal))))


def test_double_negation_is_the_condition_itself() -> None:
    assert ~~GOLD == GOLD
    assert ~~(GOLD & ACTIVE) == GOLD & ACTIVE
    assert ~~~GOLD == ~GOLD


def test_conditions_compare_by_value() -> None:
    assert (attr("x") == 1) == (attr("x") == 1)
    assert (attr("x") == 1) != (attr("x") == 2)
    assert (attr("x") == 1) != (attr("y") == 1)
    assert hash(attr("x") == 1) == hash(attr("x") == 1)


@pytest.mark.parametrize(
    "mistake",
    [
        lambda: bool(GOLD),
        lambda: GOLD and ACTIVE,
        lambda: GOLD or ACTIVE,
        lambda: not GOLD,
        lambda: 1 < attr("age") < 5,  # chained comparison calls bool() on the first result
        lambda: [c for c in [GOLD] if c],
    ],
)
def test_truth_value_raises_with_guidance(mistake: Any) -> None:
    with pytest.raises(TypeError, match=r"&, \| and ~") as excinfo:
        mistake()
    assert "(x > 1) & (x < 5)" in str(excinfo.value)


def test_an_operand_has_no_truth_value() -> None:
    with pytest.raises(TypeError, match="compare it"):
        bool(attr("vip"))


@pytest.mark.parametrize(
    ("combine", "operator"),
    [
        (lambda: GOLD & True, "&"),
        (lambda: GOLD | "gold", "|"),
        (lambda: GOLD & attr("vip"), "&"),
        (lambda: ACTIVE | None, "|"),
    ],
)
def test_combining_with_a_non_condition_raises(combine: Any, operator: str) -> None:
    with pytest.raises(TypeError, match=f"cannot combine a condition with .* using '\\{operator}'"):
        combine()


def test_a_non_condition_on_the_left_also_raises() -> None:
    with pytest.raises(TypeError):
        True & GOLD  # type: ignore[operator]


# --- rendering ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "text"),
    [
        (attr("tier") == "gold", "attr('tier') == 'gold'"),
        (attr("age") >= 18, "attr('age') >= 18"),
        (attr("tier").in_(["gold", "platinum"]), "attr('tier').in_(['gold', 'platinum'])"),
        (attr("vip").exists(), "attr('vip').exists()"),
        (event_count("order") >= 3, "event_count('order') >= 3"),
        (event_count("order", within="1y") >= 3, "event_count('order', within='1y') >= 3"),
        (has_event("login", within="P30D"), "has_event('login', within='30d')"),
        (has_event("login"), "has_event('login')"),
        (opened("welcome"), "opened('welcome')"),
        (clicked("welcome"), "clicked('welcome')"),
        (~opened("welcome"), "~opened('welcome')"),
        (~(attr("a") == 1), "~(attr('a') == 1)"),
        (
            (attr("a") == 1) & (attr("b") == 2) & opened("w"),
            "(attr('a') == 1) & (attr('b') == 2) & opened('w')",
        ),
        (
            (attr("a") == 1) | ((attr("b") == 2) & opened("w")),
            "(attr('a') == 1) | ((attr('b') == 2) & opened('w'))",
        ),
        (~((attr("a") == 1) | opened("w")), "~((attr('a') == 1) | opened('w'))"),
    ],
)
def test_str_renders_the_dsl(condition: Any, text: str) -> None:
    assert str(condition) == text


# --- attributes used ------------------------------------------------------------------------------


def test_attributes_used_over_nested_trees() -> None:
    tree = (attr("tier") == "gold") & ~(
        attr("region").in_(["eu"]) | (event_count("order") > 2) | attr("vip").exists()
    ) | (has_event("login") & opened("welcome") & (attr("age") >= 18))
    assert tree.attributes_used() == {"tier", "region", "vip", "age"}


def test_event_conditions_read_no_attribute() -> None:
    for condition in (has_event("x"), opened("x"), clicked("x"), event_count("x") > 1):
        assert condition.attributes_used() == frozenset()


def test_walk_visits_every_node() -> None:
    tree = GOLD & ~(ACTIVE | LOYAL)
    nodes = list(tree.walk())
    assert nodes[0] is tree
    assert GOLD in nodes
    assert ACTIVE in nodes
    assert LOYAL in nodes
    assert len(nodes) == 6  # All, GOLD, Not, AnyOf, ACTIVE, LOYAL


# --- building from mappings (the YAML form) -------------------------------------------------------


def test_compare_from_a_mapping() -> None:
    condition = Compare.model_validate(
        {"event_count": "order_delivered", "within": "1y", "op": ">=", "value": 3}
    )
    assert condition == LOYAL


def test_not_uses_the_yaml_key_not() -> None:
    assert Not.model_validate({"not": {"opened": "welcome"}}) == ~opened("welcome")


def test_conditions_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        GOLD.value = "silver"  # type: ignore[misc]
