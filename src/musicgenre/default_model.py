"""How the bundled default model is chosen, how its ``low_confidence`` threshold is set, and its card.

Used by ``scripts/build_default_model.py`` (``make default-model``). Everything here reads an exported or
finished study folder (``<row>/fold-*/predictions.csv`` and ``<row>/eval-<name>/fold-*/predictions.csv``
with ``artists.json``) and is deterministic.

The rule:

* candidates are the study rows whose inputs are pretrained backbones that ``predict`` resolves at run
  time (:data:`BACKBONE_INPUTS`), with held-out predictions and artist information;
* they are ranked by held-out accuracy on tracks by artists the fold models never saw
  (:attr:`~musicgenre.evaluation.compare.RowStats.unseen`);
* the best is chosen when it is distinguishable from the zero-shot floor in that scope
  (:attr:`~musicgenre.evaluation.compare.Comparison.distinguishable`); otherwise the zero-shot row is,
  since its only licence is YAMNet's Apache-2.0 while GTZAN's redistribution terms are unclear;
* among the rows that cannot be told apart from the best there (and are distinguishable from the floor),
  one that needs only YAMNet is preferred to one that also needs musicnn, whose weights are a separate
  download (:data:`NO_DOWNLOAD_INPUTS`): the default model should work with no setup.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from musicgenre.errors import MusicGenreError
from musicgenre.evaluation.compare import (
    ARTISTS_FILE,
    UNSEEN,
    Comparison,
    RowStats,
    compare_unseen,
    study_stats,
)
from musicgenre.evaluation.stats import Interval
from musicgenre.fileio import read_json

#: Inputs whose backbone ``predict`` resolves at run time (pretrained, not bundled).
BACKBONE_INPUTS = frozenset({"yamnet_embedding", "musicnn_msd"})
#: Inputs whose backbone resolves with no extra download step (YAMNet's weights are found or fetched as
#: today; musicnn's need ``musicgenre download musicnn``).
NO_DOWNLOAD_INPUTS = frozenset({"yamnet_embedding"})
#: The held-out evaluation the choice is made on.
EVAL_NAME = "eval-gtzan-excerpts"
#: The held-out accuracy under which a confidence band is flagged ``low_confidence``.
ACCURACY_BELOW = 0.5
#: The fewest held-out decisions a ``low_confidence`` band must hold.
MIN_BELOW = 10


# ------------------------------------------------------------------------------------------------ rows
def _folds(folder: Path) -> list[Path]:
    return sorted(p.parent for p in folder.glob("fold-*/predictions.csv"))


def find_rows(
    study_dir: str | Path, keys: Sequence[str], eval_name: str = EVAL_NAME
) -> list[tuple[str, Path, Path]]:
    """``(key, run_dir, held-out dir)`` of the rows ``keys`` (in that order) that are finished in
    ``study_dir``: every fold has test predictions, and as many folds have held-out predictions with
    ``artists.json``. Rows still training or being evaluated are left out."""
    study_dir = Path(study_dir)
    out = []
    for key in keys:
        run_dir, held = study_dir / key, study_dir / key / eval_name
        folds, held_folds = _folds(run_dir), _folds(held)
        if not folds or len(held_folds) != len(folds):
            continue
        if not all((f / ARTISTS_FILE).is_file() for f in held_folds):
            continue
        out.append((key, run_dir, held))
    return out


# ------------------------------------------------------------------------------------------- selection
@dataclass(frozen=True)
class Candidate:
    """One study row as a default-model candidate: its unseen-artist accuracy and its difference from
    the zero-shot floor there (``key - floor``; None for the floor itself or without artists)."""

    key: str
    unseen: Interval
    vs_floor: Comparison | None = None
    inputs: tuple[str, ...] = ()
    vs_best: Comparison | None = None  # ``best - key`` on unseen artists (None for the best itself)

    @property
    def needs_download(self) -> bool:
        """Whether its inputs need a backbone beyond :data:`NO_DOWNLOAD_INPUTS`."""
        return not set(self.inputs) <= NO_DOWNLOAD_INPUTS

    @property
    def distinguishable(self) -> bool | None:
        """Whether it can be told apart from the floor on unseen artists (None for the floor)."""
        return None if self.vs_floor is None else self.vs_floor.distinguishable


@dataclass(frozen=True)
class Selection:
    """The chosen row, the best-ranked row, the floor, every candidate (best first) and why."""

    chosen: str
    best: str
    floor: str
    candidates: tuple[Candidate, ...]
    reason: str


def _flip(c: Comparison) -> Comparison:
    d = c.difference
    diff = Interval(-d.estimate, -d.high, -d.low, d.n, d.confidence, d.method)
    return Comparison(c.b, c.a, c.scope, diff, c.test)


def floor_comparison(
    key: str, floor: str, comparisons: Sequence[Comparison], dirs: dict[str, Path], *, seed: int = 0
) -> Comparison | None:
    """``key - floor`` on unseen artists: from ``comparisons`` when there, else :func:`compare_unseen`
    on the rows' held-out folders ``dirs``."""
    for c in comparisons:
        if c.scope == UNSEEN and {c.a, c.b} == {key, floor}:
            return c if c.a == key else _flip(c)
    return compare_unseen(key, dirs[key], floor, dirs[floor], seed=seed)


