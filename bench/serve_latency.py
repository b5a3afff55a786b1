"""Latency of the running lab on loopback: /explain, /attack and bad input, against the targets, in one run.

Starts ``python -m explainlab serve`` on a free loopback port (compute worker, 2 torch threads, its own empty runs
folder; stopped at the end) unless ``--url`` names a running server. One keep-alive httpx client sends every request
one after the other; latency is the client's wall time per request (send, compute, receive, parse JSON). Every
measured request carries a different image (an MNIST gallery image with one pixel changed, bench/serving.py), so the
result cache never answers; responses with ``"cached": true`` are counted and reported.

1. /explain, Integrated Gradients (50 steps) on one MNIST model: 5 warm-up, then ``--n-explain`` requests;
   median, p90, p99 and mean latency, and the median of the server's own ``total_ms``.
2. /attack, PGD-40 (L-inf eps 0.3, step 0.01, 1 restart) with IG-50 maps before and after, on three MNIST models
   (natural, pgd_at, egat first; others fill in): 2 warm-up, then ``--n-attack`` requests; median and p90.
3. Bad input, each sent 3 times: a text file, a truncated PNG, a 50-megapixel PNG (8000x6250, 1 bit, a few KB), an
   animated GIF (multipart uploads), an unknown model id, eps 1.5, steps = 10^9 (IG and PGD), the model id
   "../../etc/passwd" (JSON); status, error.code, error.field, the slowest answer; then GET /healthz.

    python bench/serve_latency.py                                   # 100 explain, 20 attack requests
    python bench/serve_latency.py --n-explain 300 --n-attack 50 --json out/serve_latency.json
    python bench/serve_latency.py --url http://127.0.0.1:8000       # a server that is already running

Acceptance: /explain median <= 60 ms; /attack median <= 2 s; every bad input answers 4xx naming a field, each
within 1 s, and the server still answers /healthz afterwards. The table gives measured / target for each.
Exit status: 0 when everything was measured (targets are reported PASS/FAIL; ``--strict`` makes a FAIL exit 1),
2 when a valid request failed, a response came from the cache, or the server stopped serving.
"""

from __future__ import annotations

import argparse
import functools
import io
import math
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import serving  # noqa: E402

EXPLAIN_TARGET_MS = 60.0
ATTACK_TARGET_MS = 2000.0
BAD_INPUT_TARGET_MS = 1000.0
WARMUP_EXPLAIN, WARMUP_ATTACK, BAD_REPEATS = 5, 2, 3


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=None, help="measure this running server (default: start one on loopback)")
    parser.add_argument("--n-explain", type=int, default=100, help="timed /explain requests (after 5 warm-up)")
    parser.add_argument("--n-attack", type=int, default=20, help="timed /attack requests (after 2 warm-up)")
    parser.add_argument("--threads", type=int, default=2, help="EXPLAINLAB_THREADS of the server started here")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the results as JSON ('-': stdout)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    if args.n_explain < 1 or args.n_attack < 1 or args.threads < 1:
        parser.error("--n-explain, --n-attack and --threads must be at least 1")
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- valid requests ----------------------------------------------------------------------------------------------
def measure(
    http: Any, path: str, bodies: list[dict[str, Any]], warmup: int, label: str
) -> tuple[list[serving.Result], list[serving.Result]]:
    """Send ``bodies`` one after the other; the first ``warmup`` are not measured."""
    warm, timed = [], []
    for i, body in enumerate(bodies):
        result = serving.timed_post(http, path, json=body)
        (warm if i < warmup else timed).append(result)
        if not result.ok:
            log(f"  {label} request {i}: status {result.status} {result.error or serving.error_of(result)}")
        done = i + 1 - warmup
        if done > 0 and (done % 25 == 0 or i + 1 == len(bodies)):
            log(f"  {label}: {done}/{len(bodies) - warmup}")
    return warm, timed


def latency_block(timed: list[serving.Result], warm: list[serving.Result]) -> dict[str, Any]:
    ok = [r for r in timed if r.ok]
    ms = [r.seconds * 1000 for r in ok]
    server_ms = [r.server_ms for r in ok if r.server_ms is not None]
    return {
        "latency_ms": serving.summary(ms),
        "server_total_ms": serving.summary(server_ms),
        "failed": [{"status": r.status, "error": r.error or serving.error_of(r)} for r in timed if not r.ok],
        "cached": sum(1 for r in timed + warm if r.cached),
        "warmup_ms": [r.seconds * 1000 for r in warm],
        "all_ms": [r.seconds * 1000 for r in timed],
    }


