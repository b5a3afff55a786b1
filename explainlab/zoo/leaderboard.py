"""Render the zoo leaderboard (``models/README.md``) from the stored models' cards and reports: one table per dataset.

Generated text only; the numbers come from ``report.json`` files written by ``explainlab evaluate``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from explainlab import markdown
from explainlab.data.specs import DATASETS, canonical_name
from explainlab.errors import UnknownNameError
from explainlab.zoo.claims import check_claims, format_number, render_claims
from explainlab.zoo.listing import default_models_dir, list_models

README = "README.md"

COLUMNS: list[tuple[str, str, str]] = [  # (headline key, header, format: "pct" or "num")
    ("clean", "clean", "pct"),
    ("pgd", "PGD", "pct"),
    ("apgd_ce", "APGD-CE", "pct"),
    ("apgd_dlr", "APGD-DLR", "pct"),
    ("worst", "worst", "pct"),
    ("topk_intersection", "top-k ∩", "pct"),
    ("kendall", "Kendall τ", "num"),
    ("gini", "Gini", "num"),
    ("corruption_mean", "corruption mean", "pct"),
]

REGENERATE = (
    "How to regenerate: `explainlab evaluate <id> --models-dir {root}` for each model (writes "
    "`{root}/<id>/report.json`), then `explainlab zoo leaderboard --models-dir {root} --write`."
)

LEGEND = (
    "Each cell is the number and, in parentheses, the count of test images it was measured on (n). clean: clean "
    "accuracy; PGD, APGD-CE, APGD-DLR: robust accuracy (%) under L∞ attacks at the ε in the heading; worst: "
    "per-image worst case over clean and the three attacks. top-k ∩ (%) and Kendall τ: similarity of IG maps before "
    "and after RAR's top-k explanation attack (Chen et al. 2019), averaged over the originally-correct images "
    "attacked (higher = more robust explanations). Gini: sparsity of IG maps (higher = more concise). corruption "
    "mean: accuracy (%) averaged over 5 corruptions × 3 severities. train time: the run's own; a fine-tune adds its "
    "base model's (named). Notes: `quick` = smoke-test settings; "
    "`RAR reduced` = protocol settings below the paper's (listed); warning codes are explained in docs/checks.md; "
    "`stronger attacks` = the same evaluation re-run with more restarts (`<id>/report_strong_attacks.json`), its "
    "worst case and warnings; `N torch threads` appears where a table's reports ran at different thread counts, "
    "which moves the RAR attack's result (float summation order; about 1 point on 200 images)."
)

CLAIMS_LEGEND = (
    "Each row compares two stored models on one number (`explainlab zoo claims` prints the same as JSON). "
    "A − B ± 2 SE: the difference with two standard errors. Both models see the same test images, so where both "
    "reports store their per-image results the difference and its error are the paired ones, the mean of a − b and "
    "std(a − b)/√n over the images both scored (marked paired; for RAR's top-k ∩ and Kendall τ, scored on the images "
    "each model classifies correctly, that is the images both do, so it need not equal A − B of the columns); "
    "otherwise the columns' difference with the unpaired, conservative error (std/√n each; binomial for accuracies). "
    "needs: the margin the claim "
    'requires. A verdict "within noise" means the difference minus the margin lies within 2 SE of 0. A mean over '
    "seeds (k seed pairs) adds to that error the seeds' own, std(d_s)/√k over each seed pair's difference d_s "
    '(marked + seeds); where those differences fall on both sides of the margin, the verdict adds "seeds disagree" '
    "and lists them. Marked mixed CPUs: a seed pair's two reports ran on different CPUs, kernels or thread counts "
    "(or one does not say), which moved a difference of RAR's top-k ∩ by up to 0.6 points in the re-evaluations so "
    'far (docs/zoo_findings.md, "CPU"), beyond the error shown. Settings are the '
    "zoo's CPU budgets (see each card's deviations), not the papers'."
)

VARIANTS_LEGEND = (
    "The table above has one model per method: the one trained from scratch (not a fine-tune), and among those the "
    "first id (seed 0, the base recipe). The rest, ranked the same way: other seeds, weight sweeps, longer runs and "
    "control runs."
)

MORE_CLAIMS_LEGEND = (
    "The table above compares the methods' main models (each dataset's first table at the top). These rows check "
    "the same claims on the variants: other seeds and their mean, weight sweeps, longer schedules, fine-tunes and "
    "controls."
)

SEED_LEGEND = (
    "Models trained from one config with different seeds (ids `<recipe>-s<seed>`): each cell lists the seeds' "
    "numbers in seed order and, in parentheses, their spread (max − min). A claim about one seed counts only the "
    "sampling of test images; a difference smaller than this spread is within seed-to-seed variation too."
)
SEEDED_ID = re.compile(r"(?P<recipe>.+)-s(?P<seed>\d+)")


def seed_spread(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Evaluated models whose ids differ only in the seed suffix, one entry per recipe (the id without it) with two or
    more seeds: {"recipe", "seeds", "ids", "metrics": {headline key: {"values" (seed order), "spread"} or None}}."""
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for row in rows:
        match = SEEDED_ID.fullmatch(row["id"])
        if match and row.get("has_report"):
            groups[match["recipe"]].append((int(match["seed"]), row))
    out = []
    for recipe, group in sorted(groups.items()):
        if len(group) < 2:
            continue
        group.sort(key=lambda pair: pair[0])
        metrics: dict[str, dict[str, Any] | None] = {}
        for key, _, _ in COLUMNS:
            values = [(row["headline"].get(key) or {}).get("value") for _, row in group]
            metrics[key] = None if None in values else {"values": values, "spread": max(values) - min(values)}
        out.append({"recipe": recipe, "seeds": [seed for seed, _ in group], "ids": [row["id"] for _, row in group],
                    "metrics": metrics})  # fmt: skip
    return out


