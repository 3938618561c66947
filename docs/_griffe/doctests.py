"""A Griffe extension that shows docstring examples as code in the API reference.

regua's docstrings hold doctests (``>>>`` lines) and reStructuredText literal blocks (a
paragraph ending in ``::`` followed by an indented block). Markdown would read the first as
nested block quotes and the second as a bare code block after a stray colon; this extension
fences both (``pycon`` and ``python``) before mkdocstrings renders them. The docstrings
themselves stay as they are: plain text for ``help()`` and doctest.
"""

from __future__ import annotations

from typing import Any

import griffe


def fence_examples(text: str) -> str:
    """Return `text` with doctest runs and ``::`` literal blocks wrapped in code fences."""
    lines = text.splitlines()
    out: list[str] = []
    in_fence = False
    index = 0
    while index < len(lines):
        line = lines[index]
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("```"):
            in_fence = not in_fence
        elif not in_fence and stripped.startswith(">>>"):
            block: list[str] = []
            while index < len(lines) and lines[index].strip():
                block.append(lines[index].removeprefix(indent))
                index += 1
            _append_fence(out, indent, "pycon", block)
            continue
        elif (
            not in_fence
            and stripped.endswith("::")
            and index + 2 < len(lines)
            and not lines[index + 1].strip()
            and _indent(lines[index + 2]) > len(indent)
        ):
            out.append(line[:-1])  # "as follows::" reads "as follows:"
            index += 2
            body_indent = _indent(lines[index])
            block = []
            while index < len(lines) and (
                not lines[index].strip() or _indent(lines[index]) >= body_indent
            ):
                block.append(lines[index][body_indent:])
                index += 1
            while block and not block[-1].strip():
                block.pop()
            _append_fence(out, indent, "python", block)
            if index < len(lines):
                out.append("")
            continue
        out.append(line)
        index += 1
    return "\n".join(out)


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _append_fence(out: list[str], indent: str, language: str, block: list[str]) -> None:
    if out and out[-1].strip():
        out.append("")
    out.append(f"{indent}```{language}")
    out.extend(f"{indent}{line}" if line else "" for line in block)
    out.append(f"{indent}```")


class DoctestFences(griffe.Extension):
    """Fence the examples of every docstring Griffe loads."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite the docstring of each object as it is loaded."""
        if obj.docstring is not None:
            obj.docstring.value = fence_examples(obj.docstring.value)
