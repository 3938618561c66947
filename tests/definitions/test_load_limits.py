"""YAML and JSON documents are read within limits: size, nodes once aliases expand, nesting."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.bombs import BOMB, BOMB_STOP
from tests.profiles import examples

from regua import Cadence
from regua.definitions import LoadLimits
from regua.documents import load_json, load_yaml
from regua.errors import LoadError
from regua.loading import load_cadences, load_scenario
from regua.testing.scenario import Scenario

CADENCE = """\
name: shop
channels: [{name: email}]
steps:
  - name: welcome
    trigger: {event: signed_up}
    channels: [email]
    payload: {coupon: VOLTE15}
"""


def deep_yaml_flow(levels: int) -> str:
    return "[" * levels + "]" * levels


def deep_yaml_block(levels: int) -> str:
    opened = "".join(f"{'  ' * level}a:\n" for level in range(levels - 1))
    return opened + "  " * (levels - 1) + "a: 1\n"


def deep_json_objects(levels: int) -> str:
    return '{"a": ' * levels + "1" + "}" * levels


# --- the alias bomb ---------------------------------------------------------------------------


def test_the_alias_bomb_is_a_load_error_naming_the_limit() -> None:
    with pytest.raises(LoadError) as raised:
        Cadence.from_yaml(BOMB)
    assert str(raised.value) == (
        f"YAML text, {BOMB_STOP}: more than 100,000 nodes once aliases are expanded, each "
        "alias counting as all the nodes it repeats (the limit LoadLimits.max_nodes)"
    )


def test_the_alias_bomb_stops_at_the_first_alias_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Memory stays bounded by construction: an alias is counted from the size recorded for its
    # anchor, never by walking what it repeats, and the count stops at the first node past
    # the limit. PyYAML composes each node of the text at most once, and here composes only
    # those before the stop: lines g, h and i are never read.
    composed: list[int] = []
    original = yaml.composer.Composer.compose_node

    def spy(self: Any, parent: Any, index: Any) -> Any:
        composed.append(self.peek_event().start_mark.line + 1)
        return original(self, parent, index)

    monkeypatch.setattr(yaml.composer.Composer, "compose_node", spy)
    with pytest.raises(LoadError, match=BOMB_STOP):
        Cadence.from_yaml(BOMB)
    assert len(composed) < 100  # of 387,420,489 nodes once expanded
    assert max(composed) == 13


def test_the_alias_bomb_from_a_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(
        LoadError, match=rf"^{re.escape(str(path))}, {BOMB_STOP}: more than 100,000 nodes"
    ):
        Cadence.from_file(path)
    with pytest.raises(
        LoadError, match=rf"^{re.escape(str(path))}, {BOMB_STOP}: .*LoadLimits\.max_nodes"
    ):
        load_cadences(path)


def test_an_alias_bomb_in_a_scenario_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "story.yml"
    path.write_text(BOMB, encoding="utf-8")
    with pytest.raises(
        LoadError, match=rf"^{re.escape(str(path))}, {BOMB_STOP}: more than 100,000 nodes"
    ):
        load_scenario(path)
    with pytest.raises(LoadError, match=r"LoadLimits\.max_nodes"):
        Scenario.from_file(path)
    with pytest.raises(LoadError, match=r"LoadLimits\.max_nodes"):
        Scenario.from_yaml(BOMB)


def test_an_alias_is_counted_as_all_it_repeats() -> None:
    # 1 mapping + 2 keys + a list of 3 + an alias to it (4 more) = 11 nodes.
    text = "a: &x [1, 2, 3]\nb: *x\n"
    assert load_yaml(text, limits=LoadLimits(max_nodes=11)) == {"a": [1, 2, 3], "b": [1, 2, 3]}
    with pytest.raises(LoadError, match=r"line 2, column 4: more than 10 nodes"):
        load_yaml(text, limits=LoadLimits(max_nodes=10))


def test_merge_keys_count_what_they_merge() -> None:
    text = "base: &b {x: 1, y: 2}\nshop: {<<: *b, z: 3}\n"
    assert load_yaml(text)["shop"] == {"x": 1, "y": 2, "z": 3}
    # 1 + (key + mapping of 5) + (key + mapping: 1 + "<<" + 5 repeated + 2) = 17.
    load_yaml(text, limits=LoadLimits(max_nodes=17))
    with pytest.raises(LoadError, match=r"LoadLimits\.max_nodes"):
        load_yaml(text, limits=LoadLimits(max_nodes=16))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("a: &a [1, *a]\n", "line 1, column 11"),
        ("a: &a {b: [*a]}\n", "line 1, column 12"),
    ],
)
def test_an_alias_inside_its_own_anchor_is_an_error(text: str, where: str) -> None:
    with pytest.raises(LoadError) as raised:
        load_yaml(text)
    assert str(raised.value) == (
        f"YAML text, {where}: the alias *a is inside the node it repeats, so it would "
        "expand forever"
    )


def test_yaml_errors_are_still_pyyaml_errors() -> None:
    with pytest.raises(yaml.YAMLError, match="undefined alias"):
        load_yaml("a: *nowhere\n")
    with pytest.raises(yaml.YAMLError, match="single document"):
        load_yaml("a: 1\n---\nb: 2\n")


# --- nesting --------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [deep_yaml_flow(1000), deep_yaml_block(1000)])
def test_deep_yaml_is_a_load_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(LoadError, match=r"nested deeper than 64 levels \(the limit "):
        load_yaml(text)


def test_deep_yaml_names_where_the_limit_is_crossed(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(deep_yaml_flow(1000), encoding="utf-8")
    with pytest.raises(LoadError) as raised:
        load_cadences(path)
    assert str(raised.value) == (
        f"{path}, line 1, column 65: mappings and sequences nested deeper than 64 levels "
        "(the limit LoadLimits.max_depth)"
    )
    path.write_text(deep_yaml_block(1000), encoding="utf-8")
    with pytest.raises(
        LoadError, match=rf"^{re.escape(str(path))}, line 65, column 129: mappings and seq"
    ):
        Cadence.from_file(path)


@pytest.mark.parametrize("text", [deep_yaml_flow(1000), deep_json_objects(1000)])
def test_deep_json_is_a_load_error_not_a_recursion_error(text: str, tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="nested deeper than 64 levels"):
        Cadence.from_json(text)
    path = tmp_path / "deep.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(
        LoadError, match=rf"^{re.escape(str(path))}, line 1, column \d+: mappings and sequ"
    ):
        load_cadences(path)


@pytest.mark.parametrize(
    ("loader", "deep"),
    [(load_yaml, deep_yaml_flow), (load_yaml, deep_yaml_block), (load_json, deep_yaml_flow)],
)
def test_the_depth_limit_is_exact(loader: Any, deep: Any) -> None:
    loader(deep(64))
    loader(deep(5), limits=LoadLimits(max_depth=5))
    with pytest.raises(LoadError, match="nested deeper than 4 levels"):
        loader(deep(5), limits=LoadLimits(max_depth=4))


def test_an_alias_nests_what_it_repeats_where_it_stands() -> None:
    # *a spans 4 levels; where it stands, 3 levels are open: 7 in all.
    text = "a: &a [[[[1]]]]\nb: [[*a]]\n"
    assert load_yaml(text, limits=LoadLimits(max_depth=7))["b"] == [[[[[[1]]]]]]
    with pytest.raises(LoadError, match=r"line 2, column 6: .* deeper than 6 levels"):
        load_yaml(text, limits=LoadLimits(max_depth=6))


def test_brackets_inside_json_strings_do_not_nest() -> None:
    text = json.dumps({"a": "[[[{{{", "b": ['"]]]\\', "\\[[["]})
    assert load_json(text, limits=LoadLimits(max_depth=2)) == json.loads(text)


# --- size -------------------------------------------------------------------------------------


def test_text_past_the_size_limit_is_refused() -> None:
    limits = LoadLimits(max_bytes=13)
    assert load_yaml("a: olá olá\n", limits=limits) == {"a": "olá olá"}  # 11 characters
    with pytest.raises(LoadError) as raised:
        load_yaml("a: olá olá!\n", limits=limits)
    assert str(raised.value) == (
        "YAML text: 14 bytes, larger than the limit of 13 bytes (the limit LoadLimits.max_bytes)"
    )
    with pytest.raises(LoadError, match=r"^JSON text: 14 bytes, larger than the limit of 13"):
        load_json('{"a": "olá!"}', limits=limits)


def test_a_file_past_the_size_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as file:
        file.truncate(2 << 30)  # 2 GiB of nothing, which is never read
    with pytest.raises(LoadError) as raised:
        load_cadences(path)
    assert str(raised.value) == (
        f"{path}: 2,147,483,648 bytes, larger than the limit of 1,048,576 bytes "
        "(the limit LoadLimits.max_bytes)"
    )


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_the_default_size_limit_is_one_mebibyte(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"big{suffix}"
    path.write_text(" " * (1 << 20) + "{}", encoding="utf-8")
    with pytest.raises(LoadError, match=r"1,048,578 bytes, larger than the limit of 1,048,576"):
        Cadence.from_file(path)


# --- the limits can be raised ---------------------------------------------------------------


def test_every_reader_takes_limits(tmp_path: Path) -> None:
    # CADENCE holds 24 nodes.
    tight = LoadLimits(max_nodes=23)
    path = tmp_path / "shop.yaml"
    path.write_text(CADENCE, encoding="utf-8")
    as_json = tmp_path / "shop.json"
    as_json.write_text(json.dumps(yaml.safe_load(CADENCE)), encoding="utf-8")
    readers = [
        lambda limits: Cadence.from_yaml(CADENCE, limits=limits),
        lambda limits: Cadence.from_json(as_json.read_text("utf-8"), limits=limits),
        lambda limits: Cadence.from_file(path, limits=limits),
        lambda limits: Cadence.from_file(as_json, limits=limits),
        lambda limits: load_cadences(path, limits=limits)[0],
        lambda limits: load_cadences(as_json, limits=limits)[0],
    ]
    for read in readers:
        assert read(LoadLimits(max_nodes=24)).name == "shop"
        with pytest.raises(LoadError, match=r"more than 23 nodes"):
            read(tight)


@pytest.mark.parametrize("field", ["max_bytes", "max_nodes", "max_depth"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5, "10"])
def test_limits_are_whole_numbers_of_at_least_one(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"LoadLimits\.{field} must be a whole number"):
        LoadLimits(**{field: value})  # type: ignore[arg-type]


def test_the_defaults() -> None:
    assert LoadLimits() == LoadLimits(max_bytes=1 << 20, max_nodes=100_000, max_depth=64)


def test_the_examples_are_far_within_the_defaults() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    tenth = LoadLimits(max_bytes=(1 << 20) // 10, max_nodes=10_000, max_depth=8)
    for path in sorted(examples.glob("**/*.yaml")):
        if "scenarios" in path.parts:
            load_scenario(path, limits=tenth)
        else:
            load_cadences(path, limits=tenth)


# --- the count is exact -----------------------------------------------------------------------


def expanded(value: Any) -> tuple[int, int]:
    """Nodes and levels of nesting of a value, every shared part counted where it appears."""
    if isinstance(value, dict):
        inner = [expanded(item) for item in value.values()]
        return 1 + len(value) + sum(n for n, _ in inner), 1 + max((d for _, d in inner), default=0)
    if isinstance(value, list):
        inner = [expanded(item) for item in value]
        return 1 + sum(n for n, _ in inner), 1 + max((d for _, d in inner), default=0)
    return 1, 0


SCALARS = st.one_of(st.integers(), st.booleans(), st.none(), st.text(max_size=5))


@st.composite
def shared_documents(draw: st.DrawFn) -> Any:
    """A list or mapping whose parts may be repeated (PyYAML writes them as aliases)."""
    made: list[Any] = []
    for _ in range(draw(st.integers(1, 6))):
        parts = draw(
            st.lists(st.one_of(SCALARS, st.sampled_from(made) if made else SCALARS), max_size=3)
        )
        if draw(st.booleans()):
            made.append(parts)
        else:
            made.append({f"k{index}": part for index, part in enumerate(parts)})
    return made[-1] if draw(st.booleans()) else made


@pytest.mark.slow
@settings(max_examples=examples(200), deadline=None)
@given(shared_documents())
def test_yaml_counts_every_node_of_the_expanded_document(document: Any) -> None:
    text = yaml.safe_dump(document)
    nodes, depth = expanded(document)
    exact = LoadLimits(max_nodes=nodes, max_depth=max(depth, 1))
    assert load_yaml(text, limits=exact) == yaml.safe_load(text)
    if nodes > 1:
        with pytest.raises(LoadError, match=f"more than {nodes - 1:,} nodes"):
            load_yaml(text, limits=LoadLimits(max_nodes=nodes - 1))
    if depth > 1:
        with pytest.raises(LoadError, match=f"deeper than {depth - 1} levels"):
            load_yaml(text, limits=LoadLimits(max_depth=depth - 1))


@pytest.mark.slow
@settings(max_examples=examples(200), deadline=None)
@given(shared_documents())
def test_json_counts_nodes_and_depth_as_yaml_does(document: Any) -> None:
    text = json.dumps(document)
    nodes, depth = expanded(document)
    assert load_json(text, limits=LoadLimits(max_nodes=nodes, max_depth=max(depth, 1))) == (
        json.loads(text)
    )
    if nodes > 1:
        with pytest.raises(LoadError, match=f"more than {nodes - 1:,} nodes"):
            load_json(text, limits=LoadLimits(max_nodes=nodes - 1))
    if depth > 1:
        with pytest.raises(LoadError, match=f"deeper than {depth - 1} levels"):
            load_json(text, limits=LoadLimits(max_depth=depth - 1))
