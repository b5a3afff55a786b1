"""What an ε sweep as a job costs over the same attacks sent as plain /attack requests, side by side on one server.

Starts ``python -m explainlab serve`` on loopback (compute worker, 2 torch threads) unless ``--url`` names one. Each
round attacks two images that no earlier request used (bench/serving.py), so the cache never answers: one with the
budgets sent one after the other as /attack requests (the client's wall time, summed), the other as one sweep job
(``POST /jobs/sweep`` until the ``done`` event on ``/jobs/{id}/events``). The arms alternate which goes first. Both
run PGD-40 with IG-50 maps before and after on three MNIST models (natural, pgd_at, egat first) at 0.25-2 times
ε = 0.3.

    python bench/sweep_overhead.py [--rounds 3] [--url URL] [--json PATH]

Target: the job's time over the requests' time <= 1.10 (its validation up front, its bookkeeping and its events add
at most a tenth). Exit status 0 when everything was measured (``--strict``: 1 when the target is missed), 2 when a
request or the job failed.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import serving  # noqa: E402

BUDGETS = [0.075, 0.15, 0.225, 0.3, 0.45, 0.6]  # the lab's default sweep of eps = 0.3
TARGET = 1.10


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="measure this running server (default: start one on loopback)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, each one sweep and its six requests")
    parser.add_argument("--threads", type=int, default=2, help="EXPLAINLAB_THREADS of the server started here")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON ('-': stdout)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.threads < 1:
        parser.error("--rounds and --threads must be at least 1")
    return args


def requests_arm(http: Any, body: dict[str, Any]) -> float:
    """The budgets as /attack requests, one after the other: their summed wall time (s)."""
    total = 0.0
    for eps in BUDGETS:
        result = serving.timed_post(
            http, "/attack", json={**body, "attack_params": {**body["attack_params"], "eps": eps}}
        )
        if not result.ok or result.cached:
            raise RuntimeError(f"/attack at eps {eps}: {result.status} {result.error or serving.error_of(result)}")
        total += result.seconds
    return total


def sweep_arm(http: Any, body: dict[str, Any]) -> tuple[float, int]:
    """The same budgets as one job, from the POST to its ``done`` event: (wall time in s, events seen)."""
    start = time.perf_counter()
    job, events, last = serving.start_job(http, "/jobs/sweep", {**body, "eps": BUDGETS}), 0, None
    with http.stream("GET", f"/jobs/{job}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("event: "):
                events, last = events + 1, line[7:]
    seconds = time.perf_counter() - start
    if last != "done":
        raise RuntimeError(f"job {job} ended {last!r}")
    return seconds, events


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = serving.Variants(offset=serving.random_offset() if args.url else 0)
    rounds: list[dict[str, Any]] = []
    with serving.server(args.url, compute="worker", threads=args.threads) as srv, serving.client(srv.url) as http:
        health = serving.healthz(http)
        models = serving.pick_mnist_models(http, 3)
        if not models:
            print(f"no MNIST model at {srv.url}/models: nothing to measure", file=sys.stderr)
            return 2
        serving.timed_post(http, "/attack", json=serving.attack_body(images.b64(0), models))  # warm the models up
        try:
            for r in range(args.rounds):
                plain = serving.attack_body(images.b64(1 + 2 * r), models)
                swept = serving.attack_body(images.b64(2 + 2 * r), models)
                if r % 2 == 0:
                    requests_s = requests_arm(http, plain)
                    sweep_s, events = sweep_arm(http, swept)
                else:
                    sweep_s, events = sweep_arm(http, swept)
                    requests_s = requests_arm(http, plain)
                rounds.append({"requests_s": requests_s, "sweep_s": sweep_s, "ratio": sweep_s / requests_s,
                               "events": events})  # fmt: skip
                print(f"  round {r + 1}: requests {requests_s:.2f} s, sweep {sweep_s:.2f} s", file=sys.stderr)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    ratio = statistics.median(r["ratio"] for r in rounds)
    say = functools.partial(print, file=sys.stderr if args.json == "-" else sys.stdout)
    rows = [[f"round {i + 1}", f"{r['requests_s']:.2f} s", f"{r['sweep_s']:.2f} s", f"{r['ratio']:.3f}", r["events"]]
            for i, r in enumerate(rounds)]  # fmt: skip
    rows.append(["median", "", "", f"{ratio:.3f}", ""])
    say(f"sweep_overhead: {len(BUDGETS)} budgets x {len(models)} models ({', '.join(models)}), device "
        f"{health.get('device')}, {health.get('torch_threads')} torch threads")  # fmt: skip
    say(serving.table(["round", "6 x /attack", "one sweep job", "job / requests", "events"], rows))
    passed = ratio <= TARGET
    say(f"job / requests {ratio:.3f} (target <= {TARGET}): {'PASS' if passed else 'FAIL'}")
    if args.json:
        result = {"budgets": BUDGETS, "models": models, "rounds": rounds, "median_ratio": ratio, "target": TARGET,
                  "pass": passed, "hardware": serving.hardware(health), "commit": serving.git_commit()}  # fmt: skip
        serving.write_json(args.json, result)
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
