"""Static checks of the notebook conventions (notebooks/README.md). Execution is nbmake's job."""

import json
import re
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
    bad["cells"] = [dict(c, outputs=[]) if c["cell_type"] == "code" else c for c in good["cells"][1:]]
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(bad))
    problems = "\n".join(notebooks.check(path))
    for expected in ("badge", "kernelspec", "widgets", "without outputs"):
        assert expected in problems


def test_checker_catches_long_cells_unlabelled_plots_machine_paths_and_no_summary(tmp_path):
    good = json.loads(NOTEBOOKS[0].read_text())
    cells = [dict(c, source="".join(c["source"]).replace("## Summary", "## Recap")) for c in good["cells"]]

    def code(src, text=""):
        out = {"output_type": "stream", "name": "stdout", "text": text}
        return {"cell_type": "code", "metadata": {}, "execution_count": 1, "source": src, "outputs": [out]}

    cells += [code("\n".join(f"x{i} = {i}" for i in range(30))), code("plt.plot([1, 2])\nplt.show()"),
              code("print(OUT)", "/work/main/outputs/12a\n")]  # fmt: skip
    path = tmp_path / NOTEBOOKS[0].name
    path.write_text(json.dumps(dict(good, cells=cells)))
    problems = "\n".join(notebooks.check(path))
    for expected in ("Summary", "30 lines", "without labelled axes", "path of this machine"):
        assert expected in problems, expected


def test_readme_links_every_notebook_with_the_one_repo_name():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert notebooks.colab_url(f"notebooks/{path.name}") in readme, path.name
    for url in re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", readme):
        assert url == notebooks.COURSE_REPO


def test_colab_installs_only_what_colab_lacks_at_the_pinned_versions():
    def pins(name):
        lines = (ROOT / name).read_text().splitlines()
        return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))

    colab, ci = pins("requirements-colab.txt"), pins("requirements.txt")
    assert all(ci.get(k) == v for k, v in colab.items()), "requirements-colab.txt pins a version CI does not test"
    assert not set(colab) & {"torch", "jupyterlab", "ipykernel", "nbmake", "pytest", "pytest-xdist", "ruff"}
    assert "requirements-colab.txt" in notebooks.SETUP_CELL and "check=True" in notebooks.SETUP_CELL
    assert "requirements.txt" not in notebooks.SETUP_CELL.replace("requirements-colab.txt", "")
