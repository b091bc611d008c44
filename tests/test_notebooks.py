"""Static checks of the notebook conventions (notebooks/README.md). Execution is nbmake's job."""

import json
import os
import re
import sys
from pathlib import Path

import pytest

from helpers.tools import notebooks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_follows_the_conventions(path):
    assert notebooks.check(path) == []


def test_checker_catches_broken_notebooks(tmp_path):
    good = json.loads(NOTEBOOKS[0].read_text())
    bad = dict(good, metadata={**good["metadata"], "widgets": {}, "kernelspec": {"name": "llm"}})
    bad["cells"] = [
        dict(c, outputs=[]) if c["cell_type"] == "code" else c for c in good["cells"][1:]
    ]
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(bad))
    problems = "\n".join(notebooks.check(path))
    for expected in ("badge", "kernelspec", "widgets", "without outputs"):
        assert expected in problems


def test_checker_catches_long_cells_unlabelled_plots_machine_paths_and_no_summary(tmp_path):
    good = json.loads(NOTEBOOKS[0].read_text())
    cells = [
        dict(c, source="".join(c["source"]).replace("## Summary", "## Recap"))
        for c in good["cells"]
    ]

    def code(src, text=""):
        out = {"output_type": "stream", "name": "stdout", "text": text}
        return {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 1,
            "source": src,
            "outputs": [out],
        }

    cells += [
        code("\n".join(f"x{i} = {i}" for i in range(30))),
        code("plt.plot([1, 2])\nplt.show()"),
        code("print(OUT)", "/work/main/outputs/12a\n"),
    ]
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(dict(good, cells=cells)))
    problems = "\n".join(notebooks.check(path))
    for expected in ("Summary", "30 lines", "without labelled axes", "path of this machine"):
        assert expected in problems, expected


def test_checker_catches_a_typed_figure_that_no_output_printed(tmp_path, monkeypatch):
    """A reading's figures must round (half up) from a printed number above them: a figure typed before its
    output, one typed wrong, and an allow-list entry no reading uses are each caught; formulas and code are not read."""

    def cell(kind, src, text="", data=None):
        if kind == "markdown":
            return {"cell_type": "markdown", "metadata": {}, "source": src}
        out = {"output_type": "stream", "name": "stdout", "text": text}
        if data:
            out = {
                "output_type": "execute_result",
                "metadata": {},
                "data": data,
                "execution_count": 1,
            }
        return {
            "cell_type": "code",
            "metadata": {},
            "execution_count": 1,
            "source": src,
            "outputs": [out],
        }

    def problems(cells):
        path = tmp_path / "99_toy.ipynb"
        path.write_text(
            json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
        )
        return notebooks.unprinted_figures(path)

    printed = cell("code", "print(rates)", "accuracy 0.5768, v(5) 0.965, speed-up 1.384x\n")
    card = cell(
        "code", "card", data={"text/markdown": "- acceptance 0.62", "text/plain": "<Markdown>"}
    )
    good = "It reads shapes (0.58), v(5) = 0.97, runs 1.38x faster and accepts 0.62. $p = 0.25$, $$q = 0.75$$"
    assert problems([printed, card, cell("markdown", good)]) == []
    # typed above the output it quotes
    assert len(problems([cell("markdown", "shapes 0.58."), printed])) == 1
    stale = problems(
        [printed, cell("markdown", "shapes 0.57 (truncated, not rounded), `lr=0.003`")]
    )
    assert len(stale) == 1 and "0.57" in stale[0]
    monkeypatch.setitem(
        notebooks.NOT_PRINTED_HERE, "99_toy", {"0.59": "a paper", "0.90": "a setting"}
    )
    assert problems([printed, cell("markdown", "shapes 0.59")]) == [
        "NOT_PRINTED_HERE lists 0.90, which no reading types now"
    ]


def test_the_figure_check_is_part_of_the_conventions_and_lists_only_real_notebooks(tmp_path):
    assert set(notebooks.NOT_PRINTED_HERE) <= {p.stem for p in NOTEBOOKS}
    nb = json.loads(NOTEBOOKS[0].read_text())
    nb["cells"].append(
        {"cell_type": "markdown", "metadata": {}, "source": "The run reached 0.1234."}
    )
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(nb))
    assert any("0.1234" in problem for problem in notebooks.check(path))


