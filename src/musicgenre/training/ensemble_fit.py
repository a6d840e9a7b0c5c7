"""The fit of an ensemble (``trainer="ensemble"``): load finished members, calibrate each, average.

The members are the checkpoints of finished runs on the same split (the study passes their run folders).
Each member's temperature minimises its negative log-likelihood on the validation segments (a grid of
:data:`TEMPERATURE_GRID`, log-spaced, so the fit is exact and deterministic); without validation rows every
temperature is 1, and the history says so. Nothing else is trained. No file I/O beyond reading the
members' checkpoints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from musicgenre.checkpoint import Checkpoint, load_checkpoint
from musicgenre.training.inference import model_from_checkpoint, predict_logits
from musicgenre.training.loop import EpochData, evaluate_rows, fit_history
from musicgenre.training.result import TrainingError

#: Temperatures tried for each member: 0.05 to 20, log-spaced.
TEMPERATURE_GRID = np.exp(np.linspace(np.log(0.05), np.log(20.0), 241))


@dataclass
class EnsembleOutcome:
    """The members' run folders and temperatures, and the ensemble's scores."""

    member_dirs: list[str]
    temperatures: list[float]
    train_loss: float
    train_acc: float
    valid_loss: float
    valid_acc: float

    def history(self, seconds: float) -> dict[str, list[float]]:
        return {
            **fit_history(self.train_loss, self.train_acc, self.valid_loss, self.valid_acc, seconds),
            "member_temperature": list(self.temperatures),
        }


def load_members(member_dirs: Sequence[str | Path], label_names: Sequence[str]) -> list[Checkpoint]:
    """The members' checkpoints; each must be finished and have the same labels in the same order."""
    ckpts = []
    for d in member_dirs:
        path = Path(d) / "model.ckpt"
        if not path.exists():
            raise TrainingError(f"ensemble: member run {d} has no model.ckpt (train it first)")
        ckpt = load_checkpoint(path)
        if list(ckpt.labels) != list(label_names):
            raise TrainingError(f"ensemble: member {path} has labels {ckpt.labels}, expected {label_names}")
        ckpts.append(ckpt)
    if len(ckpts) < 2:
        raise TrainingError("ensemble: needs at least two member runs")
    return ckpts


def member_specs(ckpts: Sequence[Checkpoint]) -> list[dict[str, Any]]:
    """The ensemble's ``members`` option: each member's kind, inputs, options and normalisation shapes."""
    return [
        {
            "model": c.model_name,
            "inputs": list(c.inputs),
            "options": dict(c.model_options),
            "norm_shapes": {n: list(s["mean"].shape) for n, s in c.normalisation.items()},
        }
        for c in ckpts
    ]


def best_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature of :data:`TEMPERATURE_GRID` with the lowest mean negative log-likelihood."""
    z = torch.from_numpy(np.asarray(logits, dtype=np.float64))
    y = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    t = torch.from_numpy(TEMPERATURE_GRID)
    scaled = z[None] / t[:, None, None]  # (grid, n, classes)
    nll = -torch.log_softmax(scaled, dim=2).gather(2, y[None, :, None].expand(len(t), -1, 1)).mean((1, 2))
    return float(t[int(torch.argmin(nll))])


def fit_ensemble(
    model: Any, ckpts: Sequence[Checkpoint], member_dirs: Sequence[str], data: EpochData, batch_size: int
) -> EnsembleOutcome:
    """Load the members into ``model`` (an :class:`~musicgenre.models.ensemble.EnsembleModel` built from
    :func:`member_specs`), calibrate each on the validation rows and score the ensemble."""
    temps = []
    for member, ckpt in zip(model.members, ckpts, strict=True):
        member.model.load_state_dict(ckpt.state_dict)
        member.set_normalisation(ckpt.normalisation)
        if len(data.valid_rows):
            inputs = {n: data.inputs[n] for n in ckpt.inputs}
            logits = predict_logits(
                model_from_checkpoint(ckpt),
                inputs,
                data.valid_rows,
                ckpt.normalisation,
                batch_size=batch_size,
            )
            temps.append(best_temperature(logits, data.labels[data.valid_rows]))
        else:
            temps.append(1.0)
    with torch.no_grad():
        model.temperature.copy_(torch.tensor(temps, dtype=torch.float32))
    model.eval()
    train_loss, train_acc = evaluate_rows(model, data, data.train_rows, batch_size)
    valid_loss, valid_acc = evaluate_rows(model, data, data.valid_rows, batch_size)
    return EnsembleOutcome([str(d) for d in member_dirs], temps, train_loss, train_acc, valid_loss, valid_acc)