def _spread_cell(entry: dict[str, Any] | None, fmt: str) -> str:
    if entry is None:
        return "—"
    return " / ".join(_format(v, fmt) for v in entry["values"]) + f" ({_format(entry['spread'], fmt)})"


def render_seed_spread(rows: list[dict[str, Any]]) -> list[str]:
    """The seed-spread table (markdown lines); empty when no recipe has two evaluated seeds."""
    spread = seed_spread(rows)
    if not spread:
        return []
    header = ["recipe", "seeds", *[c[1] for c in COLUMNS]]
    rows = [[f"`{entry['recipe']}`", ", ".join(map(str, entry["seeds"])),
             *(_spread_cell(entry["metrics"][key], fmt) for key, _, fmt in COLUMNS)] for entry in spread]  # fmt: skip
    return ["## Seed-to-seed spread", "", SEED_LEGEND, "", *markdown.table(header, rows), ""]


def _format(value: float, fmt: str) -> str:
    return format_number(value, pct=fmt == "pct")


def _cell(entry: dict[str, Any] | None, fmt: str) -> str:
    if entry is None or entry.get("value") is None:
        return "—"
    text = _format(float(entry["value"]), fmt)
    return f"{text} (n={entry['n']})" if entry.get("n") is not None else text


def format_duration(seconds: float | None) -> str:
    if not seconds:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def mixes_thread_counts(rows: list[dict[str, Any]]) -> bool:
    """Whether these models' reports were evaluated at more than one torch thread count."""
    return len({row.get("torch_threads") for row in rows if row.get("has_report")}) > 1


def _warning_codes(codes: list[str]) -> str:
    return "warnings: " + ", ".join(f"`{c}`" for c in codes)


def _notes(row: dict[str, Any], mixed_threads: bool = False) -> str:
    if row.get("error"):
        return "unreadable card (`explainlab zoo list` shows the error)"
    if not row.get("has_report"):
        return "no report"
    notes = []
    if row.get("one_class_evaluation"):
        notes.append("**measured on one class only** (its test images were all of one class): re-evaluation pending")
    if row.get("quick"):
        notes.append("quick")
    overrides = {k: v for k, v in (row.get("rar_overrides") or {}).items() if k not in ("batch_size", "seed")}
    if overrides and not row.get("rar_paper_settings"):
        notes.append("RAR reduced: " + ", ".join(f"{k}={v}" for k, v in sorted(overrides.items())))
    if row.get("warnings"):
        notes.append(_warning_codes(row["warnings"]))
    strong = row.get("strong_attacks")
    if strong and strong.get("worst"):
        restarts = strong["settings"]
        notes.append(f"stronger attacks (PGD × {restarts['pgd_restarts']}, APGD × {restarts['apgd_restarts']} "
                     f"restarts): worst {_format(strong['worst']['value'], 'pct')}, "
                     + (_warning_codes(strong["warnings"]) if strong["warnings"] else "no warnings"))  # fmt: skip
    points = row.get("black_box_points")
    if points and points["n_points"]:
        notes.append(f"the black-box check's broken points ({points['report']}): {points['n_white_box_broken']} of "
                     f"{points['n_points']} also broken by PGD / APGD at {points['steps']} steps × "
                     f"{points['restarts']} restarts (`black_box_points.json`)")  # fmt: skip
    if mixed_threads:
        threads = row.get("torch_threads")
        notes.append(f"{threads or '?'} torch thread{'' if threads == 1 else 's'}")
    return "; ".join(notes)


