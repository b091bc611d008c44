"""The tiny world's model cache: one folder per model, keyed by what determines its weights.

A model's key hashes its recipe (hyperparameters and seeds), the version number of the code that trains
it (bumped by hand when that code changes), a hash of its exact training data, its parents' keys and
the library versions. So a docstring edit or a refactor rebuilds nothing, and a change to one model's
data or recipe rebuilds that model and its descendants only. Models are built on demand: resolving a
role builds just that model and what it needs; `build` runs independent models in parallel processes
of one thread each (a model built alone and one built beside another are bit-identical).

Bit-identity holds across x86-64 CPUs because every process runs PyTorch and MKL at one instruction
level (`helpers.numerics`, AVX2), which the key records; `tiny_world.json` holds the recorded digests that
`tests/test_world_digest.py` compares this machine's cache with. ARM CPUs agree only within a spread.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing import get_context
from pathlib import Path

from helpers import numerics

LIBRARIES = ("torch", "transformers", "tokenizers", "trl", "peft")


@dataclass(frozen=True)
class Recipe:
    """How one model of the world is made, and what its cache key covers."""

    name: str
    about: str  # one line: what the model is and which stage uses it
    version: int  # of the code that trains it: bump by hand when that code changes
    spec: dict  # hyperparameters and seeds
    parents: tuple[str, ...]  # what it is built from (the tokenizer, a base model, a teacher)
    # its exact training data (token ids or text rows), JSON-serialisable
    data: Callable[[], object]
    # trains it into a folder, returns its figures
    make: Callable[[Path], dict] = field(compare=False)
    # seconds on the machine that recorded tiny_world.json (two models at a time; the bench pair's
    # are older figures doubled), scaled by this machine's pace
    expected_s: float = 60.0


RECIPES: dict[str, Recipe] = {}
# modules that register recipes outside the world (tests); build processes import them
EXTRA_MODULES: list[str] = []
_keys: dict[str, str] = {}
_data_hashes: dict[str, str] = {}
_source_hash: str | None = None


def register(recipe: Recipe) -> Recipe:
    RECIPES[recipe.name] = recipe
    return recipe


def cores() -> int:
    """The cores this process may use: the build's default number of workers."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cache_root() -> Path:
    return Path(os.environ.get("COURSE_CACHE", Path.home() / ".cache" / "llm-course"))


def library_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in LIBRARIES}


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise KeyError(f"the tiny world has no model {name!r}; it has {sorted(RECIPES)}")
    return RECIPES[name]


def data_hash(name: str) -> str:
    """sha256 of the model's exact training data: computed once per source tree (the data of the world's
    biggest models takes ~30 s to make), then read back from a memo that any source edit invalidates."""
    if name not in _data_hashes:
        memo_key = _data_memo_key(name)
        memo = _read_data_memo()
        if memo_key not in memo:
            blob = json.dumps(recipe(name).data(), sort_keys=True, separators=(",", ":"))
            # read again: another process may have filed entries while this one made the data
            memo = {**_read_data_memo(), memo_key: hashlib.sha256(blob.encode()).hexdigest()}
            _write_data_memo(memo)
        _data_hashes[name] = memo[memo_key]
    return _data_hashes[name]


def source_hash() -> str:
    """sha256 of every Python file of the helpers package: what the training data is made by."""
    global _source_hash
    if _source_hash is None:
        package = Path(__file__).resolve().parents[1]
        digest = hashlib.sha256()
        for file in sorted(package.rglob("*.py")):
            digest.update(
                str(file.relative_to(package)).encode() + b"\0" + file.read_bytes() + b"\0"
            )
        _source_hash = digest.hexdigest()[:16]
    return _source_hash