def test_readme_links_every_notebook_with_the_one_repo_name():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert notebooks.colab_url(f"notebooks/{path.name}") in readme, path.name
    for url in re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", readme):
        assert url == notebooks.COURSE_REPO


def test_the_setup_cell_clones_the_one_repo_the_badges_name(tmp_path, monkeypatch):
    calls = _run_setup_cell(tmp_path, monkeypatch)
    clone = next(c for c in calls if c[:2] == ("git", "clone"))
    assert clone[-2:] == (
        f"https://github.com/{notebooks.COURSE_REPO}",
        str(tmp_path / "advanced-llm-course"),
    )
    assert notebooks.SETUP_CELL.count("llm-course-lab/advanced-llm-course") == 1  # typed once


def test_colab_installs_only_what_colab_lacks_at_the_pinned_versions():
    def pins(name):
        lines = (ROOT / name).read_text().splitlines()
        return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))

    colab, ci = pins("requirements-colab.txt"), pins("requirements.txt")
    assert all(ci.get(k) == v for k, v in colab.items()), (
        "requirements-colab.txt pins a version CI does not test"
    )
    assert not set(colab) & {
        "torch",
        "jupyterlab",
        "ipykernel",
        "nbmake",
        "pytest",
        "pytest-xdist",
        "ruff",
    }
    assert "requirements-colab.txt" in notebooks.SETUP_CELL and "check_call" in notebooks.SETUP_CELL
    assert "requirements.txt" not in notebooks.SETUP_CELL.replace("requirements-colab.txt", "")


def _run_setup_cell(tmp_path, monkeypatch, fail_pip=False, use_drive=False) -> list[tuple]:
    """The setup cell as Colab runs it (a fake `google.colab`, subprocess calls recorded, /content -> tmp)."""
    import subprocess
    import types

    calls = []

    def fake_run(cmd):
        calls.append(tuple(cmd))
        if tuple(cmd[:2]) == ("git", "clone"):
            (Path(cmd[-1]) / ".git").mkdir(parents=True)
            (Path(cmd[-1]) / "notebooks").mkdir()
        if "pip" in cmd and fail_pip:
            raise subprocess.CalledProcessError(1, cmd)

    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=lambda where: calls.append(("mount", where)))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setattr(subprocess, "check_call", fake_run)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("COURSE_OUTPUTS", raising=False)
    monkeypatch.chdir(tmp_path)
    source = notebooks.SETUP_CELL.replace("/content", str(tmp_path))
    exec(source.replace("USE_DRIVE = False", f"USE_DRIVE = {use_drive}"), {})
    return calls


def test_the_setup_cell_reruns_a_failed_install_and_never_clones_twice(tmp_path, monkeypatch):
    import subprocess

    # the first pip install fails (a network blip)
    with pytest.raises(subprocess.CalledProcessError):
        _run_setup_cell(tmp_path, monkeypatch, fail_pip=True)
    # rerun: no second clone, the install is retried
    second = _run_setup_cell(tmp_path, monkeypatch)
    assert [c[:2] for c in second] == [("git", "-C"), ("git", "-C"), (sys.executable, "-m")]
    assert second[-1][-1].endswith("requirements-colab.txt")
    # done: fetch and check out COURSE_REF, install nothing
    third = _run_setup_cell(tmp_path, monkeypatch)
    assert third == [c for c in second if "pip" not in c]
    assert (
        "git",
        "-C",
        str(tmp_path / "advanced-llm-course"),
        "checkout",
        "-q",
        "FETCH_HEAD",
    ) in third
    # outputs stay inside the clone unless Drive is asked for
    assert "COURSE_OUTPUTS" not in os.environ


def test_the_setup_cell_puts_outputs_on_drive_only_when_asked(tmp_path, monkeypatch):
    calls = _run_setup_cell(tmp_path, monkeypatch, use_drive=True)
    assert ("mount", str(tmp_path / "drive")) in calls
    assert os.environ["COURSE_OUTPUTS"] == str(
        tmp_path / "drive/MyDrive/advanced-llm-course/outputs"
    )
