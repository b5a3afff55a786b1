"""What RAR's top-k intersection (Chen et al. 2019) gives for maps that know nothing of the model, under the same
perturbations: for each model, RAR's attack (the zoo's protocol) on its originally-correct first n test images, then
the top-k intersection between the maps of x and of the attacked x' for (a) the model's own IG maps (its RAR
number), (b) the IG maps of a randomly initialized net of the same architecture (seeded; several seeds averaged) and
(c) the image itself as a map (|x| summed over channels); and the paired difference of (a) and (b) per image. (b)
and (c) say how much of RAR's number the image and the IG formula supply on their own (docs/sanity_checks.md).

    python bench/rar_reference.py --models ID [...] [--models-dir models] [--data-dir ../shared/data] [--n 100]
           [--random-seeds 3] [--steps S] [--restarts R] [--attack-ig-steps M] [--ig-steps M] [--json PATH]
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from explainlab.runtime import configure_runtime

configure_runtime()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.rar_paired import add_protocol_flags, protocol_for  # noqa: E402
from explainlab.data import load_dataset  # noqa: E402
from explainlab.eval.attribution_robustness import attribution_robustness  # noqa: E402
from explainlab.eval.paired_args import paired_models_parser  # noqa: E402
from explainlab.eval.testset import mean_2se  # noqa: E402
from explainlab.explain import saliency_map  # noqa: E402
from explainlab.explain.integrated_gradients import IntegratedGradients  # noqa: E402
from explainlab.metrics.functional import topk_intersection  # noqa: E402
from explainlab.nets import build_model  # noqa: E402
from explainlab.zoo.listing import resolve_model_dir  # noqa: E402
from explainlab.zoo.store import load_model  # noqa: E402


def random_twin(card, seed: int) -> torch.nn.Module:  # noqa: ANN001
    """The card's architecture and normalization with freshly initialized weights (seeded), in eval mode."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(card.net, card.mean, card.std, **card.net_params).eval()


def kept(model: torch.nn.Module, x: torch.Tensor, x_adv: torch.Tensor, target: torch.Tensor, ig_steps: int,
         k: int) -> list[float]:  # fmt: skip
    """Per image, the top-k intersection of the model's IG maps (RAR's evaluation rule) at x and at x'."""
    ig = IntegratedGradients(steps=ig_steps, rule="riemann_right")
    before, after = saliency_map(ig.explain(model, x, target)), saliency_map(ig.explain(model, x_adv, target))
    return topk_intersection(before, after, k).tolist()


def main(argv: list[str] | None = None) -> int:
    ap = paired_models_parser(__doc__, default_n=100)
    ap.add_argument("--random-seeds", type=int, default=3, help="random nets averaged per image (default 3)")
    add_protocol_flags(ap)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    args.error = ap.error
    rows = []
    for model_id in args.models:
        start = time.perf_counter()
        model, card = load_model(resolve_model_dir(model_id, args.models_dir))
        protocol = protocol_for(card.dataset, args)
        data = load_dataset(card.dataset, "test", data_dir=args.data_dir)
        x, y = data.float_images()[: args.n], data.labels[: args.n]
        result = attribution_robustness(model, x, y, protocol)
        xs, ys, x_adv = x[result.attacked], y[result.attacked], result.x_adv
        own = kept(model, xs, x_adv, ys, protocol.ig_steps, protocol.k_eval)
        twins = [kept(random_twin(card, seed), xs, x_adv, ys, protocol.ig_steps, protocol.k_eval)
                 for seed in range(args.random_seeds)]  # fmt: skip
        twin = [sum(values) / len(values) for values in zip(*twins, strict=True)]
        image = topk_intersection(xs.sum(1), x_adv.sum(1), protocol.k_eval).tolist()
        rows.append({"model": card.id, "n_attacked": len(own), "k": protocol.k_eval,
                     "rar_topk": float(result.topk_intersection.mean()), "own_ig": mean_2se(own),
                     "random_net_ig": mean_2se(twin), "image_itself": mean_2se(image),
                     "own_minus_random_net": mean_2se([a - b for a, b in zip(own, twin, strict=True)]),
                     "max_linf": float((x_adv - xs).abs().max()), "seconds": time.perf_counter() - start,
                     "per_image": {"own_ig": own, "random_net_ig": twin, "image_itself": image}})  # fmt: skip
        r = rows[-1]
        pct = lambda s: f"{100 * s['mean']:.1f} ± {100 * (s['se2'] or 0):.1f}"  # noqa: E731
        sys.stdout.write(f"{card.id}: n {r['n_attacked']}, RAR top-k {100 * r['rar_topk']:.1f} % (own IG "
                         f"{pct(r['own_ig'])}); random net's IG {pct(r['random_net_ig'])}; the image itself "
                         f"{pct(r['image_itself'])} %; own - random net (paired) {pct(r['own_minus_random_net'])}; "
                         f"{r['seconds']:.0f} s\n")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "random_seeds": args.random_seeds, "models": rows}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
