"""The deployment's memory: requests, replies, user feedback and A/B assignments in one SQLite file.

One table per concept, a schema version in `PRAGMA user_version`, WAL mode (readers never block the writer,
a killed writer loses only its open transaction) and a busy timeout (concurrent writers wait their turn
instead of failing). Every write is one short transaction. `preference_pairs` closes the loop: feedback
becomes rows in the conversational preference format that 12c's DPO reads.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS assignments (
    session TEXT NOT NULL, experiment TEXT NOT NULL, arm TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (session, experiment));
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session TEXT, arm TEXT NOT NULL, prompt TEXT NOT NULL,
    prompt_tokens INTEGER, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS replies (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id), text TEXT NOT NULL, status TEXT NOT NULL,
    first_token_s REAL, latency_s REAL, tokens_out INTEGER, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT, request_id INTEGER NOT NULL REFERENCES requests(id),
    thumbs INTEGER NOT NULL CHECK (thumbs IN (-1, 1)), correction TEXT, created REAL NOT NULL);
"""


def connect(path: str | Path) -> sqlite3.Connection:
    """Open (creating if new) the feedback database; refuse one written by another schema version."""
    conn = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version not in (0, SCHEMA_VERSION):
        conn.close()
        raise RuntimeError(f"{path}: schema version {version}, this code reads {SCHEMA_VERSION}")
    if version == 0:
        with transaction(conn):  # executescript would commit early: one statement at a time
            for statement in filter(str.strip, SCHEMA.split(";")):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    return conn


class transaction:
    """`with transaction(conn):` one BEGIN IMMEDIATE ... COMMIT, rolled back on an exception."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, kind, *_) -> None:
        self.conn.execute("COMMIT" if kind is None else "ROLLBACK")


def assign(conn: sqlite3.Connection, session: str, experiment: str, arm: str) -> str:
    """Record a session's arm; a session keeps the arm it was first given."""
    with transaction(conn):
        conn.execute(
            "INSERT OR IGNORE INTO assignments VALUES (?, ?, ?, ?)",
            (session, experiment, arm, time.time()),
        )
        row = conn.execute(
            "SELECT arm FROM assignments WHERE session = ? AND experiment = ?",
            (session, experiment),
        ).fetchone()
    return row[0]


def log_request(
    conn: sqlite3.Connection, session: str | None, arm: str, prompt: str, prompt_tokens: int
) -> int:
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO requests (session, arm, prompt, prompt_tokens, created) VALUES (?, ?, ?, ?, ?)",
            (session, arm, prompt, prompt_tokens, time.time()),
        )
    return int(cur.lastrowid)


def log_reply(
    conn: sqlite3.Connection,
    request_id: int,
    text: str,
    status: str = "ok",
    first_token_s: float | None = None,
    latency_s: float | None = None,
    tokens_out: int | None = None,
) -> None:
    """A reply, or what arrived of one: `status` is "ok" or what broke it ("engine failed: ...")."""
    with transaction(conn):
        conn.execute(
            "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?, ?)",
            (request_id, text, status, first_token_s, latency_s, tokens_out, time.time()),
        )


def log_feedback(
    conn: sqlite3.Connection, request_id: int, thumbs: int, correction: str | None = None
) -> int:
    """Thumbs up (+1) or down (-1) on a reply, with an optional corrected answer."""
    if thumbs not in (-1, 1):
        raise ValueError(f"thumbs must be +1 or -1, not {thumbs!r}")
    with transaction(conn):
        cur = conn.execute(
            "INSERT INTO feedback (request_id, thumbs, correction, created) VALUES (?, ?, ?, ?)",
            (request_id, thumbs, correction, time.time()),
        )
    return int(cur.lastrowid)


def rows(conn: sqlite3.Connection, sql: str, *args) -> list[dict]:
    """A query's rows as dicts."""
    cur = conn.execute(sql, args)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def served(conn: sqlite3.Connection) -> list[dict]:
    """Every request with its reply and its latest feedback (None where none was given)."""
    return rows(
        conn,
        """SELECT q.id, q.session, q.arm, q.prompt, q.prompt_tokens, q.created, r.text, r.status,
                  r.first_token_s,
                  r.latency_s, r.tokens_out,
                  (SELECT thumbs FROM feedback f WHERE f.request_id = q.id ORDER BY f.id DESC LIMIT 1)
                  AS thumbs
           FROM requests q LEFT JOIN replies r ON r.request_id = q.id ORDER BY q.id""",
    )


def preference_pairs(conn: sqlite3.Connection) -> list[dict]:
    """Feedback as DPO rows (12c's format): a correction is preferred to the reply it corrects, and a
    thumbs-up reply to a thumbs-down reply of the same prompt."""
    fb = rows(
        conn,
        """SELECT q.prompt, r.text, f.thumbs, f.correction FROM feedback f
           JOIN requests q ON q.id = f.request_id JOIN replies r ON r.request_id = q.id
           WHERE r.status = 'ok' ORDER BY f.id""",
    )
    pairs = [(x["prompt"], x["correction"], x["text"]) for x in fb if x["correction"]]
    by_prompt: dict[str, dict[int, list[str]]] = {}
    for x in fb:
        by_prompt.setdefault(x["prompt"], {1: [], -1: []})[x["thumbs"]].append(x["text"])
    for prompt, votes in by_prompt.items():
        for good in dict.fromkeys(votes[1]):
            pairs += [(prompt, good, bad) for bad in dict.fromkeys(votes[-1]) if bad != good]
    return [
        {
            "prompt": [{"role": "user", "content": p}],
            "chosen": [{"role": "assistant", "content": c}],
            "rejected": [{"role": "assistant", "content": r}],
        }
        for p, c, r in pairs
    ]
