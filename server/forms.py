"""HTML forms generated from a method's Params JSON schema, and form values parsed back into params.

Inputs are named ``<prefix>.<field>`` (``mp.steps`` for the attribution method, ``ap.eps`` for the attack). Only
values that differ from the default are sent on to ``Params``, which validates them (bounds, "8/255", enums).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData


@dataclass
class FormField:
    name: str  # the Params field
    input_name: str  # prefix.name
    label: str
    kind: str  # number | integer | boolean | choice | text | json
    default: Any
    value: Any
    description: str
    minimum: float | None = None
    maximum: float | None = None
    choices: list[Any] | None = None
    optional: bool = False


def _flatten(prop: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """anyOf [X, null] -> (X, optional)."""
    options = prop.get("anyOf")
    if not options:
        return prop, False
    concrete = [o for o in options if o.get("type") != "null"]
    return ({**concrete[0], **{k: v for k, v in prop.items() if k != "anyOf"}} if concrete else prop), len(
        concrete
    ) < len(options)


def form_fields(schema: dict[str, Any], prefix: str, values: dict[str, Any] | None = None) -> list[FormField]:
    """One FormField per Params property, in declaration order."""
    values = values or {}
    out = []
    for name, raw in schema.get("properties", {}).items():
        prop, optional = _flatten(raw)
        kind = {"number": "number", "integer": "integer", "boolean": "boolean", "object": "json"}.get(
            prop.get("type", ""), "text"
        )
        if "enum" in prop:
            kind = "choice"
        minimum = prop.get("minimum", prop.get("exclusiveMinimum"))
        maximum = prop.get("maximum", prop.get("exclusiveMaximum"))
        default = raw.get("default")
        value = values.get(name, default)
        if kind == "json":
            value = json.dumps(value or {})
        out.append(
            FormField(
                name=name,
                input_name=f"{prefix}.{name}",
                label=name.replace("_", " "),
                kind=kind,
                default=default,
                value=value,
                description=raw.get("description", ""),
                minimum=minimum,
                maximum=maximum,
                choices=prop.get("enum"),
                optional=optional,
            )
        )
    return out


def parse_params(schema: dict[str, Any], form: FormData, prefix: str) -> dict[str, Any]:
    """Form strings -> the params dict for ``Params(**...)``; empty text fields keep the default."""
    params: dict[str, Any] = {}
    for field in form_fields(schema, prefix):
        values = form.getlist(field.input_name)
        if not values:
            continue
        text = str(values[-1]).strip()  # a checkbox follows its hidden "false"
        if field.kind == "boolean":
            value: Any = text.lower() in ("true", "on", "1", "yes")
        elif text == "":
            if field.optional and field.default is not None:
                params[field.name] = None
            continue
        elif field.kind == "integer":
            value = _number(text, int)
        elif field.kind == "json":
            try:
                value = json.loads(text)
            except ValueError:
                value = text  # Params reports the bad value with its field name
        else:
            value = text  # numbers as text: Params parses "0.3" and "8/255"
        if value != field.default:
            params[field.name] = value
    return params


def _number(text: str, kind: type) -> Any:
    try:
        return kind(float(text)) if kind is int and float(text).is_integer() else kind(text)
    except ValueError:
        return text
