"""Scan a models directory: each stored model's id, card summary and the headline numbers of its report.

A stored model is a sub-folder with ``card.json`` (and ``weights.safetensors``, ``report.json`` once evaluated).
Reports are read as plain JSON so that older or partial reports still list; a missing number is ``None``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from functools import partial
from pathlib import Path
from typing import Any

from explainlab.errors import CheckpointError
from explainlab.eval.per_example import decode_per_example
from explainlab.zoo.store import CARD, CERTIFIED_MAP, MAP_CURVE, REPORT, SANITY_CHECK, read_card, run_settings

log = logging.getLogger(__name__)

ENV_VAR = "EXPLAINLAB_MODELS"

# headline key -> path into report.json of the block holding {"value", "n_eval"}
HEADLINE_PATHS: dict[str, tuple[str, ...]] = {
    "clean": ("clean_accuracy",),
    "pgd": ("robust_accuracy", "pgd"),
    "apgd_ce": ("robust_accuracy", "apgd_ce"),
    "apgd_dlr": ("robust_accuracy", "apgd_dlr"),
    "worst": ("robust_accuracy", "worst"),
    "topk_intersection": ("attribution_robustness", "topk_intersection"),
    "kendall": ("attribution_robustness", "kendall"),
    "gini": ("gini",),
    "corruption_mean": ("corruption_accuracy",),
}


def default_models_dir() -> Path:
    """``$EXPLAINLAB_MODELS``, else ``models`` in the working directory (the shipped zoo in a checkout)."""
    return Path(os.environ.get(ENV_VAR, "models"))


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def headline(report: dict[str, Any] | None) -> dict[str, dict[str, Any] | None]:
    """The leaderboard numbers of a report: key -> {"value", "n"} (None where the report lacks the number)."""
    out: dict[str, dict[str, Any] | None] = {}
    for key, path in HEADLINE_PATHS.items():
        block = _dig(report, path)
        if not isinstance(block, dict):
            out[key] = None
            continue
        value = block.get("mean") if key == "corruption_mean" else block.get("value")
        n = block.get("n_eval")
        out[key] = None if value is None else {"value": value, "n": n, "std": block.get("std")}
    return out


def per_example(report: dict[str, Any] | None, key: str) -> list[float | None] | None:
    """The per-image values behind a headline number (``None`` for reports written before they were recorded)."""
    block = _dig(report, HEADLINE_PATHS[key])
    return decode_per_example(block.get("per_example")) if isinstance(block, dict) else None


# From this time on an image folder's test split is read round-robin over its classes (data.image_folder); before, the
# first test images of a class-sorted folder were all of one class (CIFAR-10's JPEG copy: the first 1000 airplanes).
ROUND_ROBIN_TEST_ORDER_SINCE = "2026-12-04T20:04:00+00:00"


def one_class_evaluation(report: dict[str, Any] | None) -> bool:
    """Whether the report's images were all of one class: from its recorded ``class_counts`` where it has them, else
    whether it measured the first test images of an image folder (a ``.zip`` or ``*jpg*`` source) before its test split
    was read round-robin over the classes (then they were all of the first class)."""
    evaluation = (report or {}).get("evaluation") or {}
    counts = evaluation.get("class_counts")
    if isinstance(counts, dict) and counts:
        present = [int(v) for v in counts.values() if int(v) > 0]
        return len(present) == 1 and present[0] > 1
    source = str(evaluation.get("data_source") or "")
    image_folder = source.endswith(".zip") or "jpg" in Path(source).name
    return image_folder and str(evaluation.get("created") or "") < ROUND_ROBIN_TEST_ORDER_SINCE


def evaluated_on(report: dict[str, Any] | None) -> str | None:
    """Where a report's numbers were computed (``evaluation.hardware``: CPU model, vector kernels, torch threads), or
    None where it is not recorded. RAR's attack result moves with both (docs/zoo_findings.md, "CPU")."""
    hardware = _dig(report, ("evaluation", "hardware"))
    if not isinstance(hardware, str):
        return None
    # early reports wrote "1 torch threads"; one spelling, so that equal settings compare equal
    return re.sub(r"\b(\d+) torch threads?\b", lambda m: f"{m[1]} torch thread{'' if m[1] == '1' else 's'}", hardware)


