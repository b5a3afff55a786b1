"""Training. For now the plain natural-training baseline the engine's checks need; the method registry and the
configurable loop (TOML, checkpoints, DDP) build on it."""

from explainlab.training.natural import train_natural

__all__ = ["train_natural"]
