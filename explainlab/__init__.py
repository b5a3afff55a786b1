"""explainlab: do a model's explanations survive adversarial perturbation? The library (no web imports)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("explainlab")
except PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0.0.0+local"