def report_notes(report: dict[str, Any] | None) -> dict[str, Any]:
    """Qualifiers a reader needs next to the numbers: quick run, reduced RAR settings, fired warnings, the torch
    thread count of the evaluation (the RAR attack's result depends on it through float summation order), and whether
    it measured one class only (``one_class_evaluation``)."""
    if report is None:
        return {"quick": None, "rar_overrides": {}, "rar_paper_settings": None, "warnings": [], "torch_threads": None,
                "one_class_evaluation": False}  # fmt: skip
    attribution = report.get("attribution_robustness") or {}
    return {
        "quick": bool(_dig(report, ("evaluation", "quick"))),
        "rar_overrides": attribution.get("overrides", {}),
        "rar_paper_settings": attribution.get("paper_settings"),
        "warnings": [w.get("code") for w in report.get("warnings", []) if isinstance(w, dict)],
        "torch_threads": _dig(report, ("evaluation", "torch_threads")),
        "one_class_evaluation": one_class_evaluation(report),
    }


def eps_curve(report: dict[str, Any] | None) -> dict[str, Any] | None:
    """Robust accuracy against the attack budget, from the report's ε-sweep check (gradient-masking checks,
    docs/checks.md): ``{"eps": [...], "accuracy": [...], "n", "steps"}``, ε = 0 being clean accuracy on the same images;
    PGD with one random restart at each budget, so an upper bound a little above the headline's strong attacks."""
    details = _dig(report, ("checks", "eps_not_monotone", "details"))
    if not isinstance(details, dict) or len(details.get("eps") or []) != len(details.get("robust_accuracy") or []):
        return None
    return {
        "eps": [float(e) for e in details["eps"]],
        "accuracy": [float(a) for a in details["robust_accuracy"]],
        "n": _dig(report, ("checks", "eps_not_monotone", "n_eval")),
        "steps": _dig(report, ("evaluation", "settings", "checks", "sweep_steps")),
    }


def map_curve(directory: Path) -> dict[str, Any] | None:
    """The saliency map's survival against ε (``explainlab map-curve``, ``map_curve.json``), if measured:
    ``{"eps", "topk_intersection", "topk_std", "spearman", "label_kept", "k", "n_eval", "n", "steps", "map"}`` (n:
    the originally-correct images attacked)."""
    data = _read_report(directory, MAP_CURVE)
    if data is None or len(data.get("eps") or []) != len(data.get("topk_intersection") or []):
        return None
    settings = data.get("settings") or {}
    curve = {k: data.get(k) for k in ("eps", "topk_intersection", "topk_std", "spearman", "label_kept", "k", "n_eval")}
    return {**curve, "n": data.get("n_attacked"), "steps": settings.get("steps"), "map": settings.get("explainer")}


CERTIFIED_KEYS = ("method", "params", "images", "radius", "certified_share", "important_certified_of_k",
                  "abstained_share", "smoothed_accuracy", "certified_accuracy")  # fmt: skip
DEFAULT_SIGMA = 0.12  # the run the Models pages lead with, where there is one


def certified_map(directory: Path) -> dict[str, Any] | None:
    """Certified maps over test images (``explainlab certify --write``, ``certified_map.json``), if measured: the run
    at σ 0.12 (else the first) with its settings, L2 radius and means with two standard errors (``{"mean", "se2",
    "n"}``), and ``by_sigma``: the runs with the same settings but σ, in σ order."""
    data = _read_report(directory, CERTIFIED_MAP)
    runs = [r for r in (data or {}).get("runs") or [] if isinstance(r.get("important_certified_of_k"), dict)]
    if not runs:
        return None
    main = next((r for r in runs if r["params"].get("sigma") == DEFAULT_SIGMA), runs[0])
    key = partial(run_settings, ignore=("sigma", "seed", "batch"))
    same = [r for r in runs if key(r) == key(main)]
    return {
        **{k: main.get(k) for k in CERTIFIED_KEYS},
        "by_sigma": [{k: r.get(k) for k in CERTIFIED_KEYS} for r in same],
    }


