"""The fit of an anchored head (``trainer="anchored"``): L2-SP logistic regression from YAMNet's genre rows.

For each strength ``lam`` of the grid, the head starts at the anchor ``(W0, b0)`` and minimises, over the
training segments' mean-pooled raw embeddings ``x``,

    mean cross-entropy(softmax(W x + b), y) + lam / 2 * (||W - W0||^2 + ||b - b0||^2)

with full-batch L-BFGS in float64 (a convex problem, so the result does not depend on a seed). The strength
with the best validation accuracy is kept (ties: lower validation loss, then the stronger pull). Without
validation rows :data:`DEFAULT_L2SP` is used. Inputs are not normalised: the anchor rows act on the raw
embedding, as in YAMNet. No file I/O here.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from musicgenre.models.anchored import AnchoredHead
from musicgenre.training.data import load_batch
from musicgenre.training.loop import EpochData, evaluate_rows, fit_history

#: Strengths tried on the validation rows, and the one used without them.
L2SP_GRID: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
DEFAULT_L2SP = 1e-2
POOL_CHUNK = 512


@dataclass
class AnchoredOutcome:
    """The chosen strength, the grid's validation scores and the fitted head's scores."""

    l2sp: float
    train_loss: float
    train_acc: float
    valid_loss: float
    valid_acc: float
    grid: dict[str, list[float]] = field(default_factory=dict)

    def history(self, seconds: float) -> dict[str, list[float]]:
        return {
            **fit_history(self.train_loss, self.train_acc, self.valid_loss, self.valid_acc, seconds),
            **{f"l2sp_{k}": list(v) for k, v in self.grid.items()},
        }


def pooled_raw(data: EpochData, rows: np.ndarray) -> torch.Tensor:
    """``(len(rows), F)`` float64: each segment's raw embedding, averaged over its patches."""
    (name,) = data.inputs
    out = []
    for start in range(0, len(rows), POOL_CHUNK):
        x, _ = load_batch(data.inputs, rows[start : start + POOL_CHUNK], None, sort=False)
        out.append(AnchoredHead.pool(x[name]).double())
    width = data.inputs[name].shape[-1]
    return torch.cat(out) if out else torch.zeros((0, width), dtype=torch.float64)


def fit_l2sp(
    x: torch.Tensor,
    y: torch.Tensor,
    w0: torch.Tensor,
    b0: torch.Tensor,
    lam: float,
    *,
    max_iter: int = 500,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise the L2-SP objective (module docstring) from the anchor; float64 ``(W, b)``."""
    w = w0.double().clone().requires_grad_(True)
    b = b0.double().clone().requires_grad_(True)
    w0d, b0d = w0.double(), b0.double()
    opt = torch.optim.LBFGS(
        [w, b], lr=1.0, max_iter=max_iter, tolerance_grad=1e-9, tolerance_change=1e-12,
        line_search_fn="strong_wolfe",
    )  # fmt: skip

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(x @ w.T + b, y) + 0.5 * lam * ((w - w0d).pow(2).sum() + (b - b0d).pow(2).sum())
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach(), b.detach()


def _scores(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> tuple[float, float]:
    logits = x @ w.T + b
    return float(F.cross_entropy(logits, y)), float((logits.argmax(1) == y).double().mean())


def fit_anchored(
    model: AnchoredHead,
    data: EpochData,
    *,
    grid: Sequence[float] = L2SP_GRID,
    batch_size: int = 256,
    name: str = "anchored",
    progress: bool = False,
) -> AnchoredOutcome:
    """Fit ``model`` (its anchor already set) on the training rows, the strength chosen on validation."""
    w0, b0 = model.anchor_weight.clone(), model.anchor_bias.clone()
    xt = pooled_raw(data, data.train_rows)
    yt = torch.from_numpy(np.asarray(data.labels[data.train_rows], dtype=np.int64))
    has_valid = len(data.valid_rows) > 0
    if has_valid:
        xv = pooled_raw(data, data.valid_rows)
        yv = torch.from_numpy(np.asarray(data.labels[data.valid_rows], dtype=np.int64))
    table: dict[str, list[float]] = {"lam": [], "valid_acc": [], "valid_loss": []}
    best: tuple[float, float, float] | None = None
    chosen = (DEFAULT_L2SP, *fit_l2sp(xt, yt, w0, b0, DEFAULT_L2SP)) if not has_valid else None
    for lam in sorted(grid, reverse=True) if has_valid else []:
        w, b = fit_l2sp(xt, yt, w0, b0, lam)
        loss, acc = _scores(xv, yv, w, b)
        table["lam"].append(lam)
        table["valid_acc"].append(acc)
        table["valid_loss"].append(loss)
        # Strongest pull first, so that a tie keeps it (strict improvement needed to move away).
        if best is None or acc > best[0] or (acc == best[0] and loss < best[1]):
            best, chosen = (acc, loss, lam), (lam, w, b)
    assert chosen is not None
    lam, w, b = chosen
    with torch.no_grad():
        model.linear.weight.copy_(w.float())
        model.linear.bias.copy_(b.float())
    model.eval()
    if progress and has_valid:
        scores = ", ".join(f"{lm:g}: {a:.3f}" for lm, a in zip(table["lam"], table["valid_acc"], strict=True))
        tqdm.write(f"{name}: validation accuracy by L2-SP strength: {scores}; chose {lam:g}", file=sys.stderr)
    train_loss, train_acc = evaluate_rows(model, data, data.train_rows, batch_size)
    valid_loss, valid_acc = evaluate_rows(model, data, data.valid_rows, batch_size)
    if not has_valid:
        valid_loss = valid_acc = math.nan
    return AnchoredOutcome(lam, train_loss, train_acc, valid_loss, valid_acc, table)
