"""Certified explanation maps by randomized smoothing: which pixels of a map provably stay important (or
unimportant) under every L2 perturbation up to a radius (Anani et al. 2025, "Pixel-level certified explanations via
randomized smoothing", ICML, arXiv:2506.15499; their reduction to the segmentation certificate of Fischer et al.
2021, "Scalable certified segmentation via randomized smoothing", ICML).

Each pixel i is a binary classifier h_i(z) = 1[i is among the top ``top_fraction`` of the attribution map of z for
class y]; its smoothed version g_i(x) is the answer h_i(x + δ), δ ~ N(0, σ²I), gives most often. From n noisy samples a
pixel is certified when its majority answer holds with probability above τ, tested with a binomial test (doubled: the
majority is chosen from the same samples) and Holm's correction over all pixels, so that with probability at least
1 − α no certified pixel is wrong. Each certified pixel then keeps its answer for every ‖δ‖₂ < R = σ Φ⁻¹(τ) (Cohen et
al. 2019, Theorem 1); a pixel that passes no test abstains: it says it has no certificate. The same samples give
the smoothed classifier's class with a Clopper-Pearson lower bound on its probability (Bonferroni over the classes)
and its radius σ Φ⁻¹(p_lower), where p_lower > 1/2.

The noise is added in pixel space ([0, 1], before the model's normalization) and not clipped, as in Cohen et al.;
the map is explained for the clean input's predicted class throughout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import Field
from scipy import stats
from torch import Tensor, nn

from explainlab.eval.testset import mean_2se
from explainlab.explain import Explainer, saliency_map
from explainlab.params import Params

IMPORTANT, UNIMPORTANT, ABSTAIN = 1, 0, -1


class CertifyParams(Params):
    """The smoothing and the test behind a certified map."""

    sigma: float = Field(0.12, gt=0.0, le=1.0, description="std of the Gaussian noise on [0, 1] pixels (L2 smoothing)")
    n: int = Field(200, ge=10, le=10_000, description="noisy samples (each costs one map of the chosen method)")
    top_fraction: float = Field(0.1, gt=0.0, lt=1.0, description="share of pixels that count as important in a map")
    tau: float = Field(
        0.75, gt=0.5, lt=1.0, description="a pixel is certified when its answer holds in > tau of the noise"
    )
    alpha: float = Field(0.05, gt=0.0, le=0.5, description="chance that any certificate is wrong (Holm over pixels)")
    batch: int = Field(50, ge=1, le=1000, description="noisy samples explained at once (memory)")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of the noise")


@dataclass
class MapCertificate:
    label: int  # the class whose map is certified (the clean input's prediction)
    k: int  # pixels counted as important in each noisy map
    top_share: Tensor  # (H, W): share of the noisy maps in which the pixel was among the top k
    verdict: Tensor  # (H, W) int8: IMPORTANT, UNIMPORTANT or ABSTAIN
    radius: float  # L2 radius of every pixel certificate: sigma * Phi^-1(tau)
    smoothed_label: int | None  # the smoothed classifier's class, None when it abstains
    smoothed_lower: float  # lower confidence bound of that class's probability under the noise
    smoothed_radius: float  # its certified L2 radius (0 when it abstains)
    n: int
    dims: int  # numbers in the input (C * H * W): an L-inf ball of radius e has L2 radius e * sqrt(dims)

    def summary(self) -> dict[str, Any]:
        pixels = self.verdict.numel()
        important = int((self.verdict == IMPORTANT).sum())
        unimportant = int((self.verdict == UNIMPORTANT).sum())
        return {
            "label": self.label,
            "n": self.n,
            "k": self.k,
            "radius": self.radius,
            "linf_equivalent": self.radius / math.sqrt(self.dims),  # the largest L∞ ball inside the L2 one
            "certified_share": (important + unimportant) / pixels,
            "certified_important": important,
            "certified_unimportant": unimportant,
            "abstained": pixels - important - unimportant,
            "smoothed_label": self.smoothed_label,
            "smoothed_lower": self.smoothed_lower,
            "smoothed_radius": self.smoothed_radius,
        }


def certify_counts(top_counts: np.ndarray, n: int, tau: float, alpha: float) -> np.ndarray:
    """Verdicts from each pixel's count of noisy maps that put it in the top set: the majority answer where a doubled
    one-sided binomial test of P(answer) > tau rejects under Holm's step-down at level alpha, else ABSTAIN."""
    counts = np.asarray(top_counts, dtype=np.int64).ravel()
    majority = np.maximum(counts, n - counts)
    p_values = np.minimum(1.0, 2.0 * stats.binom.sf(majority - 1, n, tau))  # P(Binomial(n, tau) >= majority), x2
    order = np.argsort(p_values, kind="stable")
    m = counts.size
    passes = p_values[order] <= alpha / (m - np.arange(m))
    certified_count = m if passes.all() else int(np.argmin(passes))  # Holm stops at the first failure
    verdict = np.full(m, ABSTAIN, dtype=np.int8)
    chosen = order[:certified_count]
    verdict[chosen] = np.where(counts[chosen] * 2 > n, IMPORTANT, UNIMPORTANT)
    return verdict.reshape(np.shape(top_counts))


