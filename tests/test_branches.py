"""The profile-branch check (helpers.tools.branches): every conditional on `profile` or `cfg` in a notebook is
listed with its reason in notebooks/README.md, and the check finds branches in every form a cell writes."""

import json

from helpers.tools import branches

NOTEBOOK_V4 = {"metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_every_profile_branch_is_listed_and_every_listed_one_exists():
    found = {(b.notebook, b.condition) for b in branches.all_branches()}
    listed = branches.listed_branches()
    assert found - set(listed) == set(), "unlisted branches: list them in notebooks/README.md"
    assert set(listed) - found == set(), (
        "listed branches no notebook has: remove them from the list"
    )
    assert all(reason for reason in listed.values())


def test_the_check_sees_each_form_of_a_branch_and_ignores_the_rest(tmp_path):
    cell = {
        "cell_type": "code",
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": [
            "%matplotlib inline\n",
            "x = 1 if profile.is_tiny else 2\n",
            "if cfg.second_pair:\n    pass\n",
            "ys = [y for y in range(3) if y < cfg.rounds]\n",
            "while profile.quick and x:\n    x -= 1\n",
            "if 'google.colab' in sys.modules:\n    pass\n",  # the environment, not the profile
            "steps = cfg.steps  # a settings value: no branch\n",
        ],
    }
    (tmp_path / "n.ipynb").write_text(
        json.dumps(
            {
                "cells": [{"cell_type": "markdown", "metadata": {}, "source": []}, cell],
                **NOTEBOOK_V4,
            }
        )
    )
    found = [(b.cell, b.condition) for b in branches.notebook_branches(tmp_path / "n.ipynb")]
    assert sorted(found) == sorted(
        [
            (1, "profile.is_tiny"),
            (1, "cfg.second_pair"),
            (1, "y < cfg.rounds"),
            (1, "profile.quick and x"),
        ]
    )
