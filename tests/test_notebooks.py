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


def test_readme_links_every_notebook_with_the_one_repo_name():
    readme = (ROOT / "README.md").read_text()
    for path in NOTEBOOKS:
        assert notebooks.colab_url(f"notebooks/{path.name}") in readme, path.name
    for url in re.findall(r"colab\.research\.google\.com/github/([^/]+/[^/]+)/", readme):
        assert url == notebooks.COURSE_REPO
