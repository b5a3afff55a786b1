"""Does a test-set run starve the lab? /explain latency with the server idle against the same requests while a
test-set job (the attack over the test images, server/evaluation.py) runs, side by side on one server.

Starts ``python -m explainlab serve`` on loopback (compute worker, 2 torch threads, ``EXPLAINLAB_DATA`` = --data-dir)
unless ``--url`` names one. Each arm sends the same number of /explain requests (IG-50 maps on three MNIST models,
every request a new image so the cache never answers), one after the other. The busy arm first starts a test-set job
(PGD-40 with saliency maps before and after on the same three models over 1000 test images) and cancels it after its
last request; the job's images per second are reported too. The arms alternate which goes first over the rounds.

    python bench/testset_interference.py [--rounds 2] [--requests 10] [--data-dir ../shared/data] [--json PATH]

The job sends its work to the compute worker one piece at a time, a piece being one or two chunks of 16 images (the
unit the run's numbers are seeded by, so they do not depend on timing). While people use the lab (an /explain or
/attack in the last 10 s) a piece is as many chunks as take about EXPLAINLAB_JOB_PIECE_S (``--piece-s``, default 0.3
s), at least one; unattended, two. A request queued behind the job waits for the piece in progress. The job's images
per second are measured in both states: ``alone`` runs it for ``--alone-s`` seconds with no requests (after 10 s of
quiet). Target: the busy median latency <= the idle median + 1.5 x the time of one chunk (from the alone arm).
Exit status 0 when everything was
measured (``--strict``: 1 when the target is missed), 2 when a request or the job failed.
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
from explainlab.eval.testset import CHUNK  # noqa: E402

JOB_IMAGES = 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="measure this running server (default: start one on loopback)")
    parser.add_argument("--data-dir", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"),
                        help="EXPLAINLAB_DATA of the server started here (default: ../shared/data)")  # fmt: skip
    parser.add_argument("--piece-s", type=float, default=0.3, help="EXPLAINLAB_JOB_PIECE_S of the server started here")
    parser.add_argument("--alone-s", type=float, default=15.0, help="seconds the job runs alone, for its own speed")
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each one idle and one busy arm")
    parser.add_argument("--requests", type=int, default=10, help="/explain requests per arm")
    parser.add_argument("--threads", type=int, default=2, help="EXPLAINLAB_THREADS of the server started here")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON ('-': stdout)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is missed")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.requests < 1 or args.threads < 1:
        parser.error("--rounds, --requests and --threads must be at least 1")
    return args


def explain_arm(http: Any, images: serving.Variants, first: int, n: int, models: list[str]) -> list[float]:
    """``n`` /explain requests on new images, one after the other: each one's wall time (s)."""
    seconds = []
    for i in range(first, first + n):
        result = serving.timed_post(http, "/explain", json=serving.explain_body(images.b64(i), models))
        if not result.ok or result.cached:
            raise RuntimeError(f"/explain: {result.status} {result.error or serving.error_of(result)}")
        seconds.append(result.seconds)
    return seconds


def start_job(http: Any, models: list[str]) -> str:
    body = {"models": models, "attack": "pgd", "attack_params": {"eps": 0.3, "steps": 40}, "method": "saliency",
            "n": JOB_IMAGES}  # fmt: skip
    job = serving.start_job(http, "/jobs/evaluate", body)
    deadline = time.monotonic() + 60
    while http.get(f"/jobs/{job}").json()["done"] < 8:  # busy for real: its first batches have run
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job}: not 8 images done in 60 s")
        time.sleep(0.05)
    return job


