"""ModelCard: everything needed to rebuild, cite and judge a stored model (card.json beside weights.safetensors)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ThreatModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    norm: str = Field("linf", description="norm of the training/evaluation budget")
    eps: float = Field(..., ge=0.0, description="budget in pixel units")


class ModelCard(BaseModel):
    """Provenance and preprocessing of one stored model; loading checks it against the weights."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(..., pattern=r"^[a-z0-9][a-z0-9_.\-]{0,99}$", description="folder name under models/")
    title: str = Field("", description="human-readable name")
    dataset: str
    dataset_provenance: str = Field("", description="where the training data came from and how it differs")
    net: str
    net_params: dict[str, Any] = Field(default_factory=dict)
    classes: list[str]
    input_size: list[int] = Field(..., min_length=3, max_length=3, description="(C, H, W)")
    mean: list[float]
    std: list[float]
    method: str
    method_title: str = ""
    method_citation: str = ""
    method_params: dict[str, Any] = Field(default_factory=dict, description="resolved Params of the method")
    threat_model: ThreatModel
    seed: int = 0
    train_config: dict[str, Any] = Field(default_factory=dict)
    train_seconds: float = 0.0
    hardware: str = ""
    torch_version: str = ""
    commit: str = ""
    created: str = ""
    deviations: list[str] = Field(default_factory=list, description="where settings differ from the paper, and why")
    weights_sha256: str = ""

    def class_name(self, label: int) -> str:
        """The class's name, or its index where the card names fewer classes."""
        return self.classes[label] if 0 <= label < len(self.classes) else str(label)