def _data_memo_key(name: str) -> str:
    """What a model's data is made from besides the helpers source: its recipe, its data function (and that
    function's file where it lives outside helpers/, as the tests' recipes may), the world seed, its
    parents (the tokenizer that encodes it, a teacher), Python and the libraries."""
    from helpers.world import tiny

    r = recipe(name)
    made_by = f"{r.data.__module__}.{r.data.__qualname__}"
    file = Path(sys.modules[r.data.__module__].__file__).resolve()
    if Path(__file__).resolve().parents[1] not in file.parents:
        made_by += ":" + hashlib.sha256(file.read_bytes()).hexdigest()
    parents = {p: key(p) for p in r.parents}
    parts = [
        name,
        r.spec,
        made_by,
        tiny.WORLD_SEED,
        parents,
        list(sys.version_info[:2]),
        library_versions(),
    ]
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _data_memo_file() -> Path:
    return cache_root() / "data-hashes" / f"{source_hash()}.json"


def _read_data_memo() -> dict[str, str]:
    try:
        return json.loads(_data_memo_file().read_text())
    except (OSError, ValueError):
        return {}


def _write_data_memo(memo: dict[str, str]) -> None:
    """Atomic: concurrent processes may each write; a lost entry is only computed again."""
    file = _data_memo_file()
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f"{file.name}.{os.getpid()}")
    tmp.write_text(json.dumps(memo, indent=0, sort_keys=True))
    tmp.replace(file)


def key(name: str) -> str:
    """The model's cache key: recipe, code version, data hash, parents' keys, library versions."""
    if name not in _keys:
        r = recipe(name)
        parts = {
            "name": r.name,
            "version": r.version,
            "spec": r.spec,
            "data": data_hash(name),
            "parents": {p: key(p) for p in r.parents},
            "libraries": library_versions(),
            "numerics": numerics.identity(),
        }
        _keys[name] = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:12]
    return _keys[name]


def weights_digest(folder: Path) -> str:
    """sha256 of every tensor (file, name, dtype, shape, bytes) in a model folder, and of its tokenizer's
    vocabulary and merges (`tokenizer.json`): the model, bit for bit."""
    import torch
    from safetensors.torch import load_file

    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*.safetensors")):
        for name, tensor in sorted(load_file(file).items()):
            digest.update(
                f"{file.relative_to(folder)}:{name}:{tensor.dtype}:{tuple(tensor.shape)}".encode()
            )
            digest.update(tensor.reshape(-1).contiguous().view(torch.uint8).numpy().tobytes())
    for file in sorted(folder.rglob("tokenizer.json")):
        digest.update(f"{file.relative_to(folder)}:".encode() + file.read_bytes())
    return digest.hexdigest()[:16]


def path(name: str) -> Path:
    return cache_root() / "models" / f"{name}-{key(name)}"


def is_built(name: str) -> bool:
    return (path(name) / "info.json").exists()


def info(name: str) -> dict:
    return json.loads((ensure(name) / "info.json").read_text())


def needed(names: list[str]) -> list[str]:
    """The models to build so that `names` exist, parents first (already built ones left out)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for parent in recipe(name).parents:
            visit(parent)
        if not is_built(name):
            order.append(name)

    for name in names:
        visit(name)
    # a key's data may have built the tokenizer
    return [name for name in order if not is_built(name)]


HEARTBEAT_S = 30.0  # a building model says how far it has come at least this often
_steps = {"done": 0, "total": 0, "since": 0.0}


def step(done: int, total: int) -> None:
    """Training loops call this after each step, so that the build's heartbeat can count steps."""
    if done <= 1 or total != _steps["total"]:
        _steps.update(total=total, since=time.time())
    _steps["done"] = done


def _heartbeat(name: str, t0: float, stop: threading.Event) -> None:
    """Every HEARTBEAT_S until `stop`: steps done of total, elapsed, and time left (by the step rate while
    training, else by the recipe's estimate at this machine's pace)."""
    expected = pace() * recipe(name).expected_s
    while not stop.wait(HEARTBEAT_S):
        now, done, total = time.time(), _steps["done"], _steps["total"]
        elapsed = now - t0
        if total and 0 < done < total:
            left = (total - done) * (now - _steps["since"]) / done
            line = f"step {done}/{total}, {_minutes(elapsed)} elapsed, ~{_minutes(left)} left in training"
        else:
            phase = "training done, evaluating" if total and done >= total else "preparing"
            left = (
                f"~{_minutes(expected - elapsed)} left by the estimate"
                if expected > elapsed
                else "past the estimate"
            )
            line = f"{phase}, {_minutes(elapsed)} elapsed, {left}"
        print(f"    {name}: {line}", flush=True)


