"""Batched chat generation with `model.generate`, shared by every stage.

Prompts are rendered with the tokenizer's chat template and left-padded (decoder-only models continue
from the last position, so padding must sit on the left). `generate_to_jsonl` checkpoints long runs to a
JSONL file (on Colab, point it at Google Drive) so that a disconnect loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from tqdm.auto import tqdm

from helpers.checkpoints import digest


def chat_prompt_ids(tok, user_text: str, reply_prefix: str = "") -> list[int]:
    """Token ids of a one-turn chat prompt, ending where the assistant starts to answer (after
    `reply_prefix`, the start of the reply written for it: "Input:" makes a chat model use the label). A
    tokenizer that puts BOS in front of every text (Llama's, TinyLlama's) gets it here too."""
    if not user_text or not user_text.strip():
        raise ValueError("empty prompt: give the model something to answer")
    messages = [{"role": "user", "content": user_text}]
    enc = tok.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=True
    )
    ids = list(enc["input_ids"])
    bos = tok.bos_token_id
    if bos is not None and ids[:1] != [bos] and tok("a")["input_ids"][:1] == [bos]:
        ids = [bos] + ids
    return ids + (tok(reply_prefix, add_special_tokens=False)["input_ids"] if reply_prefix else [])


def stop_ids(tok) -> list[int]:
    """Token ids that end a reply: EOS, and the chat template's end-of-turn token where it is another one
    (Qwen2.5 base models stop at <|endoftext|> but their template ends turns with <|im_end|>)."""
    ids = [tok.eos_token_id]
    if tok.chat_template:
        mark = "Zq9"
        text = tok.apply_chat_template(
            [{"role": "user", "content": "a"}, {"role": "assistant", "content": mark}],
            tokenize=False,
        )
        after = tok(text[text.rindex(mark) + len(mark) :], add_special_tokens=False)["input_ids"]
        special = set(tok.all_special_ids) | {
            i for i, t in tok.added_tokens_decoder.items() if t.special
        }
        ids += [i for i in after[:2] if i in special][:1]
    return list(dict.fromkeys(i for i in ids if i is not None))


def left_pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Left-pad id lists into (input_ids, attention_mask)."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r) :] = torch.tensor(r)
        mask[i, width - len(r) :] = 1
    return ids, mask


@torch.no_grad()
def chat_generate(
    model,
    tok,
    prompts: list[str],
    *,
    max_new_tokens: int = 64,
    batch_size: int = 64,
    progress: bool = False,
    return_finished: bool = False,
    reply_prefixes: list[str] | None = None,
    **sampling,
) -> list[str] | tuple[list[str], list[bool]]:
    """Answer each user prompt; greedy unless sampling arguments (do_sample, temperature...) are given.
    With `return_finished`, also say which answers ended with end-of-turn rather than the token limit.
    `reply_prefixes`: the start of each reply, written for the model (the answers do not repeat it)."""
    model.eval()
    sampling.setdefault("do_sample", False)
    answers: list[str] = []
    finished: list[bool] = []
    stops = stop_ids(tok)
    batches = range(0, len(prompts), batch_size)
    for start in tqdm(batches, desc="generate", disable=not progress):
        prefixes = (reply_prefixes or [""] * len(prompts))[start : start + batch_size]
        rows = [
            chat_prompt_ids(tok, p, x)
            for p, x in zip(prompts[start : start + batch_size], prefixes)
        ]
        ids, mask = left_pad(rows, tok.pad_token_id)
        out = model.generate(
            input_ids=ids.to(model.device),
            attention_mask=mask.to(model.device),
            max_new_tokens=max_new_tokens,
            pad_token_id=tok.pad_token_id,
            eos_token_id=stops,
            **sampling,
        )
        new = out[:, ids.shape[1] :]
        answers += tok.batch_decode(new, skip_special_tokens=True)
        finished += torch.isin(new, torch.tensor(stops, device=new.device)).any(dim=1).tolist()
    answers = [a.strip() for a in answers]
    return (answers, finished) if return_finished else answers


# ---------------------------------------------------------------- crash-safe JSONL checkpoints
def jsonl_lines(path: str | Path):
    """(line number, record) for each non-blank line of a JSONL file, strictly: a malformed line is an
    error naming the file and the line."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{path}:{lineno}: not valid JSON ({err.msg}). If this is the last line, a run was killed "
                    "while writing it: delete that line and rerun to resume."
                ) from None
            if not isinstance(record, dict):
                raise ValueError(
                    f"{path}:{lineno}: expected a JSON object, got {type(record).__name__}"
                )
            yield lineno, record


def read_jsonl(path: str | Path) -> list[dict]:
    """Every record of a JSONL file (none if it does not exist yet); see `jsonl_lines`."""
    return [record for _, record in jsonl_lines(path)] if Path(path).exists() else []


