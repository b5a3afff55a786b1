"""Two or more evaluation reports side by side: each headline number, its difference from the first report's and two
standard errors, paired over the same test images where both reports store per-image results (as the claims table
computes them). For screens and re-evaluations that are not in the zoo: any ``report.json`` (or ``--out`` file) of
``explainlab evaluate`` compares, not only stored models'.

RAR's attack depends on the CPU and the torch thread count (docs/zoo_findings.md, "Thread count" and "CPU"); the
comparison names each report's hardware and flags a mix, since a difference between two CPUs' runs carries that extra
noise. ``compare_seed_pairs`` does the same for a recipe over several seeds (reference and model per seed), with the
claims table's mean and error, so that a claim can be read on re-evaluations made on one CPU.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from explainlab.errors import CheckpointError
from explainlab.zoo.claims import (
    PCT_METRICS,
    Z_CLEAR,
    difference_error,
    format_number,
    mean_difference,
    mixed_hardware,
    seed_mean,
)
from explainlab.zoo.listing import (
    HEADLINE_PATHS,
    evaluated_on,
    headline,
    one_class_evaluation,
    per_example,
    resolve_model_dir,
)
from explainlab.zoo.store import REPORT


def resolve_report(name: str, models_dir: str | Path | None = None) -> Path:
    """A report file as given, else the ``report.json`` of a model id or folder (as ``explainlab evaluate`` takes)."""
    path = Path(name)
    if path.is_file():
        return path
    if path.suffix == ".json":
        raise CheckpointError(f"no report file {name!r}: give a report.json, a model id or a model folder")
    report = resolve_model_dir(name, models_dir) / REPORT
    if not report.is_file():
        raise CheckpointError(f"{report} does not exist: evaluate the model first (explainlab evaluate {name})")
    return report


def read_report_file(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable JSON report: {error}") from error
    if not isinstance(data, dict) or "clean_accuracy" not in data:
        raise CheckpointError(f"{path} is not an evaluation report (no clean_accuracy); see explainlab evaluate")
    return data


def _label(path: Path, report: dict[str, Any]) -> str:
    return str(report.get("id") or (path.parent.name if path.name == REPORT else path.stem))


def compare_reports(names: list[str], models_dir: str | Path | None = None) -> dict[str, Any]:
    """The first report is the reference. Per other report and headline number: value, difference from the
    reference, its standard error (paired where both store per-image values) and the pairs' count."""
    if len(names) < 2:
        raise CheckpointError("compare needs at least two reports (the first is the reference)")
    paths = [resolve_report(name, models_dir) for name in names]
    reports = [read_report_file(path) for path in paths]
    sides = []
    for path, report in zip(paths, reports, strict=True):
        evaluation = report.get("evaluation") if isinstance(report.get("evaluation"), dict) else {}
        sides.append({"label": _label(path, report), "path": str(path), "hardware": evaluated_on(report),
                      "torch_threads": evaluation.get("torch_threads"),
                      "one_class": one_class_evaluation(report)})  # fmt: skip
    reference = reports[0]
    ref_numbers = headline(reference)
    ref_per_example = {metric: per_example(reference, metric) for metric in HEADLINE_PATHS}  # decoded once
    rows = []
    for side, report in zip(sides[1:], reports[1:], strict=True):
        numbers = headline(report)
        for metric in HEADLINE_PATHS:
            a, b = numbers.get(metric), ref_numbers.get(metric)
            if a is None or b is None:
                continue
            a = {**a, "per_example": per_example(report, metric)}
            b = {**b, "per_example": ref_per_example[metric]}
            difference, se, paired_n = difference_error(a, b, metric)
            rows.append({"model": side["label"], "metric": metric, "value": a["value"], "reference": b["value"],
                         "difference": difference, "se": se, "paired_n": paired_n,
                         "n": a.get("n"), "reference_n": b.get("n")})  # fmt: skip
    mixed = len({(s["hardware"], s["torch_threads"]) for s in sides}) > 1
    return {"reference": sides[0], "others": sides[1:], "rows": rows, "mixed_hardware": mixed}