SANITY_KEYS = ("method", "method_params", "params", "images", "n", "input_spearman", "other_class", "stages", "flags")


def sanity_runs(directory: Path) -> list[dict[str, Any]] | None:
    """The weight randomization test over test images (``explainlab sanity-check --write``, ``sanity_check.json``),
    if measured: one row per stored run (method, order), each stage's similarity to the trained map with two
    standard errors; the flags recomputed from the means. The model page and ``GET /models/<id>`` show these."""
    from explainlab.eval.sanity_check import summary_flags  # here: explainlab.eval imports this module

    data = _read_report(directory, SANITY_CHECK)
    runs = [r for r in (data or {}).get("runs") or [] if isinstance(r.get("stages"), list)]
    rows = [{k: r.get(k) for k in SANITY_KEYS} for r in runs]
    for row in rows:  # flags are derived from the means: recomputed, so every stored run reads the same way
        row["flags"] = summary_flags(row, (row.get("params") or {}).get("order", "cascading"))
    return rows or None


def sanity_check(directory: Path) -> list[dict[str, Any]] | None:
    """``sanity_runs`` in brief, for the zoo's listing: per run the map, the order, the images, the flags, and the
    mean share of top-k pixels kept at each stage and for the runner-up class."""
    runs = sanity_runs(directory)
    if runs is None:
        return None
    mean = lambda stat: (stat or {}).get("mean")  # noqa: E731
    return [{"method": r["method"], "order": (r.get("params") or {}).get("order"), "images": r.get("images"),
             "flags": [f["code"] for f in r["flags"]],
             "topk_kept": {s["name"]: mean(s.get("topk_intersection")) for s in r["stages"][1:]},
             "other_class_topk": mean((r.get("other_class") or {}).get("topk_intersection")),
             "input_spearman": mean(r.get("input_spearman"))} for r in runs]  # fmt: skip


STRONG_REPORT = "report_strong_attacks.json"  # the same evaluation at more restarts: a check of the standard budget


def strong_attacks(directory: Path) -> dict[str, Any] | None:
    """The re-run with stronger white-box attacks (``--set pgd_restarts=10 --set apgd_restarts=5 --out
    <dir>/report_strong_attacks.json``), if any: its worst case and warnings, which qualify the report's."""
    report = _read_report(directory, STRONG_REPORT)
    if report is None:
        return None
    settings = {k: _dig(report, ("evaluation", "settings", k)) for k in ("pgd_restarts", "apgd_restarts")}
    return {"worst": headline(report).get("worst"), "warnings": report_notes(report)["warnings"], "settings": settings}


BLACK_BOX_POINTS = "black_box_points.json"  # bench/black_box_points.py --write: the check's broken points, attacked


def black_box_points(directory: Path) -> dict[str, Any] | None:
    """The points a report's black-box check broke, attacked again with stronger white-box attacks (``python
    bench/black_box_points.py --models <id> --write``), if done: how many, how many of them the white-box attacks broke
    too (``all_broken``: the warning came from a short budget, not from masked gradients), and at what budget."""
    data = _read_report(directory, BLACK_BOX_POINTS)
    if data is None or not isinstance(data.get("points"), list):
        return None
    points = data["points"]
    n_broken = sum(bool(p.get("broken_by_white_box")) for p in points)
    return {"report": data.get("report"), "n_points": len(points), "steps": data.get("steps"),
            "restarts": data.get("restarts"), "n_white_box_broken": n_broken,
            "all_broken": bool(points) and n_broken == len(points)}  # fmt: skip


def _read_report(directory: Path, name: str = REPORT) -> dict[str, Any] | None:
    path = directory / name
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        log.warning("%s: unreadable report: %s", path, error)
        return None
    return data if isinstance(data, dict) else None


