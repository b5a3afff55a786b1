"""TrainConfig: TOML + ``--set`` overrides, parsed as TOML values, validated completely before a run starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from explainlab.errors import ExplainlabError
from explainlab.training import METHODS
from explainlab.training.config import ConfigError, TrainConfig, apply_overrides, load_config, parse_value

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-2", -2),
        ("0.3", 0.3),
        ("1e-3", 1e-3),
        ("true", True),
        ("false", False),
        ('"pgd_at"', "pgd_at"),
        ("pgd_at", "pgd_at"),
        ("8/255", "8/255"),
        ("/data/mnist", "/data/mnist"),
        ('"123"', "123"),
        ("[0.5, 0.75]", [0.5, 0.75]),
        ('["a", "b"]', ["a", "b"]),
        ("{eps = 0.1, steps = 7}", {"eps": 0.1, "steps": 7}),
    ],
)
def test_values_parse_as_toml_else_as_bare_strings(text: str, value: Any) -> None:
    parsed = parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_overrides_nest_and_do_not_touch_the_input() -> None:
    data = {"epochs": 1, "method_params": {"eps": 0.3, "steps": 40}, "net_params": {"deep": {"a": 1}}}
    out = apply_overrides(data, ["epochs=5", "method_params.eps=0.1", "net_params.deep.a=2", "milestones=[0.4]"])
    assert out == {"epochs": 5, "method_params": {"eps": 0.1, "steps": 40}, "net_params": {"deep": {"a": 2}},
                   "milestones": [0.4]}  # fmt: skip
    assert data == {"epochs": 1, "method_params": {"eps": 0.3, "steps": 40}, "net_params": {"deep": {"a": 1}}}
    assert apply_overrides({}, ["method_params.eps = 8/255 "]) == {"method_params": {"eps": "8/255"}}
    assert apply_overrides({}, ["id=a=b"]) == {"id": "a=b"}  # the first '=' splits


@pytest.mark.parametrize("item", ["epochs", "=3", "method_params.=1", ".eps=1", "a..b=1"])
def test_malformed_overrides_are_config_errors(item: str) -> None:
    with pytest.raises(ConfigError, match="key=value"):
        apply_overrides({}, [item])


def test_override_into_a_non_table_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'epochs' is not a table"):
        apply_overrides({"epochs": 3}, ["epochs.x=1"])


def test_config_file_with_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text('method = "pgd_at"\nepochs = 8\nschedule = "cosine"\n[method_params]\neps = 0.3\nsteps = 10\n')
    config = load_config(path, ["epochs=2", "method_params.eps=8/255", "bf16=true", "milestones=[0.25, 0.5]",
                                'id="mnist-test"', "optimizer=sgd"])  # fmt: skip
    assert config.method == "pgd_at" and config.epochs == 2 and config.schedule == "cosine" and config.bf16 is True
    assert config.method_params == {"eps": "8/255", "steps": 10} and config.milestones == [0.25, 0.5]
    assert config.optimizer == "sgd" and config.model_id() == "mnist-test"
    params = METHODS["pgd_at"].Params(**config.method_params)  # type: ignore[attr-defined]
    assert params.eps == pytest.approx(8 / 255) and params.steps == 10


def test_defaults_and_derived_names() -> None:
    config = load_config()
    assert config == TrainConfig()
    assert config.model_id() == "mnist-small_cnn-natural-s0"
    assert config.run_dir() == Path("runs/mnist-small_cnn-natural-s0")
    assert TrainConfig(out_dir="/tmp/x").run_dir() == Path("/tmp/x")
    assert TrainConfig(dataset="cifar10", net="resnet20").resolved_net_params() == {"in_channels": 3, "num_classes": 10}
    assert TrainConfig(dataset="cifar10").resolved_net_params() == {"in_channels": 3, "num_classes": 10,
                                                                    "input_size": 32}  # fmt: skip


@pytest.mark.parametrize(
    "overrides",
    [
        ["no_such_key=1"],
        ["epochs=0"],
        ["epochs=many"],
        ["lr=-1"],
        ["batch_size=1.5"],
        ["bf16=maybe"],
        ["schedule=linear"],
        ["optimizer=lbfgs"],
        ["milestones=[1.5]"],
        ["milestones=0.5"],
        ["seed=-1"],
        ['id="Not Valid"'],
        ["dataset=imagenet"],
        ["net=vgg"],
        ["net_params.width=4"],
        ["method=no_such_method"],
        ["method=pgd_at", "method_params.eps=5"],
        ["method=pgd_at", "method_params.steps=0"],
        ["method=pgd_at", "method_params.no_such_param=1"],
        ["method=natural", "method_params.eps=0.3"],
        ["method_params=3"],
        ["method=atex", "eps_warmup_epochs=1"],
    ],
)
def test_invalid_configs_are_validation_errors(overrides: list[str]) -> None:
    with pytest.raises(ValidationError):
        load_config(None, overrides)


def test_an_id_that_names_another_seed_is_refused() -> None:
    with pytest.raises(ValidationError, match="names seed 0 but seed is 1"):
        load_config(None, ['id="mnist-x-s0"', "seed=1"])
    assert load_config(None, ['id="mnist-x-s1"', "seed=1"]).model_id() == "mnist-x-s1"
    assert load_config(None, ['id="mnist-x"', "seed=1"]).model_id() == "mnist-x"


def test_file_problems_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)
    assert issubclass(ConfigError, ExplainlabError)  # the CLI ends with a message and exit code 2


def test_extends_merges_a_parent_config(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(
        'method = "pgd_at"\nepochs = 8\ndeviations = ["a", "b"]\n[method_params]\neps = 0.3\nsteps = 10\n'
    )
    (tmp_path / "mid.toml").write_text('extends = "base.toml"\nepochs = 16\n[method_params]\nsteps = 5\n')
    (tmp_path / "child.toml").write_text('extends = "mid.toml"\ndeviations = ["c"]\n')
    config = load_config(tmp_path / "child.toml", ["method_params.eps=0.1"])
    assert (config.method, config.epochs, config.deviations) == ("pgd_at", 16, ["c"])  # lists replace
    assert config.method_params == {"eps": 0.1, "steps": 5}  # tables merge, --set comes last


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.toml": 'extends = "a.toml"'}, "cycle: a.toml"),
        ({"a.toml": 'extends = "b.toml"', "b.toml": 'extends = "a.toml"'}, "cycle: a.toml -> b.toml"),
        ({"a.toml": 'extends = "missing.toml"'}, "extends 'missing.toml': config file .* not found"),
        ({"a.toml": "extends = 3"}, "extends must be a file name"),
        ({"a.toml": 'extends = "b.toml"', "b.toml": "epochs = = 1"}, "extends 'b.toml': .*not valid TOML"),
    ],
)
def test_bad_extends_are_config_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path / "a.toml")


def test_extends_chains_are_bounded(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"c{i}.toml").write_text(f'extends = "c{i + 1}.toml"\n')
    (tmp_path / "c12.toml").write_text("epochs = 2\n")
    with pytest.raises(ConfigError, match="at most 8 files deep"):
        load_config(tmp_path / "c0.toml")
    assert load_config(tmp_path / "c6.toml").epochs == 2


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.toml")), ids=lambda p: p.name)
def test_every_shipped_config_is_valid(path: Path) -> None:
    config = load_config(path)
    assert config.method in METHODS
