"""How sure each figure of a study is, and which rows can be told apart.

Read from the rows' run folders, after the fact: every figure comes from the per-track decisions that the
runs wrote (``predictions.csv``), so the report's intervals and tests are computed the same way for every
protocol. On the protocol's test side the folds are pooled (each track tested once). On held-out data each
fold model labels every track; a track's score is the fraction of fold models that got it right. A
held-out track is *unseen* for a fold model when its artist is on no side of that model's training split
(``artists.json`` beside the fold's held-out predictions, written by ``experiment.evaluate_run``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgenre.evaluation.stats import (
    Interval,
    PairedTest,
    TrackDecisions,
    align,
    bootstrap_accuracy,
    mcnemar,
    paired_bootstrap,
    read_heldout,
    read_run,
    summarise,
)
from musicgenre.fileio import read_json

#: Written by held-out evaluation beside each model's predictions: which tracks' artists it trained on.
ARTISTS_FILE = "artists.json"

#: The scope of a comparison on held-out tracks by artists the models did not train on.
UNSEEN = "held-out, unseen artists"


@dataclass(frozen=True)
class RowStats:
    """The intervals of one study row: protocol test side, and held-out (all, unseen and seen artists)."""

    key: str
    test: Interval
    heldout: Interval | None = None
    unseen: Interval | None = None
    seen: Interval | None = None


@dataclass(frozen=True)
class Comparison:
    """Row ``a`` against row ``b`` on the same tracks: a paired test (McNemar, on the protocol's test
    side) and the bootstrap interval of the accuracy difference ``a - b``."""

    a: str
    b: str
    scope: str  # "test" or UNSEEN
    difference: Interval
    test: PairedTest | None = None

    @property
    def distinguishable(self) -> bool:
        """The difference's interval excludes 0 and, where there is a paired test, its p is below 0.05
        (the percentile bootstrap is optimistic on a few dozen tracks; McNemar's exact test is not)."""
        significant = self.test is None or self.test.p_value < 0.05
        return not self.difference.contains(0.0) and significant


def _seen_tracks(decisions: TrackDecisions) -> set[str] | None:
    path = Path(decisions.source).parent / ARTISTS_FILE
    return set(read_json(path)["seen_tracks"]) if path.is_file() else None


def artist_scores(folds: Sequence[TrackDecisions], unseen: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """Per held-out track, the fraction of fold models right among those for which its artist is unseen
    (``unseen``) or seen; ``(track_ids, scores)``, or None without artist information."""
    right: dict[str, list[bool]] = {}
    for d in folds:
        seen = _seen_tracks(d)
        if seen is None:
            return None
        for tid, ok in zip(d.track_ids.tolist(), d.correct.tolist(), strict=True):
            if (tid not in seen) == unseen:
                right.setdefault(tid, []).append(bool(ok))
    ids = np.array(sorted(right), dtype=str)
    return ids, np.array([np.mean(right[t]) for t in ids.tolist()], dtype=float)


def artist_intervals(
    folds: Sequence[TrackDecisions], *, seed: int = 0
) -> tuple[Interval | None, Interval | None]:
    """Bootstrap intervals of held-out accuracy on unseen and on seen artists (None without artists)."""
    out = []
    for unseen in (True, False):
        scores = artist_scores(folds, unseen)
        out.append(None if scores is None else bootstrap_accuracy(scores[1], seed=seed))
    return out[0], out[1]


def row_stats(key: str, run_dir: Path, heldout_dir: Path | None = None, *, seed: int = 0) -> RowStats:
    """Bootstrap intervals (95%, tracks resampled) of one row's track accuracy."""
    test = summarise(read_run(run_dir), seed=seed)
    if heldout_dir is None:
        return RowStats(key, test)
    folds = read_heldout(heldout_dir)
    unseen, seen = artist_intervals(folds, seed=seed)
    return RowStats(key, test, summarise(folds, seed=seed), unseen, seen)


def compare_test(key_a: str, run_a: Path, key_b: str, run_b: Path, *, seed: int = 0) -> Comparison:
    """Two rows on their protocol's test tracks (pooled over folds): McNemar and the paired bootstrap."""
    a, b = align(read_run(run_a), read_run(run_b), strict=True)
    return Comparison(
        key_a, key_b, "test", paired_bootstrap(a.correct, b.correct, seed=seed), mcnemar(a.correct, b.correct)
    )


def compare_unseen(key_a: str, dir_a: Path, key_b: str, dir_b: Path, *, seed: int = 0) -> Comparison | None:
    """Two rows on the held-out tracks whose artists they did not train on: paired bootstrap of the
    difference of their per-track scores (the tracks both have, same order); None without artists."""
    sa, sb = artist_scores(read_heldout(dir_a), True), artist_scores(read_heldout(dir_b), True)
    if sa is None or sb is None:
        return None
    common, ia, ib = np.intersect1d(sa[0], sb[0], return_indices=True)
    diff = paired_bootstrap(sa[1][ia], sb[1][ib], seed=seed)
    return Comparison(key_a, key_b, UNSEEN, diff) if len(common) else None


@dataclass(frozen=True)
class StudyStats:
    """Every row's intervals, the paired comparisons, the best row (highest unseen-artist accuracy when
    there is one, else highest track accuracy on the test side) and the zero-shot floor's row key."""

    rows: dict[str, RowStats]
    comparisons: tuple[Comparison, ...]
    best: str
    floor: str | None = None

    def indistinguishable_from(self, key: str, scope: str | None = None) -> list[str]:
        """Rows that cannot be told apart from ``key`` (see :attr:`Comparison.distinguishable`), in
        ``scope`` (``"test"``, ``"held-out, unseen artists"``) or in any scope."""
        out = []
        for c in self.comparisons:
            if key in (c.a, c.b) and not c.distinguishable and scope in (None, c.scope):
                other = c.b if c.a == key else c.a
                if other not in out:
                    out.append(other)
        return out


def study_stats(
    rows: Sequence[tuple[str, Path, Path | None]], floor: str | None = None, *, seed: int = 0
) -> StudyStats:
    """:class:`StudyStats` of ``(key, run_dir, held-out dir or None)`` rows; ``floor`` is the zero-shot
    row's key, compared with every other row."""
    stats = {key: row_stats(key, run, held, seed=seed) for key, run, held in rows}

    def lead(key: str) -> float:
        s = stats[key]
        v = s.unseen.estimate if s.unseen is not None else s.test.estimate
        return -1.0 if np.isnan(v) else v

    best = max(stats, key=lead)
    where = {key: (run, held) for key, run, held in rows}
    pairs = [(best, k) for k in stats if k != best]
    if floor in stats:
        pairs += [(k, floor) for k in stats if k not in (floor, best)]
    comparisons: list[Comparison] = []
    for a, b in pairs:
        comparisons.append(compare_test(a, where[a][0], b, where[b][0], seed=seed))
        if where[a][1] is not None and where[b][1] is not None:
            unseen = compare_unseen(a, where[a][1], b, where[b][1], seed=seed)
            if unseen is not None:
                comparisons.append(unseen)
    return StudyStats(stats, tuple(comparisons), best, floor if floor in stats else None)