def smoothed_prediction(counts: np.ndarray, n: int, sigma: float, alpha: float) -> tuple[int | None, float, float]:
    """(class, lower bound, L2 radius) of the smoothed classifier; class None when the bound is not above 1/2."""
    top = int(np.argmax(counts))
    hits = int(counts[top])
    level = alpha / len(counts)  # Bonferroni: the top class is chosen from the same samples
    lower = float(stats.beta.ppf(level, hits, n - hits + 1)) if hits > 0 else 0.0
    if lower <= 0.5:
        return None, lower, 0.0
    return top, lower, float(sigma * stats.norm.ppf(lower))


@torch.no_grad()
def _predict(model: nn.Module, z: Tensor) -> Tensor:
    return model(z).argmax(1)


def certify_map(model: nn.Module, x: Tensor, explainer: Explainer, params: CertifyParams) -> MapCertificate:
    """Certify the map of one image (1, C, H, W) in [0, 1] for a model in eval mode."""
    if x.ndim != 4 or x.shape[0] != 1:
        raise ValueError(f"certify_map takes one image (1, C, H, W); got {tuple(x.shape)}")
    p = params
    height, width = x.shape[-2:]
    k = max(1, round(p.top_fraction * height * width))
    with torch.no_grad():
        logits = model(x)
    label, classes = int(logits.argmax(1)[0]), int(logits.shape[1])
    generator = torch.Generator().manual_seed(p.seed)
    top_counts = torch.zeros(height * width, dtype=torch.long)
    class_counts = torch.zeros(classes, dtype=torch.long)
    done = 0
    while done < p.n:
        b = min(p.batch, p.n - done)
        noise = torch.randn((b, *x.shape[1:]), generator=generator) * p.sigma
        z = x + noise.to(device=x.device, dtype=x.dtype)
        predicted = _predict(model, z).cpu()
        class_counts += torch.bincount(predicted, minlength=classes)
        maps = saliency_map(explainer.explain(model, z, torch.full((b,), label, device=x.device))).flatten(1)
        top = maps.float().topk(k, dim=1).indices.cpu()
        top_counts += torch.bincount(top.flatten(), minlength=height * width)
        done += b
    verdict = certify_counts(top_counts.numpy(), p.n, p.tau, p.alpha)
    smoothed = smoothed_prediction(class_counts.numpy(), p.n, p.sigma, p.alpha)
    return MapCertificate(
        label=label,
        k=k,
        top_share=(top_counts.float() / p.n).view(height, width),
        verdict=torch.from_numpy(verdict).view(height, width),
        radius=float(p.sigma * stats.norm.ppf(p.tau)),
        smoothed_label=smoothed[0],
        smoothed_lower=smoothed[1],
        smoothed_radius=smoothed[2],
        n=p.n,
        dims=x[0].numel(),
    )


def certify_images(
    model: nn.Module,
    x: Tensor,
    y: Tensor,
    explainer: Explainer,
    params: CertifyParams,
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Each image's certificate summary (image i's noise seeded by ``params.seed + i``), with whether the model, the
    smoothed model, and the smoothed model within the map's radius get its label right."""
    rows = []
    for i in range(x.shape[0]):
        cert = certify_map(model, x[i : i + 1], explainer, params.model_copy(update={"seed": params.seed + i}))
        label = int(y[i])
        smoothed_right = cert.smoothed_label == label
        rows.append({**cert.summary(), "correct": cert.label == label, "smoothed_correct": smoothed_right,
                     "certified_correct": smoothed_right and cert.smoothed_radius >= cert.radius})  # fmt: skip
        if progress is not None:
            progress(i + 1)
    return rows


def summarize_certificates(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Means with two standard errors over the images: shares of the pixels certified, certified important (of k) and
    without a certificate; the model's accuracy, the smoothed model's, and the smoothed model's certified at the maps'
    radius (right, and its own radius at least as large)."""
    pixels = [r["certified_important"] + r["certified_unimportant"] + r["abstained"] for r in rows]
    return {
        "n": len(rows),
        "radius": rows[0]["radius"] if rows else None,
        "certified_share": mean_2se([r["certified_share"] for r in rows]),
        "important_certified_of_k": mean_2se([r["certified_important"] / r["k"] for r in rows]),
        "abstained_share": mean_2se([r["abstained"] / p for r, p in zip(rows, pixels, strict=True)]),
        "accuracy": mean_2se([r["correct"] for r in rows]),
        "smoothed_accuracy": mean_2se([r["smoothed_correct"] for r in rows]),
        "certified_accuracy": mean_2se([r["certified_correct"] for r in rows]),
    }
