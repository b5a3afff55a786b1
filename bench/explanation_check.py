"""A method's own explanation, attacked: the top-k intersection and Spearman rank correlation between each model's
clean and adversarial maps under a label-preserving explanation attack, averaged over the originally-correct images
among the first n test images. Two presets, each comparing a method with its base model:

- ``atex`` (Tang et al. 2022, attack_explain.py): ATEX's own top-k attack (``atex_topk``) on |d logit_y / dx| maps,
  natural vs atex. Acceptance (docs): the ATEX model's top-50 intersection is at least its base's + 5 points.
- ``egat``: Ghorbani's top-k attack on Grad-CAM maps, the map EGAT-lab's consistency term trains (methods.md §5.1),
  pgd_at vs egat, plus the mean 1 - cos(E(x), E(x_adv)) under the CE-PGD training adversary (the term itself). A
  diagnostic: EGAT's acceptance is measured on IG maps under the RAR attack (report.json), not here.

Differences are reported against the first model listed, with an unpaired standard error of the difference.

    python bench/explanation_check.py --preset atex [--models ID ...] [--models-dir models] [--data-dir ../shared/data]
           [--n 1000] [--batch 250] [--eps E] [--steps S] [--step-size A] [--k K] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from explainlab.runtime import configure_runtime

configure_runtime()

from explainlab.attacks import ATTACKS  # noqa: E402
from explainlab.data import load_dataset  # noqa: E402
from explainlab.errors import ExplainlabError  # noqa: E402
from explainlab.explain import EXPLAINERS, saliency_map  # noqa: E402
from explainlab.metrics.functional import spearman_rho, topk_intersection  # noqa: E402
from explainlab.zoo.claims import standard_error as claims_standard_error  # noqa: E402
from explainlab.zoo.store import load_model  # noqa: E402

PRESETS: dict[str, dict] = {
    "atex": {
        "models": ["mnist-small_cnn-natural-s0", "mnist-small_cnn-atex-s0"],
        "attack": "atex_topk", "explainer": "saliency", "eps": 0.08, "steps": 200, "step_size": 0.02, "k": 50,
        "pgd_steps": 0, "base_method": "natural", "method": "atex", "margin": 5.0, "kind": "acceptance",
    },
    "egat": {
        "models": ["mnist-small_cnn-pgd_at-s0", "mnist-small_cnn-egat-s0", "mnist-small_cnn-natural-s0"],
        "attack": "topk", "explainer": "gradcam", "eps": 0.3, "steps": 100, "step_size": 0.01, "k": 100,
        "pgd_steps": 10, "base_method": "pgd_at", "method": "egat", "margin": 3.0, "kind": "diagnostic",
    },
}  # fmt: skip
PGD_STEP_SIZE = 0.04  # the zoo's training adversary on MNIST (configs/mnist_pgd_at.toml): PGD-10 x 0.04


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--preset", choices=sorted(PRESETS), required=True, help="which method's own explanation")
    ap.add_argument("--models", nargs="+", default=None, metavar="ID", help="model ids; the first = base")
    ap.add_argument("--models-dir", type=Path, default=Path("models"))
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--n", type=int, default=1000, help="first n test images (ATEX: 1000)")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--eps", type=float, default=None, help="L-inf budget (atex 0.08 as its MNIST script; egat 0.3)")
    ap.add_argument("--steps", type=int, default=None, help="attack iterations (atex 200; egat 100)")
    ap.add_argument("--step-size", type=float, default=None, help="step (atex 0.02, max-abs scaled; egat 0.01, sign)")
    ap.add_argument("--k", type=int, default=None, help="top-k of the attack and of the intersection (atex 50)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON")
    args = ap.parse_args(argv)
    preset = PRESETS[args.preset]
    for key in ("models", "eps", "steps", "step_size", "k"):
        if getattr(args, key) is None:
            setattr(args, key, preset[key])
    for key in ("attack", "explainer", "pgd_steps"):
        setattr(args, key, preset[key])
    if args.n < 1 or args.batch < 1 or args.steps < 1 or args.k < 1 or not 0 < args.eps <= 1:
        ap.error("--n, --batch, --steps and --k must be >= 1 and --eps in (0, 1]")
    return args


def explain(model: nn.Module, x: torch.Tensor, y: torch.Tensor, explainer: str) -> torch.Tensor:
    """The preset's per-pixel map, unnormalized: (N, H, W)."""
    return saliency_map(EXPLAINERS.create(explainer).explain(model, x, y))


