"""The mean over seeds of several ``bench/rar_paired.py --json`` runs, one run per seed (each run's first model the
reference of that seed): each seed's paired top-k difference and the mean's error, 2 SE, from the test images (the
runs' paired errors, taken as independent across seeds: the JSON keeps no per-image results) and the seeds (the
spread of their differences, std / sqrt(k)), as ``explainlab zoo claims`` counts both (its ``seeds_se``).

    python bench/seed_mean.py RUN_S0.json RUN_S1.json [...] [--metric topk_intersection|kendall]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from explainlab.zoo.claims import seeds_se


def seed_mean(runs: list[dict], metric: str = "topk_intersection") -> list[dict]:
    """Per compared model position (the runs' 2nd, 3rd, ... rows): each seed's difference and se, their mean and se."""
    out = []
    for position in range(1, min(len(run["rows"]) for run in runs)):
        seeds = [run["rows"][position]["vs_first"][metric] for run in runs]
        means, ses = [s["mean"] for s in seeds], [s["se"] for s in seeds]
        k = len(seeds)
        image_se = math.sqrt(sum(se * se for se in ses)) / k
        seed_se = seeds_se(means)
        out.append({"models": [run["rows"][position]["model"] for run in runs], "differences": means, "ses": ses,
                    "mean": sum(means) / k, "image_se": image_se, "seed_se": seed_se,
                    "se": math.hypot(image_se, seed_se)})  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="bench/rar_paired.py --json outputs, one per seed")
    ap.add_argument("--metric", choices=["topk_intersection", "kendall"], default="topk_intersection")
    args = ap.parse_args(argv)
    try:
        runs = [json.loads(path.read_text()) for path in args.runs]
        rows = seed_mean(runs, args.metric)
    except (OSError, ValueError, KeyError, IndexError, TypeError) as error:
        ap.error(f"not a bench/rar_paired.py --json output with a compared model: {error!r}")
    scale = 100 if args.metric == "topk_intersection" else 1
    for row in rows:
        pairs = zip(row["differences"], row["ses"], strict=True)
        per_seed = " / ".join(f"{scale * d:+.1f} ± {2 * scale * s:.1f}" for d, s in pairs)
        sys.stdout.write(f"{row['models'][0]} ...: per seed {per_seed}; mean {scale * row['mean']:+.1f} ± "
                         f"{2 * scale * row['se']:.1f} (images {2 * scale * row['image_se']:.1f}, seeds "
                         f"{2 * scale * row['seed_se']:.1f})\n")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
