"""Metrics: map similarity, sparsity, explanation robustness, faithfulness and prediction rates; METRICS lists them."""

from __future__ import annotations

from explainlab.metrics.accuracy import Accuracy
from explainlab.metrics.attack_success_rate import AttackSuccessRate
from explainlab.metrics.base import Category, Metric, MetricParams
from explainlab.metrics.center_of_mass_shift import CenterOfMassShift
from explainlab.metrics.deletion import Deletion
from explainlab.metrics.gini import Gini
from explainlab.metrics.infidelity import Infidelity
from explainlab.metrics.insertion import Insertion
from explainlab.metrics.kendall import Kendall
from explainlab.metrics.max_sensitivity import MaxSensitivity
from explainlab.metrics.pearson import Pearson
from explainlab.metrics.robust_accuracy import RobustAccuracy
from explainlab.metrics.spearman import Spearman
from explainlab.metrics.ssim import SSIM
from explainlab.metrics.topk_intersection import TopKIntersection
from explainlab.metrics.worst_case_sensitivity import WorstCaseSensitivity
from explainlab.registry import Registry

# isort: split
# The functional core, bound last on purpose: where a function shares its name with a metric's module (gini, ssim,
# pearson, infidelity, accuracy, ...), the package attribute is the function. Import classes with ``from ... import``.
from explainlab.metrics.deletion import curve_auc, perturbation_curve
from explainlab.metrics.functional import (
    accuracy,
    attack_success_rate,
    average_ranks,
    center_of_mass,
    center_of_mass_shift,
    correct,
    gini,
    kendall_tau,
    minmax_scale,
    pearson,
    robust_accuracy,
    spearman_rho,
    ssim,
    topk_intersection,
    topk_mask,
)
from explainlab.metrics.infidelity import infidelity
from explainlab.metrics.insertion import gaussian_blur
from explainlab.metrics.max_sensitivity import relative_change, sensitivity_max, uniform_linf
from explainlab.metrics.worst_case_sensitivity import worst_case_sensitivity

METRICS: Registry[Metric] = Registry.of(
    "metric",
    TopKIntersection,
    Kendall,
    Spearman,
    Pearson,
    SSIM,
    CenterOfMassShift,
    Gini,
    MaxSensitivity,
    WorstCaseSensitivity,
    Infidelity,
    Deletion,
    Insertion,
    Accuracy,
    RobustAccuracy,
    AttackSuccessRate,
)

__all__ = [
    "METRICS",
    "SSIM",
    "Accuracy",
    "AttackSuccessRate",
    "CenterOfMassShift",
    "Deletion",
    "Gini",
    "Infidelity",
    "Insertion",
    "Kendall",
    "MaxSensitivity",
    "Pearson",
    "RobustAccuracy",
    "Spearman",
    "TopKIntersection",
    "WorstCaseSensitivity",
    "Category",
    "Metric",
    "MetricParams",
    "accuracy",
    "attack_success_rate",
    "average_ranks",
    "center_of_mass",
    "center_of_mass_shift",
    "correct",
    "curve_auc",
    "gaussian_blur",
    "gini",
    "infidelity",
    "kendall_tau",
    "minmax_scale",
    "pearson",
    "perturbation_curve",
    "relative_change",
    "robust_accuracy",
    "sensitivity_max",
    "spearman_rho",
    "ssim",
    "topk_intersection",
    "topk_mask",
    "uniform_linf",
    "worst_case_sensitivity",
]