def _sort_key(row: dict[str, Any]) -> tuple:
    head = row.get("headline") or {}
    worst, clean = head.get("worst"), head.get("clean")
    return (
        not row.get("has_report"),
        -(worst["value"] if worst else -1.0),
        -(clean["value"] if clean else -1.0),
        row["id"],
    )


def dataset_rank(name: str) -> tuple[int, str]:
    """The datasets in the order the registry lists them (MNIST first, the lab's home), unknown names last."""
    order = list(DATASETS)
    return (order.index(name) if name in order else len(order), name)


def _dataset_title(name: str) -> str:
    try:
        return DATASETS[canonical_name(name)].title
    except (UnknownNameError, KeyError):
        return name


def _heading(name: str, rows: list[dict[str, Any]]) -> str:
    eps_values = sorted({r.get("eval_eps") or r["threat_model"]["eps"] for r in rows if "threat_model" in r} - {0.0})
    eps = ", ".join(f"{e:.4g}" + (f" = {round(e * 255)}/255" if e < 0.1 else "") for e in eps_values)
    return f"## {_dataset_title(name)}" + (f" (L∞, ε = {eps})" if eps else "")


def _display_path(root: Path) -> str:
    """``root`` relative to the working directory when it lies inside it (so a committed README has no tmp paths)."""
    try:
        return root.resolve().relative_to(Path.cwd().resolve()).as_posix() or "."
    except ValueError:
        return root.as_posix()


def render_leaderboard(models_dir: str | Path | None = None) -> str:
    """The leaderboard markdown for every stored model under ``models_dir``."""
    root = Path(models_dir) if models_dir is not None else default_models_dir()
    rows = list_models(root)
    by_dataset: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_dataset[row.get("dataset", "(unreadable cards)")].append(row)
    lines = [
        "# Model zoo leaderboard",
        "",
        "Generated from the stored models' `card.json` and `report.json` by `explainlab zoo leaderboard --write`; "
        "do not edit by hand.",
        "",
        REGENERATE.format(root=_display_path(root)),
        "",
        LEGEND,
        "",
    ]
    if not rows:
        lines += ["No stored models yet.", ""]
    for dataset in sorted(by_dataset, key=dataset_rank):
        group = sorted(by_dataset[dataset], key=_sort_key)
        mixed_threads = mixes_thread_counts(group)
        variants = [row for row in group if row.get("representative") is False]
        lines += [_heading(dataset, group), "", *_model_table([r for r in group if r not in variants], mixed_threads)]
        if variants:
            lines += [f"### {_dataset_title(dataset)}: variants", "", VARIANTS_LEGEND, ""]
            lines += _model_table(variants, mixed_threads)
    lines += render_seed_spread([row for row in rows if not row.get("error")])
    claims = check_claims(root, rows)
    if claims:
        lines += ["## The papers' claims, checked", "", CLAIMS_LEGEND, ""]
        for dataset in dict.fromkeys(c["dataset"] for c in claims):
            title = _dataset_title(dataset)
            main_claims = [c for c in claims if c["dataset"] == dataset and c["main"]]
            more = [c for c in claims if c["dataset"] == dataset and not c["main"]]
            lines += [f"### {title}", ""] + ([*render_claims(main_claims), ""] if main_claims else [])
            if more:
                lines += [f"#### {title}: more comparisons (seeds, sweeps, longer runs, fine-tunes)", ""]
                lines += [MORE_CLAIMS_LEGEND, "", *render_claims(more), ""]
    return "\n".join(lines)


def _model_table(rows: list[dict[str, Any]], mixed_threads: bool) -> list[str]:
    """One markdown table of stored models, one row each with its headline numbers, train time and notes."""
    header = ["model", "method", *[c[1] for c in COLUMNS], "train time", "notes"]
    cells_of_rows = []
    for row in rows:
        head = row.get("headline") or {}
        cells = [f"`{row['id']}`", row.get("method", "—")]
        cells += [_cell(head.get(key), fmt) for key, _, fmt in COLUMNS]
        duration = format_duration(row.get("train_seconds"))
        if row.get("init_from"):  # a fine-tune: its own time, on top of its base model's
            duration += f" + `{row['init_from']}`"
        cells_of_rows.append([*cells, duration, _notes(row, mixed_threads)])
    return [*markdown.table(header, cells_of_rows), ""]


def write_leaderboard(models_dir: str | Path | None = None, path: str | Path | None = None) -> Path:
    """Write the leaderboard to ``path`` (default ``<models_dir>/README.md``)."""
    root = Path(models_dir) if models_dir is not None else default_models_dir()
    target = Path(path) if path is not None else root / README
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_leaderboard(root))
    return target
