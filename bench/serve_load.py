"""Throughput under load: 1 client vs N concurrent clients on /explain, for the compute worker and the naive baseline.

Starts two servers on loopback, one after the other, each with 2 torch threads and its own empty runs folder:
``EXPLAINLAB_COMPUTE=worker`` (ours: one thread owns torch and batches concurrent jobs), then
``EXPLAINLAB_COMPUTE=inline`` (the naive baseline: torch runs in every request thread). On each: warm-up
(sequential, then one concurrent burst), then the phases alternate, sequential, concurrent, sequential, concurrent
(``--rounds`` of each), so machine noise hits both phases alike. Every request is /explain, Integrated Gradients
(50 steps) on one MNIST model (natural first), with its own image (an MNIST gallery image with one pixel changed,
bench/serving.py): the result cache never answers, and responses with ``"cached": true`` are counted and reported.

* sequential: one keep-alive httpx client sends ``--n-seq`` requests one after the other: requests / wall seconds.
* concurrent: ``--clients`` threads, each with its own httpx client, share ``--n-conc`` requests (each takes the next
  one when its last answer is in): requests / wall seconds, and p50 / p99 of the client-side latency.
* ratio = concurrent throughput / sequential throughput (means over the rounds, and round by round).

    python bench/serve_load.py                                      # worker and inline, 150 + 320 requests x 2
    python bench/serve_load.py --n-seq 300 --n-conc 640 --json out/serve_load.json
    python bench/serve_load.py --skip-inline                        # only the worker server
    python bench/serve_load.py --url http://127.0.0.1:8000          # only this running server

Acceptance: worker ratio >= 0.9 (concurrency costs at most 10 % of the sequential throughput; a naive server drops
to about 0.6 on the 2-core machine). Also printed: the inline ratio, and worker / inline throughput under load.
Exit status: 0 when everything was measured (``--strict``: 1 when the target is missed), 2 when a request failed,
a response came from the cache, or a server could not be started.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import serving  # noqa: E402

RATIO_TARGET = 0.9
NAIVE_REFERENCE = 0.6  # environment notes: what a server running torch in every request thread drops to


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="measure only this running server (starts none)")
    parser.add_argument("--skip-inline", action="store_true", help="start only the worker server")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients of the concurrent phase")
    parser.add_argument("--n-seq", type=int, default=150, help="requests of each sequential phase")
    parser.add_argument("--n-conc", type=int, default=320, help="requests of each concurrent phase (all clients)")
    parser.add_argument("--rounds", type=int, default=2, help="sequential + concurrent rounds per server")
    parser.add_argument("--warmup", type=int, default=10, help="sequential warm-up requests (then one burst)")
    parser.add_argument("--threads", type=int, default=2, help="EXPLAINLAB_THREADS of the servers started here")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON ('-': stdout)")
    parser.add_argument(
        "--method", default="integrated_gradients", help="attribution method (saliency: the micro-batching case)"
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if min(args.clients, args.n_seq, args.n_conc, args.rounds, args.threads) < 1 or args.warmup < 0:
        parser.error("--clients, --n-seq, --n-conc, --rounds and --threads must be at least 1")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Images:
    """Request bodies with images never sent before to this server (thread-safe)."""

    def __init__(self, model: str, offset: int, method: str = "integrated_gradients") -> None:
        self.variants = serving.Variants(offset=offset)
        self.model, self.method = model, method
        self.next = 0
        self._lock = threading.Lock()

    def bodies(self, n: int) -> list[dict[str, Any]]:
        with self._lock:
            start, self.next = self.next, self.next + n
        return [serving.explain_body(self.variants.b64(start + i), [self.model], method=self.method) for i in range(n)]


def phase_stats(kind: str, results: list[serving.Result], wall: float) -> dict[str, Any]:
    ok = [r for r in results if r.ok]
    ms = [r.seconds * 1000 for r in ok]
    return {
        "phase": kind,
        "requests": len(results),
        "ok": len(ok),
        "wall_s": wall,
        "throughput": len(ok) / wall if wall > 0 else math.nan,
        "latency_ms": serving.summary(ms),
        "server_total_ms_p50": serving.percentile([r.server_ms for r in ok if r.server_ms is not None], 50),
        "failed": [{"status": r.status, "error": r.error or serving.error_of(r)} for r in results if not r.ok][:10],
        "n_failed": len(results) - len(ok),
        "cached": sum(1 for r in results if r.cached),
    }


def sequential(url: str, bodies: list[dict[str, Any]]) -> dict[str, Any]:
    with serving.client(url) as http:
        serving.healthz(http)  # the connection is open before the clock starts
        start = time.perf_counter()
        results = [serving.timed_post(http, "/explain", json=body) for body in bodies]
        wall = time.perf_counter() - start
    return phase_stats("sequential", results, wall)


def concurrent(url: str, bodies: list[dict[str, Any]], clients: int) -> dict[str, Any]:
    """``clients`` threads with their own connection take the next body until none is left."""
    queue = list(reversed(bodies))
    lock = threading.Lock()
    results: list[serving.Result] = []
    barrier = threading.Barrier(clients + 1)
    problems: list[str] = []

    def work() -> None:
        try:
            with serving.client(url) as http:
                serving.healthz(http)
                barrier.wait()
                mine = []
                while True:
                    with lock:
                        if not queue:
                            break
                        body = queue.pop()
                    mine.append(serving.timed_post(http, "/explain", json=body))
                with lock:
                    results.extend(mine)
        except Exception as error:  # noqa: BLE001 - reported with the phase
            problems.append(f"{type(error).__name__}: {error}")
            barrier.abort()

    threads = [threading.Thread(target=work, name=f"client-{i}", daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    stats = phase_stats(f"concurrent x{clients}", results, wall)
    if problems:
        stats["n_failed"] += len(bodies) - len(results)
        stats["failed"] = (stats["failed"] + [{"status": 0, "error": p} for p in problems])[:10]
    return stats


def label(method: str) -> str:
    return "IG-50" if method == "integrated_gradients" else method


def measure_server(srv: serving.Server, name: str, args: argparse.Namespace, offset: int) -> dict[str, Any]:
    with serving.client(srv.url) as http:
        health = serving.healthz(http)
        models = serving.pick_mnist_models(http, 1)
    if not models:
        raise RuntimeError(f"no MNIST model at {srv.url}/models")
    images = Images(models[0], offset, args.method)
    log(f"{name}: {srv.url} ({'started here' if srv.started else 'given'}), {health.get('torch_threads')} torch "
        f"threads, {label(args.method)} on {models[0]}; warm-up ...")  # fmt: skip
    warm = sequential(srv.url, images.bodies(args.warmup)) if args.warmup else None
    burst = concurrent(srv.url, images.bodies(args.clients * 2), args.clients)
    rounds = []
    for r in range(args.rounds):
        seq = sequential(srv.url, images.bodies(args.n_seq))
        log(f"  {name} round {r + 1}: sequential {seq['throughput']:.1f} req/s")
        conc = concurrent(srv.url, images.bodies(args.n_conc), args.clients)
        log(f"  {name} round {r + 1}: concurrent x{args.clients} {conc['throughput']:.1f} req/s")
        rounds.append({"sequential": seq, "concurrent": conc, "ratio": _div(conc["throughput"], seq["throughput"])})
    with serving.client(srv.url) as http:
        health_after = serving.healthz(http)
    seq_tp = [r["sequential"]["throughput"] for r in rounds]
    conc_tp = [r["concurrent"]["throughput"] for r in rounds]
    conc_ms = [r["concurrent"]["latency_ms"] for r in rounds]
    seq_ms = [r["sequential"]["latency_ms"] for r in rounds]
    phases = [r["sequential"] for r in rounds] + [r["concurrent"] for r in rounds]
    warmups = [p for p in (warm, burst) if p is not None]
    jobs = health_after.get("jobs_run", 0) - health.get("jobs_run", 0)  # this benchmark's share of them
    batches = health_after.get("batches_run", 0) - health.get("batches_run", 0)
    return {
        "server": name,
        "url": srv.url,
        "started_here": srv.started,
        "settings": srv.env or None,
        "model": models[0],
        "healthz": health,
        "healthz_after": health_after,
        "mean_jobs_per_batch": _div(jobs, batches),
        "sequential_throughput": _mean(seq_tp),
        "concurrent_throughput": _mean(conc_tp),
        "ratio": _div(_mean(conc_tp), _mean(seq_tp)),
        "sequential_p50_ms": _mean([m["p50"] for m in seq_ms]),
        "concurrent_p50_ms": _mean([m["p50"] for m in conc_ms]),
        "concurrent_p99_ms": _mean([m["p99"] for m in conc_ms]),
        "n_failed": sum(p["n_failed"] for p in phases + warmups),
        "cached": sum(p["cached"] for p in phases + warmups),
        "rounds": rounds,
        "warmup": warmups,
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def _div(a: float, b: float) -> float:
    return a / b if b and not (math.isnan(a) or math.isnan(b)) else math.nan


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.url:
        plan = [("given", None)]
    else:
        plan = [("worker", "worker")] + ([] if args.skip_inline else [("inline", "inline")])
    servers: list[dict[str, Any]] = []
    start = time.perf_counter()
    offset = serving.random_offset() if args.url else 0
    for name, compute in plan:
        try:
            with serving.server(args.url, compute=compute or "worker", threads=args.threads) as srv:
                servers.append(measure_server(srv, name, args, offset))
        except RuntimeError as error:
            log(f"{name}: {error}")
            return 2
    wall_s = time.perf_counter() - start
    f = serving.fmt
    say = functools.partial(print, file=sys.stderr if args.json == "-" else sys.stdout)  # '-': JSON alone on stdout

    threads = "/".join(sorted({str(s["healthz"].get("torch_threads")) for s in servers}))
    rows = []
    for s in servers:
        for kind in ("sequential", "concurrent"):
            per_round = [r[kind]["throughput"] for r in s["rounds"]]
            lat = [r[kind]["latency_ms"] for r in s["rounds"]]
            clients = 1 if kind == "sequential" else args.clients
            total = {key: sum(r[kind][key] for r in s["rounds"]) for key in ("requests", "n_failed", "cached")}
            p50, p99 = _mean([m["p50"] for m in lat]), _mean([m["p99"] for m in lat])
            rows.append([s["server"], kind, clients, " / ".join(f(v) for v in per_round), f(s[f"{kind}_throughput"]),
                         f(p50), f(p99), total["requests"], total["n_failed"], total["cached"]])  # fmt: skip
    say(f"\nserve_load: /explain {label(args.method)}, {args.clients} clients vs 1, {args.rounds} rounds, "
          f"{serving.hardware(None)['cpu_count']} CPUs, torch threads {threads}, {wall_s:.0f} s")  # fmt: skip
    say(serving.table(["server", "phase", "clients", "req/s by round", "mean req/s", "p50 ms", "p99 ms",
                         "requests", "failed", "cached"], rows, right=[False, False] + [True] * 8))  # fmt: skip

    say()
    ratio_rows = []
    by_name = {s["server"]: s for s in servers}
    checks: dict[str, bool] = {}
    for s in servers:
        per_round = " / ".join(f(r["ratio"], 3) for r in s["rounds"])
        jobs = s["mean_jobs_per_batch"]
        batching = "" if math.isnan(jobs) else f"worker: {jobs:.2f} jobs per torch call"
        if s["server"] in ("worker", "given"):
            ok = not math.isnan(s["ratio"]) and s["ratio"] >= RATIO_TARGET
            checks[f"{s['server']}_ratio"] = ok
            target, shown = f">= {RATIO_TARGET}", f(s["ratio"] / RATIO_TARGET, 3)
            verdict = "PASS" if ok else "FAIL"
        else:
            target, shown, verdict = f"(naive ~{NAIVE_REFERENCE})", "-", "-"
        ratio_rows.append([f"{s['server']}: concurrent / sequential", f(s["ratio"], 3), per_round, target, shown,
                           verdict, batching])  # fmt: skip
    if "worker" in by_name and "inline" in by_name:
        w, i = by_name["worker"], by_name["inline"]
        per_round = " / ".join(f(_div(a["concurrent"]["throughput"], b["concurrent"]["throughput"]), 2)
                               for a, b in zip(w["rounds"], i["rounds"], strict=True))  # fmt: skip
        ratio_rows.append(["worker / inline, concurrent req/s", f(_div(w["concurrent_throughput"],
                           i["concurrent_throughput"]), 2), per_round, "-", "-", "-", ""])  # fmt: skip
        per_round = " / ".join(f(_div(a["sequential"]["throughput"], b["sequential"]["throughput"]), 2)
                               for a, b in zip(w["rounds"], i["rounds"], strict=True))  # fmt: skip
        ratio_rows.append(["worker / inline, sequential req/s", f(_div(w["sequential_throughput"],
                           i["sequential_throughput"]), 2), per_round, "-", "-", "-", ""])  # fmt: skip
    say(serving.table(["ratio", "mean", "by round", "target", "measured/target", "verdict", "note"], ratio_rows,
                        right=[False, True, True, True, True, False, False]))  # fmt: skip
    failed = sum(s["n_failed"] for s in servers)
    cached = sum(s["cached"] for s in servers)
    all_pass = all(checks.values()) if checks else False
    say(f"\ncached responses: {cached} (must be 0); failed requests: {failed}")
    say(f"acceptance (worker ratio >= {RATIO_TARGET}): {'PASS' if all_pass else 'FAIL'}")

    if args.json:
        serving.write_json(args.json, {
            "benchmark": "serve_load", "endpoint": "/explain", "method": "integrated_gradients",
            "method_params": {"steps": 50}, "clients": args.clients, "n_seq": args.n_seq, "n_conc": args.n_conc,
            "rounds": args.rounds, "warmup": args.warmup, "threads": args.threads, "image_offset": offset,
            "hardware": serving.hardware(servers[0]["healthz"] if servers else None),
            "git_commit": serving.git_commit(), "wall_s": wall_s, "target_ratio": RATIO_TARGET,
            "naive_reference_ratio": NAIVE_REFERENCE, "checks": checks, "pass": all_pass,
            "worker_over_inline_concurrent": _div(by_name["worker"]["concurrent_throughput"],
                                                  by_name["inline"]["concurrent_throughput"])
            if "worker" in by_name and "inline" in by_name else None,
            "servers": servers,
        })  # fmt: skip
    if failed or cached:
        return 2
    return 1 if args.strict and not all_pass else 0


if __name__ == "__main__":
    raise SystemExit(main())
