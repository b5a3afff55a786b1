"""Natural (empirical-risk) training: min_theta E CE(f(x), y), Adam, shuffled mini-batches."""

from __future__ import annotations

import logging
import time

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)


def train_natural(
    model: nn.Module,
    images: Tensor,
    labels: Tensor,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    batch_size: int = 128,
    seed: int = 0,
) -> dict[str, float]:
    """Train ``model`` in place on float images (N, C, H, W) in [0, 1]; returns the last epoch's loss and accuracy
    and the wall time. Leaves the model in eval mode."""
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    start, loss_sum, correct, seen = time.perf_counter(), 0.0, 0, 0
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(len(labels), generator=gen)
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            logits = model(images[idx])
            loss = F.cross_entropy(logits, labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == labels[idx]).sum())
            seen += len(idx)
        log.info("epoch %d: loss %.4f, accuracy %.4f", epoch + 1, loss_sum / seen, correct / seen)
    model.eval()
    return {"loss": loss_sum / seen, "train_accuracy": correct / seen, "seconds": time.perf_counter() - start}
