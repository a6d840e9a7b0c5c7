"""Confidence intervals and paired tests for track-level accuracy on small test sets.

The unit of evidence is the *track*: its true genre and the genre a model predicts for it (the
``predictions.csv`` that :func:`~musicgenre.evaluation.metrics.write_evaluation` writes, one row per
track). Segments of one track are not independent, so nothing here resamples segments.

Why a percentile bootstrap over tracks: the test tracks are the sample, and accuracy is the mean of a
per-track score, so resampling tracks with replacement reproduces the sampling variation of that mean
with no distributional assumption, and the same recipe gives the interval of a *difference* of two
models on the same tracks (resample tracks once, score both models on them) and of the mean accuracy of
several fold models on one held-out set (per-track fraction of fold models that are right). For a plain
accuracy it agrees with the binomial normal approximation when n·p is not small (see the tests);
:func:`wilson_interval` is the closed-form cross-check, and the better interval when the accuracy is 0
or 1, where the bootstrap collapses to a point (every resample has the same accuracy).

Vectorised and memory-bounded: the mean of a resample depends only on how many times each *distinct*
score is drawn, which is multinomial with the scores' frequencies. So ``n_boot`` resamples of ``n``
tracks are drawn as an ``(n_boot, n_distinct)`` multinomial matrix (2 columns for right/wrong, 3 for a
paired difference), exactly the distribution of resampling tracks, whatever ``n``.

Pooling (module functions ``read_*``):

- k-fold run: ``run_dir/fold-*/predictions.csv`` are disjoint test sides; their out-of-fold decisions
  are pooled, each track once (:func:`read_run`; a track twice is an error naming both files).
- single split: ``run_dir/predictions.csv`` (:func:`read_run`).
- held-out evaluation ``run_dir/eval-<name>/``: every fold model labels the *same* tracks, so the
  decisions are kept per fold model (:func:`read_heldout`, a tuple). :func:`summarise` of that tuple
  bootstraps the mean accuracy over the fold models (the number the results table reports) over tracks.

Paired tests need both models' decisions on the same tracks in the same order: :func:`align` makes that
explicit (common tracks, sorted by id; an error when the true genres disagree).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np

from musicgenre.errors import MusicGenreError

__all__ = [
    "EXACT_BELOW",
    "Interval",
    "PairedTest",
    "PredictionsError",
    "TrackDecisions",
    "align",
    "bootstrap_accuracy",
    "mcnemar",
    "mean_correct",
    "paired_bootstrap",
    "pool",
    "read_heldout",
    "read_predictions",
    "read_run",
    "summarise",
    "wilson_interval",
]

EXACT_BELOW = 25  # McNemar: exact binomial test when b + c < EXACT_BELOW, else chi-square with correction
_MAX_CELLS = 1 << 22  # bootstrap draws held in memory at once (int64 cells)
REQUIRED_COLUMNS = ("track_id", "true", "predicted")


class PredictionsError(MusicGenreError):
    """A predictions.csv (or a set of them) that cannot be used; the message names the file(s)."""


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided ``confidence`` interval ``[low, high]`` over ``n`` tracks.

    NaN everywhere when ``n == 0``. ``method`` says how it was computed, and when it is degenerate.
    """

    estimate: float
    low: float
    high: float
    n: int
    confidence: float
    method: str

    def contains(self, value: float) -> bool:
        """``low <= value <= high`` (False for a NaN interval)."""
        return bool(self.low <= value <= self.high)

    def to_dict(self) -> dict[str, Any]:
        return {
            "estimate": self.estimate,
            "low": self.low,
            "high": self.high,
            "n": self.n,
            "confidence": self.confidence,
            "method": self.method,
        }


@dataclass(frozen=True)
class PairedTest:
    """McNemar's test of two models on the same ``n`` tracks.

    ``a_only`` (b): tracks only model A gets right; ``b_only`` (c): only B. ``statistic``: min(b, c) for
    the exact test, the continuity-corrected chi-square otherwise. ``difference`` = acc(A) - acc(B).
    """

    n: int
    a_only: int
    b_only: int
    statistic: float
    p_value: float
    method: str
    difference: float


