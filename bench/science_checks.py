"""The science engine's acceptance numbers in one run (issue 2): IG completeness, agreement with Captum and
torchattacks, attack strength and constraints on a naturally trained MNIST SmallCNN, label preservation of the
explanation attacks, the RAR protocol, and the dataset counts.

    python bench/science_checks.py [--data-dir ../shared/data] [--n 500] [--rar-n 100] [--out out/science.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

from explainlab.runtime import configure_runtime

configure_runtime()

from explainlab.attacks import ATTACKS  # noqa: E402
from explainlab.data import label_histogram, load_dataset  # noqa: E402
from explainlab.eval.attribution_robustness import RARProtocol, attribution_robustness  # noqa: E402
from explainlab.explain import EXPLAINERS  # noqa: E402
from explainlab.explain.base import class_scores  # noqa: E402
from explainlab.explain.gradcam import gradcam  # noqa: E402
from explainlab.metrics.functional import accuracy  # noqa: E402
from explainlab.nets import build_model, cam_layer, softplus_relus  # noqa: E402
from explainlab.training import train_natural  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def ig_completeness() -> dict[str, float]:
    """Max relative completeness error at 256 steps on tiny nets (float64), per quadrature rule."""
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    cnn = cnn.double().eval()
    x = torch.rand(16, 1, 8, 8, dtype=torch.float64)
    t = torch.arange(16) % 3
    out = {}
    for beta, label in ((10.0, "softplus10"), (None, "relu")):
        for rule in ("gausslegendre", "riemann_trapezoid", "riemann_right"):
            attr = EXPLAINERS.create("integrated_gradients", {"steps": 256, "rule": rule, "softplus_beta": beta})
            a = attr.explain(cnn, x, t)
            with softplus_relus(cnn, beta), torch.no_grad():
                gap = class_scores(cnn(x), t) - class_scores(cnn(torch.zeros_like(x)), t)
            out[f"{label}/{rule}"] = float(((a.flatten(1).sum(1) - gap).abs() / gap.abs()).max())
    return out


def captum_agreement() -> dict[str, float]:
    """Max |ours - Captum| for IG, Saliency and Grad-CAM on SmallCNN and ResNet-20 (random weights and inputs)."""
    from captum.attr import IntegratedGradients, LayerGradCam, Saliency

    out = {}
    for net, c in (("small_cnn", 1), ("resnet20", 3)):
        torch.manual_seed(0)
        model = build_model(net, [0.5] * c, [0.25] * c).eval()
        size = 28 if c == 1 else 32
        x = torch.rand(4, c, size, size)
        t = torch.tensor([0, 1, 2, 3])
        ours = EXPLAINERS.create("integrated_gradients", {"steps": 50}).explain(model, x, t)
        theirs = IntegratedGradients(model).attribute(x, target=t, n_steps=50, method="gausslegendre")
        out[f"{net}/integrated_gradients"] = float((ours - theirs).abs().max())
        ours = EXPLAINERS.create("saliency").explain(model, x, t)
        out[f"{net}/saliency"] = float((ours - Saliency(model).attribute(x, target=t)).abs().max())
        ours = gradcam(model, x, t, relu=False, create_graph=False).detach()
        theirs = LayerGradCam(model, cam_layer(model)).attribute(x, target=t)
        out[f"{net}/gradcam"] = float((ours - theirs).abs().max())
    return out


def natural_mnist(data_dir: str, train_log: dict) -> nn.Module:
    train = load_dataset("mnist", "train", data_dir=data_dir)
    torch.manual_seed(0)
    model = build_model("small_cnn", [0.1307], [0.3081])
    train_log.update(train_natural(model, train.float_images(), train.labels, epochs=1, seed=0))
    return model.eval()


def attack_row(model: nn.Module, name: str, params: dict, x: torch.Tensor, y: torch.Tensor) -> dict:
    x0 = x.clone()
    attack = ATTACKS.create(name, params)
    start = time.perf_counter()
    x_adv = attack.perturb(model, x, y)
    seconds = time.perf_counter() - start
    delta = (x_adv - x).flatten(1)
    dist = delta.abs().amax(1) if attack.params.norm == "linf" else delta.norm(dim=1)
    with torch.no_grad():
        acc = float(accuracy(model(x_adv), y))
    return {
        "attack": name, **params, "robust_accuracy": acc, "max_distance": float(dist.max()),
        "in_box": bool(x_adv.min() >= 0 and x_adv.max() <= 1), "input_unchanged": bool(torch.equal(x, x0)),
        "seconds": round(seconds, 2),
    }  # fmt: skip


def torchattacks_row(model: nn.Module, eps: float, x: torch.Tensor, y: torch.Tensor) -> dict:
    import torchattacks

    adv = torchattacks.PGD(model, eps=eps, alpha=0.01, steps=40, random_start=True)(x, y)
    with torch.no_grad():
        acc = float(accuracy(model(adv), y))
    return {"attack": "torchattacks.PGD", "eps": eps, "steps": 40, "step_size": 0.01, "robust_accuracy": acc}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared" / "data"))
    parser.add_argument("--n", type=int, default=500, help="test images for the prediction attacks")
    parser.add_argument("--expl-n", type=int, default=100, help="test images for label preservation")
    parser.add_argument("--rar-n", type=int, default=100, help="test images for the RAR protocol")
    parser.add_argument("--rar-steps", type=int, default=100)
    parser.add_argument("--rar-restarts", type=int, default=3)
    parser.add_argument("--rar-attack-ig-steps", type=int, default=10, help="the paper: 100 (slow on CPU)")
    parser.add_argument("--out", default=None, help="also write the JSON here")
    args = parser.parse_args()

    report: dict = {"torch_threads": torch.get_num_threads()}
    report["ig_completeness_max_rel_error"] = ig_completeness()
    report["captum_max_abs_diff"] = captum_agreement()
    mnist_test = load_dataset("mnist", "test", data_dir=args.data_dir)
    cifar_train = load_dataset("cifar10", "train", data_dir=args.data_dir)
    cifar_test = load_dataset("cifar10", "test", data_dir=args.data_dir)
    report["data"] = {
        "mnist_train": len(load_dataset("mnist", "train", data_dir=args.data_dir)), "mnist_test": len(mnist_test),
        "mnist_test_histogram": label_histogram(mnist_test), "cifar10_train": len(cifar_train),
        "cifar10_test": len(cifar_test),
    }  # fmt: skip
    report["training"] = {}
    model = natural_mnist(args.data_dir, report["training"])
    x_all, y_all = mnist_test.float_images(), mnist_test.labels
    with torch.no_grad():
        report["clean_accuracy_10k"] = float(accuracy(model(x_all), y_all))
    x, y = x_all[: args.n], y_all[: args.n]
    rows = []
    for eps in (0.1, 0.3):
        rows.append(attack_row(model, "fgsm", {"eps": eps}, x, y))
        rows.append(attack_row(model, "pgd", {"eps": eps, "steps": 40, "step_size": 0.01}, x, y))
        rows.append(attack_row(model, "pgd", {"eps": eps, "steps": 40, "step_size": 0.01, "keep": "last"}, x, y))
        rows.append(attack_row(model, "apgd", {"eps": eps, "steps": 40}, x, y))
        rows.append(attack_row(model, "apgd", {"eps": eps, "steps": 40, "loss": "dlr"}, x, y))
        rows.append(torchattacks_row(model, eps, x, y))
    rows.append(attack_row(model, "pgd", {"eps": 2.0, "norm": "l2", "steps": 40, "step_size": 0.1}, x, y))
    rows.append(attack_row(model, "apgd", {"eps": 2.0, "norm": "l2", "steps": 40}, x, y))
    report["prediction_attacks"] = rows

    xe, ye = x_all[: args.expl_n], y_all[: args.expl_n]
    with torch.no_grad():
        pred = model(xe).argmax(1)
    kept = {}
    for name in (n for n in ATTACKS.names() if ATTACKS[n].kind == "explanation"):
        x_adv = ATTACKS.create(name, {"eps": 0.3, "steps": 30, "k": 100}).perturb(model, xe, ye)
        with torch.no_grad():
            kept[name] = float((model(x_adv).argmax(1) == pred).float().mean())
    report["explanation_attacks_label_preserved"] = kept

    protocol = RARProtocol(steps=args.rar_steps, restarts=args.rar_restarts, attack_ig_steps=args.rar_attack_ig_steps)
    start = time.perf_counter()
    rar = attribution_robustness(model, x_all[: args.rar_n], y_all[: args.rar_n], protocol).summary()
    report["rar_protocol"] = {**protocol.model_dump(), **rar, "seconds": round(time.perf_counter() - start, 1)}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
