"""Notebook conventions, checked statically (no execution), and a cleaner for committed outputs.

The conventions are written out in notebooks/README.md; `check` enforces them in tests/test_notebooks.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import warnings
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import nbformat

# every notebook's first cell The GitHub home of the course, typed once: in the setup cell, which
# clones it. The badges in the notebooks and the README are made from it (a test checks). A fork
# edits that line, then runs `python -m helpers.tools.notebooks setup notebooks/*.ipynb` and
# replaces the owner/name in the README's badges.
SETUP_CELL = (Path(__file__).parent / "colab_setup_cell.py").read_text()
COURSE_REPO = re.search(r'^COURSE_REPO = "([^"]+)"', SETUP_CELL, re.M).group(1)
BRANCH = "main"
MAX_BYTES = 2_000_000
MAX_CELL_LINES = 25  # about a screen: a longer cell is two ideas


def read_notebook(path: str | Path) -> dict:
    """A notebook as nbformat reads it (version 4); a hand-added cell's missing id is not an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=nbformat.validator.MissingIDFieldWarning)
        return nbformat.read(str(path), as_version=4)


def colab_url(path: str) -> str:
    return f"https://colab.research.google.com/github/{COURSE_REPO}/blob/{BRANCH}/{path}"


def colab_badge(path: str) -> str:
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


# ---------------------------------------------------------------- typed figures
# A reading types the figures its run printed (a rate such as 0.57, a speed-up such as 1.38x). After a rerun on
# another CPU they can move, and the prose would then be stale: every typed figure must round from a number a
# code cell above it printed, or be listed here with where it comes from (a paper, another run, a setting).
# "0.57.", "(0.16-0.20)", "1.38x" all count
_TYPED = re.compile(r"(?<![\w.$\\])(\d+\.\d+)(x|×)?(?!\w|\.\d)")
_PRINTED = re.compile(r"-?\d+\.\d+")
NOT_PRINTED_HERE = {
    "11_speculative": {
        "1.49x": "Spec-Bench's leaderboard, a published reference",
        "2.5x": "Chen et al. 2023 (Chinchilla 70B, 2-2.5x), a published reference",
    },
    "14_capstone": {
        "0.10": "the margin the notebook sets before training",
        "0.05": "a setting: the judge's tie band",
    },
}


def _output_text(cell: dict) -> str:
    """Every text a code cell showed: its streams, and the plain, markdown and HTML forms of its results."""
    texts = []
    for o in cell.get("outputs", []):
        data = o.get("data", {})
        for t in (
            o.get("text", ""),
            data.get("text/plain", ""),
            data.get("text/markdown", ""),
            data.get("text/html", ""),
        ):
            texts.append("".join(t) if isinstance(t, list) else t)
    return "\n".join(texts)


def _typed_figures(markdown: str) -> list[str]:
    """The measured-looking figures of a markdown cell: rates in [0, 1] with two or more decimals, and speed-ups
    (`1.38x`); formulas (`$...$`) and code spans are left out."""
    prose = re.sub(r"```.*?```|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$", "", markdown, flags=re.S)
    return [
        num + ("x" if x else "")
        for num, x in _TYPED.findall(prose)
        if x or (float(num) <= 1 and len(num.split(".")[1]) >= 2)
    ]


def _rounds_from(typed: str, printed: set[str]) -> bool:
    """Whether `typed` is some printed number rounded half up (0.965 -> 0.97) to its decimals."""
    num = Decimal(typed.rstrip("x"))
    step = Decimal(1).scaleb(num.as_tuple().exponent)
    return any(
        len(p.split(".")[1]) >= -num.as_tuple().exponent
        and abs(Decimal(p)).quantize(step, rounding=ROUND_HALF_UP) == num
        for p in printed
    )


def unprinted_figures(path: Path) -> list[str]:
    """Each figure a markdown cell types that no code cell above it printed (and NOT_PRINTED_HERE does not list).
    Any printed number above counts, so a stale figure that happens to equal another one still passes."""
    cells, allowed = (
        read_notebook(path)["cells"],
        NOT_PRINTED_HERE.get(Path(path).stem, {}),
    )
    printed: set[str] = set()
    problems, typed_anywhere = [], set()
    for i, c in enumerate(cells):
        if c["cell_type"] == "code":
            printed.update(_PRINTED.findall(_output_text(c)))
            continue
        for typed in _typed_figures(_source(c)):
            typed_anywhere.add(typed)
            if typed not in allowed and not _rounds_from(typed, printed):
                problems.append(
                    f"cell {i}: the reading types {typed}, which no output above it printed "
                    "(stale after a rerun? else list it in NOT_PRINTED_HERE with its source)"
                )
    problems += [
        f"NOT_PRINTED_HERE lists {typed}, which no reading types now"
        for typed in allowed.keys() - typed_anywhere
    ]
    return problems


def check(path: Path) -> list[str]:
    """Every way the notebook at `path` breaks the course conventions (empty list = fine)."""
    path = Path(path)
    problems: list[str] = []
    nb = read_notebook(path)
    cells = nb.get("cells", [])
    md = [_source(c) for c in cells if c["cell_type"] == "markdown"]
    code = [c for c in cells if c["cell_type"] == "code"]
    rel = f"notebooks/{path.name}"
    if not md or colab_url(rel) not in md[0]:
        problems.append(f"first cell lacks the Open-in-Colab badge for {colab_url(rel)}")
    if not md or not re.search(r"^# ", md[0], re.M):
        problems.append("first cell lacks a '# ' title")
    if not any("what you will learn" in m.lower() for m in md[:2]):
        problems.append("no 'What you will learn' in the first cells")
    if not code or _source(code[0]).strip() != SETUP_CELL.strip():
        problems.append(
            "first code cell is not helpers/tools/colab_setup_cell.py (python -m helpers.tools.notebooks setup)"
        )
    for c in code:
        for line in _source(c).splitlines():
            if re.match(r"\s*[!%](pip|git)\b", line) and c is not code[0]:
                problems.append(f"install/clone outside the setup cell: {line.strip()}")
            if re.search(r"""["'](\.\./|\./)?outputs(/|["'])""", line):
                problems.append(
                    f"a hard-coded outputs folder (use the stage settings' `out`): {line.strip()}"
                )
    if not any("profiles.setup(" in _source(c) for c in code[:3]):
        problems.append(
            "no profile summary cell (helpers.profiles.setup) among the first code cells"
        )
    if not any(re.search(r"^## \d+\.", m, re.M) for m in md):
        problems.append("no numbered sections ('## 1. ...')")
    if not any("exercise" in m.lower() for m in md):
        problems.append("no exercises")
    if not any(re.search(r"^## Summary", m, re.M) for m in md):
        problems.append("no '## Summary' section")
    for i, c in enumerate(cells):
        src = _source(c)
        if c["cell_type"] == "code" and len(src.splitlines()) > MAX_CELL_LINES:
            problems.append(
                f"cell {i}: {len(src.splitlines())} lines (a lecture's cells stay under {MAX_CELL_LINES})"
            )
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
    problems += unprinted_figures(path)
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
    """Drop volatile metadata (execution timestamps, widget state) but keep every output; give a cell added
    by hand the id nbformat 4.5 requires (stable: from its position and source)."""
    path = Path(path)
    nb = json.loads(path.read_text())
    nb.get("metadata", {}).pop("widgets", None)
    for k, cell in enumerate(nb["cells"]):
        if "id" not in cell:
            src = "".join(cell.get("source", []))
            cell["id"] = hashlib.sha256(f"{k}:{src}".encode()).hexdigest()[:8]
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
