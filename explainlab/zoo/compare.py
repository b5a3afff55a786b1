"""Two or more evaluation reports side by side: each headline number, its difference from the first report's and two
standard errors, paired over the same test images where both reports store per-image results (as the claims table
computes them). For screens and re-evaluations that are not in the zoo: any ``report.json`` (or ``--out`` file) of
``explainlab evaluate`` compares, not only stored models'.

RAR's attack depends on the CPU and the torch thread count (docs/zoo_findings.md, "Thread count" and "CPU"); the
comparison names each report's hardware and flags a mix, since a difference between two CPUs' runs carries that extra
noise.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from explainlab.errors import CheckpointError
from explainlab.zoo.claims import PCT_METRICS, Z_CLEAR, difference_error, format_number
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
