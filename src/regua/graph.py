"""Graph: draw a cadence as a diagram, in Mermaid or Graphviz DOT.

A diagram answers "what happens after what" at a glance: which event, date, schedule or
inactivity starts each step, which steps follow others (and on which outcome), and which
events cancel a pending step.

* One node per trigger source (an event name, a date attribute, a schedule, an inactivity
  period), and one per step, labelled with its name, timing (a digest's window: ``digest
  2h``, ``digest until 18:00``), channels or routes, a ``transactional`` marker and its
  expiry or deadline.
* A solid edge from a trigger to each step it fires, labelled with the event filter, the date
  offset and the step's condition; from a step to each ``after_step`` follower, labelled with
  the outcome followed (``expired or failed`` for an escalation).
* A dashed edge, labelled ``cancels``, from each `cancel_on` event to the steps it cancels.

The output is deterministic (the same cadence always gives the same text) and the labels are
escaped for each format, so any step name, event name or condition is safe to draw.

>>> from regua import Cadence, Channel, Step, on_event
>>> cadence = Cadence("shop", channels=[Channel("email")], steps=[
...     Step("thanks", trigger=on_event("order_placed"), channels=["email"])])
>>> print(to_mermaid(cadence))
flowchart LR
    %% cadence shop
    event_order_placed(["event: order_placed"])
    step_thanks["thanks<br/>at once<br/>email"]
    event_order_placed --> step_thanks
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Literal

import attrs

from regua.definitions.cadence import Cadence
from regua.definitions.conditions import Scalar
from regua.definitions.steps import Step
from regua.definitions.triggers import (
    AfterStepTrigger,
    DateTrigger,
    EventTrigger,
    InactivityTrigger,
    ScheduleTrigger,
    TriggerType,
)

__all__ = ["to_dot", "to_mermaid"]


def to_mermaid(cadence: Cadence) -> str:
    """The cadence as a Mermaid ``flowchart LR`` diagram (paste it into a Markdown page).

    Labels are double-quoted, with ``"``, ``<``, ``>``, ``&``, ``#``, ``|`` and backticks
    written as Mermaid entity codes (``#quot;``...) and line breaks as ``<br/>``; node ids
    are plain identifiers (``step_cart_reminder``), whatever the step is called.
    """
    diagram = _Diagram.of(cadence)
    lines = ["flowchart LR", f"    %% cadence {cadence.name}"]
    for node in diagram.nodes:
        label = _mermaid_label(node.lines)
        if node.kind == "trigger":
            lines.append(f"    {node.id}([{label}])")
        else:
            lines.append(f"    {node.id}[{label}]")
    for edge in diagram.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f"|{_mermaid_label(edge.lines)}|" if edge.lines else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    transactional = [node.id for node in diagram.nodes if node.transactional]
    if transactional:
        lines.append("    classDef transactional stroke-width:3px")
        lines.append(f"    class {','.join(transactional)} transactional")
    return "\n".join(lines)


def to_dot(cadence: Cadence) -> str:
    r"""The cadence as a Graphviz DOT digraph (render it with ``dot -Tsvg``).

    Labels are double-quoted with ``\`` and ``"`` escaped and line breaks as ``\n``;
    transactional steps are drawn with a double border.
    """
    diagram = _Diagram.of(cadence)
    lines = [
        f"digraph {_dot_quote(cadence.name)} {{",
        "    rankdir=LR;",
        '    node [fontname="Helvetica"];',
        '    edge [fontname="Helvetica"];',
    ]
    for node in diagram.nodes:
        attributes = [f"label={_dot_label(node.lines)}"]
        if node.kind == "trigger":
            attributes.append("shape=ellipse")
        else:
            attributes.append("shape=box")
            if node.transactional:
                attributes.append("peripheries=2")
        lines.append(f"    {_dot_quote(node.id)} [{', '.join(attributes)}];")
    for edge in diagram.edges:
        attributes = [f"label={_dot_label(edge.lines)}"] if edge.lines else []
        if edge.dashed:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {_dot_quote(edge.source)} -> {_dot_quote(edge.target)}{suffix};")
    lines.append("}")
    return "\n".join(lines)


# --- the diagram, independent of the output format --------------------------------------------


@attrs.frozen(slots=True)
class _Node:
    id: str
    kind: Literal["trigger", "step"]
    lines: tuple[str, ...]
    transactional: bool = False


@attrs.frozen(slots=True)
class _Edge:
    source: str
    target: str
    lines: tuple[str, ...] = ()
    dashed: bool = False


@attrs.define(slots=True)
class _Diagram:
    nodes: list[_Node] = attrs.field(factory=list)
    edges: list[_Edge] = attrs.field(factory=list)
    _trigger_ids: dict[Hashable, str] = attrs.field(factory=dict)
    _used_ids: set[str] = attrs.field(factory=set)

    @classmethod
    def of(cls, cadence: Cadence) -> _Diagram:
        diagram = cls()
        step_ids = {s.name: diagram._new_id("step_" + _slug(s.name)) for s in cadence.steps}
        # Trigger nodes first, in the order the steps name them; then the steps.
        trigger_nodes: list[_Node] = []
        step_nodes: list[_Node] = []
        edges: list[_Edge] = []
        for step in cadence.steps:
            target = step_ids[step.name]
            step_nodes.append(
                _Node(target, "step", _step_lines(step), transactional=step.transactional)
            )
            condition = (f"if {step.when}",) if step.when is not None else ()
            trigger = step.trigger
            if isinstance(trigger, AfterStepTrigger):
                source = step_ids[trigger.after_step]
                outcomes = " or ".join(trigger.outcomes)
                edges.append(_Edge(source, target, (outcomes, *condition)))
            elif isinstance(trigger, EventTrigger) and trigger.of_step is not None:
                source = step_ids[trigger.of_step]
                edges.append(_Edge(source, target, (trigger.event, *condition)))
            else:
                source = diagram._trigger_node(trigger, trigger_nodes)
                edges.append(_Edge(source, target, (*_trigger_edge_lines(trigger), *condition)))
            for event in step.cancel_on:
                source = diagram._trigger_node(EventTrigger(event=event), trigger_nodes)
                label = "cancels" if step.cancel_key is None else f"cancels, same {step.cancel_key}"
                edges.append(_Edge(source, target, (label,), dashed=True))
        diagram.nodes = [*trigger_nodes, *step_nodes]
        diagram.edges = edges
        return diagram

    def _new_id(self, base: str) -> str:
        # Different names may share a slug ("a-b", "a_b"): number the later ones.
        candidate, number = base, 1
        while candidate in self._used_ids:
            number += 1
            candidate = f"{base}_{number}"
        self._used_ids.add(candidate)
        return candidate

    def _trigger_node(self, trigger: TriggerType, nodes: list[_Node]) -> str:
        key: Hashable
        if isinstance(trigger, EventTrigger):
            key, base = ("event", trigger.event), "event_" + _slug(trigger.event)
            label = f"event: {trigger.event}"
        elif isinstance(trigger, DateTrigger):
            key, base = ("date", trigger.date, trigger.every), "date_" + _slug(trigger.date)
            label = f"date: {trigger.date}" + (", yearly" if trigger.every == "year" else "")
        elif isinstance(trigger, ScheduleTrigger):
            key, base = ("schedule", trigger.schedule), "schedule"
            label = f"schedule: {trigger.schedule}"
        else:
            assert isinstance(trigger, InactivityTrigger)
            key = ("inactivity", trigger.inactivity, trigger.activity)
            base = "inactive_" + str(trigger.inactivity)
            activity = ", ".join(trigger.activity) if trigger.activity else "event at all"
            label = f"inactive {trigger.inactivity}: no {activity}"
        node_id = self._trigger_ids.get(key)
        if node_id is None:
            node_id = self._trigger_ids[key] = self._new_id(base)
            nodes.append(_Node(node_id, "trigger", (label,)))
        return node_id


def _slug(name: str) -> str:
    # Names hold letters, digits, "_", "-" and "."; ids keep letters, digits and "_".
    return "".join(c if c.isascii() and (c.isalnum() or c == "_") else "_" for c in name)


def _step_lines(step: Step) -> tuple[str, ...]:
    lines = [step.name]
    timing = []
    if step.digest is not None:
        timing.append(f"digest {step.digest}")
    if step.delay:
        timing.append(f"delay {step.delay}")
    if step.at is not None:
        timing.append(f"at {step.at.strftime('%H:%M')}")
    lines.append(", ".join(timing) if timing else "at once")
    cheapest = " (cheapest first)" if step.prefer == "cheapest" else ""
    for route in step.route:
        lines.append(f"{route.when} -> {', '.join(route.channels)}{cheapest}")
    if step.channels:
        channels = ", ".join(step.channels) + cheapest
        lines.append(f"else -> {channels}" if step.route else channels)
    if step.transactional:
        lines.append("transactional")
    if step.service:
        lines.append("service")
    if step.repeat == "once":
        lines.append("once per contact")
    if step.cooldown is not None:
        lines.append(f"cooldown {step.cooldown}")
    if step.expires_after is not None:
        lines.append(f"expires after {step.expires_after}")
    if step.deadline is not None:
        lines.append(f"deadline {step.deadline}")
    if step.variants is not None:
        lines.append(
            "variants "
            + ", ".join(
                f"{name} {weight}" + (" (holdout)" if name == step.holdout else "")
                for name, weight in step.variants.items()
            )
        )
    if step.goal is not None:
        lines.append(f"goal {step.goal.event} within {step.goal.within}")
    return tuple(lines)


def _trigger_edge_lines(trigger: TriggerType) -> tuple[str, ...]:
    if isinstance(trigger, EventTrigger) and trigger.where:
        parts = [f"{key} {_match(value)}" for key, value in trigger.where.items()]
        return ("where " + ", ".join(parts),)
    if isinstance(trigger, DateTrigger) and trigger.offset:
        if trigger.offset.is_negative:
            return (f"{-trigger.offset} before",)
        return (f"{trigger.offset} after",)
    return ()


def _match(value: Scalar | tuple[Scalar, ...]) -> str:
    if isinstance(value, tuple):
        return f"in {list(value)!r}"
    return f"== {value!r}"


# --- escaping -----------------------------------------------------------------------------------

_MERMAID_ENTITIES = {
    "#": "#35;",  # first: every other escape starts with "#"
    '"': "#quot;",
    "<": "#lt;",
    ">": "#gt;",
    "&": "#amp;",
    "|": "#124;",
    "`": "#96;",
}


def _mermaid_text(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char in _MERMAID_ENTITIES:
            out.append(_MERMAID_ENTITIES[char])
        elif char.isspace() or not char.isprintable():
            # A raw line break would end the statement; any other control character is noise.
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _mermaid_label(lines: tuple[str, ...]) -> str:
    return '"' + "<br/>".join(_mermaid_text(line) for line in lines) + '"'


def _dot_text(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif char.isspace() or not char.isprintable():
            out.append(" ")
        else:
            out.append(char)
    return "".join(out)


def _dot_quote(text: str) -> str:
    return f'"{_dot_text(text)}"'


def _dot_label(lines: tuple[str, ...]) -> str:
    return '"' + "\\n".join(_dot_text(line) for line in lines) + '"'
