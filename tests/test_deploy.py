"""The served path end to end: two `transformers serve` engines behind the gateway, spoken to with `openai`.

A random two-layer model with the world's tokenizer stands in for the trained ones (what is served does
not matter here, only that the path holds): streamed replies equal in-process greedy `generate`, bad input
gets clear errors and loses nothing, feedback lands in SQLite, and no process outlives its test.
"""

import signal
import subprocess
import sys
import textwrap
import time
import urllib.error

import openai
import pytest
import torch

from helpers import abtest, client, deploy, feedback, serving

pytestmark = pytest.mark.subprocess
CONTEXT = 256


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    from helpers.world import tiny

    tok = tiny.load_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=CONTEXT,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
    )
    out = tmp_path_factory.mktemp("served") / "model"
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


@pytest.fixture(scope="module")
def deployment(folder, tmp_path_factory):
    logs = tmp_path_factory.mktemp("logs")
    arms, _ = deploy.start_engines(
        {"a": folder, "b": folder}, "transformers", "cpu", "float32", logs
    )
    gateway, url = deploy.start_gateway(arms, logs / "feedback.db", folder, CONTEXT, logs)
    servers = list(deploy._RUNNING)
    yield {"url": url, "db": logs / "feedback.db", "arms": arms}
    deploy.stop_all()
    assert servers and not any(s.alive() for s in servers), "a server outlived the test"


