"""TrainConfig: one validated description of a training run, from a TOML file plus ``--set a.b=c`` overrides.

Validation is complete up front: unknown keys, out-of-range values, unknown dataset / net / method names and
invalid ``net_params`` / ``method_params`` are pydantic ValidationErrors when the config is built, not failures
after hours of training. File and syntax problems are :class:`ConfigError` (an ExplainlabError, so the CLI ends
with a message and exit code 2).
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails

from explainlab.errors import ExplainlabError

Fraction01 = Annotated[float, Field(gt=0.0, lt=1.0)]


class ConfigError(ExplainlabError, ValueError):
    """A config file that is missing or not TOML, or a ``--set`` override that is not ``key=value``."""


class TrainConfig(BaseModel):
    """Everything that determines a run; written into the model card."""

    model_config = ConfigDict(extra="forbid")

    dataset: str = Field("mnist", description="mnist, fashion_mnist or cifar10")
    data_dir: str | None = Field(None, description="dataset root (else $EXPLAINLAB_DATA, else the user cache)")
    net: str = Field("small_cnn", description="architecture (registry key)")
    net_params: dict[str, Any] = Field(default_factory=dict, description="the net's Params")
    method: str = Field("natural", description="training method (registry key)")
    method_params: dict[str, Any] = Field(default_factory=dict, description="the method's Params")
    epochs: int = Field(1, ge=1, le=1000, description="passes over the training set")
    batch_size: int = Field(128, ge=1, le=8192, description="examples per optimizer step (over all processes)")
    optimizer: Literal["adam", "sgd"] = Field("adam", description="optimizer")
    lr: float = Field(1e-3, gt=0.0, le=10.0, description="peak learning rate")
    momentum: float = Field(0.9, ge=0.0, lt=1.0, description="SGD momentum")
    weight_decay: float = Field(0.0, ge=0.0, le=1.0, description="L2 weight decay")
    schedule: Literal["constant", "cosine", "multistep"] = Field("constant", description="learning-rate schedule")
    milestones: list[Fraction01] = Field([0.5, 0.75], description="multistep: fractions of training where lr *= 0.1")
    warmup_epochs: float = Field(0.0, ge=0.0, le=100.0, description="linear learning-rate warm-up")
    eps_warmup_epochs: float = Field(0.0, ge=0.0, le=100.0, description="ramp the method's eps up from 0 linearly")
    augment: Literal["none", "crop_flip"] = Field("none", description="crop_flip: 4-pixel pad-crop + h-flip (CIFAR)")
    train_limit: int | None = Field(None, ge=1, description="use only the first N training images")
    val_size: int = Field(1000, ge=0, le=10_000, description="test images for the per-epoch clean accuracy")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of init, data order and attacks")
    ema_decay: float = Field(0.0, ge=0.0, lt=1.0, description="0: off; else store a moving average of the weights")
    bf16: bool = Field(False, description="bf16 autocast for the methods' sample generation (attacks)")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto = cuda when present")
    checkpoint_every: int = Field(100, ge=1, le=1_000_000, description="optimizer steps between checkpoints")
    init_from: str | None = Field(None, description="start from a stored model's weights (fine-tuning, e.g. ATEX)")
    id: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9_.\-]{0,99}$",
        description="model id (default: <dataset>-<net>-<method>-s<seed>)",
    )
    title: str | None = Field(None, max_length=200, description="the card's name (default: <dataset> <net> <method>)")
    out_dir: str | None = Field(None, description="where the run writes (default: runs/<id>)")
    provenance: str | None = Field(None, description="the data's provenance for the card (default: its path)")
    deviations: list[str] = Field(default_factory=list, description="where this run departs from the paper, and why")

    @model_validator(mode="after")
    def _names_and_params(self) -> TrainConfig:
        """Dataset, net and method must exist and their params must validate (ValueError -> ValidationError)."""
        from explainlab.data import get_spec
        from explainlab.nets import NETS
        from explainlab.training import METHODS

        try:
            get_spec(self.dataset)
            net_cls, method_cls = NETS[self.net], METHODS[self.method]
        except KeyError as error:  # UnknownNameError lists the valid names
            raise ValueError(str(error)) from None
        checks = [("net_params", net_cls.Params, self.resolved_net_params()),  # type: ignore[attr-defined]
                  ("method_params", method_cls.Params, self.method_params)]  # fmt: skip
        for field, params_cls, values in checks:
            try:
                params_cls(**values)
            except ValidationError as error:  # reported at method_params.<key> / net_params.<key>
                details = [InitErrorDetails(type=e["type"], loc=(field, *e["loc"]), input=e["input"],
                                            ctx=e.get("ctx", {})) for e in error.errors()]  # fmt: skip
                raise ValidationError.from_exception_data(type(self).__name__, details) from None
        from explainlab.training.base import AdversarialParams

        if self.eps_warmup_epochs > 0 and not issubclass(method_cls.Params, AdversarialParams):
            raise ValueError(f"eps_warmup_epochs ramps an adversarial budget; {self.method!r} has none")
        id_seed = re.search(r"-s(\d+)$", self.id or "")
        if id_seed and int(id_seed[1]) != self.seed:  # e.g. a config's id kept under --set seed=1
            raise ValueError(f"id {self.id!r} names seed {id_seed[1]} but seed is {self.seed}; set an id that ends in "
                             f"-s{self.seed} (--set id=...) or leave the seed suffix off")  # fmt: skip
        return self

    def resolved_net_params(self) -> dict[str, Any]:
        """The dataset fixes channels and classes (and SmallCNN's input size); ``net_params`` may set the rest."""
        from explainlab.data import get_spec
        from explainlab.nets import NETS

        spec = get_spec(self.dataset)
        fields = NETS[self.net].Params.model_fields  # type: ignore[attr-defined]
        derived = {"in_channels": spec.input_shape[0], "num_classes": len(spec.classes),
                   "input_size": spec.input_shape[1]}  # fmt: skip
        return {**{k: v for k, v in derived.items() if k in fields}, **self.net_params}

    def model_id(self) -> str:
        return self.id or f"{self.dataset}-{self.net}-{self.method}-s{self.seed}"

    def run_dir(self) -> Path:
        return Path(self.out_dir or Path("runs") / self.model_id())


def filled_with_defaults(saved: dict[str, Any]) -> dict[str, Any]:
    """A config dict written before later fields existed (a checkpoint's, a card's), with those fields at their
    defaults: the run did not use them."""
    defaults = TrainConfig.model_construct().model_dump(mode="json")
    return {**{k: v for k, v in defaults.items() if k not in saved}, **saved}


def parse_value(text: str) -> Any:
    """TOML syntax for values (numbers, booleans, lists, quoted strings, inline tables); else a bare string.

    ``0.3`` -> 0.3, ``true`` -> True, ``[0.5, 0.75]`` -> list, ``{eps = 0.1}`` -> dict, ``pgd_at`` -> "pgd_at",
    ``8/255`` -> "8/255" (the Params parse fractions), ``'"123"'`` -> "123" (quote a string that looks like a number).
    """
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


_parse_value = parse_value  # the former private name


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``["method_params.eps=0.3", "epochs=5"]`` -> nested updates of a deep copy of ``data``."""
    out = copy.deepcopy(data)
    for item in overrides:
        key, sep, value = item.partition("=")
        parts = [part.strip() for part in key.split(".")]
        if not sep or not all(parts):
            raise ConfigError(f"--set expects key=value or table.key=value, got {item!r}")
        node = out
        for depth, part in enumerate(parts[:-1]):
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {key}: {'.'.join(parts[: depth + 1])!r} is not a table")
        node[parts[-1]] = parse_value(value.strip())
    return out


def read_toml(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"config file {str(file)!r} not found")
    try:
        return tomllib.loads(file.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{file}: not valid TOML: {error}") from None


def merge_tables(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``: tables merge key by key, any other value (lists included) replaces."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_tables(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


MAX_EXTENDS_DEPTH = 8


def read_config_file(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A config file with its ``extends = "other.toml"`` chain resolved (the path is relative to the file): the
    file's keys over its parent's, tables merged, lists replaced; ``extends`` itself is consumed."""
    file = Path(path)
    data = read_toml(file)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or not parent:
        raise ConfigError(f"{file}: extends must be a file name (a string), got {parent!r}")
    chain = (*_chain, file.resolve())
    parent_file = file.parent / parent
    if parent_file.resolve() in chain:
        raise ConfigError(f"{file}: extends {parent!r} makes a cycle: {' -> '.join(p.name for p in chain)}")
    if len(chain) > MAX_EXTENDS_DEPTH:
        raise ConfigError(f"{file}: extends chains at most {MAX_EXTENDS_DEPTH} files deep")
    try:
        base = read_config_file(parent_file, chain)
    except ConfigError as error:
        raise ConfigError(f"{file}: extends {parent!r}: {error}") from None
    return merge_tables(base, data)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """The TOML file (if any, its ``extends`` chain resolved) with the overrides applied, validated (pydantic
    ValidationError when invalid)."""
    data: dict[str, Any] = read_config_file(path) if path else {}
    return TrainConfig(**apply_overrides(data, overrides or []))
