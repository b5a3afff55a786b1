"""bench/map_score_attack.py: the top-k attack on the centered logit's saliency map ignores a component added to every
logit while the attack on the logit's map sees it; a model against itself; usage errors."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from bench import map_score_attack


class WithSharedLogit(nn.Module):
    """``model``'s logits plus 20 <w, x> added to every class: the same prediction, another map of f_y."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("w", torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(4)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) + 20 * (x * self.w).flatten(1).sum(1, keepdim=True)


def test_the_centered_attack_ignores_a_shared_component(world: SimpleNamespace) -> None:
    x, y = world.x[:12], world.y[:12]
    shifted = WithSharedLogit(world.model).eval()
    settings = SimpleNamespace(eps=0.1, steps=3, k_fraction=0.1)
    centered = map_score_attack.topk_kept([world.model, shifted], x, y, "centered_logit", settings)
    logit = map_score_attack.topk_kept([world.model, shifted], x, y, "logit", settings)
    scored = [i for i, v in enumerate(centered[0]) if v is not None]
    assert scored and [i for i, v in enumerate(centered[1]) if v is not None] == scored  # the same predictions
    for i in scored:
        assert centered[1][i] == pytest.approx(centered[0][i], abs=0.05)
    assert max(abs(logit[1][i] - logit[0][i]) for i in scored) > 0.1


def test_a_model_against_itself(world: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "map_score.json"
    code = map_score_attack.main(["--models", world.card.id, str(world.model_dir), "--models-dir",
                                  str(world.models_dir), "--data-dir", str(world.data_dir), "--n", "10", "--steps",
                                  "2", "--json", str(out)])  # fmt: skip
    assert code == 0
    result = json.loads(out.read_text())
    first, second = result["rows"]
    for score in ("logit", "centered_logit"):
        assert first[score] == second[score] and second[f"{score}_vs_first"]["mean"] == 0.0
        assert 0.0 <= first[score]["mean"] <= 1.0 and len(result["per_image"][score][0]) == 10


def test_bad_flags_are_usage_errors(world: SimpleNamespace, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        map_score_attack.main(["--models", world.card.id, "--eps", "0"])
    assert "--eps must be in (0, 1]" in capsys.readouterr().err
    assert map_score_attack.main(["--models", "no-such-model", "--models-dir", str(world.models_dir)]) == 2
    assert "no-such-model" in capsys.readouterr().err
