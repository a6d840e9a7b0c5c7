"""Segment- and track-level evaluation of a checkpoint on cached features.

A *segment* is one 3 s model input; a *track* is the clip it came from. Track-level prediction = the mean
of the track's segment probabilities, then argmax (the study's protocol, and what ``predict`` does for a
file). Segment accuracy is reported too, because the study reported it, but track accuracy and the
track-level macro F1 are the headline numbers: segments of one track are not independent samples.

``macro_f1`` averages the per-class F1 over the classes present among the true or predicted labels
(scikit-learn's ``f1_score(average="macro")``, with 0 for an undefined precision or recall).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre.checkpoint import Checkpoint, load_checkpoint
from musicgenre.evaluation.figures import plot_confusion_matrices
from musicgenre.evaluation.tables import format_markdown_table, write_csv_table
from musicgenre.fileio import write_json, write_text
from musicgenre.training.inference import predict_proba

__all__ = [
    "EvalResult",
    "aggregate_tracks",
    "confusion_matrix",
    "evaluate",
    "evaluate_probabilities",
    "per_class_scores",
    "predict_proba",
    "write_evaluation",
]


@dataclass
class EvalResult:
    """Metrics of one model on one set of test rows.

    Arrays per track (sorted by track id): ``track_ids``, ``track_labels`` (true class), ``track_predictions``,
    ``track_probabilities`` ``(n_tracks, n_classes)`` (mean of the segments'), ``track_n_segments``.
    Per segment (in the order of the rows evaluated): ``segment_labels``, ``segment_probabilities``,
    ``segment_track_ids`` and ``segment_rows`` (when known).
    ``per_genre``: one dict per class with ``genre`` and ``track_/segment_`` ``precision``, ``recall``,
    ``f1``, ``support``.
    """

    label_names: list[str]
    segment_accuracy: float
    track_accuracy: float
    macro_f1: float
    segment_macro_f1: float
    per_genre: list[dict[str, Any]]
    confusion_track: np.ndarray
    confusion_segment: np.ndarray
    n_segments: int
    n_tracks: int
    track_ids: np.ndarray
    track_labels: np.ndarray
    track_predictions: np.ndarray
    track_probabilities: np.ndarray
    track_n_segments: np.ndarray
    segment_labels: np.ndarray
    segment_probabilities: np.ndarray
    segment_track_ids: np.ndarray
    segment_rows: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: scalar metrics, per-genre scores and both confusion matrices."""
        return {
            "segment_accuracy": self.segment_accuracy,
            "track_accuracy": self.track_accuracy,
            "macro_f1": self.macro_f1,
            "segment_macro_f1": self.segment_macro_f1,
            "n_segments": self.n_segments,
            "n_tracks": self.n_tracks,
            "labels": list(self.label_names),
            "per_genre": self.per_genre,
            "confusion_track": self.confusion_track.tolist(),
            "confusion_segment": self.confusion_segment.tolist(),
            "meta": self.meta,
        }

    def track_rows(self) -> list[dict[str, Any]]:
        """One dict per track: id, true and predicted genre, correctness, segments, one probability per genre."""
        out = []
        for i, tid in enumerate(self.track_ids.tolist()):
            row: dict[str, Any] = {
                "track_id": tid,
                "true": self.label_names[int(self.track_labels[i])],
                "predicted": self.label_names[int(self.track_predictions[i])],
                "correct": bool(self.track_labels[i] == self.track_predictions[i]),
                "n_segments": int(self.track_n_segments[i]),
            }
            for j, g in enumerate(self.label_names):
                row[f"p_{g}"] = round(float(self.track_probabilities[i, j]), 6)
            out.append(row)
        return out


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``cm[i, j]`` = number of items of true class i predicted as j (int64)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def per_class_scores(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Precision, recall, F1, support per class and the macro F1 (module docstring) from a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    support = cm.sum(axis=1)
    predicted = cm.sum(axis=0)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    present = (support > 0) | (predicted > 0)
    macro = float(f1[present].mean()) if present.any() else float("nan")
    return precision, recall, f1, support.astype(np.int64), macro


def aggregate_tracks(
    probabilities: np.ndarray, labels: np.ndarray, track_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Average segment probabilities per track.

    Returns ``(track_ids (sorted unique), track_labels, track_probabilities, segments per track)``.
    Raises ``ValueError`` when the segments of one track carry different labels.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    ids, inverse, counts = np.unique(
        np.asarray(track_ids).astype(str), return_inverse=True, return_counts=True
    )
    n_tracks, n_classes = len(ids), probabilities.shape[1]
    sums = np.zeros((n_tracks, n_classes))
    np.add.at(sums, inverse, probabilities)
    lab_min = np.full(n_tracks, np.iinfo(np.int64).max)
    lab_max = np.full(n_tracks, np.iinfo(np.int64).min)
    np.minimum.at(lab_min, inverse, labels)
    np.maximum.at(lab_max, inverse, labels)
    bad = np.flatnonzero(lab_min != lab_max)
    if bad.size:
        raise ValueError(
            f"segments of track {ids[bad[0]]!r} have different labels; cannot aggregate by track"
        )
    return ids, lab_min, sums / counts[:, None], counts


def evaluate_probabilities(
    probabilities: np.ndarray,
    labels: np.ndarray,
    track_ids: np.ndarray,
    label_names: Sequence[str],
    *,
    rows: np.ndarray | None = None,
) -> EvalResult:
    """Metrics from segment probabilities ``(n, n_classes)``, their labels ``(n,)`` and track ids ``(n,)``."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = len(label_names)
    if probabilities.ndim != 2 or probabilities.shape[1] != n_classes:
        raise ValueError(f"probabilities must be (n, {n_classes}), got {probabilities.shape}")
    if len(labels) != len(probabilities) or len(track_ids) != len(probabilities):
        raise ValueError("probabilities, labels and track_ids must have one entry per segment")
    if len(labels) == 0:
        raise ValueError("nothing to evaluate: no segments")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    seg_pred = probabilities.argmax(axis=1)
    ids, t_labels, t_probs, counts = aggregate_tracks(probabilities, labels, track_ids)
    t_pred = t_probs.argmax(axis=1)
    cm_s = confusion_matrix(labels, seg_pred, n_classes)
    cm_t = confusion_matrix(t_labels, t_pred, n_classes)
    p_s, r_s, f_s, n_s, macro_s = per_class_scores(cm_s)
    p_t, r_t, f_t, n_t, macro_t = per_class_scores(cm_t)
    per_genre = [
        {
            "genre": g,
            "track_precision": float(p_t[i]),
            "track_recall": float(r_t[i]),
            "track_f1": float(f_t[i]),
            "track_support": int(n_t[i]),
            "segment_precision": float(p_s[i]),
            "segment_recall": float(r_s[i]),
            "segment_f1": float(f_s[i]),
            "segment_support": int(n_s[i]),
        }
        for i, g in enumerate(label_names)
    ]
    return EvalResult(
        label_names=list(label_names),
        segment_accuracy=float(np.mean(seg_pred == labels)),
        track_accuracy=float(np.mean(t_pred == t_labels)),
        macro_f1=macro_t,
        segment_macro_f1=macro_s,
        per_genre=per_genre,
        confusion_track=cm_t,
        confusion_segment=cm_s,
        n_segments=len(labels),
        n_tracks=len(ids),
        track_ids=ids,
        track_labels=t_labels,
        track_predictions=t_pred,
        track_probabilities=t_probs,
        track_n_segments=counts,
        segment_labels=labels,
        segment_probabilities=probabilities,
        segment_track_ids=np.asarray(track_ids).astype(str),
        segment_rows=None if rows is None else np.asarray(rows, dtype=np.int64),
    )


def evaluate(
    checkpoint: Checkpoint | str | Path,
    inputs: Mapping[str, np.ndarray],
    labels: np.ndarray,
    track_ids: np.ndarray,
    rows: np.ndarray,
    *,
    batch_size: int = 256,
    progress: bool = False,
) -> EvalResult:
    """Evaluate a checkpoint on ``rows`` of cached features.

    ``inputs``, ``labels`` (class indices in the checkpoint's label order) and ``track_ids`` are per-row
    arrays over the whole feature store; ``rows`` selects the test rows. The checkpoint's normalisation
    is applied (:func:`~musicgenre.training.inference.predict_proba`).
    """
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    rows = np.asarray(rows, dtype=np.int64)
    probs = predict_proba(ckpt, inputs, rows, batch_size=batch_size, progress=progress)
    result = evaluate_probabilities(
        probs, np.asarray(labels)[rows], np.asarray(track_ids)[rows], ckpt.labels, rows=rows
    )
    result.meta = {"model": ckpt.model_name, "inputs": list(ckpt.inputs)}
    return result


def _summary_rows(result: EvalResult) -> list[dict[str, Any]]:
    return [
        {"metric": "Track accuracy (mean of segment probabilities)", "value": result.track_accuracy},
        {"metric": "Track macro F1", "value": result.macro_f1},
        {"metric": "Segment accuracy", "value": result.segment_accuracy},
        {"metric": "Segment macro F1", "value": result.segment_macro_f1},
        {"metric": "Test tracks", "value": result.n_tracks},
        {"metric": "Test segments", "value": result.n_segments},
    ]


def write_evaluation(
    result: EvalResult, out_dir: str | Path, title: str, *, notes: Sequence[str] = ()
) -> dict[str, Path]:
    """Write ``metrics.json``, ``metrics.csv`` (per genre), ``metrics.md``, ``confusion_matrix.png``
    (track level and segment level side by side) and ``predictions.csv`` (one row per track).

    ``notes`` are paragraphs placed under the title of ``metrics.md`` (e.g. the leaky-split warning).
    Returns ``{name: path}``.
    """

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    payload = {"title": title, "notes": list(notes), **result.to_dict()}
    write_json(out_dir / "metrics.json", payload, indent=1)
    paths["metrics.json"] = out_dir / "metrics.json"
    paths["metrics.csv"] = write_csv_table(result.per_genre, out_dir / "metrics.csv")
    cols = [
        ("genre", "Genre"),
        ("track_precision", "Precision"),
        ("track_recall", "Recall"),
        ("track_f1", "F1"),
        ("track_support", "Tracks"),
        ("segment_f1", "Segment F1"),
        ("segment_support", "Segments"),
    ]
    header = "| true \\ predicted | " + " | ".join(result.label_names) + " |"
    sep = "|---|" + "---:|" * len(result.label_names)
    body = [
        f"| {g} | " + " | ".join(str(int(v)) for v in result.confusion_track[i]) + " |"
        for i, g in enumerate(result.label_names)
    ]
    md = [f"# {title}", ""]
    md += [f"{n}\n" for n in notes]
    md += [format_markdown_table(_summary_rows(result), [("metric", "Metric"), ("value", "Value")])]
    md += ["## Per genre (track level; segment F1 for comparison)", ""]
    md += [format_markdown_table(result.per_genre, cols)]
    md += ["## Confusion matrix (tracks)", "", header, sep, *body, ""]
    write_text(out_dir / "metrics.md", "\n".join(md))
    paths["metrics.md"] = out_dir / "metrics.md"
    paths["confusion_matrix.png"] = plot_confusion_matrices(
        [
            (result.confusion_track, f"tracks (n={result.n_tracks}), acc {result.track_accuracy:.3f}"),
            (
                result.confusion_segment,
                f"segments (n={result.n_segments}), acc {result.segment_accuracy:.3f}",
            ),
        ],
        result.label_names,
        out_dir / "confusion_matrix.png",
        title=title,
    )
    paths["predictions.csv"] = write_csv_table(result.track_rows(), out_dir / "predictions.csv")
    return paths
