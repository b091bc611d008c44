"""A pytest plugin for `make test`: one line when a notebook starts and one when it ends, with its time.

nbmake under `-q` prints a single dot per notebook, so a 20-minute run looked stuck. Loaded with
`-p helpers.tools.progress`; under pytest-xdist the lines come from the controller, as workers report.
"""

from __future__ import annotations

import time

import pytest

_started: dict[str, float] = {}


def _is_notebook(nodeid: str) -> bool:
    return nodeid.split("::")[0].endswith(".ipynb")


@pytest.hookimpl(trylast=True)
def pytest_runtest_logstart(nodeid: str, location) -> None:
    if _is_notebook(nodeid) and nodeid not in _started:
        _started[nodeid] = time.time()
        _write(f"notebook {nodeid.split('::')[0]}: running")


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report) -> None:
    if _is_notebook(report.nodeid) and report.when == "call":
        seconds = report.duration
        _write(
            f"notebook {report.nodeid.split('::')[0]}: {report.outcome} in {seconds / 60:.1f} min"
        )


_config = None


def pytest_configure(config) -> None:
    global _config
    _config = config


def _write(line: str) -> None:
    """Through the terminal reporter, looked up when needed (it registers after this plugin configures)."""
    terminal = _config.pluginmanager.get_plugin("terminalreporter") if _config else None
    if terminal is not None:
        terminal.write_line(f"[{time.strftime('%H:%M:%S')}] {line}")
