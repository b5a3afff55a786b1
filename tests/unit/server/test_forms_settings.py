"""Forms generated from Params schemas and parsed back; settings from the environment; the library stays web-free."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from starlette.datastructures import FormData

from explainlab.attacks import ATTACKS
from explainlab.explain import EXPLAINERS
from server.forms import form_fields, parse_params
from server.settings import Settings

REPO = Path(__file__).resolve().parents[3]


def test_every_method_gets_a_form_and_its_defaults_round_trip() -> None:
    for registry in (ATTACKS, EXPLAINERS):
        for member in registry:
            schema = member.Params.model_json_schema()
            fields = form_fields(schema, "p")
            assert [f.name for f in fields] == list(schema.get("properties", {}))
            form = FormData([(f.input_name, "" if f.value is None else str(f.value)) for f in fields])
            params = parse_params(schema, form, "p")
            assert member.Params(**params) == member.Params(), (member.name, params)


def test_form_values_are_parsed_and_validated_by_params() -> None:
    schema = ATTACKS["pgd"].Params.model_json_schema()
    form = FormData(
        [("ap.eps", "8/255"), ("ap.steps", "20"), ("ap.random_start", "false"), ("ap.random_start", "true")]
    )
    params = parse_params(schema, form, "ap")
    resolved = ATTACKS["pgd"].Params(**params)
    assert resolved.eps == pytest.approx(8 / 255) and resolved.steps == 20 and resolved.random_start is True
    unchecked = parse_params(schema, FormData([("ap.random_start", "false")]), "ap")
    assert unchecked == {"random_start": False}


def test_settings_from_environment_name_the_bad_variable() -> None:
    settings = Settings.from_env({"EXPLAINLAB_PORT": "9001", "EXPLAINLAB_MAX_MODELS": "3"})
    assert settings.port == 9001 and settings.max_models == 3
    with pytest.raises(ValueError, match="EXPLAINLAB_PORT"):
        Settings.from_env({"EXPLAINLAB_PORT": "99999"})
    with pytest.raises(ValueError, match="EXPLAINLAB_COMPUTE"):
        Settings.from_env({"EXPLAINLAB_COMPUTE": "gpu-cluster"})


def test_the_library_never_imports_the_web_layer() -> None:
    web = {"server", "fastapi", "starlette", "jinja2", "uvicorn"}
    offenders = []
    for path in (REPO / "explainlab").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in web]
    assert offenders == ["cli.py: uvicorn"]  # `explainlab serve` hands uvicorn the name "server.main:create_app"
