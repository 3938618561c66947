"""`regua.graph`: cadences drawn as Mermaid and Graphviz DOT, escaped and deterministic."""

from __future__ import annotations

import importlib
import importlib.util
import re
import shutil
import subprocess
from datetime import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from regua import (
    Cadence,
    Channel,
    Step,
    after_step,
    attr,
    on_date,
    on_event,
    on_inactivity,
    on_schedule,
)
from regua.definitions import Digest
from regua.graph import to_dot, to_mermaid
from tests.planning.strategies import cadences
from tests.profiles import examples

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

NASTY = 'He said "hi" <b>&amp; #1 | `x`; end\nnext line\ttab'


def load_example(name: str) -> Cadence:
    path = EXAMPLES / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"regua_graph_example_{name}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cadence: Cadence = module.cadence
    return cadence


@pytest.fixture(scope="module")
def recovery() -> Cadence:
    return load_example("service_recovery")


@pytest.fixture(scope="module")
def shop() -> Cadence:
    return load_example("ecommerce_lifecycle")


def awkward() -> Cadence:
    """Names with '-' and '.', slugs that collide, and labels full of special characters."""
    return Cadence(
        "weird-name.v2",
        channels=[Channel("e-mail"), Channel("e_mail")],
        steps=[
            Step(
                "a-b",
                trigger=on_event("x.y", where={"k": NASTY}),
                channels=["e-mail"],
                when=attr("note") == NASTY,
            ),
            Step(
                "a_b",
                trigger=after_step("a-b", outcome="failed"),
                channels=["e_mail"],
                route=[(attr("t").in_([NASTY, "<>"]), ["e-mail"])],
            ),
            Step(
                "end",
                trigger=on_schedule("RRULE:FREQ=WEEKLY;BYDAY=MO"),
                channels=["e-mail"],
                cancel_on=["x.y", "x-y"],
            ),
            Step("o.1", trigger=on_date("contract_end", before="30d"), channels=["e-mail"]),
        ],
    )


# --- Mermaid ------------------------------------------------------------------------------------

MERMAID_ID = r"[A-Za-z_][A-Za-z0-9_]*"
# Inside a label: no raw quote and no raw line break; '<' only in the <br/> we write.
MERMAID_LABEL = r'"(?:[^"\n<>]|<br/>)*"'
MERMAID_LINE = re.compile(
    rf"    (?:%% [^\n]*"
    rf"|(?P<node>{MERMAID_ID})(?:\(\[{MERMAID_LABEL}\]\)|\[{MERMAID_LABEL}\])"
    rf"|(?P<source>{MERMAID_ID}) (?:-->|-\.->)(?:\|{MERMAID_LABEL}\|)? (?P<target>{MERMAID_ID})"
    rf"|classDef transactional [^\n]*"
    rf"|class {MERMAID_ID}(?:,{MERMAID_ID})* transactional)"
)


