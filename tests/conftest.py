"""Every test runs in the offline tiny profile, on one thread."""

import os

os.environ["COURSE_PROFILE"] = "tiny"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def world():
    """The cached tiny world (built once by `python -m helpers.tiny build`)."""
    from helpers import tiny

    return tiny.build(verbose=False)


@pytest.fixture(scope="session")
def tok(world):
    from helpers import tiny

    return tiny.load_tokenizer()


@pytest.fixture(scope="session")
def target(world):
    from helpers import tiny

    return tiny.load_model("target")


@pytest.fixture(scope="session")
def draft(world):
    from helpers import tiny

    return tiny.load_model("draft")