# ---- bad input ---------------------------------------------------------------------------------------------------
def big_png() -> bytes:
    """8000 x 6250 = 50 megapixels of 1-bit black: a few KB of PNG, twice the server's default max_pixels."""
    buffer = io.BytesIO()
    Image.new("1", (8000, 6250), 0).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def animated_gif() -> bytes:
    frames = [Image.new("L", (28, 28), v) for v in (0, 255)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buffer.getvalue()


def bad_cases(model: str, images: serving.Variants, base: int) -> list[dict[str, Any]]:
    """(name, endpoint, how it is sent, the field a good answer names) of every bad input."""
    png = images.png(base)
    good = images.b64(base + 1)
    form = {"models": model, "method": "integrated_gradients", "method_params": '{"steps": 50}'}
    ig = serving.explain_body(good, [model])
    pgd = serving.attack_body(good, [model])
    return [
        {"name": "text file", "path": "/explain", "files": ("notes.txt", b"not an image\n" * 40, "text/plain"),
         "data": form, "field": "image"},
        {"name": "truncated PNG", "path": "/explain", "files": ("cut.png", png[: len(png) // 2], "image/png"),
         "data": form, "field": "image"},
        {"name": "50 MP PNG (8000x6250, 1 bit)", "path": "/explain", "files": ("big.png", big_png(), "image/png"),
         "data": form, "field": "image"},
        {"name": "animated GIF", "path": "/explain", "files": ("anim.gif", animated_gif(), "image/gif"),
         "data": form, "field": "image"},
        {"name": "unknown model id", "path": "/explain", "json": {**ig, "models": ["mnist-no_such_net-natural-s0"]},
         "field": "models"},
        {"name": "eps 1.5 (L-inf)", "path": "/attack",
         "json": {**pgd, "attack_params": {**pgd["attack_params"], "eps": 1.5}}, "field": "attack_params"},
        {"name": "IG steps 10^9", "path": "/explain",
         "json": {**ig, "method_params": {"steps": 10**9}}, "field": "method_params"},
        {"name": "PGD steps 10^9", "path": "/attack",
         "json": {**pgd, "attack_params": {**pgd["attack_params"], "steps": 10**9}}, "field": "attack_params"},
        {"name": 'model id "../../etc/passwd"', "path": "/explain", "json": {**ig, "models": ["../../etc/passwd"]},
         "field": "models"},
    ]  # fmt: skip


def bad_input(http: Any, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for case in cases:
        answers = []
        for _ in range(BAD_REPEATS):
            if "files" in case:
                result = serving.timed_post(http, case["path"], files={"image": case["files"]}, data=case["data"])
            else:
                result = serving.timed_post(http, case["path"], json=case["json"])
            error = serving.error_of(result)
            answers.append({"status": result.status, "code": error.get("code"), "field": error.get("field"),
                            "message": error.get("message") or result.error, "ms": result.seconds * 1000})  # fmt: skip
        statuses = sorted({a["status"] for a in answers})
        fields = sorted({str(a["field"]) for a in answers})
        codes = sorted({str(a["code"]) for a in answers})
        max_ms = max(a["ms"] for a in answers)
        named = all(a["field"] for a in answers)
        passed = all(400 <= a["status"] < 500 for a in answers) and named and max_ms < BAD_INPUT_TARGET_MS
        sent_as = "multipart" if "files" in case else "json"
        out.append({"name": case["name"], "endpoint": case["path"], "sent_as": sent_as,
                    "statuses": statuses, "codes": codes, "fields": fields, "expected_field": case["field"],
                    "field_as_expected": all(str(a["field"] or "").startswith(case["field"]) for a in answers),
                    "max_ms": max_ms, "pass": passed, "answers": answers})  # fmt: skip
    return out


# ---- report ------------------------------------------------------------------------------------------------------
def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    images = serving.Variants(offset=serving.random_offset() if args.url else 0)
    with serving.server(args.url, compute="worker", threads=args.threads) as srv, serving.client(srv.url) as http:
        health = serving.healthz(http)
        models = serving.pick_mnist_models(http, 3)
        if not models:
            log(f"no MNIST model at {srv.url}/models: nothing to measure")
            return 2
        if len(models) < 3:
            log(f"only {len(models)} MNIST model(s) in the zoo: /attack runs on {', '.join(models)}")
        origin = "started here" if srv.started else "given"
        log(f"serve_latency: {srv.url} ({origin}), device {health.get('device')}, {health.get('torch_threads')} "
            f"torch threads, explain on {models[0]}, attack on {', '.join(models)}")  # fmt: skip

        n_ex, n_at = WARMUP_EXPLAIN + args.n_explain, WARMUP_ATTACK + args.n_attack  # image i: request i
        explain_bodies = [serving.explain_body(images.b64(i), models[:1]) for i in range(n_ex)]
        attack_bodies = [serving.attack_body(images.b64(n_ex + i), models) for i in range(n_at)]
        n = n_ex + n_at

        start = time.perf_counter()
        warm, timed = measure(http, "/explain", explain_bodies, WARMUP_EXPLAIN, "explain")
        explain = latency_block(timed, warm)
        warm, timed = measure(http, "/attack", attack_bodies, WARMUP_ATTACK, "attack")
        attack = latency_block(timed, warm)
        log("  bad input ...")
        bad = bad_input(http, bad_cases(models[0], images, n))
        try:
            health_after = serving.healthz(http)
            serving_after = health_after.get("status") == "ok"
        except Exception as error:  # noqa: BLE001 - a dead server is a result here
            health_after, serving_after = {"error": f"{type(error).__name__}: {error}"}, False
        wall_s = time.perf_counter() - start
        server_log = srv.log_tail() if srv.started else ""

    say = functools.partial(print, file=sys.stderr if args.json == "-" else sys.stdout)  # '-': JSON alone on stdout
    e, a = explain["latency_ms"], attack["latency_ms"]
    checks = {
        "explain_median": e["p50"] <= EXPLAIN_TARGET_MS if not math.isnan(e["p50"]) else False,
        "attack_median": a["p50"] <= ATTACK_TARGET_MS if not math.isnan(a["p50"]) else False,
        "bad_input": all(b["pass"] for b in bad),
        "serving_after_bad_input": serving_after,
    }
    rows: list[list[Any]] = []

    def row(name: str, measured: float | None, target: float | None, ok: bool | None, note: str = "") -> None:
        shown_target = "-" if target is None else f"<= {target:g}"
        rows.append([name, serving.fmt(measured), shown_target, serving.fmt(serving.ratio(measured, target), 2),
                     verdict(ok), note])  # fmt: skip

    tag = f"IG-50, {models[0]}"
    row("explain median ms", e["p50"], EXPLAIN_TARGET_MS, checks["explain_median"], f"n={e['n']}, {tag}")
    row("explain p90 ms", e["p90"], None, None)
    row("explain p99 ms", e["p99"], None, None)
    row("explain mean ms", e["mean"], None, None)
    row("explain server total_ms median", explain["server_total_ms"]["p50"], None, None, "the server's own clock")
    row("attack median ms", a["p50"], ATTACK_TARGET_MS, checks["attack_median"],
        f"n={a['n']}, PGD-40 + IG-50 x{len(models)}")  # fmt: skip
    row("attack p90 ms", a["p90"], None, None)
    row("attack server total_ms median", attack["server_total_ms"]["p50"], None, None)
    for b in bad:
        note = (f"{'/'.join(map(str, b['statuses']))} {','.join(b['codes'])} field={','.join(b['fields'])}"
                + ("" if b["field_as_expected"] else f" (expected {b['expected_field']})"))  # fmt: skip
        row(f"bad: {b['name']} max ms", b["max_ms"], BAD_INPUT_TARGET_MS, b["pass"], note)
    rows.append(["/healthz after bad input", "ok" if serving_after else "DOWN", "ok", "-", verdict(serving_after), ""])

    say(f"\nserve_latency: {srv.url}, {health.get('device')}, {health.get('torch_threads')} torch threads, "
          f"{serving.hardware(health)['cpu_count']} CPUs, {wall_s:.0f} s")  # fmt: skip
    say(serving.table(["measure", "measured", "target", "ratio", "verdict", "note"], rows,
                        right=[False, True, True, True, False, False]))  # fmt: skip
    cached = explain["cached"] + attack["cached"]
    failed = len(explain["failed"]) + len(attack["failed"])
    say(f"\ncached responses: {cached} (must be 0); failed valid requests: {failed}")
    if explain["failed"] or attack["failed"]:
        for f in (explain["failed"] + attack["failed"])[:5]:
            say(f"  failed: {f}")
    all_pass = all(checks.values())
    missed = ", ".join(k for k, v in checks.items() if not v) or "all met"
    say(f"acceptance: {'PASS' if all_pass else 'FAIL'} ({missed})")
    if not serving_after and server_log:
        say("server log tail:\n" + server_log)

    if args.json:
        serving.write_json(args.json, {
            "benchmark": "serve_latency", "url": srv.url, "server_started_here": srv.started,
            "server_settings": srv.env or None, "healthz": health, "healthz_after": health_after,
            "hardware": serving.hardware(health), "git_commit": serving.git_commit(),
            "models": models, "image_offset": images.offset, "wall_s": wall_s,
            "targets_ms": {"explain_median": EXPLAIN_TARGET_MS, "attack_median": ATTACK_TARGET_MS,
                           "bad_input_max": BAD_INPUT_TARGET_MS},
            "explain": {"warmup": WARMUP_EXPLAIN, "method_params": {"steps": 50}, "model": models[0], **explain},
            "attack": {"warmup": WARMUP_ATTACK, "attack_params": attack_bodies[0]["attack_params"], "models": models,
                       **attack},
            "bad_input": bad, "checks": checks, "pass": all_pass,
            "ratios": {"explain_median": serving.ratio(e["p50"], EXPLAIN_TARGET_MS),
                       "attack_median": serving.ratio(a["p50"], ATTACK_TARGET_MS),
                       "bad_input_max": serving.ratio(max(b["max_ms"] for b in bad), BAD_INPUT_TARGET_MS)},
        })  # fmt: skip
    if cached or failed or not serving_after:
        return 2
    return 1 if args.strict and not all_pass else 0


if __name__ == "__main__":
    raise SystemExit(main())
