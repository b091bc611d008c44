"""Notebook conventions, checked statically (no execution), and a cleaner for committed outputs.

The conventions are written out in notebooks/README.md; `check` enforces them in tests/test_notebooks.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

# The GitHub home of the course, in one place: badges in the notebooks and README must use it.
COURSE_REPO = "llm-course-lab/advanced-llm-course"
BRANCH = "main"
MAX_BYTES = 2_000_000
SETUP_CELL = (Path(__file__).parent / "colab_setup_cell.py").read_text()  # every notebook's first cell
MAX_CELL_LINES = 25  # about a screen: a longer cell is two ideas


def colab_url(path: str) -> str:
    return f"https://colab.research.google.com/github/{COURSE_REPO}/blob/{BRANCH}/{path}"


def colab_badge(path: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def check(path: Path) -> list[str]:
    """Every way the notebook at `path` breaks the course conventions (empty list = fine)."""
    path = Path(path)
    problems: list[str] = []
    nb = json.loads(path.read_text())
    cells = nb.get("cells", [])
    md = [_source(c) for c in cells if c["cell_type"] == "markdown"]
    code = [c for c in cells if c["cell_type"] == "code"]
    rel = f"notebooks/{path.name}"
    if not md or colab_url(rel) not in md[0]:
        problems.append(f"first cell lacks the Open-in-Colab badge for {colab_url(rel)}")
    if not md or not re.search(r"^# ", md[0], re.M):
        problems.append("first cell lacks a '# ' title")
    if not any("learning goals" in m.lower() for m in md[:2]):
        problems.append("no 'Learning goals' in the first cells")
    if not code or _source(code[0]).strip() != SETUP_CELL.strip():
        problems.append(
            "first code cell is not helpers/tools/colab_setup_cell.py (python -m helpers.tools.notebooks setup)"
        )
    for c in code:
        for line in _source(c).splitlines():
            if re.match(r"\s*[!%](pip|git)\b", line) and c is not code[0]:
                problems.append(f"install/clone outside the setup cell: {line.strip()}")
            if re.search(r"""["'](\.\./|\./)?outputs\b""", line):
                problems.append(f"a hard-coded outputs folder (use the stage settings' `out`): {line.strip()}")
    if not any("profiles.setup(" in _source(c) for c in code[:3]):
        problems.append("no profile summary cell (helpers.profiles.setup) among the first code cells")
    if not any(re.search(r"^## \d+\.", m, re.M) for m in md):
        problems.append("no numbered sections ('## 1. ...')")
    if not any("exercise" in m.lower() for m in md):
        problems.append("no exercises")
    if not any(re.search(r"^## Summary", m, re.M) for m in md):
        problems.append("no '## Summary' section")
    for i, c in enumerate(cells):
        src = _source(c)
        if c["cell_type"] == "code" and len(src.splitlines()) > MAX_CELL_LINES:
            problems.append(f"cell {i}: {len(src.splitlines())} lines (a lecture's cells stay under {MAX_CELL_LINES})")
        if (
            c["cell_type"] == "code"
            and "plt.show()" in src
            and "imshow" not in src
            and not (re.search(r"xlabel", src) and re.search(r"ylabel", src))
        ):
            problems.append(f"cell {i}: a plot without labelled axes")
        for o in c.get("outputs", []):
            if re.search(
                r"/(root|home|tmp|work)/\S+",
                json.dumps(o.get("text", "")) + json.dumps(o.get("data", {}).get("text/plain", "")),
            ):
                problems.append(f"cell {i}: an output shows a path of this machine")
    if nb.get("metadata", {}).get("kernelspec", {}).get("name") != "python3":
        problems.append("kernelspec is not python3")
    if "widgets" in nb.get("metadata", {}):
        problems.append("metadata.widgets present (GitHub cannot render it)")
    if code and not any(c.get("outputs") for c in code):
        problems.append("committed without outputs")
    for c in code:
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                problems.append(f"error output: {o.get('ename')}: {o.get('evalue')}")
    plots = sum("plt.show()" in _source(c) for c in code)
    images = sum("image/png" in o.get("data", {}) for c in code for o in c.get("outputs", []))
    if plots and images < plots:
        problems.append(
            f"{plots} cells call plt.show() but only {images} images were saved (MPLBACKEND=Agg in the run?)"
        )
    if path.stat().st_size > MAX_BYTES:
        problems.append(f"file is {path.stat().st_size:,} bytes (> {MAX_BYTES:,})")
    return problems


def write_setup_cell(path: Path) -> None:
    """Make the notebook's first code cell the one Colab setup cell (`colab_setup_cell.py`); outputs kept."""
    path = Path(path)
    nb = json.loads(path.read_text())
    first = next(c for c in nb["cells"] if c["cell_type"] == "code")
    lines = SETUP_CELL.rstrip("\n").split("\n")
    first["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def clean(path: Path) -> None:
    """Drop volatile metadata (execution timestamps, widget state) but keep every output."""
    path = Path(path)
    nb = json.loads(path.read_text())
    nb.get("metadata", {}).pop("widgets", None)
    for cell in nb["cells"]:
        cell.get("metadata", {}).pop("execution", None)
        cell.get("metadata", {}).pop("outputId", None)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("clean", "check", "setup"):
        sys.exit("usage: python -m helpers.tools.notebooks clean|check|setup NOTEBOOK...")
    bad = 0
    for p in sys.argv[2:]:
        if sys.argv[1] == "clean":
            clean(Path(p))
        elif sys.argv[1] == "setup":
            write_setup_cell(Path(p))
        else:
            for problem in check(Path(p)):
                print(f"{p}: {problem}")
                bad += 1
    sys.exit(1 if bad else 0)
