"""Prediction output: a terminal table, JSON and CSV records (one per file), and timeline figures.

Record schema (JSON keys; CSV columns in this order):

``path, top_genre, confidence, margin, duration, n_windows, windows_used, window_seconds, hop_seconds,
aggregate, model_id, flags, error``, then ``top_k`` (JSON: ``[{"genre", "probability"}, ...]``; CSV:
``top1_genre, top1_probability, ...``) and ``probabilities`` (JSON: ``{genre: p}``; CSV: ``prob_<genre>``
per label). A file that failed has ``error`` set and empty values elsewhere. CSV ``flags`` are joined
with ``;``. JSON is a list of records; with ``windows`` (``predict --windows``, and ``serve``'s API) each
record also has ``windows``: ``[{"start", "top_genre", "probability", "silent"}, ...]``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from musicgenre.predict.results import RECORD_KEYS, PredictionFailure, PredictionResult

Item = PredictionResult | PredictionFailure


# ---------------------------------------------------------------------------------------------- records
def to_records(items: Sequence[Item], top_k: int = 3, *, windows: bool = False) -> list[dict]:
    """One JSON-serialisable record per file (``windows``: with each window's top genre, see
    :meth:`PredictionResult.to_record`). ``predict --format json`` and ``serve``'s API both use this."""
    return [it.to_record(top_k, windows=windows) for it in items]


def to_json(items: Sequence[Item], top_k: int = 3, *, windows: bool = False) -> str:
    """The records as a JSON list (indented, newline-terminated)."""
    return json.dumps(to_records(items, top_k, windows=windows), indent=2, allow_nan=False) + "\n"


def csv_header(labels: Sequence[str], top_k: int = 3) -> list[str]:
    """CSV columns for a model with ``labels``."""
    cols = list(RECORD_KEYS)
    for i in range(1, top_k + 1):
        cols += [f"top{i}_genre", f"top{i}_probability"]
    cols += [f"prob_{g}" for g in labels]
    return cols


