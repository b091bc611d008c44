"""Run identity and resumable checkpoints: what a run's weights depend on (a key of digests: the model it
starts from, its data, its settings), and resuming only a checkpoint made under the same key.

Two writers share it: TRL/transformers' `Trainer` (checkpoint folders beside a run.json holding the key,
`training.train_resumable`) and stage 13's hand-written loop (one state file holding the key,
`llava_train.train`). A checkpoint of another run is never resumed; the message says which part differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from helpers.vlm_data import Example


def other_run(old: dict | None, key: dict) -> str | None:
    """None when a checkpoint's key is this run's, else why not ("another data, another settings")."""
    if old == key:
        return None
    if old is None:
        return "no run.json"
    return ", ".join(f"another {k}" for k in key if old.get(k) != key[k])


# ---------------------------------------------------------------- the key
def digest(value) -> str:
    """A short, stable hash of a JSON-able value (anything else by its str)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


# where and how it reports
_NOT_THE_RUN = ("output_dir", "logging_dir", "disable_tqdm", "save_total_limit")


def canonical(value):
    """A value made stable across processes for hashing: sets sorted (PEFT turns "all-linear" into a set of
    module names, and a set's order changes with each interpreter's string hashing)."""
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (set, frozenset)):
        return sorted(canonical(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


# where the base lives, not what it is
_NOT_THE_ADAPTER = ("base_model_name_or_path", "peft_version", "revision")


def run_key(trainer, base: str, rows: list[dict]) -> dict:
    """What a run's weights depend on: the base model's weights, the training rows and every setting
    (the output folder and progress display aside). A checkpoint is resumed only under the same key."""
    settings = {k: v for k, v in trainer.args.to_dict().items() if k not in _NOT_THE_RUN}
    peft = {
        name: {k: v for k, v in cfg.to_dict().items() if k not in _NOT_THE_ADAPTER}
        for name, cfg in getattr(trainer.model, "peft_config", {}).items()
    }
    return {"model": base, "data": digest(rows), "settings": digest(canonical([settings, peft]))}


def loop_run_key(model, examples: list[Example], settings) -> dict:
    """What a run's weights depend on: the frozen weights it starts from, which parameters train (the stage),
    every example it may draw (image bytes, question, target) and the settings. The trainable weights' random
    start is left out: a rerun draws it anew, and a resumed run takes them from the checkpoint."""
    frozen = hashlib.sha256()
    for name, t in model.named_parameters():
        flat = t.detach().reshape(-1)
        frozen.update(name.encode() + str(tuple(t.shape)).encode())
        if not t.requires_grad:
            frozen.update(
                flat[:: max(1, flat.numel() // 256)][:256]
                .to("cpu", torch.float32)
                .numpy()
                .tobytes()
            )
    data = hashlib.sha256()
    for e in examples:
        data.update(f"{e.question}\0{e.target}\0".encode() + e.image.tobytes())
    trainable = [n for n, t in model.named_parameters() if t.requires_grad]
    return {
        "model": frozen.hexdigest()[:16],
        "data": data.hexdigest()[:16],
        "settings": digest([repr(settings), trainable]),
    }


# ---------------------------------------------------------------- Trainer checkpoints (folders)
def _complete(ckpt: Path) -> bool:
    """A checkpoint the trainer finished writing (it writes trainer_state.json last)."""
    return (ckpt / "trainer_state.json").exists()


def last_checkpoint(out: Path, key: dict) -> str | None:
    """The newest complete checkpoint in `out` made under `key`. Checkpoints of another run, of an unknown
    run (no run.json) and half-written ones (a reset during a save) are deleted, and the call says why."""
    stamp, found = (
        out / "run.json",
        sorted(out.glob("checkpoint-*"), key=lambda c: int(c.name.split("-")[-1])),
    )
    why = other_run(json.loads(stamp.read_text()) if stamp.exists() else None, key)
    for ckpt in found:
        if why or not _complete(ckpt):
            print(
                f"{ckpt}: {'a half-written checkpoint' if not why else 'a checkpoint of another run (' + why + ')'}; deleted"
            )
            shutil.rmtree(ckpt)
    out.mkdir(parents=True, exist_ok=True)
    stamp.write_text(json.dumps(key))
    done = [c for c in found if c.exists()]
    return str(done[-1]) if done else None


# ---------------------------------------------------------------- the hand-written loop (one file)
def save_loop(
    path, key: dict, model, opt, rng: random.Random, losses: list[float], scaler=None
) -> None:
    """Trainable weights, optimizer, loss scale (fp16), random states and losses, written atomically (a reset
    mid-write leaves the previous checkpoint)."""
    state = {
        "key": key,
        "losses": losses,
        "optimizer": opt.state_dict(),
        "rng": rng.getstate(),
        "scaler": scaler.state_dict() if scaler is not None else {},
        "torch_rng": torch.get_rng_state(),
        "trainable": {n: p.detach().cpu() for n, p in model.named_parameters() if p.requires_grad},
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, f"{path}.tmp")
    os.replace(f"{path}.tmp", path)


def resume_loop(path, key: dict, model, opt, rng: random.Random, scaler=None) -> list[float]:
    """Load this run's checkpoint into model, optimizer and random states; returns the losses so far
    (none, with a word on why, when the file is missing or belongs to another run)."""
    if not Path(path).exists():
        return []
    state = torch.load(path, weights_only=False)
    why = other_run(state["key"], key)
    if why:
        print(f"{path}: a checkpoint of another run ({why}): training from step 0")
        return []
    params = dict(model.named_parameters())
    with torch.no_grad():
        for n, t in state["trainable"].items():
            params[n].copy_(t)
    opt.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    rng.setstate(state["rng"])
    torch.set_rng_state(state["torch_rng"])
    print(f"{path}: step {len(state['losses'])}, resuming")
    return state["losses"]