def stop_job(http: Any, job: str) -> dict[str, Any]:
    """Cancel the job and wait for it to end: its images and seconds."""
    http.delete(f"/jobs/{job}")
    while (state := http.get(f"/jobs/{job}").json())["state"] == "running":
        time.sleep(0.05)
    if state["state"] == "failed":
        raise RuntimeError(f"job {job} failed: {state['error']}")
    result = state["result"] or {}
    return {"images": result.get("done_images", 0), "seconds": state["finished"] - state["created"]}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = serving.Variants(offset=serving.random_offset() if args.url else 0)
    rounds: list[dict[str, Any]] = []
    alone: dict[str, Any] = {}
    env = {"EXPLAINLAB_DATA": args.data_dir, "EXPLAINLAB_MAX_TEST_IMAGES": str(JOB_IMAGES),
           "EXPLAINLAB_JOB_PIECE_S": str(args.piece_s)}  # fmt: skip
    with serving.server(args.url, threads=args.threads, env=env) as srv, serving.client(srv.url) as http:
        health = serving.healthz(http)
        models = serving.pick_mnist_models(http, 3)
        if not models:
            print(f"no MNIST model at {srv.url}/models: nothing to measure", file=sys.stderr)
            return 2
        serving.timed_post(http, "/explain", json=serving.explain_body(images.b64(0), models))  # warm the models up
        try:
            for r in range(args.rounds):
                first = 1 + 2 * r * args.requests
                arms: dict[str, Any] = {}
                for arm in ("idle", "busy") if r % 2 == 0 else ("busy", "idle"):
                    start = first if arm == "idle" else first + args.requests
                    if arm == "idle":
                        arms["idle"] = explain_arm(http, images, start, args.requests, models)
                        continue
                    job = start_job(http, models)
                    arms["busy"] = explain_arm(http, images, start, args.requests, models)
                    arms["job"] = stop_job(http, job)
                rounds.append(arms)
                job = arms["job"]
                print(f"  round {r + 1}: idle median {statistics.median(arms['idle']):.3f} s, busy median "
                      f"{statistics.median(arms['busy']):.3f} s, job {job['images']} images in {job['seconds']:.1f} s",
                      file=sys.stderr)  # fmt: skip
            time.sleep(10.5)  # quiet: the lab is unattended, the job's batches may grow
            job = start_job(http, models)
            time.sleep(args.alone_s)
            alone = stop_job(http, job)
        except RuntimeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    idle = [s for r in rounds for s in r["idle"]]
    busy = [s for r in rounds for s in r["busy"]]
    per_second = sum(r["job"]["images"] for r in rounds) / sum(r["job"]["seconds"] for r in rounds)
    idle_med, busy_med = statistics.median(idle), statistics.median(busy)
    chunk_s = alone["seconds"] * CHUNK / max(alone["images"], 1)
    bound = idle_med + 1.5 * chunk_s
    passed = busy_med <= bound
    say = functools.partial(print, file=sys.stderr if args.json == "-" else sys.stdout)
    say(f"testset_interference: /explain (IG-50, {len(models)} models: {', '.join(models)}) idle and during a "
        f"test-set job (PGD-40, saliency, chunks of {CHUNK} images); device "
        f"{health.get('device')}, {health.get('torch_threads')} torch threads")  # fmt: skip
    rows = [[name, len(v), f"{statistics.median(v):.3f} s", f"{serving.percentile(v, 95):.3f} s"]
            for name, v in (("idle", idle), ("during the job", busy))]  # fmt: skip
    say(serving.table(["/explain", "requests", "median", "p95"], rows))
    alone_rate = alone["images"] / max(alone["seconds"], 1e-9)
    say(f"busy / idle median {busy_med / idle_med:.2f}; the job ran {per_second:.1f} images/s while serving, "
        f"{alone_rate:.1f} images/s alone ({alone['images']} images in {alone['seconds']:.1f} s)")  # fmt: skip
    say(f"busy median {busy_med:.3f} s <= idle median + 1.5 x one chunk ({chunk_s:.2f} s) {bound:.3f} s: "
        f"{'PASS' if passed else 'FAIL'}")  # fmt: skip
    if args.json:
        result = {"models": models, "rounds": rounds, "idle_median_s": idle_med, "busy_median_s": busy_med,
                  "piece_s": args.piece_s, "chunk_s": chunk_s, "job_images_per_s": per_second, "alone": alone,
                  "alone_images_per_s": alone_rate, "pass": passed,
                  "hardware": serving.hardware(health), "commit": serving.git_commit()}  # fmt: skip
        serving.write_json(args.json, result)
    return 1 if args.strict and not passed else 0


if __name__ == "__main__":
    sys.exit(main())
