"""Prediction attacks (FGSM, PGD, APGD) and explanation attacks, all x -> x_adv in [0, 1] within an eps-ball."""

from __future__ import annotations

from explainlab.attacks.apgd import APGD
from explainlab.attacks.atex_topk import ATEXTopKAttack
from explainlab.attacks.base import Attack, AttackParams
from explainlab.attacks.explanation_base import ExplanationAttack
from explainlab.attacks.fgsm import FGSM
from explainlab.attacks.mass_center import MassCenterAttack
from explainlab.attacks.pgd import PGD
from explainlab.attacks.random_sign import RandomSignAttack
from explainlab.attacks.target_map import TargetMapAttack
from explainlab.attacks.targeted_region import TargetedRegionAttack
from explainlab.attacks.topk import TopKAttack
from explainlab.registry import Registry

ATTACKS: Registry[Attack] = Registry.of(
    "attack",
    FGSM,
    PGD,
    APGD,
    TopKAttack,
    MassCenterAttack,
    TargetedRegionAttack,
    RandomSignAttack,
    TargetMapAttack,
    ATEXTopKAttack,
)

__all__ = ["ATTACKS", "Attack", "AttackParams", "ExplanationAttack"]