def candidates_from(
    rows: Sequence[tuple[str, Path, Path]],
    floor: str,
    *,
    inputs: Mapping[str, Sequence[str]] | None = None,
    seed: int = 0,
) -> tuple[list[Candidate], dict[str, RowStats]]:
    """The candidates of study ``rows`` (``find_rows``) with their comparisons to ``floor`` and to the
    best row; ``inputs`` gives each row's inputs (for :attr:`Candidate.needs_download`)."""
    stats = study_stats(list(rows), floor=floor, seed=seed)
    dirs = {key: held for key, _, held in rows}
    out = []
    for key, _, _ in rows:
        unseen = stats.rows[key].unseen
        if unseen is None:
            continue
        vs = None
        if key != floor and floor in dirs:
            vs = floor_comparison(key, floor, stats.comparisons, dirs, seed=seed)
        out.append(Candidate(key, unseen, vs, tuple((inputs or {}).get(key, ()))))
    if out:
        best = max(out, key=_score)
        out = [
            c
            if c.key == best.key
            else replace(c, vs_best=compare_unseen(best.key, dirs[best.key], c.key, dirs[c.key], seed=seed))
            for c in out
        ]
    return out, stats.rows


def _score(c: Candidate) -> float:
    v = c.unseen.estimate
    return -1.0 if math.isnan(v) else v


def choose(candidates: Sequence[Candidate], floor: str, forced: str | None = None) -> Selection:
    """Apply the rule (module docstring) to ``candidates``; ``forced`` (``--row``) picks a row outright.

    Ties in unseen-artist accuracy keep the candidates' order.
    """
    if not candidates:
        raise MusicGenreError("no candidate rows: the study folder has no finished row with held-out "
                              "predictions and artists on yamnet_embedding/musicnn_msd inputs")  # fmt: skip
    ranked = tuple(sorted(candidates, key=_score, reverse=True))
    best = ranked[0]
    keys = [c.key for c in ranked]
    if forced is not None:
        if forced not in keys:
            raise MusicGenreError(f"--row {forced}: not among the candidates ({', '.join(keys)})")
        return Selection(forced, best.key, floor, ranked, f"forced with --row {forced}")
    if best.key == floor:
        return Selection(floor, best.key, floor, ranked, "the zero-shot floor has the best unseen-artist "
                         "accuracy")  # fmt: skip
    if floor not in keys:
        return Selection(best.key, best.key, floor, ranked, f"best unseen-artist accuracy; the zero-shot "
                         f"floor {floor} is not in the study, so nothing to compare it with")  # fmt: skip
    if best.distinguishable:
        if best.needs_download:
            ties = [c for c in ranked[1:] if c.distinguishable and not c.needs_download
                    and c.vs_best is not None and not c.vs_best.distinguishable]  # fmt: skip
            if ties:
                return Selection(ties[0].key, best.key, floor, ranked, (
                    f"the best row ({best.key}) needs musicnn's weights, a separate download; {ties[0].key} "
                    "cannot be told apart from it on unseen artists, is distinguishable from the zero-shot "
                    "floor there, and needs only YAMNet"
                ))  # fmt: skip
        return Selection(best.key, best.key, floor, ranked, "best unseen-artist accuracy, and "
                         "distinguishable from the zero-shot floor there")  # fmt: skip
    return Selection(floor, best.key, floor, ranked, (
        f"the best row ({best.key}) is not distinguishable from the zero-shot floor on unseen artists, "
        "so the zero-shot head is chosen: its only licence is YAMNet's Apache-2.0, while GTZAN's "
        "redistribution terms are unclear"
    ))  # fmt: skip


# ------------------------------------------------------------------------------------------ held-out data
@dataclass(frozen=True)
class HeldoutDecisions:
    """Decisions of a row's fold models on held-out tracks by artists they did not train on, pooled: one
    per (track, fold model), with the top probability as the confidence."""

    track_ids: np.ndarray
    true: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    labels: tuple[str, ...]

    @property
    def correct(self) -> np.ndarray:
        return self.true == self.predicted

    @property
    def n(self) -> int:
        return len(self.track_ids)


