"""Experiment and goal fields: validated at construction, the same in Python and YAML."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from regua import Cadence, Channel, Step, after_step, on_event
from regua.definitions import Goal


def step(name: str = "welcome", **fields: object) -> Step:
    return Step(name, trigger=on_event("signed_up"), channels=["email"], **fields)  # type: ignore[arg-type]


def shop(*steps: Step, **fields: object) -> Cadence:
    return Cadence("shop", channels=[Channel("email")], steps=list(steps), **fields)  # type: ignore[arg-type]


def test_variants_keep_their_order_and_name_the_experiment() -> None:
    s = step(variants={"long": 30, "short": 70}, holdout=None)
    assert list(s.variants or ()) == ["long", "short"]
    assert s.experiment_name == "welcome"
    assert step(variants={"a": 1, "b": 1}, experiment="copy_test").experiment_name == "copy_test"
    assert step().experiment_name is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"variants": {"only": 100}}, "an experiment needs at least two variants"),
        ({"variants": {"a": 0, "b": 0}}, "every variant weighs 0"),
        ({"variants": {"a": 50, "b": -1}}, "greater than or equal to 0"),
        ({"variants": {"a": 50, "b": 0.5}}, "valid integer"),
        ({"variants": {"a": 50, "b": True}}, "valid integer"),
        ({"variants": {"a": 50, "b b": 50}}, "is not a valid name"),
        ({"variants": {"a": 50, "b": 50}, "holdout": "c"}, "holdout 'c' is not one of"),
        ({"holdout": "control"}, "'holdout' is set but 'variants' is not"),
        ({"experiment": "copy"}, "'experiment' is set but 'variants' is not"),
        (
            {"variants": {"a": 50, "control": 50}, "holdout": "control", "transactional": True},
            "a transactional or service step cannot hold contacts out",
        ),
    ],
)
def test_invalid_experiments_name_the_step_and_the_problem(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        step(**fields)


def test_steps_of_one_experiment_must_declare_the_same_variants() -> None:
    first = step("a", variants={"x": 50, "y": 50}, experiment="copy")
    with pytest.raises(ValidationError, match=r"steps\[1\] 'b'.variants: experiment 'copy'"):
        shop(first, step("b", variants={"x": 60, "y": 40}, experiment="copy"))
    with pytest.raises(ValidationError, match="in the same order"):
        shop(first, step("b", variants={"y": 50, "x": 50}, experiment="copy"))
    with pytest.raises(ValidationError, match=r"steps\[1\] 'b'.holdout"):
        shop(first, step("b", variants={"x": 50, "y": 50}, experiment="copy", holdout="y"))
    # Same experiment name in two steps with the same variants is one experiment.
    shop(first, step("b", variants={"x": 50, "y": 50}, experiment="copy"))


def test_goal_fields_and_errors() -> None:
    goal = Goal("order_placed", within="7d", where={"channel": ["web", "app"]})
    assert goal.exit is True
    assert goal.matches("order_placed", {"channel": "app"})
    assert not goal.matches("order_placed", {"channel": "store"})
    assert not goal.matches("order_placed", {})
    assert not goal.matches("signed_up", {"channel": "app"})
    with pytest.raises(ValidationError, match="within"):
        Goal("order_placed")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="positive"):
        Goal("order_placed", within="0d")
    with pytest.raises(TypeError, match="both positionally and as a keyword"):
        Goal("a", event="b", within="1d")  # type: ignore[call-arg]


def test_yaml_round_trip_of_variants_holdout_and_goals() -> None:
    text = """
name: shop
timezone: America/Sao_Paulo
channels: [{name: email}]
goal: {event: order_placed, within: 7d}
steps:
  - name: cart_1
    trigger: {event: cart_abandoned}
    channels: [email]
    variants: {short: 45, long: 45, control: 10}
    holdout: control
    experiment: cart_copy
  - name: cart_2
    trigger: {after_step: cart_1}
    delay: 1d
    channels: [email]
    goal: {event: order_placed, where: {source: cart}, within: 2d, exit: false}
"""
    cadence = Cadence.from_yaml(text)
    cart_1, cart_2 = cadence.steps
    assert cart_1.variants == {"short": 45, "long": 45, "control": 10}
    assert cart_1.holdout == "control"
    assert cart_1.experiment_name == "cart_copy"
    assert cadence.goal == Goal("order_placed", within="7d")
    assert cart_2.goal == Goal("order_placed", within="2d", where={"source": "cart"}, exit=False)
    assert Cadence.from_yaml(cadence.to_yaml()) == cadence
    assert Cadence.from_json(cadence.to_json()) == cadence
    assert list(Cadence.from_yaml(cadence.to_yaml()).steps[0].variants or ()) == [
        "short",
        "long",
        "control",
    ]


def test_followers_may_share_the_experiment_of_their_head() -> None:
    cadence = shop(
        step("a", variants={"x": 50, "y": 50}),
        Step(
            "b",
            trigger=after_step("a"),
            channels=["email"],
            variants={"x": 50, "y": 50},
            experiment="a",
        ),
    )
    assert cadence.step("b").experiment_name == "a"


def test_graphs_show_variants_holdout_and_goal() -> None:
    from regua.graph import to_dot, to_mermaid

    cadence = shop(
        step(
            "cart",
            variants={"short": 45, "long": 45, "control": 10},
            holdout="control",
            goal=Goal("order_placed", within="3d"),
        )
    )
    for text in (to_mermaid(cadence), to_dot(cadence)):
        assert "variants short 45, long 45, control 10 (holdout)" in text
        assert "goal order_placed within 3d" in text
