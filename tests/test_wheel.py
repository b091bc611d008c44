"""The helpers install as a wheel, not only in editable mode: every module imports from the installed copy."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.subprocess
def test_every_module_imports_from_the_installed_wheel(tmp_path):
    src = tmp_path / "src"  # a copy: building in the clone would leave build/ and *.egg-info there
    shutil.copytree(ROOT / "helpers", src / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp_path / "dist"), str(src)],
        check=True,
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("*.whl"))
    site = tmp_path / "site"
    install = ["install", "--no-deps", "-q", "--target", str(site), str(wheel)]
    subprocess.run([sys.executable, "-m", "pip", *install], check=True)
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts)
        for p in (ROOT / "helpers").rglob("*.py")
        if p.name not in ("__main__.py", "colab_setup_cell.py")
    )
    script = (
        "import importlib, helpers\n"
        f"assert helpers.__file__.startswith({str(site)!r}), helpers.__file__\n"
        f"for m in {modules!r}:\n    importlib.import_module(m.removesuffix('.__init__'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
