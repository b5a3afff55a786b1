"""HTTP request and response models (OpenAPI at /docs). Method params stay plain dicts here: each method's own
``Params`` validates them, so a new method needs no change in this file."""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_BASE64_CHARS = 14_000_000  # ~10 MB of image bytes
SOURCES = ("image", "gallery", "run", "test_image")  # the image fields of a request (an upload comes beside them)


class ImageInput(BaseModel):
    """Exactly one image source: base64 (or a data URL), a gallery id, or the input of a stored run."""

    model_config = ConfigDict(extra="forbid")

    image: str | None = Field(None, max_length=MAX_BASE64_CHARS, description="base64 PNG/JPEG/WebP or a data URL")
    gallery: str | None = Field(None, max_length=64, description="id of a gallery image, e.g. 'mnist-3' (GET /gallery)")
    run: str | None = Field(None, max_length=16, description="reuse the input image of a stored run (its run_id)")
    test_image: str | None = Field(
        None, pattern=r"^[a-z0-9_]{1,20}:\d{1,5}$", description="an image of a dataset's test split on the server, "
        "e.g. 'mnist:123' (needs EXPLAINLAB_DATA; index below EXPLAINLAB_MAX_TEST_IMAGES)",
    )  # fmt: skip
    invert: Literal["auto", "yes", "no"] = Field(
        "auto", description="grayscale models: invert dark-on-light images (auto: when the border is bright)"
    )

    @model_validator(mode="after")
    def _at_most_one_source(self) -> Self:
        given = [name for name in SOURCES if getattr(self, name)]
        if len(given) > 1:  # none is checked with the upload (multipart), which is not a field here
            raise ValueError(f"give exactly one image source: an upload, image (base64), gallery, run or test_image; "
                             f"got {given}")  # fmt: skip
        return self


class ModelsAndMap(BaseModel):
    """The models compared and the attribution method that draws their maps."""

    model_config = ConfigDict(extra="forbid")

    models: list[str] = Field(..., min_length=1, description="model ids (GET /models)")
    method: str = Field("integrated_gradients", description="attribution method (GET /methods)")
    method_params: dict[str, Any] = Field(default_factory=dict, description="its params, e.g. {'steps': 50}")


class AttackChoice(BaseModel):
    """The attack, its params, and how the maps before and after are compared."""

    model_config = ConfigDict(extra="forbid")

    attack: str = Field("pgd", description="prediction or explanation attack (GET /methods)")
    attack_params: dict[str, Any] = Field(default_factory=dict, description="its params, e.g. {'eps': 0.3}")
    transfer_from: str | None = Field(None, description="craft on this model, evaluate the same input on all")
    k: int | None = Field(None, ge=1, le=100_000, description="top-k of the similarity (default 10 % of the pixels)")


class ExplainRequest(ModelsAndMap, ImageInput):
    target: int | None = Field(
        None, ge=0, le=9999, description="class to explain (default: each input's predicted class)"
    )
    raw: bool = Field(False, description="also return the raw attribution and saliency arrays")


class AttackRequest(AttackChoice, ExplainRequest):
    pass


class CertifyRequest(ModelsAndMap, ImageInput):
    """Certify each model's map of one image by randomized smoothing (explainlab/eval/certified_map.py)."""

    method: str = Field("saliency", description="attribution method whose map is certified (GET /methods)")
    certify_params: dict[str, Any] = Field(
        default_factory=dict, description="sigma, n, top_fraction, tau, alpha, batch, seed (GET /methods: certify)"
    )


class SanityRequest(ModelsAndMap, ImageInput):
    """The randomization test on each model's map of one image (explainlab/eval/sanity_check.py)."""

    method: str = Field("saliency", description="attribution method whose map is checked (GET /methods)")
    sanity_params: dict[str, Any] = Field(
        default_factory=dict, description="order, top_fraction, seed, batch (GET /methods: sanity_check)"
    )


