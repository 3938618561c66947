"""The cadence diagram of `regua.graph` as a standalone SVG, with no renderer to load.

Pages that must work offline cannot fetch Mermaid or run Graphviz. The nodes and edges
are `regua.graph`'s (the same labels as ``regua graph``), laid out left to right in
columns: triggers first, then each step one column after the step it follows.
Solid arrows fire steps, dashed ones cancel them.
"""

from __future__ import annotations

from html import escape

from regua.definitions.cadence import Cadence
from regua.graph import _Diagram

__all__ = ["cadence_svg"]

_CHAR = 6.6  # px per character at the font size below
_LINE = 15
_PAD = 8
_COLUMN_GAP = 90
_ROW_GAP = 18
_MARGIN = 16


def cadence_svg(cadence: Cadence) -> str:
    """The cadence's diagram as an ``<svg>`` element (inline it in HTML, or save it).

    >>> from regua import Cadence, Channel, Step, on_event
    >>> shop = Cadence("shop", channels=[Channel("email")], steps=[
    ...     Step("thanks", trigger=on_event("order_placed"), channels=["email"])])
    >>> svg = cadence_svg(shop)
    >>> svg.startswith("<svg") and "event: order_placed" in svg and ">thanks<" in svg
    True
    """
    diagram = _Diagram.of(cadence)
    rank: dict[str, int] = {n.id: 0 for n in diagram.nodes}
    # Steps follow their sources (after_step chains are acyclic: the cadence checks that).
    for _ in range(len(diagram.nodes)):
        changed = False
        for edge in diagram.edges:
            if not edge.dashed and rank[edge.target] < rank[edge.source] + 1:
                rank[edge.target] = rank[edge.source] + 1
                changed = True
        if not changed:
            break
    sizes = {
        n.id: (max(len(line) for line in n.lines) * _CHAR + 2 * _PAD, len(n.lines) * _LINE + _PAD)
        for n in diagram.nodes
    }
    columns: dict[int, list[str]] = {}
    for node in diagram.nodes:
        columns.setdefault(rank[node.id], []).append(node.id)
    widths = {c: max(sizes[n][0] for n in ids) for c, ids in columns.items()}
    position: dict[str, tuple[float, float]] = {}
    x = float(_MARGIN)
    height = 0.0
    for column in sorted(columns):
        y = float(_MARGIN)
        for node_id in columns[column]:
            position[node_id] = (x, y)
            y += sizes[node_id][1] + _ROW_GAP
        height = max(height, y)
        x += widths[column] + _COLUMN_GAP
    width = x - _COLUMN_GAP + _MARGIN
    height += _MARGIN - _ROW_GAP

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cadence-diagram" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}" '
        f'font-family="Helvetica, Arial, sans-serif" font-size="11" role="img" '
        f'aria-label="cadence {escape(cadence.name)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>',
    ]
    for edge in diagram.edges:
        sx, sy = position[edge.source]
        sw, sh = sizes[edge.source]
        tx, ty = position[edge.target]
        th = sizes[edge.target][1]
        x1, y1 = sx + sw, sy + sh / 2
        x2, y2 = tx, ty + th / 2
        bend = max(30.0, (x2 - x1) / 2)
        dash = ' stroke-dasharray="5 4"' if edge.dashed else ""
        parts.append(
            f'<path class="edge" d="M {x1:.1f} {y1:.1f} C {x1 + bend:.1f} {y1:.1f}, '
            f'{x2 - bend:.1f} {y2:.1f}, {x2:.1f} {y2:.1f}" fill="none" stroke="#555"'
            f'{dash} marker-end="url(#arrow)"/>'
        )
        if edge.lines:
            mx, my = (x1 + x2) / 2, (y1 + y2) / 2
            label = escape(" / ".join(edge.lines))
            parts.append(
                f'<text class="edge-label" x="{mx:.1f}" y="{my - 4:.1f}" text-anchor="middle" '
                f'font-size="9" fill="#333">{label}</text>'
            )
    for node in diagram.nodes:
        nx, ny = position[node.id]
        nw, nh = sizes[node.id]
        radius = nh / 2 if node.kind == "trigger" else 3
        fill = "#eef4fb" if node.kind == "trigger" else "#fff8e6"
        stroke = 2.6 if node.transactional else 1.2
        parts.append(
            f'<g class="node {node.kind}"><rect x="{nx:.1f}" y="{ny:.1f}" width="{nw:.1f}" '
            f'height="{nh:.1f}" rx="{radius:.1f}" fill="{fill}" stroke="#333" '
            f'stroke-width="{stroke}"/>'
        )
        for index, line in enumerate(node.lines):
            weight = ' font-weight="bold"' if index == 0 and node.kind == "step" else ""
            parts.append(
                f'<text x="{nx + _PAD:.1f}" y="{ny + _PAD / 2 + _LINE * (index + 0.8):.1f}"'
                f"{weight}>{escape(line)}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)
