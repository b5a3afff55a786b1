"""Store the trained (not averaged) weights of a run that kept a weight average (``ema_decay``) as a model folder of
their own, so that the average and the weights it averages can be evaluated side by side: the same trajectory,
averaged or not.

Usage: python scripts/live_weights.py RUN_DIR OUT_DIR
RUN_DIR is a finished run (card.json, weights.safetensors = the average, checkpoint.safetensors); OUT_DIR gets
card.json (id and title marked "live", ema_decay 0 in its training config) and weights.safetensors.
"""

from __future__ import annotations

import sys
from pathlib import Path

from explainlab.errors import ExplainlabError
from explainlab.training.loop import checkpoint_weights
from explainlab.zoo import load_model, save_model


def store_live_weights(run: Path, out: Path) -> str:
    model, card = load_model(run)
    if not card.train_config.get("ema_decay"):
        raise ExplainlabError(f"{run}: its config kept no weight average (ema_decay 0): the stored weights are live")
    model.load_state_dict(checkpoint_weights(run))
    live_id = card.id.replace("_ema", "_ema_live") if "_ema" in card.id else f"{card.id}-live"
    live = card.model_copy(update={"id": live_id, "title": f"{card.title} (the trained weights, not their average)",
                                   "train_config": {**card.train_config, "ema_decay": 0.0,
                                                    "live_weights_of": card.id}})  # fmt: skip
    save_model(out, model, live)
    return live_id


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        sys.stderr.write("usage: python scripts/live_weights.py RUN_DIR OUT_DIR\n")
        return 2
    try:
        live_id = store_live_weights(Path(args[0]), Path(args[1]))
    except (ExplainlabError, OSError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write(f"{live_id} -> {args[1]}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