class Budgets(BaseModel):
    """Budgets of an ε sweep: sorted, without repeats, each > 0."""

    model_config = ConfigDict(extra="forbid")

    eps: list[float] | None = Field(
        None,
        min_length=2,
        max_length=12,
        description="the budgets, each > 0 (default: 0.25, 0.5, 0.75, 1, 1.5 and 2 times attack_params.eps, or the "
        "models' threat-model eps; L-inf budgets clamped to 1)",
    )

    @model_validator(mode="after")
    def _positive_budgets(self) -> Self:
        if self.eps is not None:
            if any(not e > 0 for e in self.eps):  # also refuses NaN
                raise ValueError("eps: every budget must be > 0 (the sweep starts from the clean image on its own)")
            self.eps = sorted(set(self.eps))
            if len(self.eps) < 2:
                raise ValueError("eps: give at least two different budgets")
        return self


class SweepRequest(Budgets, AttackRequest):
    """An attack repeated at several budgets on one image: how the prediction and the map give way as ε grows."""


class EvaluationRequest(Budgets, AttackChoice, ModelsAndMap):
    """The attack over the first ``n`` test images of the models' dataset (from ``start``), as a job: accuracy
    before and after, and how far each model's map moves, with two standard errors. With ``eps`` (or ``sweep``) the
    same at each budget: accuracy and map similarity against ε over the test images."""

    n: int = Field(100, ge=1, le=10_000, description="test images (the server's limit: EXPLAINLAB_MAX_TEST_IMAGES)")
    start: int = Field(0, ge=0, le=9_999, description="index of the first test image")
    sweep: bool = Field(False, description="sweep the lab's default budgets (0.25-2 times ε) when eps is not given")


class ClassProbability(BaseModel):
    label: int
    class_name: str
    probability: float


class PredictionOut(BaseModel):
    label: int
    class_name: str
    confidence: float
    probabilities: list[ClassProbability]


class MapOut(BaseModel):
    png: str = Field(..., description="the saliency map as a PNG data URL (row colour scale)")
    target: int
    target_name: str
    vmax: float = Field(..., description="saliency value shown as the brightest colour (shared within a row)")
    attribution: list | None = Field(None, description="raw attribution (C, H, W) when raw=true")
    saliency: list[list[float]] | None = Field(None, description="raw saliency (H, W) when raw=true")


class ViewOut(BaseModel):
    prediction: PredictionOut
    map: MapOut


class SimilarityOut(BaseModel):
    k: int
    topk_intersection: float
    spearman: float
    ssim: float


class VerdictOut(BaseModel):
    code: str
    severity: Literal["good", "warn", "bad"]
    text: str


class ExplainRow(BaseModel):
    model: str
    title: str
    dataset: str
    input_png: str = Field(..., description="what the model sees, as a PNG data URL")
    view: ViewOut
    compute_ms: float


class AttackRow(BaseModel):
    model: str
    title: str
    dataset: str
    crafted_on: str
    input_png: str
    adversarial_png: str
    perturbation_png: str = Field(..., description="|delta| per pixel (max over channels) / eps, heat colours")
    before: ViewOut
    after: ViewOut
    similarity: SimilarityOut
    linf: float
    l2: float
    verdicts: list[VerdictOut]
    compute_ms: float


class RunOut(BaseModel):
    run_id: str = Field(..., description="content hash of image + models + methods + params + seed")
    permalink: str
    method: str
    method_params: dict[str, Any]
    legend_png: str
    cached: bool
    total_ms: float


class ExplainResponse(RunOut):
    kind: Literal["explain"] = "explain"
    rows: list[ExplainRow]


class AttackResponse(RunOut):
    kind: Literal["attack"] = "attack"
    attack: str
    attack_kind: Literal["prediction", "explanation"]
    attack_params: dict[str, Any]
    transfer_from: str | None
    rows: list[AttackRow]


class ErrorBody(BaseModel):
    code: str
    message: str
    field: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
