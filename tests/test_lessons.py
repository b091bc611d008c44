"""The course's static checks (helpers/tools/lessons.py) on every notebook, and on planted faults."""

import json
from pathlib import Path

import pytest

from helpers.tools import lessons

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.mark.parametrize("name", lessons.CHAIN)
def test_every_notebook_passes_the_static_checks(name):
    assert lessons.findings(NOTEBOOKS / name) == []


def _write(tmp_path: Path, name: str, first: str, code: str, output: str, last: str) -> Path:
    def md(text, id):
        return {"cell_type": "markdown", "id": id, "metadata": {}, "source": text}

    stream = {"output_type": "stream", "name": "stdout", "text": output}
    cell = {"cell_type": "code", "id": "c", "metadata": {}, "execution_count": 1, "source": code}
    cells = [md(first, "a"), {**cell, "outputs": [stream]}, md(last, "b")]
    path = tmp_path / name
    path.write_text(
        json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    )
    return path


GOOD_FIRST = (
    "**Prerequisites.** 11.\n\n**Study time.** About 40 minutes; Colab T4 about 20 minutes."
)
GOOD_LAST = (
    "**Previous:** [11b](11b_speculative_serving.ipynb) · **Next:** [12b](12b_constitutional.ipynb)"
)


def test_a_clean_notebook_has_no_finding(tmp_path):
    path = _write(
        tmp_path, "12a_self_instruct.ipynb", GOOD_FIRST, "x = 1\n", "alpha 0.7123\n", GOOD_LAST
    )
    assert lessons.findings(path) == []


def test_each_planted_fault_is_named(tmp_path):
    long_dump = "```python\n" + "x = 1\n" * 41 + "```"
    path = _write(
        tmp_path,
        "12a_self_instruct.ipynb",
        "**Study time.** About 72 minutes.",
        "y = " + "1 + " * 30 + "1\n",
        "alpha 0.71234567 " + long_dump,
        "**Next:** [12c](12c_rlaif.ipynb)",
    )
    assert lessons.findings(path) == [
        "12a_self_instruct.ipynb: first cell: no **Prerequisites** paragraph",
        "12a_self_instruct.ipynb: first cell: study time 72 minutes > 50",
        "12a_self_instruct.ipynb: last cell: **Previous:** should link 11b_speculative_serving.ipynb, links nothing",
        "12a_self_instruct.ipynb: last cell: **Next:** should link 12b_constitutional.ipynb, links ['12c_rlaif.ipynb']",
        "12a_self_instruct.ipynb: cell 1 line 1: 125 characters > 100",
        "12a_self_instruct.ipynb: cell 1: a source dump of 41 lines > 40",
        "12a_self_instruct.ipynb: cell 1: output prints the raw float 0.71234567",
    ]
