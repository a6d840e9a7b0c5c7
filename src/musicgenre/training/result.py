"""What a training run produces (:class:`TrainResult`) and how training fails (:class:`TrainingError`).

Shared by the trainer, the epoch loop and the run folder; :mod:`musicgenre.training.trainer` re-exports
both names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from musicgenre.errors import MusicGenreError


class TrainingError(MusicGenreError):
    """Training cannot start or continue (inconsistent inputs, an out_dir holding another run, NaN loss)."""


def json_float(x: float) -> float | None:
    """``x``, or None for NaN and infinities (JSON has no such numbers)."""
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def json_history(history: Mapping[str, list[float]]) -> dict[str, list[float | None]]:
    """A per-epoch history with NaNs as None, as ``history.json`` and ``result.json`` store it."""
    return {k: [json_float(float(v)) for v in vals] for k, vals in history.items()}


@dataclass
class TrainResult:
    """What a finished training run produced (also stored as ``result.json``).

    ``best_epoch`` is 1-based. ``best_valid_acc`` is NaN without validation rows. ``train_seconds`` is the
    wall time spent training and validating, summed over resumed sessions. For the ``probe`` the
    "epoch" is the single fit, and the C grid is in ``history['c_grid']`` and friends.
    """

    checkpoint_path: Path
    history: dict[str, list[float]]
    best_epoch: int
    best_valid_acc: float
    train_seconds: float
    n_params: int
    model_name: str = ""
    out_dir: Path | None = None
    resumed_from_epoch: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form; paths relative to ``out_dir``; NaN written as null."""
        return {
            "checkpoint": Path(self.checkpoint_path).name,
            "history": json_history(self.history),
            "best_epoch": self.best_epoch,
            "best_valid_acc": json_float(self.best_valid_acc),
            "train_seconds": self.train_seconds,
            "n_params": self.n_params,
            "model_name": self.model_name,
            "resumed_from_epoch": self.resumed_from_epoch,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], out_dir: Path) -> TrainResult:
        """Inverse of :meth:`to_dict` for a run stored in ``out_dir``."""
        return cls(
            checkpoint_path=Path(out_dir) / d["checkpoint"],
            history={k: [math.nan if v is None else v for v in vals] for k, vals in d["history"].items()},
            best_epoch=int(d["best_epoch"]),
            best_valid_acc=math.nan if d["best_valid_acc"] is None else float(d["best_valid_acc"]),
            train_seconds=float(d["train_seconds"]),
            n_params=int(d["n_params"]),
            model_name=d.get("model_name", ""),
            out_dir=Path(out_dir),
            resumed_from_epoch=int(d.get("resumed_from_epoch", 0)),
            meta=dict(d.get("meta", {})),
        )