@dataclass(frozen=True, eq=False)
class TrackDecisions:
    """One model's decision per track: ``track_ids``, ``true`` and ``predicted`` genres (str arrays).

    ``source`` names where they came from (a file, or the files pooled), for error messages.
    """

    track_ids: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        for name in ("track_ids", "true", "predicted"):
            object.__setattr__(self, name, np.asarray(getattr(self, name), dtype=str).reshape(-1))
        if not len(self.track_ids) == len(self.true) == len(self.predicted):
            raise ValueError(
                f"{self.source or 'TrackDecisions'}: track_ids, true, predicted differ in length"
            )

    @property
    def correct(self) -> np.ndarray:
        """Boolean array: predicted == true, per track."""
        return self.true == self.predicted

    @property
    def n(self) -> int:
        return len(self.track_ids)

    def take(self, index: np.ndarray) -> TrackDecisions:
        """The decisions at ``index`` (in that order)."""
        return TrackDecisions(self.track_ids[index], self.true[index], self.predicted[index], self.source)


# --------------------------------------------------------------------------------------------- intervals


def _scores(values: Any, what: str) -> np.ndarray:
    """Per-track scores as float64 in [0, 1]: booleans (right/wrong) or fractions of fold models right."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{what}: expected one value per track (1-D), got shape {arr.shape}")
    arr = arr.astype(np.float64)
    if arr.size and not (np.isfinite(arr).all() and arr.min() >= 0.0 and arr.max() <= 1.0):
        raise ValueError(f"{what}: per-track scores must be booleans or fractions in [0, 1]")
    return arr


def _check(n_boot: int, confidence: float) -> None:
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")


def _percentile_bootstrap(
    values: np.ndarray, n_boot: int, confidence: float, seed: int
) -> tuple[float, float] | None:
    """Percentile interval of the mean of ``values`` over resampled tracks; None when all values are equal."""
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) < 2:
        return None
    n = len(values)
    rng = np.random.default_rng(seed)
    chunk = max(1, _MAX_CELLS // len(distinct))
    means = np.empty(n_boot)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        draws = rng.multinomial(n, counts / n, size=stop - start)  # times each distinct value is drawn
        means[start:stop] = draws @ distinct / n
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def bootstrap_accuracy(
    correct: np.ndarray, *, n_boot: int = 2000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Percentile-bootstrap interval of accuracy, resampling tracks with replacement (module docstring).

    ``correct``: one boolean per track (or a fraction in [0, 1], e.g. of fold models right). The same
    seed gives the same interval. ``n == 0``: NaN interval. All tracks right (or all wrong, or all the
    same score): the interval is the estimate itself, and ``method`` says so; use
    :func:`wilson_interval` for a non-degenerate bound there.
    """
    _check(n_boot, confidence)
    scores = _scores(correct, "bootstrap_accuracy")
    base = f"percentile bootstrap over tracks ({n_boot} resamples, seed {seed})"
    if scores.size == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, 0, confidence, f"{base}: no tracks")
    estimate = float(scores.mean())
    bounds = _percentile_bootstrap(scores, n_boot, confidence, seed)
    if bounds is None:
        what = {1.0: "every track right", 0.0: "every track wrong"}.get(
            estimate, "every track scores the same"
        )
        return Interval(estimate, estimate, estimate, scores.size, confidence, f"{base}: degenerate, {what}")
    return Interval(estimate, bounds[0], bounds[1], scores.size, confidence, base)


def wilson_interval(correct: np.ndarray, *, confidence: float = 0.95) -> Interval:
    """Wilson score interval of accuracy (closed form; a cross-check, and not degenerate at 0 or 1)."""
    _check(1, confidence)
    arr = np.asarray(correct)
    if arr.ndim != 1 or (arr.size and not np.isin(arr, (0, 1)).all()):
        raise ValueError("wilson_interval: expected one boolean per track")
    n, k = int(arr.size), int(arr.sum())
    if n == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, 0, confidence, "Wilson score: no tracks")
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, centre - half)  # exact endpoints (rounding would leave ~1e-17)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(p, low, high, n, confidence, "Wilson score")