def describe_model(directory: str | Path) -> dict[str, Any]:
    """One stored model as a JSON-ready row: card summary, report presence, headline numbers and notes."""
    directory = Path(directory)
    card = read_card(directory)
    report = _read_report(directory)
    return {
        "id": card.id,
        "title": card.title,
        "dataset": card.dataset,
        "net": card.net,
        "method": card.method,
        "threat_model": card.threat_model.model_dump(),
        "eval_eps": _dig(report, ("robust_accuracy", "eps")),
        "train_seconds": card.train_seconds,
        "init_from": Path(card.train_config["init_from"]).name if card.train_config.get("init_from") else None,
        "hardware": card.hardware,
        "path": str(directory),
        "has_report": report is not None,
        "evaluated": _dig(report, ("evaluation", "created")),
        "headline": headline(report),
        "eps_curve": eps_curve(report),
        "map_curve": map_curve(directory),
        "certified_map": certified_map(directory),
        "sanity_check": sanity_check(directory),
        "strong_attacks": strong_attacks(directory),
        "black_box_points": black_box_points(directory),
        **report_notes(report),
    }


def short_id(model_id: str) -> str:
    """``mnist-small_cnn-egat_saliency_l0.2-s0`` -> ``egat_saliency_l0.2``: the id without its dataset and net, and
    without the seed where it is 0 (``pgd_at-s1`` keeps it)."""
    stem, _, seed = model_id.rpartition("-")
    recipe = stem.rsplit("-", 1)[-1]
    return recipe if seed == "s0" else f"{recipe}-{seed}"


def representatives(rows: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """(dataset, method) -> the model that stands for the method in the zoo's main tables and the lab's default
    comparison: trained from scratch before a fine-tune (e.g. a control run), then the first id (seed 0 before seed 1,
    the base recipe before its sweeps). The other models of a method are its variants."""
    picked: dict[tuple[str, str], str] = {}
    for row in sorted((r for r in rows if not r.get("error")), key=lambda r: (bool(r.get("init_from")), r["id"])):
        picked.setdefault((row["dataset"], row["method"]), row["id"])
    return picked


def list_models(models_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Every stored model under ``models_dir`` (sorted by id), each marked ``representative`` of its method or not
    and with its ``short_id``; a folder with a broken card lists with its error."""
    root = Path(models_dir) if models_dir is not None else default_models_dir()
    if not root.is_dir():
        return []
    rows = []
    for directory in sorted(p for p in root.iterdir() if (p / CARD).is_file()):
        try:
            rows.append(describe_model(directory))
        except CheckpointError as error:
            rows.append({"id": directory.name, "path": str(directory), "error": str(error)})
    chosen = set(representatives(rows).values())
    for row in rows:
        if not row.get("error"):
            row.update(short_id=short_id(row["id"]), representative=row["id"] in chosen)
    return rows


def format_listing(rows: list[dict[str, Any]]) -> str:
    """One terminal line per stored model: id, dataset, method, clean and worst-case robust accuracy with n."""
    lines = []
    for row in rows:
        if row.get("error"):
            lines.append(f"{row['id']:<44} error: {row['error']}")
            continue
        head = row["headline"]
        numbers = "no report"
        if row["has_report"]:
            numbers = "  ".join(
                f"{key} {head[key]['value']:.3f} (n={head[key]['n']})" for key in ("clean", "worst") if head[key]
            )
        lines.append(f"{row['id']:<44} {row['dataset']:<14} {row['method']:<12} {numbers}")
    return "".join(line + "\n" for line in lines)


def resolve_model_dir(model: str | Path, models_dir: str | Path | None = None) -> Path:
    """A stored model's folder: a bare name is an id under ``models_dir`` first (then a folder of that name), anything
    with a path separator is a folder with card.json."""
    root = Path(models_dir) if models_dir is not None else default_models_dir()
    text = str(model)
    bare = isinstance(model, str) and os.sep not in text and (os.altsep is None or os.altsep not in text)
    candidates = [root / text, Path(text)] if bare else [Path(text)]
    for candidate in candidates:
        if (candidate / CARD).is_file():
            return candidate
    known = [row["id"] for row in list_models(root)]
    raise CheckpointError(
        f"no stored model {text!r}: neither an id in {root} nor a folder with {CARD}; "
        f"known ids: {', '.join(known) or '(none)'}"
    )
