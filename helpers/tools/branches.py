"""Every profile-dependent branch in the notebooks' code, found by reading its syntax tree (issue 38).

    python -m helpers.tools.branches

A notebook runs the same cells on every profile; what differs should come from the stage's settings. A
branch is a conditional (`if`, `... if ... else ...`, a comprehension's `if`, `while`) whose test reads
a field of `profile` or of the stage's settings `cfg`. Each one found must be listed, with its reason, in
`notebooks/README.md` under "Profile-dependent branches"; `tests/test_branches.py` compares the two lists.
What the check proves: no notebook branches on the profile or its settings in a way the list does not name.
What it does not prove: that a function a cell calls does not branch inside (helpers are tested on their own).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from helpers.tools.notebooks import read_notebook

ROOT = Path(__file__).resolve().parents[2]
WATCHED = ("profile", "cfg")  # the names a notebook's settings come through
LIST_HEADING = "## Profile-dependent branches"


@dataclass(frozen=True)
class Branch:
    """One conditional of a notebook cell whose test reads `profile` or `cfg`."""

    notebook: str
    cell: int
    condition: str  # the test's source, as written


def _reads_settings(test: ast.AST) -> bool:
    """Whether an expression reads an attribute of one of the watched names (`profile.x`, `cfg.y`)."""
    return any(
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in WATCHED
        for node in ast.walk(test)
    )


def _tests(tree: ast.AST):
    """The tests of every conditional in a syntax tree."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.If, ast.IfExp, ast.While)):
            yield node.test
        elif isinstance(node, ast.comprehension):
            yield from node.ifs


def _code(source: str) -> str:
    """A cell's source without IPython's magics and shell lines, which are not Python."""
    return "\n".join("" if re.match(r"\s*[%!]", line) else line for line in source.splitlines())


def notebook_branches(path: Path) -> list[Branch]:
    """The profile-dependent branches of one notebook, in cell order."""
    cells = read_notebook(path)["cells"]
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        source = _code("".join(cell["source"]))
        tree = ast.parse(source, filename=f"{path.name}, cell {i}")
        for test in _tests(tree):
            if _reads_settings(test):
                found.append(Branch(path.stem, i, ast.get_source_segment(source, test)))
    return found


def all_branches(folder: Path = ROOT / "notebooks") -> list[Branch]:
    return [b for nb in sorted(folder.glob("*.ipynb")) for b in notebook_branches(nb)]


def listed_branches(readme: Path = ROOT / "notebooks" / "README.md") -> dict[tuple[str, str], str]:
    """(notebook, condition) -> reason, from the README's table under LIST_HEADING."""
    text = readme.read_text()
    if LIST_HEADING not in text:
        raise ValueError(f"{readme}: no '{LIST_HEADING}' section")
    section = text.split(LIST_HEADING, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cols = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cols) == 3 and cols[1].startswith("`") and cols[0] not in ("notebook", "---"):
            rows[cols[0], cols[1].strip("`")] = cols[2]
    return rows


def table(branches: list[Branch]) -> str:
    """The Markdown rows for the README (the reason column left for a person to write)."""
    lines = ["| notebook | condition | why it stays in the notebook |", "|---|---|---|"]
    lines += [f"| {b.notebook} | `{b.condition}` | |" for b in branches]
    return "\n".join(lines)


def main() -> None:
    found = all_branches()
    listed = listed_branches()
    for b in found:
        mark = "listed" if (b.notebook, b.condition) in listed else "NOT LISTED"
        print(f"{b.notebook:22} cell {b.cell:3}  {mark:10}  {b.condition}")
    print(f"\n{len(found)} profile-dependent branches; {len(listed)} listed in notebooks/README.md")


if __name__ == "__main__":
    main()
