"""Static checks of the course as a learner reads it: each notebook opens with its prerequisites and study
time, closes with Previous/Next links that form the course's chain, dumps no long source, keeps code lines
at most 100 characters, and prints no raw float repr. The stated study time may not be less than the page
measures (`study_minutes`: prose and readings at 150 words a minute, code at 12 lines, printed text at 1,000
characters, one minute a figure). `make test` runs them (tests/test_lessons.py).

    python -m helpers.tools.lessons notebooks/*.ipynb
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from helpers.tools.notebooks import read_notebook

CHAIN = [
    "11_speculative.ipynb",
    "11b_speculative_serving.ipynb",
    "12a_self_instruct.ipynb",
    "12b_constitutional.ipynb",
    "12c_rlaif.ipynb",
    "13_llava.ipynb",
    "14_capstone.ipynb",
]
MAX_STUDY_MINUTES = 50  # what a page may ask of one sitting
# reading pace of a learner who studies the page (the fresh reviews' yardstick)
WORDS_PER_MIN, CODE_LINES_PER_MIN, OUTPUT_CHARS_PER_MIN, MIN_PER_FIGURE = 150, 12, 1000, 1
UNDERSTATED = 0.9  # a stated study time below this share of the measured one is a finding
MAX_DUMP_LINES = 40
MAX_CODE_COLUMNS = 100
# a float printed with more than 4 decimals and no exponent: 0.7123456 (not 1.5e-05, not 0.7123)
RAW_FLOAT = re.compile(r"(?<![\w.:])-?\d+\.\d{5,}(?![\d.eE])")
LINK = r"\*\*{word}:\*\*\s*\[[^\]]+\]\(([^)]+\.ipynb)\)"


def _text(cell: dict) -> str:
    src = cell.get("source", "")
    return src if isinstance(src, str) else "".join(src)


def _outputs(cell: dict) -> list[str]:
    """Every text an output shows: streams, plain text and Markdown."""
    texts = []
    for out in cell.get("outputs", []):
        if "text" in out:
            texts.append(_text({"source": out["text"]}))
        for kind in ("text/plain", "text/markdown"):
            if kind in out.get("data", {}):
                texts.append(_text({"source": out["data"][kind]}))
    return texts


def study_minutes(cells: list[dict]) -> float:
    """Minutes a learner needs to study the page: prose and rendered readings, code, printed text, figures."""
    words = code = chars = figures = 0
    for cell in cells:
        if cell["cell_type"] == "markdown":
            words += len(_text(cell).split())
            continue
        code += sum(1 for line in _text(cell).splitlines() if line.strip())
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            figures += "image/png" in data
            if "text/markdown" in data:
                words += len(_text({"source": data["text/markdown"]}).split())
            elif "text" in out or "text/plain" in data:
                chars += len(_text({"source": out.get("text") or data["text/plain"]}))
    return (
        words / WORDS_PER_MIN
        + code / CODE_LINES_PER_MIN
        + chars / OUTPUT_CHARS_PER_MIN
        + figures * MIN_PER_FIGURE
    )


STUDY = re.compile(r"\*\*Study time\.?\*\*[^\n]*?(\d+)\s*minutes")


def stated_minutes(first: str) -> int | None:
    """The study time the first cell states (what the learner is told), or None."""
    study = STUDY.search(first)
    return int(study.group(1)) if study else None


def opening_findings(first: str, measured: float | None = None) -> list[str]:
    """The first cell names the prerequisites and a study time of at most 55 minutes, not less than the
    page measures."""
    found = []
    if "**Prerequisites" not in first:
        found.append("first cell: no **Prerequisites** paragraph")
    stated = stated_minutes(first)
    if stated is None:
        found.append("first cell: no **Study time.** paragraph with its minutes")
        return found
    if stated > MAX_STUDY_MINUTES:
        found.append(f"first cell: study time {stated} minutes > {MAX_STUDY_MINUTES}")
    if measured is not None and stated < UNDERSTATED * measured:
        found.append(
            f"first cell: study time {stated} minutes, but the page measures {measured:.0f}"
        )
    return found


def chain_findings(name: str, last: str) -> list[str]:
    """The last cell links the previous and next notebooks of the chain, and no other notebook."""
    found = []
    i = CHAIN.index(name)
    for word, want in (
        ("Previous", CHAIN[i - 1] if i else None),
        ("Next", CHAIN[i + 1] if i + 1 < len(CHAIN) else None),
    ):
        got = re.findall(LINK.format(word=word), last)
        if want and got != [want]:
            found.append(f"last cell: **{word}:** should link {want}, links {got or 'nothing'}")
        if not want and got:
            found.append(
                f"last cell: **{word}:** links {got}, but {name} has no {word.lower()} notebook"
            )
    return found


def cell_findings(k: int, cell: dict) -> list[str]:
    """Code lines at most 100 characters; no source dump over 40 lines; no raw float in an output."""
    found = []
    if cell["cell_type"] != "code":
        return found
    for n, line in enumerate(_text(cell).splitlines(), 1):
        if len(line) > MAX_CODE_COLUMNS:
            found.append(f"cell {k} line {n}: {len(line)} characters > {MAX_CODE_COLUMNS}")
    for text in _outputs(cell):
        for dump in re.findall(r"```python\n(.*?)```", text, flags=re.S):
            if dump.count("\n") > MAX_DUMP_LINES:
                found.append(
                    f"cell {k}: a source dump of {dump.count(chr(10))} lines > {MAX_DUMP_LINES}"
                )
        for raw in RAW_FLOAT.findall(text):
            found.append(f"cell {k}: output prints the raw float {raw}")
    return found


def findings(path: Path) -> list[str]:
    """Every static finding in one notebook, each naming the file and the cell."""
    cells = read_notebook(path)["cells"]
    found = opening_findings(_text(cells[0]), study_minutes(cells)) if cells else ["no cells"]
    found += chain_findings(Path(path).name, _text(cells[-1]))
    for k, cell in enumerate(cells):
        found += cell_findings(k, cell)
    return [f"{Path(path).name}: {f}" for f in found]


def main(paths: list[str]) -> int:
    for p in paths:
        print(
            f"{Path(p).name}: measures {study_minutes(read_notebook(p)['cells']):.0f} minutes of study"
        )
    found = [f for p in paths for f in findings(Path(p))]
    print("\n".join(found) or f"{len(paths)} notebooks: no finding")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