def render_comparison(result: dict[str, Any]) -> str:
    """A plain-text table; differences beyond two standard errors are starred."""
    ref = result["reference"]
    lines = [f"reference: {ref['label']} ({ref['path']}; {ref['hardware'] or 'hardware not recorded'})"]
    lines += [f"other:     {s['label']} ({s['path']}; {s['hardware'] or 'hardware not recorded'})"
              for s in result["others"]]  # fmt: skip
    if result["mixed_hardware"]:
        lines.append("note: the reports ran on different CPUs or thread counts; RAR's numbers move with both")
    lines += [f"note: {s['label']} was measured on one class only (re-evaluate it)"
              for s in [ref, *result["others"]] if s.get("one_class")]  # fmt: skip
    lines.append(f"{'model':<40} {'metric':<18} {'value':>7} {'ref':>7} {'diff ± 2 SE':>18}  error")
    for row in result["rows"]:
        pct = row["metric"] in PCT_METRICS
        diff = format_number(row["difference"], pct=pct, signed=True, fine=True)
        if row["se"] is None:
            spread, kind = "", "none"
        else:
            spread = " ± " + format_number(Z_CLEAR * row["se"], pct=pct, fine=True)
            kind = f"paired, n={row['paired_n']}" if row["paired_n"] else "unpaired"
        star = "*" if row["se"] and abs(row["difference"]) > Z_CLEAR * row["se"] else " "
        lines.append(f"{row['model']:<40} {row['metric']:<18} {format_number(row['value'], pct=pct):>7} "
                     f"{format_number(row['reference'], pct=pct):>7} {diff + spread:>18}{star} {kind}")  # fmt: skip
    return "\n".join(lines) + "\n"


def compare_seed_pairs(names: list[str], models_dir: str | Path | None = None) -> dict[str, Any]:
    """A recipe against its reference over several seeds, from any reports (re-evaluations on one CPU included):
    ``names`` alternate reference and model, one pair per seed. Per headline number: each seed pair's difference and
    the mean's, its error counting the test images (paired where the reports allow) and the seeds, exactly as the
    claims table computes a mean over seeds (``claims.mean_difference``)."""
    if len(names) < 4 or len(names) % 2:
        raise CheckpointError("give the reports in pairs, reference then model, one pair per seed, at least two seeds")
    paths = [resolve_report(name, models_dir) for name in names]
    reports = [read_report_file(path) for path in paths]
    sides = {"model": reports[1::2], "reference": reports[0::2]}
    headlines = {side: [headline(r) for r in side_reports] for side, side_reports in sides.items()}
    rows = []
    for metric in HEADLINE_PATHS:
        entries = {side: [h.get(metric) for h in side_headlines] for side, side_headlines in headlines.items()}
        if any(e is None for side_entries in entries.values() for e in side_entries):
            continue  # a seed's report lacks this number
        per_image = {side: [{**e, "per_example": per_example(r, metric)} for e, r in
                            zip(entries[side], sides[side], strict=True)] for side in sides}  # fmt: skip
        means = seed_mean(per_image["model"]), seed_mean(per_image["reference"])
        result = mean_difference(per_image["model"], per_image["reference"], metric, means=means)
        rows.append({"metric": metric, "value": means[0]["value"], "reference": means[1]["value"], **result})
    hardware = {side: [evaluated_on(r) for r in side_reports] for side, side_reports in sides.items()}
    mixed = mixed_hardware(hardware["model"], hardware["reference"])
    return {"pairs": [[str(a), str(b)] for a, b in zip(paths[0::2], paths[1::2], strict=True)], "rows": rows,
            "hardware": hardware, "mixed_hardware": mixed}  # fmt: skip


def render_seed_pairs(result: dict[str, Any]) -> str:
    """Plain text: per number, each seed's difference and the mean over seeds ± 2 SE (images + seeds)."""
    lines = [f"pair {i}: {model} against {ref}" for i, (ref, model) in enumerate(result["pairs"], start=1)]
    if result["mixed_hardware"]:
        lines.append("note: a seed pair's reports ran on different CPUs or thread counts; RAR's numbers move with both")
    lines.append(f"{'metric':<18} {'model':>7} {'ref':>7} {'mean diff ± 2 SE':>18}  per seed")
    for row in result["rows"]:
        pct = row["metric"] in PCT_METRICS
        diff = format_number(row["difference"], pct=pct, signed=True, fine=True)
        spread = "" if row["se"] is None else " ± " + format_number(Z_CLEAR * row["se"], pct=pct, fine=True)
        per_seed = " / ".join(format_number(d, pct=pct, signed=True, fine=True) for d in row["seed_differences"])
        lines.append(f"{row['metric']:<18} {format_number(row['value'], pct=pct):>7} "
                     f"{format_number(row['reference'], pct=pct):>7} {diff + spread:>18}  {per_seed}")  # fmt: skip
    return "\n".join(lines) + "\n"
