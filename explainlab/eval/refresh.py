"""Measure one block of a stored report again with the settings the report records, and put it in place.

Used to add what an older report lacks (the Gini block's per-image values, which make two models' Gini compare
paired) without rerunning the hour of attacks around it. The new value must match the stored one: a block that
changes beyond ``tolerance`` is refused, since the report would then mix two measurements of different things.
"""

from __future__ import annotations

import logging
from pathlib import Path

from explainlab.data import load_dataset
from explainlab.errors import CheckpointError, IncompatibleError
from explainlab.eval.benchmark import EvalSettings, gini_block, run_provenance
from explainlab.eval.report import RefreshedBlock, Report
from explainlab.provenance import resolve_device
from explainlab.zoo.store import REPORT, load_model

log = logging.getLogger(__name__)

REFRESHABLE = ("gini",)
GINI_TOLERANCE = 1e-3  # the mean Gini of one model, measured twice (other CPU kernels, other thread count)


def refresh(
    model_dir: str | Path,
    block: str,
    data_dir: str | Path | None = None,
    *,
    report_path: str | Path | None = None,
    tolerance: float = GINI_TOLERANCE,
) -> Report:
    """Recompute ``block`` (one of ``REFRESHABLE``) of the model's report on the images and settings it records,
    check it against the stored value, write the report back and return it."""
    if block not in REFRESHABLE:
        raise IncompatibleError(f"cannot refresh block {block!r}; refreshable: {', '.join(REFRESHABLE)}")
    path = Path(report_path) if report_path else Path(model_dir) / REPORT
    if not path.is_file():
        raise CheckpointError(f"no report to refresh at {path}: run `explainlab evaluate` first")
    report = Report.read(path)
    previous = report.gini
    if previous is None:
        raise IncompatibleError(f"{path} has no {block} block to measure again (it was skipped: n_gini 0)")
    settings = EvalSettings.model_validate(report.evaluation.settings)
    model, card = load_model(model_dir)
    if card.id != report.id:
        raise CheckpointError(f"{path} is the report of {report.id!r}, not of {card.id!r}")
    device = resolve_device(settings.device)
    model = model.to(device).eval()
    data = load_dataset(card.dataset, "test", data_dir=data_dir)
    n = previous.n_eval
    x, y = data.images[:n].float().div_(255.0).to(device), data.labels[:n].to(device)
    fresh = gini_block(model, x, y, settings.gini_ig_steps, settings.ig_batch_size)
    if previous.value is not None and fresh.value is not None:
        drift = abs(fresh.value - previous.value)
        if drift > tolerance:
            raise IncompatibleError(
                f"{card.id}: Gini measured again is {fresh.value:.4f}, the report holds {previous.value:.4f} "
                f"(|difference| {drift:.4f} > {tolerance}); the report is left as it was"
            )
    note = RefreshedBlock(block=block, previous_value=previous.value, value=fresh.value, seconds=fresh.seconds,
                          **run_provenance(device))  # fmt: skip
    evaluation = report.evaluation.model_copy(update={"refreshed": [*report.evaluation.refreshed, note]})
    updated = report.model_copy(update={"gini": fresh, "evaluation": evaluation})
    updated.write(path)
    log.info("%s: %s %s -> %s, written to %s", card.id, block, note.previous_value, note.value, path)
    return updated


__all__ = ["REFRESHABLE", "refresh"]
