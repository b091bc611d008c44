"""Starting and stopping the deployment's processes: one inference engine per served model, and the gateway.

Every process listens on 127.0.0.1, is waited for on its health endpoint with a timeout (a clear error with
the tail of its log if it dies or never answers), dies with the notebook's kernel (Linux `PR_SET_PDEATHSIG`)
and is stopped at exit: no process outlives the run that started it. An engine on a CPU gets the notebook's
thread count (`engine_env`), and each engine answers one short request before any is timed (`warm_up`).
Engines: `vllm serve` on a GPU (continuous batching, PagedAttention, a Prometheus `/metrics`), and
`transformers serve` where vLLM cannot run (a CPU, a card it does not support): both speak the OpenAI API.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from helpers.gateway import Arm

_RUNNING: list[Server] = []
VLLM_ENV = Path("/content/vllm-env")  # on Colab vLLM goes into its own venv: it pins its own torch


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child before exec
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Server:
    """A server subprocess: `start()` returns once `health_url` answers 200; `stop()` ends it."""

    def __init__(self, name: str, argv: list[str], health_url: str, log_path: Path, env=None):
        self.name, self.argv, self.health_url, self.log_path = name, argv, health_url, log_path
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120) -> Server:
        return self.launch().wait_healthy(timeout_s)

    def launch(self) -> Server:
        """Start the process without waiting for it."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "w") as log:  # the child keeps its own handle
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                preexec_fn=_die_with_parent,
            )
        _RUNNING.append(self)
        return self

    def wait_healthy(self, timeout_s: float) -> Server:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            if healthy(self.health_url):
                return self
            time.sleep(0.5)
        self.stop()
        raise TimeoutError(f"{self.name} not healthy after {timeout_s:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, grace_s: float = 10) -> None:
        """SIGTERM, then SIGKILL after `grace_s`."""
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in _RUNNING:
            _RUNNING.remove(self)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@atexit.register
def stop_all() -> None:
    """Stop every server this process started (also run at exit)."""
    for server in list(_RUNNING):
        server.stop()


# ---------------------------------------------------------------- engines
def vllm_ready() -> bool:
    """Whether vLLM can run here: an NVIDIA GPU and a `vllm` command (in PATH or in its Colab venv)."""
    import torch

    return torch.cuda.is_available() and _vllm_binary() is not None


def _vllm_binary() -> str | None:
    local = VLLM_ENV / "bin" / "vllm"
    return str(local) if local.exists() else shutil.which("vllm")


def install_vllm() -> None:
    """On Colab: vLLM into its own venv, so the kernel's torch is untouched (several minutes; not timed here)."""
    subprocess.run([sys.executable, "-m", "venv", str(VLLM_ENV)], check=True)
    subprocess.run([str(VLLM_ENV / "bin" / "pip"), "install", "-q", "vllm"], check=True)


def engine_command(engine: str, folder: str, port: int, device: str, dtype: str) -> list[str]:
    """The command that serves the model in `folder` on 127.0.0.1:`port`."""
    if engine == "vllm":
        return [
            _vllm_binary() or "vllm",
            "serve",
            folder,
            "--host=127.0.0.1",
            f"--port={port}",
            f"--dtype={dtype}",
            "--gpu-memory-utilization=0.35",  # two engines share the card
        ]
    cli = Path(sys.executable).parent / "transformers"
    start = [str(cli)] if cli.exists() else [sys.executable, "-m", "transformers.cli.transformers"]
    return [
        *start,
        "serve",
        folder,
        "--host=127.0.0.1",
        f"--port={port}",
        f"--device={device}",
        f"--dtype={dtype}",
    ]


def engine_env(device: str) -> dict[str, str]:
    """An engine's environment: on a CPU, this process's torch thread count. Left alone, a second process
    takes one thread per core and fights the notebook and the other engine for the same cores (measured on
    a shared 2-core machine: each reply token about 5x slower, varying with what else runs)."""
    if device != "cpu":
        return {}
    import torch

    return {"OMP_NUM_THREADS": str(torch.get_num_threads())}


def warm_up(arms: dict[str, Arm], max_tokens: int = 4) -> None:
    """One short chat request to each engine, straight to it (the gateway logs nothing): a first request's
    one-off costs (memory, kernels; on a GPU compiled graphs) land here, not in an arm's timings."""
    for arm in arms.values():
        body = {
            "model": arm.model,
            "messages": [{"role": "user", "content": "hello"}],
            "max_tokens": max_tokens,
        }
        req = urllib.request.Request(
            f"{arm.upstream}/chat/completions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=300) as r:
            r.read()


def choose_engine(preferred: str, dtype: str = "auto") -> str:
    """`preferred` where it can run; else `transformers`, saying why and what would have run."""
    import torch

    if preferred == "vllm" and "google.colab" in sys.modules and torch.cuda.is_available():
        if _vllm_binary() is None:
            print("installing vLLM into its own venv (several minutes on Colab; not timed here)")
            install_vllm()
    if preferred == "vllm" and not vllm_ready():
        why = "no NVIDIA GPU here" if not torch.cuda.is_available() else "no `vllm` command here"
        print(
            f"vLLM cannot run ({why}): would run  {' '.join(engine_command('vllm', 'MODEL', 8001, 'cuda', dtype))}"
        )
        print(
            "falling back to `transformers serve` (same OpenAI API, no continuous batching by default)"
        )
        return "transformers"
    return preferred


def start_engines(
    folders: dict[str, str],
    engine: str,
    device: str,
    dtype: str,
    logs: Path,
    timeout_s: float = 600,
) -> tuple[dict[str, Arm], str]:
    """One engine per served model, started together, waited for and warmed up (`warm_up`); (the gateway's
    arms, the engine used). If vLLM fails to come up (a card it does not support, say), says why and falls
    back to `transformers serve`."""
    try:
        return _start(folders, engine, device, dtype, logs, timeout_s), engine
    except (OSError, RuntimeError, TimeoutError) as err:
        if engine != "vllm":
            raise
        print(f"vLLM did not start, so the engines fall back to `transformers serve`:\n{err}")
        return _start(folders, "transformers", device, dtype, logs, timeout_s), "transformers"


def _start(folders, engine, device, dtype, logs, timeout_s) -> dict[str, Arm]:
    servers, arms = [], {}
    for name, folder in folders.items():
        port = free_port()
        argv = engine_command(engine, folder, port, device, dtype)
        health = f"http://127.0.0.1:{port}/health"
        log, env = logs / f"engine-{name}.log", engine_env(device)
        servers.append(Server(f"{engine} engine '{name}'", argv, health, log, env))
        arms[name] = Arm(upstream=f"http://127.0.0.1:{port}/v1", model=folder)
    try:
        for s in servers:
            s.launch()
        for s in servers:
            s.wait_healthy(timeout_s)
        warm_up(arms)
    except BaseException:
        for s in servers:
            s.stop()
        raise
    return arms


def start_gateway(
    arms: dict[str, Arm],
    db: Path,
    tokenizer: str,
    context_tokens: int,
    logs: Path,
    timeout_s: float = 120,
) -> tuple[Server, str]:
    """The gateway in front of `arms`; returns it and its OpenAI base URL."""
    port = free_port()
    config = logs / "gateway.json"
    config.parent.mkdir(parents=True, exist_ok=True)
    arms_json = {name: {"upstream": a.upstream, "model": a.model} for name, a in arms.items()}
    config.write_text(
        json.dumps(
            {
                "arms": arms_json,
                "db": str(db),
                "tokenizer": tokenizer,
                "context_tokens": context_tokens,
            }
        )
    )
    argv = [sys.executable, "-m", "helpers.gateway", "--config", str(config), "--port", str(port)]
    root = str(
        Path(__file__).resolve().parent.parent
    )  # the helpers package, on Colab not installed
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    server = Server("gateway", argv, f"http://127.0.0.1:{port}/health", logs / "gateway.log", env)
    return server.start(timeout_s), f"http://127.0.0.1:{port}/v1"


def save_model(model, tok, folder: Path) -> str:
    """Write a model and its tokenizer where an engine can load them; returns the folder as a string."""
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


def dtype_name(dtype) -> str:
    """`torch.float16` -> "float16", the engines' --dtype spelling."""
    return str(dtype).removeprefix("torch.")
