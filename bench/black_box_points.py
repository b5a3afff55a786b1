"""The points a report's gradient-masking check broke with its black-box search after the white-box attacks had left
them robust, and whether far stronger white-box attacks break them too (docs/zoo_findings.md, "Two gradient-masking
checks fired, and the attack budget explains both").

For each model it repeats the report's black-box check exactly (explainlab/eval/checks.py: the Square-like search with
the report's queries, p_init and seed, on the first ``blackbox_n`` points its per-image worst case left robust,
attacked together) and checks that it breaks as many as the report says. On each broken point it then runs PGD on
the cross-entropy and on the DLR loss, and APGD-CE and APGD-DLR, with many random restarts, and prints the margin
f_y - max_{j != y} f_j each attack reaches (below 0: broken). A point the stronger white-box attacks also break means
the report's budget was short there; a point only the black-box search breaks is a sign of masked gradients.

    python bench/black_box_points.py --models ID [...] [--report report_strong_attacks.json] [--restarts 20]
           [--steps 200] [--json PATH] [--write]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from explainlab.runtime import configure_runtime

configure_runtime()

from explainlab.attacks import APGD, PGD  # noqa: E402
from explainlab.attacks.objectives import margin as attack_margin  # noqa: E402
from explainlab.data import load_dataset  # noqa: E402
from explainlab.errors import ExplainlabError  # noqa: E402
from explainlab.eval.checks import CheckSettings, robust_subset  # noqa: E402
from explainlab.eval.per_example import decode_per_example  # noqa: E402
from explainlab.eval.square import square_linf  # noqa: E402
from explainlab.zoo.listing import BLACK_BOX_POINTS, resolve_model_dir  # noqa: E402
from explainlab.zoo.store import load_model  # noqa: E402


def margin(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """f_y - max_{j != y} f_j per image (the attacks' margin, sign flipped): below 0 the image is misclassified."""
    with torch.no_grad():
        return -attack_margin(model(x), y)


def black_box_broken(model, x, y, robust, eps, checks: CheckSettings) -> tuple[torch.Tensor, torch.Tensor]:
    """The check's search as the report ran it: the test indices it broke and the margins it reached there."""
    idx = robust_subset(robust, checks.blackbox_n)
    x_adv, _ = square_linf(model, x[idx], y[idx], eps, n_queries=checks.blackbox_queries,
                           p_init=checks.blackbox_p_init, seed=checks.seed)  # fmt: skip
    reached = margin(model, x_adv, y[idx])
    return idx[reached < 0], reached[reached < 0]


def stronger_white_box(eps: float, steps: int, restarts: int) -> dict[str, object]:
    step = 2.5 * eps / steps
    return {
        f"pgd_ce {steps} x {restarts}": PGD(eps=eps, steps=steps, step_size=step, restarts=restarts, loss="ce"),
        f"pgd_dlr {steps} x {restarts}": PGD(eps=eps, steps=steps, step_size=step, restarts=restarts, loss="dlr"),
        f"apgd_ce {steps} x {min(restarts, 20)}": APGD(eps=eps, steps=steps, restarts=min(restarts, 20), loss="ce"),
        f"apgd_dlr {steps} x {min(restarts, 20)}": APGD(eps=eps, steps=steps, restarts=min(restarts, 20), loss="dlr"),
    }


def one_model(folder: Path, args: argparse.Namespace) -> dict[str, object]:
    report_path = folder / args.report
    report = json.loads(report_path.read_text())
    block = report["robust_accuracy"]
    worst = decode_per_example(block["worst"].get("per_example"))
    if not worst:
        raise ExplainlabError(f"{report_path}: no per-image worst case to take the robust points from")
    checks = CheckSettings(**report["evaluation"]["settings"]["checks"])
    model, card = load_model(folder)
    model.eval()
    data = load_dataset(card.dataset, "test", data_dir=args.data_dir)
    x, y = data.float_images()[: len(worst)], data.labels[: len(worst)]
    eps = float(block["eps"])
    robust = torch.tensor([v == 1 for v in worst])
    broken, bb_margins = black_box_broken(model, x, y, robust, eps, checks)
    recorded = report["checks"]["black_box_stronger"]["details"]["n_broken"]
    attacks = stronger_white_box(eps, args.steps, args.restarts)
    points = []
    for index, bb_margin in zip(broken.tolist(), bb_margins.tolist(), strict=True):
        xi, yi = x[index : index + 1], y[index : index + 1]
        row = {"test_index": index, "label": int(yi), "clean_margin": float(margin(model, xi, yi)),
               "black_box_margin": bb_margin, "white_box": {}}  # fmt: skip
        for name, attack in attacks.items():
            start = time.perf_counter()
            reached = float(margin(model, attack.perturb(model, xi, yi), yi))
            row["white_box"][name] = {"margin": reached, "broken": reached < 0,
                                      "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
        row["broken_by_white_box"] = any(v["broken"] for v in row["white_box"].values())
        points.append(row)
    return {"model": card.id, "report": args.report, "eps": eps, "report_n_broken": recorded,
            "repeated_n_broken": len(points), "points": points}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", nargs="+", required=True, metavar="ID", help="ids under --models-dir, or folders")
    ap.add_argument("--models-dir", type=Path, default=Path("models"))
    ap.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    ap.add_argument("--report", default="report_strong_attacks.json", help="the report file in each model folder")
    ap.add_argument("--steps", type=int, default=200, help="iterations per restart of the stronger attacks")
    ap.add_argument("--restarts", type=int, default=20, help="random restarts of PGD (APGD: at most 20)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON")
    ap.add_argument("--write", action="store_true", help="also store each as <model folder>/black_box_points.json")
    args = ap.parse_args(argv)
    if not 1 <= args.steps <= 1000 or not 1 <= args.restarts <= 1000:
        ap.error("--steps and --restarts must be in 1..1000")
    results = []
    for model in args.models:
        try:
            folder = resolve_model_dir(model, args.models_dir)
            result = one_model(folder, args)
        except (ExplainlabError, OSError, KeyError, ValueError) as error:
            ap.error(f"{model}: {error}")
        results.append(result)
        if args.write:
            (folder / BLACK_BOX_POINTS).write_text(
                json.dumps({"steps": args.steps, "restarts": args.restarts, **result}, indent=1))  # fmt: skip
        print(f"{result['model']}: the check broke {result['repeated_n_broken']} points "
              f"(report: {result['report_n_broken']})")  # fmt: skip
        for p in result["points"]:
            attacks = ", ".join(f"{k} {v['margin']:+.3f}" for k, v in p["white_box"].items())
            print(f"  test image {p['test_index']} (label {p['label']}): clean margin {p['clean_margin']:+.3f}, "
                  f"black-box {p['black_box_margin']:+.3f}; {attacks}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"steps": args.steps, "restarts": args.restarts, "models": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