def append_jsonl(path: str | Path, records: list[dict]) -> None:
    """Append records, one line each, flushed and fsynced: a crash loses at most the line being written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
        os.fsync(f.fileno())


def batch_seed(seed: int, first_id: str) -> int:
    """The random seed of one batch, from the run's seed and the batch's first id (stable across resumes)."""
    return int(hashlib.sha256(f"{seed}:{first_id}".encode()).hexdigest()[:15], 16)


def model_fingerprint(model) -> str:
    """A short hash of a model's weights: every tensor's name, shape, dtype and 256 evenly spaced values.
    Training (full or LoRA) moves the sampled values, so a record made by another model is never reused."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        flat = t.detach().reshape(-1)
        sample = flat[:: max(1, flat.numel() // 256)][:256].to("cpu", torch.float32)
        h.update(f"{name}{tuple(t.shape)}{t.dtype}".encode() + sample.numpy().tobytes())
    return h.hexdigest()[:16]


def _batch_fingerprints(
    batches: list[list[dict]], prompt_ids: dict, model_fp: str, settings_fp: str
) -> list[dict]:
    """Per batch: what its records depend on. A sampled output depends on every prompt of its batch (they
    share the random stream and the padding), so a batch's key covers all of them."""
    return [
        {
            "model": model_fp,
            "settings": settings_fp,
            "batch": digest(
                [model_fp, settings_fp, [(item["id"], prompt_ids[item["id"]]) for item in b]]
            ),
        }
        for b in batches
    ]


def _batch_key(record: dict) -> str | None:
    return (record.get("fingerprint") or {}).get("batch")


def _stale_reasons(old: list[dict], new: dict) -> set[str]:
    """Why records found under a batch's ids were not made by this batch."""
    reasons = set()
    for record in old:
        fp = record.get("fingerprint") or {}
        if not fp:
            reasons.add("no fingerprint (an older file)")
        elif fp.get("model") != new["model"]:
            reasons.add("another model")
        elif fp.get("settings") != new["settings"]:
            reasons.add("other sampling settings")
        else:
            reasons.add("another prompt in the batch")
    return reasons


def generate_to_jsonl(
    path: str | Path,
    items: list[dict],
    model,
    tok,
    *,
    seed: int = 0,
    batch_size: int = 16,
    max_new_tokens: int = 64,
    progress: bool = False,
    desc: str = "generate",
    **sampling,
) -> list[dict]:
    """Answer each item's "prompt" (after its "reply_prefix", if any); append {**item, "output", "finished",
    "fingerprint"} to `path`, resumably.

    Items need a unique "id". Batches are fixed by position and each is sampled from its own seed, so a
    rerun skips finished batches and regenerates an unfinished one with the same random numbers: an
    interrupted-then-resumed run writes the same records as an uninterrupted one. A record is reused only if
    its fingerprint (the model's weights, the sampling settings and every rendered prompt of its batch)
    matches; otherwise the batch is generated again and says why, so a changed prompt, model or setting
    never gets an old output back. Returns records in item order."""
    ids = [item["id"] for item in items]
    if len(set(ids)) != len(ids):
        raise ValueError("generate_to_jsonl: item ids must be unique")
    found: dict[tuple, dict] = {}  # (id, batch key) -> record
    for lineno, record in enumerate(read_jsonl(path), 1):
        key = (record.get("id"), _batch_key(record))
        if key[0] is None or key in found:
            raise ValueError(
                f"{path}:{lineno}: record without an id, or a duplicate id {record.get('id')!r}"
            )
        found[key] = record
    settings = {
        "seed": seed,
        "batch_size": batch_size,
        "max_new_tokens": max_new_tokens,
        **sampling,
    }
    prompt_ids = {
        item["id"]: chat_prompt_ids(tok, item["prompt"], item.get("reply_prefix", ""))
        for item in items
    }
    batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    keys = _batch_fingerprints(batches, prompt_ids, model_fingerprint(model), digest(settings))
    done = {
        i["id"]: found[i["id"], k["batch"]]
        for b, k in zip(batches, keys)
        for i in b
        if (i["id"], k["batch"]) in found
    }
    by_id: dict[str, list[dict]] = {}
    for (i, _), record in found.items():
        by_id.setdefault(i, []).append(record)
    todo = [(b, k) for b, k in zip(batches, keys) if any(item["id"] not in done for item in b)]
    why = set()
    for b, k in todo:
        why |= _stale_reasons(
            [r for i in b for r in by_id.get(i["id"], []) if _batch_key(r) != k["batch"]], k
        )
    if why:
        print(f"{Path(path).name}: regenerating records made with {', '.join(sorted(why))}")
    for batch, key in tqdm(todo, desc=desc, disable=not progress):
        torch.manual_seed(batch_seed(seed, batch[0]["id"]))
        outputs, finished = chat_generate(
            model,
            tok,
            [item["prompt"] for item in batch],
            max_new_tokens=max_new_tokens,
            batch_size=batch_size,
            return_finished=True,
            reply_prefixes=[item.get("reply_prefix", "") for item in batch],
            **sampling,
        )
        new = [
            {**item, "output": out, "finished": fin, "fingerprint": key}
            for item, out, fin in zip(batch, outputs, finished)
            if item["id"] not in done
        ]
        append_jsonl(path, new)
        done.update((r["id"], r) for r in new)
    return [done[i] for i in ids]
