"""Every architecture builds from its Params, maps pixels to logits, and exposes swappable ReLU modules."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainlab.nets import NETS, Normalized, build_model, cam_layer, softplus_relus
from explainlab.nets.smoothing import count_relus

EXPECTED_PARAMS = {"small_cnn": 421_642, "resnet20": 272_474, "preact_resnet18": 11_172_170}


@pytest.mark.parametrize("name", NETS.names())
def test_net_contract(name: str) -> None:
    cls = NETS[name]
    c, h, w = cls.default_input
    model = build_model(name, [0.5] * c, [0.25] * c).eval()
    assert sum(p.numel() for p in model.parameters()) == EXPECTED_PARAMS[name]
    logits = model(torch.rand(2, c, h, w))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert relus and len({id(m) for m in relus}) == len(relus), "ReLUs must be distinct modules"
    assert not any(m.inplace for m in relus), "in-place ReLUs break double backprop"
    assert not any(isinstance(m, nn.Conv2d) for m in cam_layer(model).modules()) or name != "small_cnn"


def test_normalized_standardizes_inside_the_model() -> None:
    seen = []
    net = nn.Sequential(nn.Identity())
    net.register_forward_hook(lambda _m, i, _o: seen.append(i[0]))
    Normalized(net, [0.5], [0.25])(torch.full((1, 1, 2, 2), 1.0))
    assert torch.allclose(seen[0], torch.full((1, 1, 2, 2), 2.0))


def test_softplus_swap_is_restored_even_on_error() -> None:
    model = build_model("small_cnn", [0.1307], [0.3081])
    n = count_relus(model)
    x = torch.rand(1, 1, 28, 28)
    relu_out = model(x)
    with softplus_relus(model, 5.0):
        assert count_relus(model) == 0
        assert sum(isinstance(m, nn.Softplus) for m in model.modules()) == n
        assert not torch.allclose(model(x), relu_out)
    assert count_relus(model) == n and torch.equal(model(x), relu_out)
    with pytest.raises(RuntimeError), softplus_relus(model, 5.0):
        raise RuntimeError("boom")
    assert count_relus(model) == n


def test_softplus_with_large_beta_approaches_relu() -> None:
    model = build_model("small_cnn", [0.1307], [0.3081]).eval()
    x = torch.rand(2, 1, 28, 28)
    with softplus_relus(model, 1e4):
        smooth = model(x)
    assert torch.allclose(smooth, model(x), atol=1e-2)


def test_small_cnn_head_width_is_a_parameter() -> None:
    """``hidden`` widens only the fully connected head (Madry et al.'s MNIST CNN has 1024 units there)."""
    wide = build_model("small_cnn", [0.1307], [0.3081], hidden=1024)
    convs = 32 * 9 + 32 + 64 * 32 * 9 + 64
    assert sum(p.numel() for p in wide.parameters()) == convs + 3136 * 1024 + 1024 + 1024 * 10 + 10
    assert wide(torch.rand(2, 1, 28, 28)).shape == (2, 10)