def mermaid_statements(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Check every line's shape; return the node ids and the edges."""
    lines = text.split("\n")
    assert lines[0] == "flowchart LR"
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    for line in lines[1:]:
        match = MERMAID_LINE.fullmatch(line)
        assert match is not None, f"not a well-formed statement: {line!r}"
        assert line.count('"') % 2 == 0, line
        if match["node"]:
            nodes.append(match["node"])
        elif match["source"]:
            edges.append((match["source"], match["target"]))
    return nodes, edges


@pytest.mark.parametrize("name", ["service_recovery", "ecommerce_lifecycle"])
def test_the_examples_render_as_well_formed_mermaid(name: str) -> None:
    cadence = load_example(name)
    nodes, edges = mermaid_statements(to_mermaid(cadence))
    assert len(nodes) == len(set(nodes))
    assert {f"step_{step.name}" for step in cadence.steps} <= set(nodes)
    assert {end for edge in edges for end in edge} <= set(nodes)


def test_the_escalation_is_an_edge_labelled_with_every_outcome_it_follows(
    recovery: Cadence,
) -> None:
    lines = to_mermaid(recovery).split("\n")
    assert '    step_apology -->|"expired or failed"| step_escalation_call' in lines
    assert "    event_incident_opened --> step_apology" in lines


def test_cancel_events_are_dashed_edges(recovery: Cadence) -> None:
    lines = to_mermaid(recovery).split("\n")
    assert '    event_incident_resolved -.->|"cancels"| step_acknowledgement' in lines
    assert '    event_incident_opened -.->|"cancels"| step_promise_kept_follow_up' in lines
    dashed = [line for line in lines if "-.->" in line]
    assert all('|"cancels"|' in line for line in dashed)
    assert len(dashed) == sum(len(step.cancel_on) for step in recovery.steps)


def test_step_nodes_say_timing_channels_transactional_and_expiry(recovery: Cadence) -> None:
    lines = to_mermaid(recovery).split("\n")
    assert (
        '    step_apology["apology<br/>delay 1h<br/>email, sms<br/>transactional<br/>deadline 4h"]'
        in lines
    )
    assert (
        '    step_promise_kept_follow_up["promise_kept_follow_up<br/>delay 7d, at 10:00<br/>'
        'email<br/>expires after 3d"]' in lines
    )
    assert "    class step_acknowledgement,step_apology,step_escalation_call," in "\n".join(lines)


def test_the_birthday_routes_by_tier(shop: Cadence) -> None:
    lines = to_mermaid(shop).split("\n")
    assert (
        '    step_birthday["birthday<br/>at 09:00<br/>'
        "attr('tier') == 'gold' -#gt; phone, email<br/>"
        "attr('tier') == 'silver' -#gt; sms, email<br/>"
        'else -#gt; email<br/>expires after 12h"]'
    ) in lines
    assert '    date_birth_date(["date: birth_date, yearly"])' in lines


def test_conditions_and_outcomes_label_the_edges(shop: Cadence) -> None:
    lines = to_mermaid(shop).split("\n")
    assert (
        "    step_inactive_news -->|\"sent<br/>if ~opened('inactive_news')\"| "
        "step_inactive_news_sms"
    ) in lines
    assert (
        "    event_order_delivered -->|\"if event_count('order_delivered') #gt;= 3\"| "
        "step_satisfaction_survey"
    ) in lines
    assert '    inactive_60d(["inactive 60d: no login, order_placed, site_visit"])' in lines


def test_a_trigger_event_that_also_cancels_is_one_node(shop: Cadence) -> None:
    nodes, _ = mermaid_statements(to_mermaid(shop))
    assert nodes.count("event_order_placed") == 1
    text = to_mermaid(shop)
    assert "    event_order_placed --> step_order_confirmation" in text
    assert '    event_order_placed -.->|"cancels"| step_cart_reminder' in text


def test_mermaid_labels_escape_quotes_angle_brackets_and_line_breaks() -> None:
    text = to_mermaid(awkward())
    mermaid_statements(text)
    assert "#quot;hi#quot;" in text
    assert "#lt;b#gt;" in text
    assert "#amp;amp;" in text
    assert "#35;1" in text
    assert "#124;" in text
    assert "#96;x#96;" in text
    assert "\\nnext line" in text  # the condition's repr, not a raw line break
    assert "\t" not in text
    assert "#lt;#gt;" in text


def test_ids_are_safe_and_distinct_for_awkward_names() -> None:
    nodes, edges = mermaid_statements(to_mermaid(awkward()))
    assert nodes == [
        "event_x_y",
        "schedule",
        "event_x_y_2",
        "date_contract_end",
        "step_a_b",
        "step_a_b_2",
        "step_end",
        "step_o_1",
    ]
    assert ("step_a_b", "step_a_b_2") in edges
    assert ("event_x_y", "step_end") in edges
    assert ("event_x_y_2", "step_end") in edges
    text = to_mermaid(awkward())
    assert '    step_a_b -->|"failed"| step_a_b_2' in text
    assert '    date_contract_end -->|"30d before"| step_o_1' in text
    assert '    schedule(["schedule: RRULE:FREQ=WEEKLY;BYDAY=MO"])' in text


def test_every_kind_of_trigger_gets_a_node() -> None:
    cadence = Cadence(
        "kinds",
        channels=[Channel("email")],
        steps=[
            Step("a", trigger=on_event("signed_up"), channels=["email"]),
            Step("b", trigger=on_date("birth_date", every="year"), channels=["email"]),
            Step("c", trigger=on_schedule("0 9 * * MON"), channels=["email"]),
            Step("d", trigger=on_inactivity("60d"), channels=["email"]),
            Step("e", trigger=on_inactivity("60d"), channels=["email"]),
            Step("f", trigger=on_schedule("0 9 * * MON"), channels=["email"]),
            Step("g", trigger=on_schedule("0 10 * * MON"), channels=["email"]),
        ],
    )
    lines = to_mermaid(cadence).split("\n")
    assert lines[2:7] == [
        '    event_signed_up(["event: signed_up"])',
        '    date_birth_date(["date: birth_date, yearly"])',
        '    schedule(["schedule: 0 9 * * MON"])',
        '    inactive_60d(["inactive 60d: no event at all"])',
        '    schedule_2(["schedule: 0 10 * * MON"])',
    ]
    assert "    schedule --> step_f" in lines
    assert "    inactive_60d --> step_e" in lines


def test_where_filters_label_the_trigger_edge() -> None:
    cadence = Cadence(
        "shipping",
        channels=[Channel("email")],
        steps=[
            Step(
                "delivered",
                trigger=on_event("order_status", where={"status": ["delivered", "picked_up"]}),
                channels=["email"],
                delay="3d",
                prefer="cheapest",
                repeat="once",
                cooldown="30d",
            )
        ],
    )
    text = to_mermaid(cadence)
    assert "-->|\"where status in ['delivered', 'picked_up']\"| step_delivered" in text
    assert (
        '["delivered<br/>delay 3d<br/>email (cheapest first)<br/>once per contact<br/>'
        'cooldown 30d"]' in text
    )


# --- DOT ----------------------------------------------------------------------------------------

DOT_STRING = r'"(?:[^"\\\n]|\\.)*"'
DOT_LINE = re.compile(
    rf"    (?:rankdir=LR;|(?:node|edge) \[fontname=\"Helvetica\"\];"
    rf"|(?P<node>{DOT_STRING}) \[label={DOT_STRING}, shape=(?:ellipse|box)(?:, peripheries=2)?\];"
    rf"|(?P<source>{DOT_STRING}) -> (?P<target>{DOT_STRING})"
    rf"(?: \[(?:label={DOT_STRING}(?:, style=dashed)?)\])?;)"
)


def dot_statements(text: str) -> tuple[list[str], list[tuple[str, str]]]:
    lines = text.split("\n")
    assert re.fullmatch(rf"digraph {DOT_STRING} \{{", lines[0]), lines[0]
    assert lines[-1] == "}"
    nodes: list[str] = []
    edges: list[tuple[str, str]] = []
    for line in lines[1:-1]:
        match = DOT_LINE.fullmatch(line)
        assert match is not None, f"not a well-formed statement: {line!r}"
        if match["node"]:
            nodes.append(match["node"])
        elif match["source"]:
            edges.append((match["source"], match["target"]))
    return nodes, edges


def dot_parses(text: str) -> bool | None:
    """Parse with pydot or the graphviz tools when present; None when neither is."""
    try:
        pydot: Any = importlib.import_module("pydot")
    except ImportError:
        pass
    else:
        return bool(pydot.graph_from_dot_data(text))
    dot = shutil.which("dot")
    if dot is None:
        return None
    result = subprocess.run(
        [dot, "-Tcanon"], input=text, capture_output=True, text=True, check=False, timeout=120
    )
    return result.returncode == 0 and not result.stderr


@pytest.mark.parametrize("make", [lambda: load_example("service_recovery"), awkward])
def test_dot_output_is_well_formed(make: Any) -> None:
    text = to_dot(make())
    nodes, edges = dot_statements(text)
    assert len(nodes) == len(set(nodes))
    assert {end for edge in edges for end in edge} <= set(nodes)
    parsed = dot_parses(text)
    if parsed is None:
        pytest.skip("neither pydot nor Graphviz is installed: checked the statements only")
    assert parsed


def test_dot_golden_lines(recovery: Cadence, shop: Cadence) -> None:
    lines = to_dot(recovery).split("\n")
    assert lines[0] == 'digraph "service_recovery" {'
    assert '    "step_apology" -> "step_escalation_call" [label="expired or failed"];' in lines
    assert (
        '    "event_incident_resolved" -> "step_acknowledgement" [label="cancels", style=dashed];'
        in lines
    )
    assert (
        '    "step_apology" [label="apology\\ndelay 1h\\nemail, sms\\ntransactional\\n'
        'deadline 4h", shape=box, peripheries=2];'
    ) in lines
    assert (
        "attr('tier') == 'gold' -> phone, email\\nattr('tier') == 'silver' -> sms, email"
        in to_dot(shop)
    )


def test_dot_labels_escape_quotes_and_backslashes() -> None:
    text = to_dot(awkward())
    assert '\\"hi\\"' in text
    assert "\\\\nnext line" in text  # the repr's backslash, doubled
    assert "\t" not in text
    assert text.count("\n") == len(text.split("\n")) - 1  # no line break inside a statement
    assert 'digraph "weird-name.v2" {' in text


# --- both ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("render", [to_mermaid, to_dot])
def test_output_is_deterministic(render: Any, shop: Cadence) -> None:
    first = render(shop)
    assert render(shop) == first
    assert render(Cadence.from_json(shop.to_json())) == first


@pytest.mark.slow
@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cadences())
def test_any_valid_cadence_renders_well_formed(cadence: Cadence) -> None:
    nodes, edges = mermaid_statements(to_mermaid(cadence))
    assert {end for edge in edges for end in edge} <= set(nodes)
    dot_nodes, dot_edges = dot_statements(to_dot(cadence))
    assert len(dot_nodes) == len(nodes)
    assert len(dot_edges) == len(edges)


def test_a_digest_step_shows_its_window() -> None:
    cadence = Cadence(
        "shop",
        channels=[Channel("email")],
        steps=[
            Step(
                "shipping",
                trigger=on_event("order_shipped"),
                digest=Digest("2h"),
                channels=["email"],
            ),
            Step(
                "daily",
                trigger=on_event("price_drop"),
                digest=Digest(until=time(18)),
                channels=["email"],
            ),
        ],
    )
    lines = to_mermaid(cadence).split("\n")
    assert '    step_shipping["shipping<br/>digest 2h<br/>email"]' in lines
    assert '    step_daily["daily<br/>digest until 18:00<br/>email"]' in lines
    assert '    "step_shipping" [label="shipping\\ndigest 2h\\nemail", shape=box];' in to_dot(
        cadence
    ).split("\n")
