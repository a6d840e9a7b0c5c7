"""The study report's figures: accuracy per model, validation curves, the four inputs of one segment, and
the confusion matrix pooled over k folds."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre.evaluation.figures import save_figure
from musicgenre.fileio import read_json
from musicgenre.report.types import ExampleSegment

FOUR_INPUTS = ("waveform", "yamnet_embedding", "yamnet_logmel", "mfcc")


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_accuracy_comparison(results: Sequence[dict[str, Any]], path: Path, protocol: str) -> Path:
    """Bars of the study's (leaky) accuracy beside our segment- and track-level accuracy, per row.

    Error bars (standard deviation over folds) are drawn only where there is one; a held-out series is
    added when the rows were also evaluated on held-out data.
    """
    plt = _plt()
    labels = [r["label"] for r in results]
    x = np.arange(len(results))
    fig, ax = plt.subplots(figsize=(max(7.0, 1.1 * len(results) + 2), 4.2))
    series = [
        ("study_accuracy", "study (leaky segment split)", "#bbbbbb"),
        ("segment_accuracy", f"ours, segment-level ({protocol})", "#4c72b0"),
        ("track_accuracy", f"ours, track-level ({protocol})", "#dd8452"),
    ]
    if any(r.get("heldout_track_accuracy") is not None for r in results):
        series.append(("heldout_track_accuracy", "ours, track-level on held-out data", "#55a868"))
    width = 0.8 / len(series)
    for j, (key, name, colour) in enumerate(series):
        vals = [r.get(key) if r.get(key) is not None else np.nan for r in results]
        stds = [r.get(f"{key}_std") for r in results]
        errs = [sd or 0.0 for sd in stds] if any(sd is not None for sd in stds) else None
        offset = (j - (len(series) - 1) / 2) * width
        ax.bar(x + offset, vals, width, yerr=errs, label=name, color=colour, capsize=2)
    ax.axhline(0.1, color="k", lw=0.8, ls=":", label="chance (10 genres)")
    ax.set_xticks(x, labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.16)  # headroom: the legend sits above the bars, not on them
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, loc="upper center", ncol=len(series) + 1, frameon=False)
    ax.set_title("Genre accuracy per model: the study's numbers and ours")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def pooled_confusion(run_dir: Path, labels: Sequence[str]) -> tuple[np.ndarray, int] | None:
    """Track-level confusion matrix over every fold of a k-fold row (each track is tested once).

    Read from the folds' ``predictions.csv``; returns the matrix and the number of folds, or None when the
    row has no folds.
    """
    from musicgenre.evaluation.metrics import confusion_matrix

    files = sorted(Path(run_dir).glob("fold-*/predictions.csv"))
    if not files:
        return None
    index = {g: i for i, g in enumerate(labels)}
    true, pred = [], []
    for f in files:
        with f.open(newline="") as fh:
            for row in csv.DictReader(fh):
                if row["true"] in index and row["predicted"] in index:
                    true.append(index[row["true"]])
                    pred.append(index[row["predicted"]])
    return confusion_matrix(np.array(true), np.array(pred), len(labels)), len(files)


def plot_validation_curves(results: Sequence[dict[str, Any]], path: Path) -> Path | None:
    """Validation accuracy per epoch of every model (first fold under k-fold) on one figure."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for r in results:
        hist_files = sorted(Path(r["run_dir"]).glob("**/history.json"))
        if not hist_files:
            continue
        hist = read_json(hist_files[0])
        va = hist.get("valid_acc") or []
        if va:
            ax.plot(range(1, len(va) + 1), va, label=r["label"])
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation accuracy (segments)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax.set_title("Training: validation accuracy per epoch")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def plot_four_inputs(example: ExampleSegment, path: Path) -> Path:
    """The study's four example figures in one: waveform, YAMNet embedding, log-mel spectrogram, MFCC."""
    arrays, caption, sample_rate = example.arrays, example.caption, example.sample_rate
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5))
    titles = {
        "waveform": "Waveform (16 kHz)",
        "yamnet_embedding": "YAMNet embeddings (patches x 1024)",
        "yamnet_logmel": "YAMNet log-mel spectrogram (frames x 64 bands)",
        "mfcc": "MFCC (frames x 20 coefficients)",
    }
    for ax, name in zip(axes.ravel(), FOUR_INPUTS, strict=True):
        ax.set_title(titles[name], fontsize=10)
        arr = arrays.get(name)
        if arr is None:
            ax.text(0.5, 0.5, "not available", ha="center", va="center")
            ax.set_axis_off()
            continue
        if name == "waveform":
            t = np.arange(arr.shape[0]) / sample_rate
            ax.plot(t, arr, lw=0.4)
            ax.set_xlabel("time (s)")
            ax.set_ylabel("amplitude")
        else:
            im = ax.imshow(arr.T, aspect="auto", origin="lower", interpolation="nearest", cmap="magma")
            ax.set_xlabel("embedding patch" if name == "yamnet_embedding" else "frame")
            ax.set_ylabel(
                {"yamnet_embedding": "dimension", "yamnet_logmel": "mel band", "mfcc": "coefficient"}[name]
            )
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    fig.suptitle(f"The four inputs of one segment: {caption}", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_interval_bars(
    results: Sequence[dict[str, Any]], key: str, path: Path, title: str, floor_key: str | None = None
) -> Path | None:
    """Horizontal bars of ``key`` per row with their 95% intervals (``<key>_low``/``_high``), best first;
    a dashed line at the zero-shot floor's value. None when no row has the figure."""
    rows = [r for r in results if r.get(key) is not None and not np.isnan(r[key])]
    if not rows:
        return None
    rows.sort(key=lambda r: r[key])
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 0.42 * len(rows) + 1.4))
    y = np.arange(len(rows))
    vals = np.array([r[key] for r in rows])
    low = np.array([r.get(f"{key}_low", v) for r, v in zip(rows, vals, strict=True)], dtype=float)
    high = np.array([r.get(f"{key}_high", v) for r, v in zip(rows, vals, strict=True)], dtype=float)
    colours = ["#999999" if r["key"] == floor_key else "#4c72b0" for r in rows]
    ax.barh(y, vals, color=colours, xerr=[vals - low, high - vals], capsize=3, height=0.6)
    floor = next((r[key] for r in rows if r["key"] == floor_key), None)
    if floor is not None:
        ax.axvline(floor, color="#666666", ls="--", lw=1, label=f"zero-shot floor ({floor:.2f})")
        ax.legend(fontsize=7, loc="lower right")
    ax.axvline(0.1, color="k", lw=0.8, ls=":")
    ax.set_yticks(y, [r["label"] for r in rows], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("track accuracy (bars: 95% bootstrap interval; dotted: chance)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)
    return path