def to_csv(items: Sequence[Item], labels: Sequence[str], top_k: int = 3) -> str:
    """The records as CSV text with a header row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(csv_header(labels, top_k))
    for rec in to_records(items, top_k):
        row = []
        for key in RECORD_KEYS:
            v = rec.get(key)
            row.append(";".join(v) if key == "flags" else ("" if v is None else v))
        tk = rec.get("top_k") or []
        for i in range(top_k):
            row += [tk[i]["genre"], tk[i]["probability"]] if i < len(tk) else ["", ""]
        probs = rec.get("probabilities") or {}
        row += [probs.get(g, "") for g in labels]
        writer.writerow(row)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- table
def format_duration(seconds: float) -> str:
    """``m:ss.s`` (``h:mm:ss`` from an hour)."""
    if seconds >= 3600:
        h, rem = divmod(int(round(seconds)), 3600)
        m, s = divmod(rem, 60)
        return f"{h}:{m:02d}:{s:02d}"
    m, s = divmod(seconds, 60)
    return f"{int(m)}:{s:04.1f}"


def format_table(items: Sequence[Item], top_k: int = 3, *, show_failures: bool = False) -> str:
    """A readable table of the labelled files (failures are left to :func:`format_failures` unless
    ``show_failures``)."""
    rows = [["file", "genre", "conf", "duration", "windows", "flags"]]
    if top_k > 1:
        rows[0].insert(3, f"top {top_k}")
    for it in items:
        if isinstance(it, PredictionFailure):
            if show_failures:
                row = [it.path, "ERROR", "", "", "", it.error]
                if top_k > 1:
                    row.insert(3, "")
                rows.append(row)
            continue
        windows = (
            str(it.n_windows) if it.windows_used == it.n_windows else f"{it.windows_used}/{it.n_windows}"
        )
        row = [
            it.path or "<array>",
            it.top_genre or "-",
            f"{it.confidence:.2f}",
            format_duration(it.duration),
            windows,
            ",".join(it.flags),
        ]
        if top_k > 1:
            row.insert(3, "  ".join(f"{g} {p:.2f}" for g, p in it.top_k(top_k)))
        rows.append(row)
    if len(rows) == 1:
        return "(no files labelled)"
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    right = {rows[0].index(c) for c in ("conf", "duration", "windows")}
    lines = []
    for n, r in enumerate(rows):
        cells = [
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_failures(items: Sequence[Item]) -> str:
    """``N file(s) failed:`` followed by one ``path: problem`` line each ('' when none failed)."""
    failed = [it for it in items if isinstance(it, PredictionFailure)]
    if not failed:
        return ""
    head = f"{len(failed)} file{'s' if len(failed) != 1 else ''} failed:"
    return "\n".join([head, *(f"  {f.message}" for f in failed)])


# ---------------------------------------------------------------------------------------------- timeline
def timeline_paths(target: str | Path, items: Sequence[Item]) -> dict[int, Path]:
    """Where each labelled file's timeline goes: ``target`` itself for one file; for several,
    ``<target stem>-<file stem><suffix>`` beside ``target`` (``-2``, ``-3``... when stems repeat).
    Keys are positions in ``items``."""
    target = Path(target)
    suffix = target.suffix or ".png"
    ok = [i for i, it in enumerate(items) if isinstance(it, PredictionResult)]
    if len(ok) == 1:
        return {ok[0]: target if target.suffix else target.with_suffix(suffix)}
    out: dict[int, Path] = {}
    used: set[str] = set()
    for i in ok:
        path = items[i].path or f"array{i}"
        stem = _safe(Path(path).stem)
        name, n = f"{target.stem}-{stem}", 2
        while name in used:
            name, n = f"{target.stem}-{stem}-{n}", n + 1
        used.add(name)
        out[i] = target.with_name(name + suffix)
    return out


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text) or "file"


def plot_timeline(result: PredictionResult, path: str | Path, *, max_genres: int = 10) -> Path:
    """Save a figure of genre probabilities over time: stacked window probabilities (top genres by the
    track-level distribution, the rest as "other"), silent windows hatched, the track-level result in
    the title. Returns the written path."""
    from matplotlib.figure import Figure

    from musicgenre.evaluation.figures import save_figure

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    probs = np.asarray(result.window_probabilities, dtype=np.float64)
    labels = list(result.labels)
    order = sorted(range(len(labels)), key=lambda j: -result.probabilities[labels[j]])
    shown = order[:max_genres]
    rest = order[max_genres:]
    series = [probs[:, j] for j in shown]
    names = [labels[j] for j in shown]
    if rest:
        series.append(probs[:, rest].sum(axis=1))
        names.append("other")

    starts = np.asarray(result.window_times, dtype=np.float64)
    width = min(result.hop_seconds, result.window_seconds)
    centres = starts + result.window_seconds / 2
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.add_subplot()
    colors = [_color(k) for k in range(len(series))]
    bottom = np.zeros(len(starts))
    for s, name, c in zip(series, names, colors, strict=True):
        ax.bar(centres, s, width=width, bottom=bottom, color=c, label=name, linewidth=0, align="center")
        bottom += s
    for t, silent in zip(centres, result.window_silent, strict=True):
        if silent:
            ax.bar(t, 1.0, width=width, fill=False, hatch="//", edgecolor="0.5", linewidth=0)
    ax.set_xlim(0.0, max(float(starts.max()) + result.window_seconds, result.duration))
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s); one bar per window, at the window's centre")
    ax.set_ylabel("probability")
    flag = f" [{', '.join(result.flags)}]" if result.flags else ""
    top = result.top_genre or "silent"
    ax.set_title(
        f"{Path(result.path).name if result.path else 'audio'}: {top} ({result.confidence:.2f}){flag}\n"
        f"{result.n_windows} windows of {result.window_seconds:g} s, hop {result.hop_seconds:g} s, "
        f"{result.aggregate}; {result.model_id}",
        fontsize=9,
    )
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
    save_figure(fig, path, dpi=100)
    return path


def _color(k: int) -> str:
    palette = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
        "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#cccccc",
    ]  # fmt: skip
    return palette[k % len(palette)]
