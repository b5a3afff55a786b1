"""Where a model's robustness comes from, on the same first n test images for several models: the question behind the
MNIST EGAT bar (docs/zoo_findings.md, "Why the term costs robust accuracy").

A ReLU net can resist an eps-ball in two ways: by a small input gradient over the ball (the loss is flat and nearly
linear there), or by switching units off and on inside it, as the thresholding filters Madry et al. 2018 found in the
first layer of their MNIST PGD-AT model do (a pixel that moves from 0 to 0.3 stays below a threshold). EGAT-lab's
saliency term asks the input gradient at x and at its PGD point to agree, which the second way breaks. Per model,
on the clean-correct images, with each model's own PGD-40 point x' (eps 0.3, step 0.01, one random start):

- ``saliency_cos``: cos of the L2-normalized maps |d f_y / dx| at x and x' (what the term trains; 1 = the same map);
- ``grad_norm``: ||d f_y / dx (x)||_2, the raw logit gradient's size, and ``grad_change``: ||d f_y / dx (x') -
  d f_y / dx (x)||_2, how far it moves over the ball (what a curvature penalty trains);
- ``flips_<layer>``: share of the units of each ReLU layer that switch on or off between x and x' (the JSON has
  every layer; the table, for nets with more than three, their mean as ``flips_mean``);
- ``centered_saliency_cos``: the same cos for the maps of the centered logit f_y - mean_j f_j (what softmax sees);
- ``logit_vs_centered_cos``: cos of the saliency maps of f_y and of the centered logit at the clean x — how far the
  map of the logit is from the map of the decision (what the lab shows with ``score = centered_logit``);
- ``mean_logit``: mean_j f_j(x), and ``shared_cos``: cos(d f_y / dx, d mean_j f_j / dx) at x — how much of the map of
  f_y is a component shared by every logit, which changes no prediction;
- ``linearity_gap``: |L(x') - L(x) - <x' - x, grad L(x)>| for the cross-entropy L (Qin et al. 2019's measure);
- ``first_order_rise``: eps * ||grad L(x)||_1, the loss rise a linear model would allow (a flat-loss measure);
- ``loss_rise``: L(x') - L(x);

and, from the weights alone, ``conv1_background_immune``: the first-layer channels that stay off on a black patch
under any perturbation of size eps (bias + the weights' positive part times eps <= 0, normalization folded in),
as a share of the channels that are off on black at all; each such channel's radius (the eps at which it turns on)
goes to the JSON, and the table counts those at eps to 0.001, which sit on the attack's budget (adversarial training
puts a dozen there: docs/zoo_findings.md, "IG-SUM-NORM's miss sits on a cliff"). Differences from the first model are
paired over the images both score, with 2 standard errors.

    python bench/gradient_geometry.py --models REF OTHER [...] [--models-dir models] [--data-dir ../shared/data]
           [--n 500] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from explainlab.runtime import configure_runtime

configure_runtime()

from explainlab.attacks.pgd import PGD  # noqa: E402
from explainlab.data import load_dataset  # noqa: E402
from explainlab.errors import CheckpointError  # noqa: E402
from explainlab.eval.paired_args import paired_models_parser  # noqa: E402
from explainlab.eval.per_example import paired_difference  # noqa: E402
from explainlab.markdown import table  # noqa: E402
from explainlab.training.egat import saliency_from_gradient  # noqa: E402
from explainlab.zoo.listing import resolve_model_dir  # noqa: E402
from explainlab.zoo.store import load_model  # noqa: E402

PER_IMAGE = (
    "saliency_cos", "centered_saliency_cos", "logit_vs_centered_cos", "mean_logit", "shared_cos", "grad_norm",
    "grad_change", "linearity_gap", "first_order_rise", "loss_rise",
)  # fmt: skip


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = paired_models_parser(__doc__, default_n=500)
    ap.add_argument("--eps", type=float, default=0.3, help="L-inf budget (default 0.3, the MNIST threat model)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write the results as JSON")
    args = ap.parse_args(argv)
    if args.n < 2:
        ap.error("--n must be >= 2")
    if not 0.0 < args.eps <= 1.0:
        ap.error("--eps must be in (0, 1]")
    return args


ON_EDGE = 1e-3  # a channel whose radius is this close to eps switches on at the attack's budget, float rounding aside


def background_immune(model: torch.nn.Module, eps: float) -> dict[str, Any]:
    """First-layer channels off on a black patch (x = 0), those that stay off for every x in [0, eps]^patch, and
    each off channel's radius: the largest such eps, -pre-activation on black / the weights' positive part (sorted;
    None where no perturbation turns it on). ``on_edge``: radii within ON_EDGE of eps. All None for a net whose first
    conv has no bias, e.g. one followed by BatchNorm."""
    conv = getattr(model.net, "conv1", None)
    if not isinstance(conv, torch.nn.Conv2d) or conv.bias is None:
        return {"channels": None, "off_on_black": None, "immune": None, "on_edge": None, "radii": None}
    mean, std = model.mean.flatten(), model.std.flatten()
    w = conv.weight.detach() / std.view(1, -1, 1, 1)  # (C_out, C_in, k, k) in pixel units
    at_black = conv.bias.detach() - (w * mean.view(1, -1, 1, 1)).sum((1, 2, 3))
    positive = w.clamp(min=0).sum((1, 2, 3))
    worst = at_black + eps * positive
    off = at_black <= 0
    radii = sorted((-at_black[off] / positive[off]).tolist())
    return {"channels": int(w.shape[0]), "off_on_black": int(off.sum()), "immune": int((worst <= 0).sum()),
            "on_edge": sum(abs(r - eps) <= ON_EDGE for r in radii),
            "radii": [round(r, 6) if math.isfinite(r) else None for r in radii]}  # fmt: skip


def gradients(model: torch.nn.Module, z: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """From one forward pass at ``z``: the logits, the cross-entropy per image, and the input gradients (N, C, H, W)
    of f_y, of the mean logit mean_j f_j and of the cross-entropy."""
    z = z.detach().requires_grad_(True)
    logits = model(z)
    loss = F.cross_entropy(logits, y, reduction="none")
    scores = (logits.gather(1, y[:, None]).sum(), logits.mean(1).sum(), loss.sum())
    grads = [torch.autograd.grad(score, z, retain_graph=True)[0] for score in scores]
    return {"logits": logits.detach(), "loss": loss.detach(), "f_y": grads[0], "mean": grads[1], "loss_grad": grads[2]}


def per_image(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> dict[str, torch.Tensor]:
    """The PER_IMAGE measures, NaN where the clean image is misclassified."""
    x_adv = PGD(eps=eps, steps=40, step_size=0.01, seed=0).perturb(model, x, y)
    relus = {name: m for name, m in model.net.named_modules() if isinstance(m, torch.nn.ReLU)}
    acts: dict[str, list[torch.Tensor]] = {name: [] for name in relus}
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: acts[name].append(out.detach() > 0))
             for name, m in relus.items()]  # fmt: skip
    try:
        with torch.enable_grad():
            clean, adv = gradients(model, x, y), gradients(model, x_adv, y)  # one forward each: the flips' two
    finally:
        for hook in hooks:
            hook.remove()
    centered = [g["f_y"] - g["mean"] for g in (clean, adv)]
    maps = [saliency_from_gradient(g) for g in (clean["f_y"], adv["f_y"], *centered)]  # f_y at x, x'; centered at x, x'
    grad_clean, grad_adv = clean["f_y"].flatten(1), adv["f_y"].flatten(1)
    out = {
        "saliency_cos": (maps[0] * maps[1]).sum(1),
        "centered_saliency_cos": (maps[2] * maps[3]).sum(1),
        "logit_vs_centered_cos": (maps[0] * maps[2]).sum(1),
        "mean_logit": clean["logits"].mean(1),
        "shared_cos": F.cosine_similarity(grad_clean, clean["mean"].flatten(1), dim=1),
        "grad_norm": grad_clean.norm(dim=1),
        "grad_change": (grad_adv - grad_clean).norm(dim=1),
        "linearity_gap": (adv["loss"] - clean["loss"] - ((x_adv - x) * clean["loss_grad"]).flatten(1).sum(1)).abs(),
        "first_order_rise": eps * clean["loss_grad"].flatten(1).abs().sum(1),
        "loss_rise": adv["loss"] - clean["loss"],
        **{f"flips_{name}": (on[0] != on[1]).flatten(1).float().mean(1) for name, on in acts.items()},
    }
    if acts:
        out["flips_mean"] = torch.stack([v for k, v in out.items() if k.startswith("flips_")]).mean(0)
    wrong = clean["logits"].argmax(1) != y
    return {k: torch.where(wrong, torch.nan, v.double()) for k, v in out.items()}


def _cell(row: dict, measure: str) -> str:
    d = row.get("vs_first", {}).get(measure)
    delta = f" ({d['mean']:+.3f} ± {2 * d['se']:.3f})" if d and d["se"] is not None else ""
    return f"{row[measure]:.3f}{delta}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        folders = [resolve_model_dir(m, args.models_dir) for m in args.models]
    except CheckpointError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    rows, first = [], None
    data = None
    for folder in folders:
        start = time.perf_counter()
        model, card = load_model(folder)
        model.eval()
        if data is None:
            data = load_dataset(card.dataset, "test", data_dir=args.data_dir)
            x, y = data.float_images()[: args.n], data.labels[: args.n]
        values = per_image(model, x, y, args.eps)
        row = {"model": card.id, **{k: float(v.nanmean()) for k, v in values.items()},
               "n": int((~values["saliency_cos"].isnan()).sum()), **background_immune(model, args.eps)}  # fmt: skip
        if first is None:
            first = values
        else:
            row["vs_first"] = {k: paired_difference(values[k].tolist(), first[k].tolist()) for k in values}
        row["seconds"] = round(time.perf_counter() - start, 1)
        rows.append(row)
        sys.stdout.write(f"{card.id}: {row['seconds']:.0f} s\n")
    flips = [k for k in first if k.startswith("flips_") and k != "flips_mean"]  # ReLU nets only
    measures = [k for k in first if k != "flips_mean" and (len(flips) <= 3 or k not in flips)]
    measures += ["flips_mean"] if len(flips) > 3 else []
    lines = table(["model", "n", *measures, "conv1 immune / off on black", f"conv1 radius at ε ± {ON_EDGE:g}"], [
        [f"`{row['model']}`", str(row["n"]), *(_cell(row, k) for k in measures),
         f"{row['immune']} / {row['off_on_black']} of {row['channels']}" if row["channels"] else "—",
         str(row["on_edge"]) if row["channels"] else "—"] for row in rows
    ])  # fmt: skip
    sys.stdout.write("\n" + "\n".join(lines) + "\n")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "eps": args.eps, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
