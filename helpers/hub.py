"""Hub datasets through one door: `load_dataset` reads a local copy when `COURSE_DATASETS` names a folder
holding the repo (`<folder>/<owner>/<name>/...`, in the hub repo's own layout), else the hub.

The datasets library cannot resolve a hub repo offline, so the stand-in hub (`make presets`) and a learner
with a local copy both come in here; every stage loads its hub data with this function.
"""

from __future__ import annotations

import os
from pathlib import Path


def local_copy(repo: str) -> Path | None:
    """The folder of a local copy of `repo`, if `COURSE_DATASETS` points at one that has it."""
    folder = os.environ.get("COURSE_DATASETS")
    if not folder:
        return None
    path = Path(folder) / repo
    if not path.is_dir():
        raise FileNotFoundError(
            f"COURSE_DATASETS={folder} has no copy of {repo} (expected the folder {path})"
        )
    return path


def load_dataset(
    repo: str,
    config: str | None = None,
    *,
    split: str,
    data_dir: str | None = None,
    streaming: bool = False,
):
    """`datasets.load_dataset(repo, config, split=..., data_dir=..., streaming=...)`, from a local copy where
    there is one. A config of a local copy is its subfolder (gsm8k's "main"), as `data_dir` is (hh-rlhf's
    "harmless-base"). `streaming=True` reads rows as they are iterated (only those rows are fetched)."""
    import datasets

    local = local_copy(repo)
    if local is None:
        return datasets.load_dataset(
            repo, config, split=split, data_dir=data_dir, streaming=streaming
        )
    return datasets.load_dataset(
        str(local), data_dir=data_dir or config, split=split, streaming=streaming
    )
