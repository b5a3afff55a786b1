"""One request flow for the checks of each model's map of one image (certified maps, the sanity check): build the
attribution method and the check's params, refuse what costs too much, fetch the image, answer from the cache or run
one job per model on the compute worker. Cached by content like every result; not a stored run."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

from pydantic import ValidationError
from torch import Tensor

from explainlab.explain import EXPLAINERS, Explainer
from explainlab.params import Params
from explainlab.zoo.card import ModelCard
from server.checks import build
from server.errors import validation_error
from server.runs import content_key
from server.schemas import ModelsAndMap
from server.services import Lab, image_key

OneModel = Callable[[Lab, str, Explainer, Any, Tensor], list[dict[str, Any]]]  # compute worker: one model's row


def check_params(params: type[Params], values: dict[str, Any], field: str) -> Any:
    """The check's params from request values; a bad one is a 422 naming ``field.<name>``."""
    try:
        return params(**values)
    except ValidationError as error:
        raise validation_error(error, prefix=field) from None


async def map_check(
    lab: Lab,
    req: ModelsAndMap,
    upload: bytes | None,
    *,
    kind: str,
    params: Params,
    passes: Callable[[Explainer, ModelCard], int],
    cost_field: str,
    one: OneModel,
) -> dict[str, Any]:
    """Every model's ``one`` row for the request's image; ``passes`` estimates one model's forward/backward passes."""
    start = lab.last_interactive = time.perf_counter()
    explainer: Explainer = build(EXPLAINERS, req.method, req.method_params, "method")
    cards = lab.check_models(req.models)
    lab.check_cost(1, sum(passes(explainer, card) for card in cards), field=cost_field)
    source = await lab.source(req, upload)
    method_params = explainer.params.model_dump(mode="json")
    values = params.model_dump(mode="json")
    invert = getattr(req, "invert", "auto")
    key = content_key(kind, image_key(source.image), req.models, req.method, method_params, values, invert)
    if (hit := lab.results.get(key)) is not None:
        return {**hit, "cached": True, "total_ms": (time.perf_counter() - start) * 1000}
    xs = await lab.inputs(source, cards, invert)
    jobs = [lab.worker.run(partial(one, lab, model_id, explainer, params), x) for model_id, x in
            zip(req.models, xs, strict=True)]  # fmt: skip
    rows = await lab.wait(*jobs)
    response = {
        "kind": kind,
        "method": req.method,
        "method_params": method_params,
        f"{kind}_params": values,
        "source": source.ref,
        "rows": rows,
        "cached": False,
        "total_ms": (time.perf_counter() - start) * 1000,
    }
    lab.results.put(key, response)
    return response
