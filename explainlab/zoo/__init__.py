"""Stored models: model cards, safetensors store and lookup, listing and the leaderboard."""

from explainlab.zoo.card import ModelCard, ThreatModel
from explainlab.zoo.leaderboard import render_leaderboard, write_leaderboard
from explainlab.zoo.listing import (
    default_models_dir,
    describe_model,
    format_listing,
    headline,
    list_models,
    resolve_model_dir,
)
from explainlab.zoo.store import load_model, read_card, read_report, save_model

__all__ = [
    "ModelCard",
    "ThreatModel",
    "default_models_dir",
    "describe_model",
    "format_listing",
    "headline",
    "list_models",
    "load_model",
    "read_card",
    "read_report",
    "render_leaderboard",
    "resolve_model_dir",
    "save_model",
    "write_leaderboard",
]
