"""Robust-training methods (a method is a loss), one loop, configs."""

from __future__ import annotations

from explainlab.registry import Registry
from explainlab.training.asgt import ASGT
from explainlab.training.atex import ATEX
from explainlab.training.base import LossParts, TrainingMethod
from explainlab.training.egat import EGAT
from explainlab.training.ig_norm import IGNorm
from explainlab.training.ig_sum_norm import IGSumNorm
from explainlab.training.l1 import L1
from explainlab.training.natural import Natural
from explainlab.training.pgd_at import PGDAT
from explainlab.training.sgt import SGT
from explainlab.training.simple_fit import train_natural
from explainlab.training.trades import TRADES

METHODS: Registry[TrainingMethod] = Registry.of(
    "method",
    Natural,
    L1,
    PGDAT,
    TRADES,
    EGAT,
    ATEX,
    SGT,
    ASGT,
    IGNorm,
    IGSumNorm,
)

__all__ = ["METHODS", "LossParts", "TrainingMethod", "train_natural"]