def paired_bootstrap(
    correct_a: np.ndarray,
    correct_b: np.ndarray,
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile-bootstrap interval of acc(A) - acc(B) on the same tracks (resampled once for both).

    The two arrays must be aligned (same tracks, same order: :func:`align`). An interval containing 0
    means the two rows cannot be told apart on this test set. Identical correctness gives ``[d, d]``.
    """
    _check(n_boot, confidence)
    a, b = _scores(correct_a, "paired_bootstrap (a)"), _scores(correct_b, "paired_bootstrap (b)")
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap: {a.size} vs {b.size} tracks; align the decisions first")
    base = f"paired percentile bootstrap over tracks ({n_boot} resamples, seed {seed})"
    if a.size == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, 0, confidence, f"{base}: no tracks")
    diff = a - b
    estimate = float(diff.mean())
    bounds = _percentile_bootstrap(diff, n_boot, confidence, seed)
    if bounds is None:
        return Interval(
            estimate,
            estimate,
            estimate,
            a.size,
            confidence,
            f"{base}: degenerate, the same difference on every track",
        )
    return Interval(estimate, bounds[0], bounds[1], a.size, confidence, base)


def _as_bool(values: Any, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or (arr.size and not np.isin(arr, (0, 1)).all()):
        raise ValueError(f"{what}: expected one boolean per track")
    return arr.astype(bool)


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> PairedTest:
    """McNemar's test (two-sided) of two models' correctness on the same, aligned tracks.

    With b = tracks only A gets right and c = only B: when b + c < 25, the exact binomial test
    p = min(1, 2 · Σ_{i ≤ min(b,c)} C(b+c, i) / 2^(b+c)); otherwise the chi-square with continuity
    correction (|b - c| - 1)² / (b + c), p from chi-square(1). b + c = 0 gives p = 1.
    """
    a, b = _as_bool(correct_a, "mcnemar (a)"), _as_bool(correct_b, "mcnemar (b)")
    if a.shape != b.shape:
        raise ValueError(f"mcnemar: {a.size} vs {b.size} tracks; align the decisions first")
    n = int(a.size)
    only_a, only_b = int(np.sum(a & ~b)), int(np.sum(~a & b))
    m = only_a + only_b
    difference = (only_a - only_b) / n if n else float("nan")
    if m < EXACT_BELOW:
        k = min(only_a, only_b)
        tail = sum(math.comb(m, i) for i in range(k + 1))
        p = min(1.0, 2 * tail / 2**m)
        return PairedTest(n, only_a, only_b, float(k), p, "McNemar exact binomial (two-sided)", difference)
    stat = (abs(only_a - only_b) - 1) ** 2 / m
    p = math.erfc(math.sqrt(stat / 2))  # chi-square(1) survival function
    return PairedTest(n, only_a, only_b, stat, p, "McNemar chi-square with continuity correction", difference)


# ----------------------------------------------------------------------------------- reading decisions


def read_predictions(path: str | Path) -> TrackDecisions:
    """Track decisions from one ``predictions.csv`` (columns ``track_id``, ``true``, ``predicted``, ...)."""
    path = Path(path)
    if not path.is_file():
        raise PredictionsError(f"{path}: no such file")
    ids: list[str] = []
    true: list[str] = []
    pred: list[str] = []
    first_line: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise PredictionsError(
                f"{path}: missing column(s) {', '.join(missing)}; expected a predictions.csv as written by "
                "write_evaluation"
            )
        for line, row in enumerate(reader, start=2):
            tid, t, p = (row[c] or "" for c in REQUIRED_COLUMNS)
            if not (tid and t and p):
                raise PredictionsError(f"{path}, line {line}: empty track_id, true or predicted")
            if tid in first_line:
                raise PredictionsError(
                    f"{path}: track {tid!r} appears twice (lines {first_line[tid]} and {line})"
                )
            flag = row.get("correct")
            if flag in ("True", "False") and (flag == "True") != (t == p):
                raise PredictionsError(
                    f"{path}, line {line}: 'correct' is {flag} but true={t!r}, predicted={p!r}"
                )
            first_line[tid] = line
            ids.append(tid)
            true.append(t)
            pred.append(p)
    return TrackDecisions(
        np.array(ids, dtype=str), np.array(true, dtype=str), np.array(pred, dtype=str), str(path)
    )


def pool(parts: Sequence[TrackDecisions]) -> TrackDecisions:
    """Concatenate disjoint test sides (k-fold out-of-fold decisions); a track in two parts is an error."""
    seen: dict[str, str] = {}
    for part in parts:
        for tid in part.track_ids.tolist():
            if tid in seen:
                raise PredictionsError(
                    f"track {tid!r} appears in both {seen[tid]} and {part.source}: k-fold test sides must be "
                    "disjoint (for a held-out evaluation, where every fold model labels the same tracks, use "
                    "read_heldout)"
                )
            seen[tid] = part.source
    if not parts:
        raise PredictionsError("pool: no predictions to pool")
    return TrackDecisions(
        np.concatenate([p.track_ids for p in parts]),
        np.concatenate([p.true for p in parts]),
        np.concatenate([p.predicted for p in parts]),
        " + ".join(p.source for p in parts),
    )


def _fold_files(folder: Path) -> list[Path]:
    """``folder/fold-*/predictions.csv`` in fold order (fold-2 before fold-10)."""

    def key(p: Path) -> tuple[int, str]:
        m = re.fullmatch(r"fold-(\d+)", p.parent.name)
        return (int(m.group(1)) if m else 1 << 30, p.parent.name)

    return sorted(folder.glob("fold-*/predictions.csv"), key=key)


def read_run(run_dir: str | Path) -> TrackDecisions:
    """Test-side decisions of one trained run: the k folds' ``fold-*/predictions.csv`` pooled (each track
    once), else ``run_dir/predictions.csv``."""
    run_dir = Path(run_dir)
    files = _fold_files(run_dir)
    if files:
        return pool([read_predictions(f) for f in files])
    if (run_dir / "predictions.csv").is_file():
        return read_predictions(run_dir / "predictions.csv")
    raise PredictionsError(
        f"{run_dir}: no predictions.csv nor fold-*/predictions.csv (is the run evaluated?)"
    )


def read_heldout(eval_dir: str | Path) -> tuple[TrackDecisions, ...]:
    """Decisions of a held-out evaluation folder (``run_dir/eval-<name>``), one per fold model, not pooled:
    ``eval_dir/fold-*/predictions.csv`` in fold order, else ``(eval_dir/predictions.csv,)``."""
    eval_dir = Path(eval_dir)
    files = _fold_files(eval_dir) or [eval_dir / "predictions.csv"]
    if not files[0].is_file():
        raise PredictionsError(f"{eval_dir}: no predictions.csv nor fold-*/predictions.csv")
    return tuple(read_predictions(f) for f in files)


def align(*decisions: TrackDecisions, strict: bool = False) -> tuple[TrackDecisions, ...]:
    """The decisions restricted to the tracks they all have, sorted by track id (the same order in each).

    Raises when there is no common track, when a common track has different true genres, or (``strict``)
    when the track sets differ.
    """
    if not decisions:
        return ()
    common = decisions[0].track_ids
    for d in decisions[1:]:
        common = np.intersect1d(common, d.track_ids)
    common = np.unique(common)
    names = ", ".join(d.source or f"#{i}" for i, d in enumerate(decisions))
    for d in decisions:
        ids, counts = np.unique(d.track_ids, return_counts=True)
        if (counts > 1).any():
            raise PredictionsError(
                f"align: track {str(ids[counts > 1][0])!r} appears twice in {d.source or names}"
            )
    if strict and any(d.n != len(common) for d in decisions):
        sizes = ", ".join(str(d.n) for d in decisions)
        raise PredictionsError(f"align: track sets differ ({sizes} tracks, {len(common)} common) in {names}")
    if len(common) == 0:
        raise PredictionsError(f"align: no track in common between {names}")
    out = []
    for d in decisions:
        order = np.argsort(d.track_ids, kind="stable")
        idx = order[np.searchsorted(d.track_ids, common, sorter=order)]
        out.append(d.take(idx))
    for d in out[1:]:
        bad = np.flatnonzero(d.true != out[0].true)
        if bad.size:
            i = bad[0]
            raise PredictionsError(
                f"align: track {str(common[i])!r} is {str(out[0].true[i])!r} in {out[0].source} but {str(d.true[i])!r} in {d.source}"
            )
    return tuple(out)


def mean_correct(folds: Sequence[TrackDecisions]) -> tuple[np.ndarray, np.ndarray]:
    """Held-out fold models on the same tracks: ``(track_ids, fraction of the fold models right per track)``.

    The mean of the fractions is the mean fold accuracy. The fold models must have labelled the same tracks.
    """
    aligned = align(*folds, strict=True)
    return aligned[0].track_ids, np.mean([d.correct for d in aligned], axis=0)


def summarise(
    decisions: TrackDecisions | Sequence[TrackDecisions],
    *,
    n_boot: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Bootstrap interval of track accuracy: of one model's decisions (e.g. :func:`read_run`), or of the
    mean accuracy of held-out fold models (:func:`read_heldout`), resampling tracks in both cases."""
    if isinstance(decisions, TrackDecisions):
        return bootstrap_accuracy(decisions.correct, n_boot=n_boot, confidence=confidence, seed=seed)
    if not decisions:
        raise ValueError("summarise: no decisions")
    if len(decisions) == 1:
        return summarise(decisions[0], n_boot=n_boot, confidence=confidence, seed=seed)
    _, scores = mean_correct(decisions)
    iv = bootstrap_accuracy(scores, n_boot=n_boot, confidence=confidence, seed=seed)
    return Interval(
        iv.estimate,
        iv.low,
        iv.high,
        iv.n,
        iv.confidence,
        f"{iv.method}; mean of {len(decisions)} fold models",
    )
