"""Report: the pydantic schema of ``report.json`` that ``explainlab evaluate`` writes beside a stored model's card.

Every number carries the count it was measured on: ``n_eval`` per block (and per score where it differs, e.g. the
attribution metrics are averaged over the attacked, originally-correct images only). Scores are fractions in [0, 1]
(accuracies, top-k intersection, Gini) or in [-1, 1] (Kendall, Spearman); ``None`` means "no example to average".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from explainlab.zoo.card import ThreatModel

SCHEMA_VERSION = 1


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Score(_Block):
    """One averaged number, the examples it averages over and (where per-example values exist) their spread."""

    value: float | None = Field(..., description="mean over the n_eval examples; None if n_eval is 0")
    n_eval: int = Field(..., ge=0, description="examples averaged")
    std: float | None = Field(None, description="standard deviation over the examples, where meaningful")
    per_example: str | None = Field(
        None, description="the value per test image, space-separated, '-' where not scored (paired comparisons)"
    )


class AttackScore(Score):
    """Robust accuracy under one attack: mean[f(A(x)) = y] over all n_eval images (clean mistakes count as broken)."""

    attack: str = Field(..., description="attack registry key")
    params: dict[str, Any] = Field(..., description="the attack's exact Params")
    seconds: float = Field(..., ge=0.0)


class RobustAccuracy(_Block):
    n_eval: int = Field(..., ge=0)
    norm: str
    eps: float
    pgd: AttackScore
    apgd_ce: AttackScore
    apgd_dlr: AttackScore | None = Field(..., description="None when the model has fewer than 3 classes")
    worst: Score = Field(..., description="per-example worst case over clean and every attack above")


class AttributionRobustnessBlock(_Block):
    """RAR's evaluation protocol (methods.md §4.1) on the first n_eval test images; only correct ones are attacked."""

    n_eval: int = Field(..., ge=0, description="test images considered")
    n_attacked: int = Field(..., ge=0, description="originally-correct images, attacked and averaged over")
    topk_intersection: Score
    kendall: Score
    spearman: Score
    label_preserved: Score
    preset: str = Field(..., description="the dataset preset the protocol starts from")
    protocol: dict[str, Any] = Field(..., description="the exact RARProtocol used")
    overrides: dict[str, Any] = Field(..., description="protocol fields that differ from the preset")
    paper_settings: bool = Field(..., description="true when no field that changes the attack differs from preset")
    seconds: float = Field(..., ge=0.0)


class GiniBlock(Score):
    """Mean Gini index of IG maps over all input entries (Chalasani et al. 2020): higher = sparser."""

    explainer: str
    params: dict[str, Any]
    target: str = Field("label", description="class explained: the true label, as in Chalasani's code")
    seconds: float = Field(..., ge=0.0)


class CorruptionBlock(_Block):
    """Accuracy under common corruptions at three severities (eval/corruptions.py)."""

    n_eval: int = Field(..., ge=0)
    clean: float | None = Field(..., description="clean accuracy on the same images")
    mean: float | None = Field(..., description="mean over every corruption and severity")
    accuracy: dict[str, dict[str, float]] = Field(..., description="corruption -> severity ('1'..'3', 'mean') -> acc")
    params: dict[str, list[float]] = Field(..., description="corruption -> parameter per severity")
    resolution: str = Field(..., description="severity column used: 28px or 32px")
    seconds: float = Field(..., ge=0.0)


class CheckResult(_Block):
    """One gradient-masking / sanity check with its numbers, recorded whether or not it fired."""

    code: str
    fired: bool
    n_eval: int = Field(..., ge=0)
    message: str = Field("", description="the warning text when fired, else what was found")
    details: dict[str, Any]
    seconds: float = Field(0.0, ge=0.0)


class ReportWarning(_Block):
    """A fired check: what to look at is in docs/checks.md under ``code``."""

    code: str
    message: str
    details: dict[str, Any]


class RefreshedBlock(_Block):
    """A block measured again after the report was written (``explainlab evaluate --refresh``), with the settings the
    report records: what it replaced and where it ran."""

    block: str
    previous_value: float | None
    value: float | None
    hardware: str
    torch_threads: int
    torch_version: str
    commit: str
    created: str
    seconds: float


class EvaluationInfo(_Block):
    hardware: str
    torch_threads: int
    torch_version: str
    seconds: float
    commit: str
    created: str
    data_source: str
    data_split: str = "test"
    class_counts: dict[str, int] | None = Field(
        None, description="labels of the n_eval images, per class: shows whether the sample covers the classes"
    )
    settings: dict[str, Any] = Field(..., description="the exact EvalSettings (a --quick run shows as such)")
    quick: bool
    refreshed: list[RefreshedBlock] = Field(
        default_factory=list, description="blocks measured again later, oldest first (the rest is from this run)"
    )


class Report(_Block):
    """Everything ``explainlab evaluate`` measured about one stored model."""

    schema_version: int = SCHEMA_VERSION
    id: str
    title: str = ""
    dataset: str
    net: str
    method: str
    threat_model: ThreatModel = Field(..., description="the threat model evaluated (eps: the budget actually used)")
    n_eval: int = Field(..., ge=0, description="test images of the clean/robust/corruption blocks")
    clean_accuracy: Score
    robust_accuracy: RobustAccuracy
    attribution_robustness: AttributionRobustnessBlock | None
    gini: GiniBlock | None
    corruption_accuracy: CorruptionBlock | None
    checks: dict[str, CheckResult]
    warnings: list[ReportWarning]
    train_seconds: float = Field(..., description="from the card")
    hardware: str = Field(..., description="training hardware, from the card")
    evaluation: EvaluationInfo

    def write(self, path: str | Path) -> Path:
        """Write as indented JSON (atomically: a temp file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, path: str | Path) -> Report:
        return cls.model_validate_json(Path(path).read_text())

    def summary(self) -> str:
        """Two lines for a terminal: the headline numbers with their n, and the fired warnings."""
        from explainlab.zoo.listing import headline

        cells = [f"{key} {row['value']:.4f} (n={row['n']})" for key, row in headline(self.model_dump()).items() if row]
        quick = " [quick settings]" if self.evaluation.quick else ""
        fired = ", ".join(w.code for w in self.warnings) or "none"
        return f"{self.id}{quick}: " + ", ".join(cells) + f"\nwarnings: {fired}"
