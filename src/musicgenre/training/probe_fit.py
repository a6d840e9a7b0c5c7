"""Training of the linear probe (``trainer="sklearn"``): pool, fit scikit-learn, load the fit into the module.

The probe's inputs, normalised with the training rows' statistics, are pooled (a sequence over time into
``[mean, std]``, a vector as it is: :func:`~musicgenre.models.probe.pool_numpy`), concatenated and fitted by
:func:`~musicgenre.models.probe.fit_logistic_probe` (``C`` chosen on the validation rows). Its "history"
is one epoch (the fit) plus the C grid. No file I/O here: the trainer writes the run folder.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from tqdm.auto import tqdm

from musicgenre.models.probe import LinearProbe, ProbeFit, fit_logistic_probe, pool_numpy, pooled_width
from musicgenre.training.data import load_batch
from musicgenre.training.loop import EpochData, evaluate_rows, fit_history

if TYPE_CHECKING:
    from musicgenre.training.trainer import TrainConfig

POOL_CHUNK = 512  # rows read and pooled at a time


@dataclass
class ProbeOutcome:
    """The sklearn fit and the fitted probe's loss and accuracy on the training and validation rows."""

    fit: ProbeFit
    train_loss: float
    train_acc: float
    valid_loss: float
    valid_acc: float

    def history(self, seconds: float) -> dict[str, list[float]]:
        """The run's history: one "epoch" of ``seconds`` (no learning rate) and the C grid."""
        grid = self.fit.grid
        return {
            **fit_history(self.train_loss, self.train_acc, self.valid_loss, self.valid_acc, seconds),
            "c_grid": list(grid["c"]),
            "c_train_acc": list(grid["train_acc"]),
            "c_valid_acc": list(grid["valid_acc"]),
            "c_valid_loss": list(grid["valid_loss"]),
        }

    def meta(self) -> dict[str, Any]:
        """Facts for the checkpoint's ``meta``: the chosen C and whether every fit of the grid converged."""
        return {"probe_c": self.fit.c, "probe_converged": bool(all(self.fit.grid["converged"]))}


def pooled(data: EpochData, rows: np.ndarray) -> np.ndarray:
    """``(len(rows), width)`` pooled, normalised features of the probe's inputs, concatenated in order."""
    out = []
    for start in range(0, len(rows), POOL_CHUNK):
        x, _ = load_batch(data.inputs, rows[start : start + POOL_CHUNK], data.normalisation, sort=False)
        out.append(np.concatenate([pool_numpy(x[n].numpy()) for n in data.inputs], axis=1))
    width = sum(pooled_width(a.shape[1:]) for a in data.inputs.values())
    return np.concatenate(out) if out else np.zeros((0, width))


def fit_probe(
    model: LinearProbe, data: EpochData, config: TrainConfig, *, name: str = "probe", progress: bool = False
) -> ProbeOutcome:
    """Fit ``model`` (a fresh :class:`LinearProbe`) on ``data.train_rows``, C chosen on ``data.valid_rows``.

    The fit is loaded into ``model`` (left in eval mode); the returned outcome says how it scores.
    """
    train_rows, valid_rows = data.train_rows, data.valid_rows
    if progress:
        tqdm.write(f"{name}: pooling {len(train_rows) + len(valid_rows)} segments", file=sys.stderr)
    xt = pooled(data, train_rows)
    xv = pooled(data, valid_rows) if len(valid_rows) else None
    fit = fit_logistic_probe(
        xt,
        data.labels[train_rows],
        xv,
        data.labels[valid_rows] if len(valid_rows) else None,
        model.linear.out_features,
        c_grid=config.probe_c_grid,
        max_iter=config.probe_max_iter,
    )
    model.set_parameters(fit.mean, fit.scale, fit.coef, fit.intercept)
    model.eval()
    train_loss, train_acc = evaluate_rows(model, data, train_rows, config.eval_batch_size)
    valid_loss, valid_acc = evaluate_rows(model, data, valid_rows, config.eval_batch_size)
    if progress:
        scores = ", ".join(
            f"C={c:g}: {a:.3f}" for c, a in zip(fit.grid["c"], fit.grid["valid_acc"], strict=True)
        )
        tqdm.write(f"{name}: validation accuracy by C: {scores}; chose C={fit.c:g}", file=sys.stderr)
    return ProbeOutcome(fit, train_loss, train_acc, valid_loss, valid_acc)