def pgd_dissimilarity(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, clean_map: torch.Tensor, args: argparse.Namespace
) -> torch.Tensor:
    """1 - cos(E(x), E(x_adv)) per image, x_adv = CE-PGD (the training adversary), E = the preset's explainer."""
    params = {"eps": args.eps, "steps": args.pgd_steps, "step_size": PGD_STEP_SIZE}
    x_adv = ATTACKS.create("pgd", params).perturb(model, x, y)
    adv = explain(model, x_adv, y, args.explainer).flatten(1)
    return 1 - F.cosine_similarity(clean_map.flatten(1), adv, dim=1, eps=1e-12)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> dict:
    params = {"eps": args.eps, "steps": args.steps, "step_size": args.step_size, "k": args.k}
    if args.attack != "atex_topk":
        params["explainer"] = args.explainer
    attack = ATTACKS.create(args.attack, params)
    start = time.perf_counter()
    inter, rho, kept, dissim, correct, linf = [], [], [], [], 0, 0.0
    for i in range(0, len(x), args.batch):
        xb, yb = x[i : i + args.batch].to(args.device), y[i : i + args.batch].to(args.device)
        with torch.no_grad():
            ok = model(xb).argmax(1) == yb
        if not ok.any():
            continue
        xb, yb = xb[ok], yb[ok]  # only originally-correct images are attacked
        correct += len(xb)
        x_adv = attack.perturb(model, xb, yb)
        with torch.no_grad():
            kept.append((model(x_adv).argmax(1) == yb).float().cpu())
        clean, adv = explain(model, xb, yb, args.explainer), explain(model, x_adv, yb, args.explainer)
        inter.append(topk_intersection(clean, adv, args.k).cpu())
        rho.append(spearman_rho(clean, adv).double().cpu())
        linf = max(linf, float((x_adv - xb).abs().amax()))
        if args.pgd_steps:
            dissim.append(pgd_dissimilarity(model, xb, yb, clean, args).detach().cpu())
    if not correct:
        raise ValueError("no originally-correct image to attack")
    inter_t, rho_t = torch.cat(inter), torch.cat(rho)
    row = {
        "n": len(x),
        "n_attacked": correct,
        "clean_accuracy": 100.0 * correct / len(x),
        "topk_intersection": 100.0 * float(inter_t.mean()),
        "topk_intersection_std": 100.0 * float(inter_t.std()) if len(inter_t) > 1 else 0.0,
        "spearman": float(rho_t.nanmean()),
        "label_kept": 100.0 * float(torch.cat(kept).mean()),
        "max_linf": linf,
    }
    if dissim:
        row["pgd_map_dissimilarity"] = float(torch.cat(dissim).mean())
    row["seconds"] = time.perf_counter() - start
    return row


def standard_error(row: dict) -> float:
    """SE of a row's mean top-k intersection, as the claims table computes it (std / sqrt(n))."""
    entry = {"value": row["topk_intersection"], "n": row["n_attacked"], "std": row["topk_intersection_std"]}
    return claims_standard_error(entry, "topk_intersection")


def print_table(rows: list[dict], args: argparse.Namespace) -> None:
    pgd = f" | 1-cos under CE-PGD-{args.pgd_steps}" if args.pgd_steps else ""
    print(
        f"| model | method | n attacked | top-{args.k} ∩ (%) | Spearman | label kept (%){pgd} | Δ vs first (pts) | s |"
    )
    print("|---|---|---|---|---|---|" + ("---|" if pgd else "") + "---|---|")
    for row in rows:
        delta = f"{row['delta_topk_points']:+.1f} ± {row['delta_se']:.1f}" if "delta_topk_points" in row else "(base)"
        extra = f" | {row['pgd_map_dissimilarity']:.4f}" if pgd else ""
        print(
            f"| `{row['model']}` | {row['method']} | {row['n_attacked']} | {row['topk_intersection']:.1f} "
            f"| {row['spearman']:.3f} | {row['label_kept']:.1f}{extra} | {delta} | {row['seconds']:.0f} |"
        )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    preset = PRESETS[args.preset]
    keys = ("preset", "attack", "explainer", "n", "batch", "eps", "steps", "step_size", "k", "pgd_steps", "device")
    settings = {k: getattr(args, k) for k in keys}
    print(f"explanation check: {settings}", flush=True)
    rows: list[dict] = []
    skipped: dict[str, str] = {}
    datasets: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    for model_id in args.models:
        directory = args.models_dir / model_id
        if not directory.is_dir():
            skipped[model_id] = f"not found: {directory} does not exist (not trained yet?)"
            print(f"SKIP {model_id}: {skipped[model_id]}", flush=True)
            continue
        try:
            model, card = load_model(directory, device=args.device)
            if card.dataset not in datasets:
                data = load_dataset(card.dataset, "test", data_dir=args.data_dir)
                datasets[card.dataset] = (data.float_images()[: args.n], data.labels[: args.n])
            x, y = datasets[card.dataset]
            row = {"model": model_id, "method": card.method, "dataset": card.dataset, **evaluate(model, x, y, args)}
        except (ExplainlabError, ValueError) as error:
            skipped[model_id] = str(error)
            print(f"SKIP {model_id}: {error}", flush=True)
            continue
        rows.append(row)
        print(
            f"{model_id}: top-{args.k} intersection {row['topk_intersection']:.1f}%, Spearman {row['spearman']:.3f}, "
            f"label kept {row['label_kept']:.1f}%, attacked {row['n_attacked']}/{row['n']}, {row['seconds']:.1f} s",
            flush=True,
        )
    if not rows:
        print("no model could be evaluated", file=sys.stderr)
        return 1

    base = rows[0]
    for row in rows[1:]:
        row["delta_topk_points"] = row["topk_intersection"] - base["topk_intersection"]
        row["delta_se"] = math.hypot(standard_error(row), standard_error(base))
        row["delta_spearman"] = row["spearman"] - base["spearman"]
        if base["method"] == preset["base_method"] and row["method"] == preset["method"]:
            row[preset["kind"]] = row["delta_topk_points"] >= preset["margin"]

    print()
    print_table(rows, args)
    for row in rows:
        if preset["kind"] in row:
            verdict = "PASS" if row[preset["kind"]] else "FAIL"
            print(
                f"{preset['kind']} {verdict}: {row['model']} top-{args.k} ∩ {row['topk_intersection']:.1f} vs base "
                f"{base['model']} {base['topk_intersection']:.1f} ({row['delta_topk_points']:+.1f} ± "
                f"{row['delta_se']:.1f} points, needs >= +{preset['margin']:.0f})"
            )
    if not any(preset["kind"] in row for row in rows):
        print(f"note: no {preset['method']} model beside a {preset['base_method']} base first: no verdict")
    for model_id, why in skipped.items():
        print(f"skipped {model_id}: {why}")

    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {"settings": settings, "attack": args.attack, "models": rows, "skipped": skipped}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
