"""The settings of a bring-your-own model (``explainlab zoo import``, ``explainlab.zoo.importer``), declared once: they
make the command's flags and land in the card. Outside ``explainlab.zoo`` so that building the CLI does not load
torch."""

from __future__ import annotations

from pydantic import Field

from explainlab.params import FloatOrFraction, Params


class ImportSettings(Params):
    """What a bring-your-own model is: every field lands in its card."""

    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_.\-]{0,99}$", description="folder name under the models dir")
    net: str = Field(..., description="architecture the weights fit (explainlab describe --family nets)")
    dataset: str = Field(..., description="dataset it classifies: mnist, fashion_mnist or cifar10")
    title: str = Field("", max_length=200, description="human-readable name")
    method: str = Field("imported", max_length=40, description="how it was trained (a registry key when it is one)")
    citation: str = Field("", max_length=400, description="paper or source of the weights")
    mean: tuple[float, ...] | None = Field(None, description="input mean the net expects (default: the file's, else 0)")
    std: tuple[float, ...] | None = Field(None, description="input std the net expects (default: the file's, else 1)")
    eps: FloatOrFraction = Field(0.0, ge=0.0, le=64.0, description="budget it was trained against (0: none)")
    norm: str = Field("linf", pattern="^(linf|l2)$", description="norm of that budget")
    prefix: str = Field("", max_length=100, description="strip this from every tensor name, e.g. 'module.'")
    provenance: str = Field("", max_length=1000, description="where the weights and their training data came from")
    check_images: int = Field(500, ge=0, le=10_000, description="test images of the accuracy check (0: no check)")