def build_one(name: str) -> dict:
    """Train one model whose parents are built; writes its folder atomically and returns its info."""
    import torch

    if not numerics.is_pinned():
        raise RuntimeError(
            f"torch runs its CPU kernels at {numerics.level()}, not {numerics.LEVEL.upper()}: import helpers "
            "before torch (or run through make) so that the world is built at the pinned level"
        )
    r = recipe(name)
    # one thread: deterministic, and fastest for tiny models
    torch.set_num_threads(r.spec.get("threads", 1))
    out = path(name)
    # concurrent builds never share a folder
    tmp = out.with_name(f"{out.name}.partial-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.time()
    _steps.update(done=0, total=0)
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(name, t0, stop), daemon=True).start()
    try:
        figures = r.make(tmp)
    finally:
        stop.set()
    about = {
        "name": name,
        "key": key(name),
        "version": r.version,
        "spec": r.spec,
        "data_sha256": data_hash(name),
    }
    figures = {
        **about,
        **figures,
        "parents": {p: key(p) for p in r.parents},
        "build_s": round(time.time() - t0, 1),
    }
    (tmp / "info.json").write_text(json.dumps(figures, indent=2))
    try:
        tmp.rename(out)  # atomic: a model folder is complete or absent
    except OSError:  # another process built the same key first; keep theirs
        shutil.rmtree(tmp)
    return figures


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s"


_PACE_MIN_S = 10.0
# this machine's pace from a calibration run, where its cache has no timed build
_calibrated: dict[str, float] = {}


def calibrate() -> float:
    """This machine's pace before it has built anything: a few training steps of a target-shaped model, over
    the seconds they took where the recipes' times were recorded. A build calls it once on an empty cache."""
    from helpers.world import tiny

    _calibrated["pace"] = tiny.calibration_step_s() / tiny.CALIBRATION_STEP_S
    return _calibrated["pace"]


def measured_pace() -> float | None:
    """This machine's build time over the recipes' `expected_s`, from every model its cache holds (None when
    it holds none). Builds expected under `_PACE_MIN_S` (the tokenizer's 2 s) are too short to time."""
    spent = expected = 0.0
    for file in (cache_root() / "models").glob("*/info.json"):
        built = json.loads(file.read_text())
        timed = built.get("name") in RECIPES and RECIPES[built["name"]].expected_s >= _PACE_MIN_S
        if timed and built.get("build_s"):
            spent, expected = spent + built["build_s"], expected + RECIPES[built["name"]].expected_s
    return spent / expected if expected else None


def pace() -> float:
    """How many times the recorded build times this machine takes: measured from its cache, else from the
    calibration, else 1. Machines of one kind differ several-fold, so estimates scale by it."""
    measured = measured_pace()
    return measured if measured is not None else _calibrated.get("pace", 1.0)


def know_pace(todo: list[str]) -> None:
    """Calibrate once where the cache holds no timed build, so that a fresh machine's first estimate is its own
    (not for builds too short to time, such as the tokenizer's)."""
    long = any(recipe(n).expected_s >= _PACE_MIN_S for n in todo)
    if long and measured_pace() is None and "pace" not in _calibrated:
        calibrate()


def estimate(names: list[str], workers: int = 1) -> float:
    """Seconds to build `names` on this machine, `workers` at a time, scheduled as `build` does (longest ready
    first, a model after its parents): the target alone bounds the demo's two, however many workers."""
    finish: dict[str, float] = {}  # simulated end time of each model placed so far
    free, pending = [0.0] * max(1, workers), list(names)
    while pending:
        ready = [n for n in pending if all(p not in pending for p in recipe(n).parents)]
        name = max(ready or pending, key=lambda n: recipe(n).expected_s)
        pending.remove(name)
        slot = min(range(len(free)), key=free.__getitem__)
        start = max([free[slot], *(finish[p] for p in recipe(name).parents if p in finish)])
        free[slot] = finish[name] = start + pace() * recipe(name).expected_s
    return max(free)


