"""One instruction level for every CPU run, so the tiny world trains bit for bit alike on x86-64 CPUs.

PyTorch's own vectorised kernels (softmax, SiLU, norms, reductions, the optimizer step) take the widest
instruction set the CPU has, and AVX-512 and AVX2 give other low bits on the same inputs: the target
trained to loss 0.3580 at AVX-512 and 0.3674 at AVX2 on one machine. `pin()` asks PyTorch, MKL and oneDNN
for AVX2 (on every x86-64 CPU of the last decade); PyTorch reads its setting at its first CPU operation, so
`import helpers` calls it before any. CPUs without AVX2 (ARM, such as Apple Silicon, or an old x86) cannot be
pinned to it: there the world is another one, and figures agree only within a spread.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings

# PyTorch's ATEN_CPU_CAPABILITY; MKL's MKL_CBWR and oneDNN's ONEDNN_MAX_CPU_ISA take it in capitals
LEVEL = "avx2"
X86 = platform.machine().lower() in {"x86_64", "amd64", "x86-64"}


def pin() -> None:
    """Set the pinned level for this process and its children; on a CPU run, warn if torch already runs at
    another (a GPU run's figures come from the GPU, where the level does not matter)."""
    if not X86:
        return
    os.environ.setdefault("ATEN_CPU_CAPABILITY", LEVEL)
    os.environ.setdefault("MKL_CBWR", LEVEL.upper())
    # oneDNN's kernels (convolutions), the same cap
    os.environ.setdefault("ONEDNN_MAX_CPU_ISA", LEVEL.upper())
    # a CPU run
    if "torch" in sys.modules and not is_pinned() and not sys.modules["torch"].cuda.is_available():
        warnings.warn(
            f"torch ran a CPU operation before helpers was imported and runs its kernels at {level()}, not "
            f"{LEVEL.upper()}: this is not the course's tiny world (its cached models will not be found, and a "
            "build refuses to run). Restart the kernel and import helpers before torch does any work (or set "
            "ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 before starting Python).",
            stacklevel=2,
        )


def level() -> str:
    """The instruction level PyTorch's CPU kernels run at in this process (imports torch)."""
    import torch

    return torch.backends.cpu.get_cpu_capability()


def pinnable() -> bool:
    """Whether this CPU can run at the pinned level: x86-64 with AVX2 (torch falls back to DEFAULT without it)."""
    return X86 and not (
        level() == "DEFAULT" and os.environ.get("ATEN_CPU_CAPABILITY", "").lower() == LEVEL
    )


def is_pinned() -> bool:
    """True where torch runs at the pinned level, and on CPUs that cannot be pinned (nothing to do there)."""
    return not pinnable() or level() == LEVEL.upper()


def identity() -> dict[str, str]:
    """What a cache key records of the numerics: the kernels' level and MKL's reproducibility mode."""
    return {"cpu_capability": level(), "mkl_cbwr": os.environ.get("MKL_CBWR", "")}
