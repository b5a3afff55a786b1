"""ATEX's own evaluation (Tang et al. 2022, attack_explain.py): attack each model's saliency maps with ATEX's top-k
explanation attack (``atex_topk``) and report the top-k intersection and Spearman rank correlation between the clean
and the adversarial |d logit_y / dx| maps, averaged over the originally-correct images among the first n test images.

Acceptance (docs): an ATEX model's top-50 intersection is at least its base model's + 5 points. Differences are
reported against the first model listed; the verdict is printed for each ATEX model when the first one is natural.

    python bench/atex_check.py [--models ID ...] [--models-dir models] [--data-dir ../shared/data] [--n 1000]
                               [--batch 250] [--eps 0.08] [--steps 200] [--step-size 0.02] [--k 50] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

from explainlab.runtime import configure_runtime

configure_runtime()

from explainlab.attacks import ATTACKS  # noqa: E402
from explainlab.data import load_dataset  # noqa: E402
from explainlab.errors import ExplainlabError  # noqa: E402
from explainlab.explain import EXPLAINERS, saliency_map  # noqa: E402
from explainlab.metrics.functional import spearman_rho, topk_intersection  # noqa: E402
from explainlab.zoo.store import load_model  # noqa: E402

DEFAULT_MODELS = ["mnist-small_cnn-natural-s0", "mnist-small_cnn-atex-s0"]
MARGIN_POINTS = 5.0  # acceptance: ATEX >= base + 5 points of top-k intersection


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", nargs="+", default=DEFAULT_MODELS, metavar="ID", help="model ids; the first = base")
    ap.add_argument("--models-dir", type=Path, default=Path("models"))
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--n", type=int, default=1000, help="first n test images (ATEX: 1000)")
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--eps", type=float, default=0.08, help="L-inf budget (ATEX MNIST script 0.08)")
    ap.add_argument("--steps", type=int, default=200, help="attack iterations (ATEX: 200)")
    ap.add_argument("--step-size", type=float, default=0.02, help="max-abs-normalized step (ATEX MNIST script 0.02)")
    ap.add_argument("--k", type=int, default=50, help="top-k of the attack and of the intersection (ATEX: 50)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON")
    return ap.parse_args(argv)


def grad_maps(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """ATEX's explanation: |d logit_y / dx| summed over channels, unnormalized: (N, H, W)."""
    return saliency_map(EXPLAINERS.create("saliency").explain(model, x, y))


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, args: argparse.Namespace) -> dict:
    params = {"eps": args.eps, "steps": args.steps, "step_size": args.step_size, "k": args.k}
    attack = ATTACKS.create("atex_topk", params)
    start = time.perf_counter()
    inter, rho, kept, correct, linf = [], [], [], 0, 0.0
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
        clean, adv = grad_maps(model, xb, yb), grad_maps(model, x_adv, yb)
        inter.append(topk_intersection(clean, adv, args.k).cpu())
        rho.append(spearman_rho(clean, adv).double().cpu())
        linf = max(linf, float((x_adv - xb).abs().amax()))
    if not correct:
        raise ValueError("no originally-correct image to attack")
    inter_t, rho_t = torch.cat(inter), torch.cat(rho)
    return {
        "n": len(x),
        "n_attacked": correct,
        "clean_accuracy": 100.0 * correct / len(x),
        "topk_intersection": 100.0 * float(inter_t.mean()),
        "topk_intersection_std": 100.0 * float(inter_t.std()) if len(inter_t) > 1 else 0.0,
        "spearman": float(rho_t.nanmean()),
        "label_kept": 100.0 * float(torch.cat(kept).mean()),
        "max_linf": linf,
        "seconds": time.perf_counter() - start,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = {k: getattr(args, k) for k in ("n", "batch", "eps", "steps", "step_size", "k", "device")}
    print(f"ATEX explanation attack: {settings}", flush=True)
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
        row["delta_spearman"] = row["spearman"] - base["spearman"]
        if base["method"] == "natural" and row["method"] == "atex":
            row["acceptance"] = row["delta_topk_points"] >= MARGIN_POINTS

    print()
    print(f"| model | method | n attacked | top-{args.k} ∩ (%) | Spearman | label kept (%) | Δ vs first (pts) | s |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        delta = f"{row['delta_topk_points']:+.1f}" if "delta_topk_points" in row else "(base)"
        print(
            f"| `{row['model']}` | {row['method']} | {row['n_attacked']} | {row['topk_intersection']:.1f} "
            f"| {row['spearman']:.3f} | {row['label_kept']:.1f} | {delta} | {row['seconds']:.0f} |"
        )
    for row in rows:
        if "acceptance" in row:
            verdict = "PASS" if row["acceptance"] else "FAIL"
            print(
                f"acceptance {verdict}: {row['model']} top-{args.k} ∩ {row['topk_intersection']:.1f} vs base "
                f"{base['model']} {base['topk_intersection']:.1f} ({row['delta_topk_points']:+.1f} points, "
                f"needs >= +{MARGIN_POINTS:.0f})"
            )
    if base["method"] != "natural" and len(rows) > 1:
        print(f"note: the first model ({base['model']}) is not a natural model: no acceptance verdict")
    elif not any("acceptance" in row for row in rows):
        print("note: no ATEX model evaluated beside a natural base: no acceptance verdict")
    for model_id, why in skipped.items():
        print(f"skipped {model_id}: {why}")

    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        out = {"settings": settings, "attack": "atex_topk", "models": rows, "skipped": skipped}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
