"""Stage 14's deployment, measured: the A/B test's simulated users, and the request log read as queues.

`enrol` gives each simulated session an arm by a hash of its id; `simulate` sends their visits in arrival
order, so both arms share the machine at the same moments. `monitor` reads the gateway's log per arm:
first-token and whole-reply percentiles, how many requests of the same arm were in flight when a request
arrived (its engine's queue), and how long it waited for them to finish. `alone` times each arm one request at
a time, the yardstick the queue is read against.
"""

from __future__ import annotations

import time

from helpers import abtest, client, loadtest
from helpers.tasks import Task


def enrol(arms, n_arm: int, questions: list[Task], seed: int = 0) -> dict[str, list]:
    """Sessions "user-00000", "user-00001", ... each routed to an arm by a hash of its id
    (`abtest.arm_for`: no lookup table, the same arm on every request), with a random question, until every
    arm has `n_arm`; a full arm enrols no one more. Returns arm -> [(session, question)]."""
    import random

    rng, enrolled, drawn = random.Random(seed), {name: [] for name in arms}, 0
    while min(map(len, enrolled.values())) < n_arm:
        session = f"user-{drawn:05d}"
        drawn += 1
        arm = abtest.arm_for(session, tuple(arms))
        if len(enrolled[arm]) < n_arm:
            enrolled[arm].append((session, rng.choice(questions)))
    return enrolled


def arrivals(enrolled: dict[str, list]) -> list[tuple[str, Task]]:
    """Every enrolled (session, question) in the order the users arrive: by session id, the arms mixed as
    the hash mixed them (not one arm's users after the other's, which would give each arm other minutes)."""
    return sorted((st for rows in enrolled.values() for st in rows), key=lambda st: st[0])


def simulate(visit, enrolled: dict[str, list], concurrency: int, arms) -> list:
    """Every enrolled session's visit in arrival order (`arrivals`), `concurrency` at a time (users arrive
    together, not one by one); checks that each reply came from the arm its session id hashes to. Returns
    the visits."""
    from concurrent.futures import ThreadPoolExecutor

    t0, sessions = time.time(), arrivals(enrolled)
    with ThreadPoolExecutor(concurrency) as pool:
        visits = list(pool.map(lambda st: visit(*st), sessions))
    routed = [abtest.arm_for(s, tuple(arms)) for s, _ in sessions]
    assert [v[0] for v in visits] == routed, "every session must reach its own arm"
    print(f"{len(visits)} simulated sessions, {concurrency} at a time, in {time.time() - t0:.0f} s")
    return visits


def rates_by_family(votes: dict[str, list[tuple[str, bool]]]) -> dict[str, tuple]:
    """Thumbs-up counts per family and arm from (family, up) votes; prints a row per family and returns
    family -> ((ups, users) of each arm, in the arms' order)."""
    rates = {}
    for f in sorted({f for v in votes.values() for f, _ in v}):
        x = {n: [up for g, up in v if g == f] for n, v in votes.items()}
        r = {n: sum(x[n]) / max(len(x[n]), 1) for n in x}
        rates[f] = tuple((sum(x[n]), len(x[n])) for n in x)
        print(f"  {f:8}" + "".join(f"  {n} {r[n]:.2f} of {len(x[n]):3}" for n in x))
    return rates


def bad_requests(context: int, model: str = "candidate") -> dict[str, str]:
    """Request bodies with a client's mistakes, each of which the gateway must answer with a 4xx: an empty
    message, a prompt over the context, a malformed body, a body that is not JSON, an unknown model."""
    import json

    ask = {"model": model, "max_tokens": 8}

    def said(text):
        return [{"role": "user", "content": text}]

    return {
        "empty message": json.dumps({**ask, "messages": said("  ")}),
        "over-long prompt": json.dumps({**ask, "messages": said("a b " * context)}),
        "malformed body": json.dumps({**ask, "messages": "hello"}),
        "not JSON": "{oops",
        "unknown model": json.dumps({**ask, "model": "gpt-9", "messages": said("hi")}),
    }


def print_metrics(api_url: str) -> dict:
    """The gateway's own counters at /metrics (Prometheus' text format, as a monitoring system scrapes
    them): the rejected requests and each arm's requests, every request counted. Returns
    {"rejected": n, "requests": {arm: n}}."""
    out = {"rejected": 0, "requests": {}}
    for line in client.get_text(api_url.removesuffix("/v1") + "/metrics").splitlines():
        if line.startswith(("gateway_rejected_total", "gateway_requests_total")):
            name, value = line.rsplit(" ", 1)
            print(f"{name} {float(value):.0f}")
            if name == "gateway_rejected_total":
                out["rejected"] = int(float(value))
            elif 'arm="' in name:
                out["requests"][name.split('arm="')[1].split('"')[0]] = int(float(value))
    return out