def unseen_decisions(heldout_dir: str | Path) -> HeldoutDecisions:
    """The :class:`HeldoutDecisions` of a held-out folder (``eval-<name>/fold-*/predictions.csv`` with
    ``artists.json``, whose ``p_<genre>`` columns give the probabilities)."""
    heldout_dir = Path(heldout_dir)
    folds = _folds(heldout_dir) or ([heldout_dir] if (heldout_dir / "predictions.csv").is_file() else [])
    if not folds:
        raise MusicGenreError(f"{heldout_dir}: no fold-*/predictions.csv")
    ids, true, pred, conf = [], [], [], []
    labels: tuple[str, ...] = ()
    for fold in folds:
        artists = fold / ARTISTS_FILE
        if not artists.is_file():
            raise MusicGenreError(f"{fold}: no {ARTISTS_FILE}, so unseen artists cannot be told apart")
        seen = set(read_json(artists)["seen_tracks"])
        with (fold / "predictions.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            cols = [c for c in reader.fieldnames or [] if c.startswith("p_")]
            if not cols:
                raise MusicGenreError(f"{fold / 'predictions.csv'}: no p_<genre> probability columns")
            labels = labels or tuple(c[2:] for c in cols)
            for row in reader:
                if row["track_id"] in seen:
                    continue
                ids.append(row["track_id"])
                true.append(row["true"])
                pred.append(row["predicted"])
                conf.append(max(float(row[c]) for c in cols))
    return HeldoutDecisions(
        np.array(ids, dtype=str), np.array(true, dtype=str), np.array(pred, dtype=str),
        np.array(conf, dtype=float), labels,
    )  # fmt: skip


def low_confidence_threshold(
    confidence: np.ndarray,
    correct: np.ndarray,
    *,
    accuracy_below: float = ACCURACY_BELOW,
    min_count: int = MIN_BELOW,
) -> float | None:
    """The largest observed confidence ``t`` such that the decisions with confidence ``< t`` number at
    least ``min_count`` and are right less than ``accuracy_below`` of the time; None when there is none.

    A result whose top probability is below ``t`` is flagged ``low_confidence`` (the classifier's test is
    ``confidence < threshold``): on the held-out data, such results were wrong more often than right.
    """
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    if conf.shape != ok.shape:
        raise ValueError("confidence and correct differ in shape")
    order = np.argsort(conf, kind="stable")
    conf, ok = conf[order], ok[order]
    right = np.concatenate([[0], np.cumsum(ok)])
    best = None
    for t in np.unique(conf):
        below = int(np.searchsorted(conf, t, side="left"))
        if below >= min_count and right[below] / below < accuracy_below:
            best = float(t)
    return best


def band_accuracy(confidence: np.ndarray, correct: np.ndarray, threshold: float | None) -> dict[str, float]:
    """How many held-out decisions fall below ``threshold`` and how accurate each side is."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=bool)
    low = conf < threshold if threshold is not None else np.zeros_like(ok)
    return {
        "n": int(len(ok)),
        "n_low": int(low.sum()),
        "accuracy_low": float(ok[low].mean()) if low.any() else math.nan,
        "accuracy_rest": float(ok[~low].mean()) if (~low).any() else math.nan,
    }


def confusion_markdown(true: Sequence[str], predicted: Sequence[str], labels: Sequence[str]) -> str:
    """A markdown confusion table: rows are the true genres, columns the predicted ones, cells counts."""
    index = {g: i for i, g in enumerate(labels)}
    counts = np.zeros((len(labels), len(labels)), dtype=int)
    for t, p in zip(true, predicted, strict=True):
        counts[index[t], index[p]] += 1
    head = "| true \\ predicted | " + " | ".join(labels) + " | n | recall |"
    rule = "|---|" + "---:|" * (len(labels) + 2)
    lines = [head, rule]
    for g, row in zip(labels, counts, strict=True):
        n = int(row.sum())
        recall = f"{row[index[g]] / n:.2f}" if n else "–"
        cells = " | ".join(f"**{v}**" if j == index[g] else str(v) for j, v in enumerate(row))
        lines.append(f"| {g} | {cells} | {n} | {recall} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- card
def _pct(iv: Interval) -> str:
    return f"{iv.estimate:.3f} [{iv.low:.2f}, {iv.high:.2f}]"


def candidate_table(selection: Selection) -> str:
    """The markdown table of candidates, best first, the chosen one in bold."""
    lines = [
        "| Row | Unseen-artist accuracy [95% CI] | n tracks | Difference vs zero-shot [95% CI] | "
        "Distinguishable | Best minus row [95% CI] | Backbones |",
        "|---|---|---:|---|---|---|---|",
    ]
    for c in selection.candidates:
        name = f"**{c.key}** (chosen)" if c.key == selection.chosen else c.key
        if c.vs_floor is None:
            diff, dist = ("(the floor)", "–") if c.key == selection.floor else ("n/a", "n/a")
        else:
            d = c.vs_floor.difference
            diff = f"{d.estimate:+.3f} [{d.low:+.2f}, {d.high:+.2f}]"
            dist = "yes" if c.vs_floor.distinguishable else "no"
        if c.vs_best is None:
            vs_best = "(the best)" if c.key == selection.best else "n/a"
        else:
            b = c.vs_best.difference
            vs_best = f"{b.estimate:+.3f} [{b.low:+.2f}, {b.high:+.2f}]"
        backbones = " + ".join(n.split("_")[0] for n in c.inputs) or "?"
        lines.append(
            f"| {name} | {_pct(c.unseen)} | {c.unseen.n} | {diff} | {dist} | {vs_best} | {backbones} |"
        )
    return "\n".join(lines)
