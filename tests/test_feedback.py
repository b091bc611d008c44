"""The feedback database loses nothing: concurrent writers, a writer killed mid-transaction, old schemas."""

import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from helpers import feedback


def test_concurrent_writers_lose_no_row(tmp_path):
    db = tmp_path / "f.db"
    feedback.connect(db).close()

    def writer(k: int) -> None:
        conn = feedback.connect(
            db
        )  # one connection per thread, as the gateway and a load test have
        for i in range(50):
            rid = feedback.log_request(conn, f"s{k}", "a", f"prompt {k}-{i}", 3)
            feedback.log_reply(conn, rid, f"reply {k}-{i}", latency_s=0.1, tokens_out=2)
            feedback.log_feedback(conn, rid, 1 if i % 2 else -1)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    conn = feedback.connect(db)
    counts = [
        conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("requests", "replies", "feedback")
    ]
    assert counts == [400, 400, 400]


@pytest.mark.subprocess
def test_a_writer_killed_mid_transaction_loses_only_its_open_transaction(tmp_path):
    db = tmp_path / "f.db"
    script = textwrap.dedent(
        f"""
        import time
        from helpers import feedback
        conn = feedback.connect({str(db)!r})
        for i in range(10):
            feedback.log_request(conn, "s", "a", f"committed {{i}}", 1)
        conn.execute("BEGIN IMMEDIATE")
        for i in range(1000):
            conn.execute("INSERT INTO requests (session, arm, prompt, created) VALUES ('s', 'a', 'open', 0)")
        print("inside", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "inside"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    conn = feedback.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    prompts = [r[0] for r in conn.execute("SELECT prompt FROM requests ORDER BY id")]
    assert prompts == [f"committed {i}" for i in range(10)]
    feedback.log_request(conn, "s", "a", "after", 1)  # and it takes writes again


def test_a_database_of_another_schema_version_is_refused(tmp_path):
    db = tmp_path / "f.db"
    sqlite3.connect(db).execute(f"PRAGMA user_version={feedback.SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="schema version 2"):
        feedback.connect(db)


def test_feedback_becomes_preference_pairs(tmp_path):
    conn = feedback.connect(tmp_path / "f.db")

    def served(prompt: str, reply: str, thumbs: int, correction: str | None = None) -> None:
        rid = feedback.log_request(conn, "s", "a", prompt, 1)
        feedback.log_reply(conn, rid, reply)
        feedback.log_feedback(conn, rid, thumbs, correction)

    served("q1", "good", 1)
    served("q1", "bad", -1)
    served("q2", "wrong", -1, "right")
    served("q3", "fine", 1)  # no counterpart: no pair
    pairs = {(p["prompt"][0]["content"], p["chosen"][0]["content"], p["rejected"][0]["content"])
             for p in feedback.preference_pairs(conn)}  # fmt: skip
    assert pairs == {("q1", "good", "bad"), ("q2", "right", "wrong")}
    log = feedback.served(conn)  # arrival times too: the queue a request met is read from them
    assert [r["prompt"] for r in log] == ["q1", "q1", "q2", "q3"]
    assert all(a["created"] <= b["created"] for a, b in zip(log, log[1:]))
    with pytest.raises(ValueError, match="thumbs must be"):
        feedback.log_feedback(conn, 1, 0)
