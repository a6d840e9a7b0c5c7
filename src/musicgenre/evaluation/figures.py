"""Figures of one run: training curves and confusion matrices.

Drawn with matplotlib's object API on an Agg canvas (no pyplot state, no GUI backend), so they can be
made from worker threads and never change the caller's backend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from musicgenre.fileio import atomic_path


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Render ``fig`` on an Agg canvas and write it atomically; the format follows ``path``'s suffix."""
    path = Path(path)
    FigureCanvasAgg(fig)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=path.suffix.lstrip(".").lower() or "png")
    return path


def _finite(values: Sequence[float]) -> bool:
    return any(v is not None and math.isfinite(v) for v in values)


def plot_training_curves(
    history: Mapping[str, Sequence[float]],
    path: str | Path,
    *,
    best_epoch: int | None = None,
    title: str = "",
) -> Path:
    """Loss (left) and accuracy (right) per epoch, train and valid, with the best epoch marked.

    A one-"epoch" history with a ``c_grid`` (the linear probe) is drawn against C instead.
    """
    fig = Figure(figsize=(10, 3.8))
    ax_loss, ax_acc = fig.subplots(1, 2)
    if "c_grid" in history and len(history.get("train_loss", [])) <= 1:
        c = np.asarray(history["c_grid"], dtype=float)
        ax_acc.semilogx(c, history["c_train_acc"], "o-", label="train")
        if _finite(history["c_valid_acc"]):
            ax_acc.semilogx(c, history["c_valid_acc"], "o-", label="valid")
            ax_loss.semilogx(c, history["c_valid_loss"], "o-", color="C1", label="valid")
        ax_acc.set_xlabel("C (inverse regularisation)")
        ax_loss.set_xlabel("C (inverse regularisation)")
        ax_loss.set_title("validation log-loss by C")
        ax_acc.set_title("accuracy by C")
    else:
        n = len(history.get("train_loss", []))
        epochs = np.arange(1, n + 1)
        for ax, key in ((ax_loss, "loss"), (ax_acc, "acc")):
            ax.plot(epochs, history[f"train_{key}"], "-", label="train")
            if _finite(history.get(f"valid_{key}", [])):
                ax.plot(epochs, history[f"valid_{key}"], "-", label="valid")
            if best_epoch:
                ax.axvline(best_epoch, color="0.5", ls="--", lw=1, label=f"best epoch ({best_epoch})")
            ax.set_xlabel("epoch")
        if best_epoch and _finite(history.get("valid_acc", [])):
            ax_acc.plot([best_epoch], [history["valid_acc"][best_epoch - 1]], "k*", ms=10)
        ax_loss.set_title("loss (cross-entropy)")
        ax_acc.set_title("accuracy (segments)")
    ax_acc.set_ylim(0, 1.02)
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def _draw_confusion(ax, cm: np.ndarray, labels: Sequence[str], title: str) -> None:
    cm = np.asarray(cm)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape, dtype=float), where=rows > 0)
    ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    n = len(labels)
    ax.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=10)
    size = 8 if n <= 12 else 6
    for i in range(n):
        for j in range(n):
            if cm[i, j]:
                ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=size,
                        color="white" if frac[i, j] > 0.5 else "black")  # fmt: skip


def plot_confusion_matrices(
    matrices: Sequence[tuple[np.ndarray, str]], labels: Sequence[str], path: str | Path, *, title: str = ""
) -> Path:
    """Confusion matrices side by side: counts as numbers, colour = fraction of the true class (row)."""
    k = len(matrices)
    side = 0.45 * len(labels) + 2.2
    fig = Figure(figsize=(side * k, side + 0.4))
    axes = np.atleast_1d(fig.subplots(1, k))
    for ax, (cm, sub) in zip(axes, matrices, strict=True):
        _draw_confusion(ax, cm, labels, sub)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
