"""Typed results of runs: one model's summary (:class:`RunSummary`) and one study row (:class:`StudyResult`).

``experiment`` builds them, ``study`` combines them, the report and the CLI read them. Their ``to_dict``
is what ``summary.json``, ``evaluation.json`` and ``row.json`` hold; ``to_row`` is the flat row of the
results tables.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musicgenre.evaluation.compare import RowStats

#: Metrics averaged over folds, each with a ``<name>_std`` beside it.
FOLD_METRICS = ("segment_accuracy", "track_accuracy", "macro_f1", "best_epoch")

#: The protocol of a summary of held-out data: every fold's model labels the same tracks.
HELD_OUT = "held-out"


def mean_std(values: Sequence[float | None]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value), ignoring missing and NaN values."""
    kept = [float(v) for v in values if v is not None and not math.isnan(v)]
    if not kept:
        return float("nan"), float("nan")
    mean = sum(kept) / len(kept)
    if len(kept) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in kept) / (len(kept) - 1))


@dataclass(frozen=True)
class RunSummary:
    """One model's scores on one protocol (or the mean over ``folds`` folds), or on a held-out dataset.

    Training runs fill ``n_params``, ``train_seconds``, ``best_epoch``, ``epochs`` and ``checkpoints``;
    held-out evaluations (protocol ``"held-out"``) fill ``max_padding``. ``*_std`` are set over folds.
    """

    model: str
    inputs: tuple[str, ...]
    protocol: str
    split: str
    leaky: bool
    dataset: str
    segment_accuracy: float
    track_accuracy: float
    macro_f1: float
    n_test_tracks: int
    n_test_segments: int | None = None
    n_params: int | None = None
    train_seconds: float | None = None
    best_epoch: float | None = None
    epochs: int | None = None
    best_valid_accuracy: float | None = None
    checkpoints: tuple[str, ...] = ()
    out_dir: str | None = None
    max_padding: float | None = None
    folds: int = 1
    segment_accuracy_std: float | None = None
    track_accuracy_std: float | None = None
    macro_f1_std: float | None = None
    best_epoch_std: float | None = None

    @classmethod
    def aggregate(cls, folds: Sequence[RunSummary]) -> RunSummary:
        """The folds of one model as one summary: mean and standard deviation of every metric.

        Test tracks are counted once per fold (k-fold test sides are disjoint), except on held-out data,
        where every fold's model labels the same tracks.
        """
        if not folds:
            raise ValueError("aggregate: no folds")
        if len(folds) == 1:
            return folds[0]
        first = folds[0]
        stats = {m: mean_std([getattr(f, m) for f in folds]) for m in FOLD_METRICS}
        trained = first.train_seconds is not None
        held_out = first.protocol == HELD_OUT
        return dataclasses.replace(
            first,
            split=f"{len(folds)} folds",
            folds=len(folds),
            n_test_tracks=first.n_test_tracks if held_out else sum(f.n_test_tracks for f in folds),
            n_test_segments=first.n_test_segments if held_out else None,
            best_valid_accuracy=None,
            train_seconds=float(sum(f.train_seconds or 0.0 for f in folds)) if trained else None,
            checkpoints=tuple(c for f in folds for c in f.checkpoints),
            out_dir=str(Path(first.out_dir).parent) if first.out_dir else None,
            **{m: stats[m][0] for m in FOLD_METRICS if m != "best_epoch" or trained},
            **{f"{m}_std": stats[m][1] for m in FOLD_METRICS if m != "best_epoch" or trained},
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists for tuples)."""
        out = dataclasses.asdict(self)
        out["inputs"] = list(self.inputs)
        out["checkpoints"] = list(self.checkpoints)
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSummary:
        """Inverse of :meth:`to_dict`; unknown keys are ignored. Reads the older one-checkpoint form too."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["inputs"] = tuple(d["inputs"])
        checkpoints = d.get("checkpoints") or ([d["checkpoint"]] if d.get("checkpoint") else [])
        kw["checkpoints"] = tuple(checkpoints)
        return cls(**kw)

    def to_row(self) -> dict[str, Any]:
        """The flat row of the results tables (same keys as :meth:`to_dict`)."""
        return self.to_dict()

    def score(self, metric: str) -> tuple[float | None, float | None]:
        """``(value, std)`` of a metric; std is ``None`` outside k-fold."""
        return getattr(self, metric), getattr(self, f"{metric}_std", None)


@dataclass(frozen=True)
class StudyResult:
    """One row of a study: which grid row, its training summary, where it ran, and its held-out score."""

    key: str
    label: str
    study_accuracy: float | None
    summary: RunSummary
    run_dir: str
    heldout: RunSummary | None = None
    stats: RowStats | None = None

    def to_row(self) -> dict[str, Any]:
        """The flat row that ``results.{md,csv,json}`` and ``row.json`` hold; with :attr:`stats`, the 95%
        intervals (``*_low``/``*_high``) and the held-out accuracy on unseen and seen artists."""
        row = self.summary.to_row()
        row.update(key=self.key, label=self.label, study_accuracy=self.study_accuracy, run_dir=self.run_dir)
        held = self.heldout
        row["heldout_track_accuracy"] = held.track_accuracy if held else None
        row["heldout_track_accuracy_std"] = held.track_accuracy_std if held else None
        row["heldout_macro_f1"] = held.macro_f1 if held else None
        if self.stats is not None:
            for name, iv in (
                ("track_accuracy", self.stats.test),
                ("heldout_track_accuracy", self.stats.heldout),
                ("unseen_accuracy", self.stats.unseen),
                ("seen_accuracy", self.stats.seen),
            ):
                if iv is None:
                    continue
                if name in ("unseen_accuracy", "seen_accuracy"):
                    row[name], row[f"n_{name.split('_')[0]}"] = iv.estimate, iv.n
                row[f"{name}_low"], row[f"{name}_high"] = iv.low, iv.high
        return row