def test_stream_equals_in_process_greedy(deployment, folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = (
        AutoModelForCausalLM.from_pretrained(folder).eval(),
        AutoTokenizer.from_pretrained(folder),
    )
    api = client.openai_client(deployment["url"])
    for prompt in ["What does Sam's cat eat?", "How can I fix Mia's box?"]:
        r = client.stream_chat(api, prompt, model="a", max_tokens=12)
        direct = serving.direct_reply(model, tok, [{"role": "user", "content": prompt}], 12)
        assert len(r["chunks"]) > 1 and r["arm"] == "a"
        # a reply cut at max_tokens may end inside a UTF-8 character: the streamer holds those bytes back
        assert r["text"] == direct.rstrip("\ufffd").strip()


def test_gradio_chat_streams_from_the_api(deployment, folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model, tok = (
        AutoModelForCausalLM.from_pretrained(folder).eval(),
        AutoTokenizer.from_pretrained(folder),
    )
    demo = serving.chat_demo(deployment["url"], model="a", max_new_tokens=10)
    url = serving.launch_local(demo)
    try:
        assert url.startswith("http://127.0.0.1:")
        chunks = serving.query_streaming(url, "Count from 3 to 7.")
    finally:
        demo.close(verbose=False)
    direct = serving.direct_reply(
        model, tok, [{"role": "user", "content": "Count from 3 to 7."}], 10
    )
    assert len(chunks) > 1 and all(b.startswith(a) for a, b in zip(chunks, chunks[1:]))
    assert chunks[-1] == direct.rstrip("\ufffd").strip()


def test_bad_input_gets_a_clear_error(deployment):
    url = deployment["url"]

    def status(body: str) -> tuple[int, str]:
        return client.post_raw(url, "/chat/completions", body.encode())

    msg = '{"model": "a", "messages": [{"role": "user", "content": "%s"}], "max_tokens": 8}'
    code, text = status(msg % "   ")
    assert code == 400 and "empty message" in text
    code, text = status(msg % ("hello " * 400))
    assert code == 400 and "exceeds the model's context of 256 tokens" in text
    code, text = status('{"model": "a", "messages": "hello"}')
    assert code == 400 and text.startswith("malformed request: body.messages")
    code, text = status("{not json")
    assert code == 400 and text.startswith("malformed request")
    code, text = status(msg.replace('"a"', '"c"') % "hi")
    assert code == 404 and "unknown model 'c'" in text
    conn = feedback.connect(deployment["db"])
    assert conn.execute("SELECT COUNT(*) FROM requests WHERE arm = 'c'").fetchone()[0] == 0
    assert "gateway_rejected_total 5" in client.get_text(url.removesuffix("/v1") + "/metrics")


def test_sessions_keep_their_arm_and_feedback_is_stored(deployment):
    api = client.openai_client(deployment["url"])
    for session in ["s1", "s2", "s3", "s4"]:
        first = client.stream_chat(api, "hello", user=session, max_tokens=4)
        again = client.stream_chat(api, "hello again", user=session, max_tokens=4)
        assert first["arm"] == again["arm"] == abtest.arm_for(session, ("a", "b"))
    client.send_feedback(deployment["url"], first["request_id"], -1, "A better answer.")
    with pytest.raises(urllib.error.HTTPError):
        client.send_feedback(deployment["url"], 10**6, 1)
    conn = feedback.connect(deployment["db"])
    pairs = feedback.preference_pairs(conn)
    assert pairs[-1]["chosen"][0]["content"] == "A better answer."
    assert pairs[-1]["rejected"][0]["content"] == first["text"]


def test_engine_killed_mid_stream_is_reported_and_recorded(deployment):
    api = client.openai_client(deployment["url"])
    engine = next(s for s in deploy._RUNNING if s.name.endswith("'b'"))
    stream = api.chat.completions.create(
        model="b",
        messages=[{"role": "user", "content": "Tell me a story."}],
        max_tokens=200,
        stream=True,
    )
    with pytest.raises(openai.APIError, match="the engine failed mid-reply"):
        for event in stream:
            if event.choices and event.choices[0].delta.content:
                engine.proc.send_signal(signal.SIGKILL)
    time.sleep(0.5)  # the gateway records the failed reply as its stream ends
    conn = feedback.connect(deployment["db"])
    (status,) = conn.execute(
        "SELECT status FROM replies ORDER BY request_id DESC LIMIT 1"
    ).fetchone()
    assert status.startswith("engine failed")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_servers_die_with_their_parent(tmp_path):
    """A kernel killed with SIGKILL runs no exit handler: its servers still stop (PR_SET_PDEATHSIG)."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from helpers import deploy
        port = deploy.free_port()
        argv = [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"]
        s = deploy.Server("http", argv, f"http://127.0.0.1:{{port}}/", Path({str(tmp_path)!r}) / "log")
        s.start(30)
        print(s.proc.pid, flush=True)
        time.sleep(60)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    for _ in range(50):
        try:
            with open(f"/proc/{child}/stat") as f:
                if f.read().split()[2] == "Z":
                    break
        except FileNotFoundError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"server {child} outlived its killed parent")


def test_vllm_that_cannot_start_falls_back_to_transformers_serve(folder, tmp_path, capsys):
    """No `vllm` command here: the engines come up under `transformers serve`, and the notebook is told so."""
    before = set(deploy._RUNNING)
    arms, engine = deploy.start_engines({"only": folder}, "vllm", "cpu", "float32", tmp_path)
    try:
        assert (
            engine == "transformers"
            and "fall back to `transformers serve`" in capsys.readouterr().out
        )
        assert deploy.healthy(arms["only"].upstream.removesuffix("/v1") + "/health")
    finally:
        for server in set(deploy._RUNNING) - before:
            server.stop()


def test_route_checks_then_picks_the_arm(folder, tmp_path):
    """The gateway's request path without a server: 4xx responses for the client's mistakes, the named
    arm, or with "auto" the session's hashed arm, recorded once."""
    from transformers import AutoTokenizer

    from helpers import gateway

    tok = AutoTokenizer.from_pretrained(folder)
    arms = {n: gateway.Arm("http://127.0.0.1:1/v1", folder) for n in ("a", "b")}
    db = feedback.connect(tmp_path / "route.db")

    def route(**body):
        said = body.pop("said", "hi")
        request = gateway.ChatRequest(messages=[{"role": "user", "content": said}], **body)
        return gateway.route(request, arms, tok, CONTEXT, db, "ab")

    assert route(model="c").status_code == 404
    assert route(said="  ").status_code == 400
    assert route(said="hello " * 300).status_code == 400
    arm, n = route(model="b")
    assert arm == "b" and n > 1
    arm, _ = route(model="auto", user="s7")
    assert arm == abtest.arm_for("s7", ("a", "b"), "ab")
    assert db.execute("SELECT arm FROM assignments WHERE session = 's7'").fetchone() == (arm,)


def test_a_cpu_engine_gets_this_process_s_threads():
    assert deploy.engine_env("cpu") == {"OMP_NUM_THREADS": str(torch.get_num_threads())}
    assert deploy.engine_env("cuda") == {}


def test_each_arm_alone_and_the_log_as_queues(deployment, folder):
    """One request at a time per arm (no queue), then the gateway's log of them read as queues. Arm "a"
    only: an earlier test killed engine "b"."""
    from transformers import AutoTokenizer

    from helpers import capstone_serve

    tok = AutoTokenizer.from_pretrained(folder)
    alone = capstone_serve.alone(deployment["url"], ["hello", "hi"], ("a",), 3, 4, tok)
    for s in alone.values():
        assert s["requests"] == 3 and 0 < s["first_mean"] <= s["reply_mean"]
    log = feedback.served(feedback.connect(deployment["db"]))[-3:]  # the 3 requests just sent
    assert [q["ahead"] for q in capstone_serve.queues(log)] == [0, 0, 0]  # one at a time