def _start_line(name: str, i: int, total: int, left_s: float) -> str:
    r, p = recipe(name), pace()
    needs = f"; from {', '.join(r.parents)}" if r.parents else ""
    at = f", {p:.1f}x the recorded times at this machine's pace so far" if abs(p - 1) > 0.1 else ""
    return (
        f"[{i}/{total}] building {name}: {r.about}{needs} (expect ~{_minutes(p * r.expected_s)}; "
        f"all {total - i + 1} left ~{_minutes(left_s)}{at})"
    )


def _child_build(name: str, extra_modules: list[str], calibrated: float | None = None) -> dict:
    """Entry point of a build process: import the whole world (its recipes), then build one model (its
    heartbeat at the parent's calibrated pace, where the cache has no timed build yet)."""
    import importlib

    import datasets
    from transformers.utils import logging as hf_logging

    from helpers.world import load_all

    # one line per model from the parent, no bars from the children
    os.environ["COURSE_PROGRESS"] = "0"
    hf_logging.disable_progress_bar()
    # TRL's dataset preparation (the judges) would print a bar per step
    datasets.disable_progress_bars()
    load_all()
    for module in extra_modules:
        importlib.import_module(module)
    if calibrated is not None:
        _calibrated["pace"] = calibrated
    return build_one(name)


def build(names: list[str], workers: int = 2, log=print) -> list[str]:
    """Build what `names` need: independent models in `workers` processes of one thread each, a model
    as soon as its parents are done. Prints one line per model. Returns the names built."""
    todo = needed(names)
    if not todo:
        return []
    t0, total, started = time.time(), len(todo), 0
    if workers <= 1 or len(todo) == 1:
        for name in todo:
            started += 1
            log(_start_line(name, started, total, estimate(todo[started - 1 :])))
            built = build_one(name)
            log(
                f"[{started}/{total}] {name} built in {_minutes(built['build_s'])} (elapsed {_minutes(time.time() - t0)})"
            )
        return todo
    pending, running = list(todo), {}
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        while pending or running:
            ready = [
                n
                for n in pending
                if all(p not in pending and p not in running.values() for p in recipe(n).parents)
            ]
            # longest first: two workers then finish together
            ready.sort(key=lambda n: -recipe(n).expected_s)
            for name in ready[: workers - len(running)]:
                pending.remove(name)
                started += 1
                log(
                    _start_line(
                        name, started, total, estimate(pending + [name, *running.values()], workers)
                    )
                )
                running[pool.submit(_child_build, name, EXTRA_MODULES, _calibrated.get("pace"))] = (
                    name
                )
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                built = future.result()
                log(
                    f"  {name} built in {_minutes(built['build_s'])} (elapsed {_minutes(time.time() - t0)}, "
                    f"{len(pending) + len(running)} left)"
                )
    return todo


def ensure(name: str) -> Path:
    """The folder of a built model, building it (and what it needs) first if the cache lacks it."""
    if not is_built(name):
        if os.environ.get(
            "COURSE_NO_BUILD"
        ):  # `make unit`: a test that needs the world is marked `world`
            raise RuntimeError(
                f"tiny world: {name} is not in the cache {cache_root()} and COURSE_NO_BUILD is set; "
                "a test that needs the world's models is marked `world` (tests/conftest.py)"
            )
        todo = needed([name])
        know_pace(todo)
        print(
            f"tiny world: {name} is not in the cache {cache_root()}; building {', '.join(todo)} "
            f"(~{_minutes(estimate(todo))}, once)",
            file=sys.stderr,
        )
        build([name], workers=1, log=lambda line: print(line, file=sys.stderr))
    return path(name)