def queues(rows: list[dict]) -> list[dict]:
    """For each logged request: how many requests of its arm were in flight when it arrived (`ahead`),
    and the seconds until the last of them finished (`waited`): an engine that generates one request at a
    time starts this one only then."""
    out = []
    for r in rows:
        ends = [
            o["created"] + o["latency_s"]
            for o in rows
            if o["arm"] == r["arm"] and o["created"] < r["created"] < o["created"] + o["latency_s"]
        ]
        out.append({"ahead": len(ends), "waited": max(ends, default=r["created"]) - r["created"]})
    return out


def monitor(rows: list[dict], arms) -> dict:
    """Per arm, from the gateway's log of `rows` (each with `created`, `first_token_s`, `latency_s`):
    requests, first-token and whole-reply percentiles (s), and the means of the first token, of the
    requests ahead on arrival and of the wait for them (`queues`); prints a row per arm."""
    out = {}
    print(
        f"{'arm':5}{'requests':>9}{'ahead':>7}{'waited':>8}   first token mean/p50/p95   reply p50/p95"
    )
    for name in arms:
        mine = [r for r in rows if r["arm"] == name]
        q = queues(mine)

        def mean(xs):
            return sum(xs) / len(xs) if xs else float("nan")

        m = out[name] = {
            "requests": len(mine),
            "ttft": loadtest.percentiles([r["first_token_s"] for r in mine]),
            "latency": loadtest.percentiles([r["latency_s"] for r in mine]),
            "first_mean": mean([r["first_token_s"] for r in mine]),
            "ahead": mean([x["ahead"] for x in q]),
            "waited": mean([x["waited"] for x in q]),
        }
        first = f"{m['first_mean']:.2f} / {m['ttft']['p50']:.2f} / {m['ttft']['p95']:.2f} s"
        reply = f"{m['latency']['p50']:.2f} / {m['latency']['p95']:.2f} s"
        print(f"{name:5}{len(mine):9}{m['ahead']:7.2f}{m['waited']:7.2f}s{first:>27}{reply:>16}")
    return out


def alone(api_url: str, prompts: list[str], arms, requests: int, max_tokens: int, tok) -> dict:
    """Each arm timed one request at a time through the gateway (no queue): `loadtest.summary` per arm,
    with the mean first token and whole reply (s); prints a row per arm."""
    out = {}
    for name in arms:
        result = loadtest.run(api_url, prompts, 1, requests, name, max_tokens)
        rows, n = result["rows"], max(len(result["rows"]), 1)
        out[name] = loadtest.summary(result, tok) | {
            "first_mean": sum(r["first_token_s"] or r["latency_s"] for r in rows) / n,
            "reply_mean": sum(r["latency_s"] for r in rows) / n,
        }
        s = out[name]
        print(
            f"{name} alone: {s['requests']} requests; mean first token {s['first_mean']:.2f} s, mean "
            f"reply {s['reply_mean']:.2f} s; {s['tokens_per_s']:.0f} reply tokens/s"
        )
    return out


def print_load(load: list[dict]) -> None:
    """The load test as a table: one row per number of concurrent clients."""
    print(
        f"{'clients':>8}{'done':>6}{'req/s':>8}{'tokens/s':>10}{'latency p50':>13}{'p95':>8}{'p99':>8}"
        f"{'TTFT p50':>10}"
    )
    for s in load:
        lat, first = s["latency"], s["first_token"]
        print(
            f"{s['concurrency']:8}{s['requests']:6}{s['requests_per_s']:8.2f}{s['tokens_per_s']:10.0f}"
            f"{lat['p50'] * 1000:11.0f}ms{lat['p95'] * 1000:6.0f}ms{lat['p99'] * 1000:6.0f}ms"
            f"{first['p50'] * 1000:8.0f}ms"
        )


def pair_families(pairs: list[dict], questions: list[Task]) -> dict[str, dict[str, int]]:
    """Family -> {"pairs": feedback pairs on its questions, "refusal": of them, those whose chosen reply is
    a refusal}; every family of `questions` listed, with zeros where no pair came."""
    from helpers.constitutional import looks_like_refusal

    fam = {t.prompt: t.family for t in questions}
    out = {f: {"pairs": 0, "refusal": 0} for f in dict.fromkeys(t.family for t in questions)}
    for p in pairs:
        f = fam.get(p["prompt"][0]["content"])
        if f is not None:
            out[f]["pairs"] += 1
            out[f]["refusal"] += int(looks_like_refusal(p["chosen"][0]["content"]))
    return out
