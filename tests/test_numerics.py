"""The pinned instruction level: `import helpers` sets it before torch loads, and says so when it came too late."""

import os
import subprocess
import sys

import pytest

from helpers import numerics

pytestmark = pytest.mark.skipif(
    not numerics.X86, reason="only x86-64 CPUs are pinned (ARM has no AVX2)"
)
UNPINNED = {
    k: v
    for k, v in os.environ.items()
    if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")
}


def python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code], env={**UNPINNED, **env}, capture_output=True, text=True
    )


def test_importing_helpers_first_pins_torch_mkl_and_onednn():
    code = "import helpers, os, torch; print(torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'], "
    done = python(code + "os.environ['ONEDNN_MAX_CPU_ISA'], os.environ['ATEN_CPU_CAPABILITY'])")
    assert done.stdout.split() == ["AVX2", "AVX2", "AVX2", "avx2"], done.stderr


def test_torch_at_another_level_is_named_when_helpers_comes_second():
    done = python("import torch, helpers", ATEN_CPU_CAPABILITY="default")
    assert (
        "runs its kernels at DEFAULT, not AVX2: this is not the course's tiny world" in done.stderr
    )


def test_a_world_build_refuses_to_run_unpinned(tmp_path):
    code = "import torch, helpers; from helpers.world import cache; cache.build_one('tokenizer')"
    done = python(code, ATEN_CPU_CAPABILITY="default", COURSE_CACHE=str(tmp_path))
    assert "torch runs its CPU kernels at DEFAULT, not AVX2" in done.stderr
