"""Every Python snippet in README.md and docs/ runs against the real code.

Snippets of one page share a namespace and run in order, as a reader would type them. A
snippet followed by a ``text`` block that starts with an exception (``SomeError: ...``) must
raise that exception, with every line of the block in its message: the error messages shown
in the documentation are the ones users get.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```(python|text)\n(.*?)^```", re.DOTALL | re.MULTILINE)
RAISED = re.compile(r"^(?:[\w.]+\.)?(\w+(?:Error|Exception)): (.*)$")
# Pages whose snippets run for seconds (a month of ticks, workers racing): the full suite only.
SLOW_PAGES = {"tutorial.md", "several-workers.md"}


def snippets(page: Path) -> list[tuple[str, str | None]]:
    """(python source, expected error text or None) for each Python block of a page."""
    text = page.read_text(encoding="utf-8")
    blocks = list(BLOCK.finditer(text))
    found: list[tuple[str, str | None]] = []
    for index, block in enumerate(blocks):
        if block.group(1) != "python":
            continue
        following = blocks[index + 1] if index + 1 < len(blocks) else None
        expected = None
        if (
            following is not None
            and following.group(1) == "text"
            and not text[block.end() : following.start()].strip()
            and RAISED.match(following.group(2).splitlines()[0])
        ):
            expected = following.group(2)
        found.append((block.group(2), expected))
    return found


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(
            page, id=page.name, marks=[pytest.mark.slow] if page.name in SLOW_PAGES else []
        )
        for page in PAGES
    ],
)
def test_snippets_run(page: Path) -> None:
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for number, (source, expected) in enumerate(snippets(page), 1):
        code = compile(source, f"{page.name} snippet {number}", "exec")
        if source.startswith("# (runs until stopped)"):
            continue
        if expected is None:
            try:
                exec(code, namespace)
            except Exception as exc:
                pytest.fail(f"{page.name}, snippet {number} raised {exc!r}:\n{source}")
            continue
        lines = expected.splitlines()
        match = RAISED.match(lines[0])
        assert match is not None
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the type is checked below
            exec(code, namespace)
        assert type(raised.value).__name__ == match.group(1), f"{page.name} snippet {number}"
        message = str(raised.value)
        for line in [match.group(2), *lines[1:]]:
            if line.strip() and "For further information" not in line:
                assert line.strip() in message, f"{page.name} snippet {number}: {line!r}"
