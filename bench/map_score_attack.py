"""Does a model's saliency map survive Ghorbani's top-k attack when it explains the decision? The same label-keeping
top-k attack on the saliency map (Ghorbani et al. 2019; the settings of ``explainlab map-curve`` at eps / 2) run twice
on the same first n test images for several models: on the map of the logit f_y, and on the map of the centered logit
f_y - mean_j f_j (the explainers' ``score = "centered_logit"``: the same prediction, and a component added to every
logit, which decides nothing, cancels). Per model and score: the top-k intersection of the clean and attacked maps and
its paired difference from the first model, with 2 standard errors (docs/zoo_findings.md, "The saliency term is met by
a logit shared by every class").

    python bench/map_score_attack.py --models REF OTHER [...] [--models-dir models] [--data-dir ../shared/data]
           [--n 100] [--eps 0.15] [--steps 50] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from explainlab.runtime import configure_runtime

configure_runtime()

from explainlab.data import load_dataset  # noqa: E402
from explainlab.errors import CheckpointError  # noqa: E402
from explainlab.eval.map_curve import MapCurveSettings, curve_attack  # noqa: E402
from explainlab.eval.paired_args import paired_models_parser  # noqa: E402
from explainlab.eval.per_example import paired_difference  # noqa: E402
from explainlab.eval.testset import evaluate_images, mean_2se  # noqa: E402
from explainlab.explain import EXPLAINERS  # noqa: E402
from explainlab.markdown import table  # noqa: E402
from explainlab.zoo.listing import resolve_model_dir  # noqa: E402
from explainlab.zoo.store import load_model  # noqa: E402

SCORES = ("logit", "centered_logit")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = paired_models_parser(__doc__, default_n=100)
    ap.add_argument("--eps", type=float, default=0.15, help="L-inf budget (default 0.15: half the MNIST threat model)")
    ap.add_argument("--steps", type=int, default=50, help="attack iterations (default 50, as map-curve)")
    ap.add_argument("--k-fraction", type=float, default=0.1, help="k of the attack and the metric, share of pixels")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON")
    args = ap.parse_args(argv)
    if args.n < 2:
        ap.error("--n must be >= 2")
    if not 0.0 < args.eps <= 1.0 or args.steps < 1 or not 0.0 < args.k_fraction <= 1.0:
        ap.error("--eps must be in (0, 1], --steps >= 1, --k-fraction in (0, 1]")
    return args


def topk_kept(models: list, x, y, score: str, args: argparse.Namespace) -> list[list[float | None]]:
    """Per model, every image's top-k intersection under the top-k attack on the saliency map of ``score``."""
    k = max(1, round(args.k_fraction * x.shape[-1] * x.shape[-2]))
    settings = MapCurveSettings(steps=args.steps, k_fraction=args.k_fraction)
    attack = curve_attack(args.eps, k, settings, explainer_params={"score": score})
    explainer = EXPLAINERS.create("saliency", {"score": score})
    return [g["topk_intersection"] for g in evaluate_images(models, x, y, attack, explainer, k=k)]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        loaded = [load_model(resolve_model_dir(m, args.models_dir)) for m in args.models]
    except CheckpointError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    models, cards = [m.eval() for m, _ in loaded], [c for _, c in loaded]
    data = load_dataset(cards[0].dataset, "test", data_dir=args.data_dir)
    x, y = data.float_images()[: args.n], data.labels[: args.n]
    start = time.perf_counter()
    kept = {score: topk_kept(models, x, y, score, args) for score in SCORES}
    rows = []
    for i, card in enumerate(cards):
        row: dict = {"model": card.id}
        for score in SCORES:
            row[score] = mean_2se(kept[score][i])
            if i:
                row[f"{score}_vs_first"] = paired_difference(kept[score][i], kept[score][0])
        rows.append(row)

    def cell(row: dict, score: str) -> str:
        if row[score]["mean"] is None:
            return "— (n=0)"
        text = f"{100 * row[score]['mean']:.1f} (n={row[score]['n']})"
        d = row.get(f"{score}_vs_first")
        return text + (f", {100 * d['mean']:+.1f} ± {200 * d['se']:.1f}" if d and d["se"] is not None else "")

    sys.stdout.write(f"top-k attack on saliency maps, eps {args.eps}, {args.steps} steps, first {args.n} test images, "
                     f"{time.perf_counter() - start:.0f} s\n")  # fmt: skip
    lines = table(["model", "top-k ∩ %, logit f_y (vs first, 2 SE)", "top-k ∩ %, centered logit (vs first, 2 SE)"],
                  [[f"`{r['model']}`", cell(r, "logit"), cell(r, "centered_logit")] for r in rows])  # fmt: skip
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        settings = {"n": args.n, "eps": args.eps, "steps": args.steps, "k_fraction": args.k_fraction}
        args.json.write_text(json.dumps({**settings, "rows": rows, "per_image": kept}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
