"""Store the trained (not averaged) weights of a run that kept a weight average (``ema_decay``) as a model folder of
their own, so that the average and the weights it averages can be evaluated side by side: the same trajectory,
averaged or not. The average never feeds back into training, so the live weights are also the model the same recipe
trains without an average (at seed 0 they came out bit-identical to the zoo's TRADES).

Usage: python scripts/live_weights.py RUN_DIR OUT_DIR [--id ID --title TITLE]
RUN_DIR is a finished run (card.json, weights.safetensors = the average, checkpoint.safetensors); OUT_DIR gets
card.json and weights.safetensors. The card's id and title are marked "live" unless --id / --title name them; its
training config (the one the run ran) gets ema_decay 0 and ``live_weights_of``; the deviations drop the line about the
moving average (it does not apply) and say where the weights come from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explainlab.errors import ExplainlabError
from explainlab.training.loop import checkpoint_weights
from explainlab.zoo import load_model, save_model

AVERAGE_MARK = "moving average"  # how the configs' deviations name the average (configs/*_ema*.toml)


def store_live_weights(run: Path, out: Path, new_id: str | None = None, title: str | None = None) -> str:
    model, card = load_model(run)
    decay = card.train_config.get("ema_decay")
    if not decay:
        raise ExplainlabError(f"{run}: its config kept no weight average (ema_decay 0): the stored weights are live")
    model.load_state_dict(checkpoint_weights(run))
    live_id = new_id or (card.id.replace("_ema", "_ema_live") if "_ema" in card.id else f"{card.id}-live")
    origin = (f"the trained (live) weights of the run {card.id} at its last step, stored by scripts/live_weights.py: "
              f"its weight average (decay {decay}) is not applied and never fed back into training")  # fmt: skip
    deviations = [line for line in card.deviations if AVERAGE_MARK not in line] + [origin]
    live = type(card).model_validate({**card.model_dump(), "id": live_id, "deviations": deviations,
                                      "title": title or f"{card.title} (the trained weights, not their average)",
                                      "train_config": {**card.train_config, "ema_decay": 0.0,
                                                       "live_weights_of": card.id}})  # fmt: skip
    save_model(out, model, live)
    return live_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="live_weights.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--id", dest="new_id", help="the stored model's id (default: the run's, marked _live)")
    parser.add_argument("--title", help="the stored model's title (default: the run's, marked as trained weights)")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        live_id = store_live_weights(args.run_dir, args.out_dir, args.new_id, args.title)
    except (ExplainlabError, OSError, ValueError) as error:  # ValueError: pydantic's, e.g. a bad --id
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write(f"{live_id} -> {args.out_dir}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
