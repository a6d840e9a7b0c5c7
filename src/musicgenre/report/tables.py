"""The results table of a study: Markdown cells, and ``results.{md,csv,json}``."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre.fileio import atomic_write, write_json, write_text

COLUMNS: tuple[tuple[str, str], ...] = (
    ("label", "Model"),
    ("inputs", "Inputs"),
    ("unseen_accuracy", "Unseen-artist acc. [95% CI]"),
    ("study_accuracy", "Study acc. (leaky)"),
    ("segment_accuracy", "Segment acc."),
    ("track_accuracy", "Track acc."),
    ("macro_f1", "Macro-F1 (track)"),
    ("heldout_track_accuracy", "Held-out acc."),
    ("seen_accuracy", "Seen-artist acc."),
    ("n_params", "Params"),
    ("train_seconds", "Train time (s)"),
    ("best_epoch", "Best epoch"),
)


def _fmt(value: Any, std: Any = None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
        return text + (f" ± {std:.{digits}f}" if std is not None else "")
    return str(value)


def table_cells(s: dict[str, Any]) -> dict[str, str]:
    """Human-readable cells of one results row."""
    cells = {}
    for key, _ in COLUMNS:
        if key == "inputs":
            cells[key] = " + ".join(s["inputs"])
        elif key == "n_params":
            cells[key] = f"{s['n_params']:,}"
        elif key == "train_seconds":
            cells[key] = f"{s['train_seconds']:.0f}"
        elif key == "best_epoch":
            cells[key] = _fmt(s.get("best_epoch"), s.get("best_epoch_std"), 1)
            if isinstance(s.get("best_epoch"), int):
                cells[key] = f"{s['best_epoch']}/{s['epochs']}"
        elif key == "study_accuracy":
            cells[key] = _fmt(s.get(key), None, 2)
        else:
            cells[key] = _fmt(s.get(key), s.get(f"{key}_std"))
            low, high = s.get(f"{key}_low"), s.get(f"{key}_high")
            if s.get(key) is not None and low is not None and not np.isnan(low):
                cells[key] += f" [{low:.2f}, {high:.2f}]"
            n = s.get(f"n_{key.split('_')[0]}") if key in ("unseen_accuracy", "seen_accuracy") else None
            if n is not None:
                cells[key] += f" (n={n})"
    return cells


def markdown_table(results: Sequence[dict[str, Any]]) -> str:
    """The results as a Markdown table (columns without any value are left out)."""
    cols = [
        (k, h) for k, h in COLUMNS if any(r.get(k) is not None for r in results) or k in ("label", "inputs")
    ]
    lines = ["| " + " | ".join(h for _, h in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for r in results:
        cells = table_cells(r)
        lines.append("| " + " | ".join(cells[k] for k, _ in cols) + " |")
    return "\n".join(lines)


def write_tables(out_dir: Path, results: Sequence[dict[str, Any]]) -> dict[str, Path]:
    """``results.md``, ``results.csv`` (raw numbers) and ``results.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "results.md"
    write_text(md, markdown_table(results) + "\n")
    keys = [
        "key",
        "label",
        "model",
        "inputs",
        "protocol",
        "leaky",
        "study_accuracy",
        "segment_accuracy",
        "segment_accuracy_std",
        "track_accuracy",
        "track_accuracy_std",
        "track_accuracy_low",
        "track_accuracy_high",
        "macro_f1",
        "macro_f1_std",
        "heldout_track_accuracy",
        "heldout_track_accuracy_std",
        "heldout_track_accuracy_low",
        "heldout_track_accuracy_high",
        "heldout_macro_f1",
        "unseen_accuracy",
        "unseen_accuracy_low",
        "unseen_accuracy_high",
        "n_unseen",
        "seen_accuracy",
        "seen_accuracy_low",
        "seen_accuracy_high",
        "n_seen",
        "n_params",
        "train_seconds",
        "best_epoch",
        "best_epoch_std",
        "epochs",
    ]
    csv_path = out_dir / "results.csv"
    with atomic_write(csv_path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        for r in results:
            w.writerow({**r, "inputs": "+".join(r["inputs"])})
    js = out_dir / "results.json"
    write_json(js, list(results))
    return {"md": md, "csv": csv_path, "json": js}
