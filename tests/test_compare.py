"""Study statistics from run folders: seen/unseen artist scores, intervals, paired comparisons."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicgenre.datasets.artists import ArtistIndex, seen_split
from musicgenre.evaluation.compare import ARTISTS_FILE, artist_scores, compare_test, study_stats
from musicgenre.evaluation.stats import read_heldout
from musicgenre.evaluation.tables import write_csv_table

TRACKS = [f"blues.{i:05d}" for i in range(10)] + [f"jazz.{i:05d}" for i in range(10)]


def _predictions(folder: Path, right: list[bool], tracks: list[str] = TRACKS) -> None:
    rows = []
    for tid, ok in zip(tracks, right, strict=True):
        true = tid.split(".")[0]
        pred = true if ok else ("jazz" if true == "blues" else "blues")
        rows.append({"track_id": tid, "true": true, "predicted": pred, "correct": ok, "n_segments": 1,
                     "p_blues": 0.5, "p_jazz": 0.5})  # fmt: skip
    write_csv_table(rows, folder / "predictions.csv")


def test_seen_split_by_hand() -> None:
    index = ArtistIndex({"a.1": "X", "a.2": "X", "b.1": "Y"})
    seen, unseen = seen_split(index, ["a.1"], ["a.2", "b.1", "c.9"])
    assert seen == ["a.2"] and unseen == ["b.1", "c.9"]  # c.9: unknown artist, its own


def test_artist_scores_pool_fold_models_per_track(tmp_path: Path) -> None:
    held = tmp_path / "eval-held"
    tracks = TRACKS[:4]
    for i, (right, seen) in enumerate([([1, 1, 0, 0], ["blues.00000"]), ([1, 0, 0, 1], ["blues.00001"])], 1):
        d = held / f"fold-{i}"
        _predictions(d, [bool(x) for x in right], tracks)
        (d / ARTISTS_FILE).write_text(json.dumps({"seen_tracks": seen, "unseen_tracks": []}))
    folds = read_heldout(held)
    ids, unseen = artist_scores(folds, unseen=True)
    # track 0 unseen only in fold 2 (right), track 1 only in fold 1 (right), tracks 2, 3 in both
    assert ids.tolist() == tracks and unseen.tolist() == [1.0, 1.0, 0.0, 0.5]
    ids, seen = artist_scores(folds, unseen=False)
    assert ids.tolist() == ["blues.00000", "blues.00001"] and seen.tolist() == [1.0, 0.0]
    (held / "fold-2" / ARTISTS_FILE).unlink()
    assert artist_scores(read_heldout(held), unseen=True) is None


def test_study_stats_best_floor_and_ties(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    good = rng.random(20) < 0.9
    runs = {}
    for key, right in (("good", good), ("same", good.copy()), ("floor", np.zeros(20, bool))):
        runs[key] = tmp_path / key
        _predictions(runs[key], right.tolist())
    stats = study_stats([(k, p, None) for k, p in runs.items()], floor="floor")
    assert stats.best in ("good", "same") and stats.floor == "floor"
    other = "same" if stats.best == "good" else "good"
    assert stats.indistinguishable_from(stats.best) == [other]
    vs_floor = compare_test(stats.best, runs[stats.best], "floor", runs["floor"])
    assert vs_floor.distinguishable and vs_floor.test.b_only == 0
    assert vs_floor.test.a_only == int(good.sum())
    assert stats.rows["good"].test.estimate == pytest.approx(good.mean())


def test_told_apart_needs_the_interval_and_the_paired_test() -> None:
    from musicgenre.evaluation.compare import Comparison
    from musicgenre.evaluation.stats import Interval, mcnemar

    diff = Interval(0.25, 0.05, 0.45, 20, 0.95, "paired bootstrap")
    five_to_none = mcnemar(np.array([True] * 5 + [False] * 15), np.zeros(20, bool))  # exact p = 2/32
    assert five_to_none.p_value == pytest.approx(0.0625)
    assert not Comparison("a", "b", "test", diff, five_to_none).distinguishable
    assert Comparison("a", "b", "held-out, unseen artists", diff).distinguishable
    across = Interval(0.1, -0.05, 0.25, 20, 0.95, "paired bootstrap")
    assert not Comparison("a", "b", "held-out, unseen artists", across).distinguishable


def test_ablation_steps_compare_with_and_without_on_unseen_artists(tmp_path: Path) -> None:
    from musicgenre.evaluation.ablation import ablation_markdown, run_ablation

    right = {"plain": [True] * 10 + [False] * 10, "anchored": [True] * 20}
    for key, ok in right.items():
        _predictions(tmp_path / key, ok)
        held = tmp_path / key / "eval-held"
        _predictions(held, ok)
        (held / ARTISTS_FILE).write_text(json.dumps({"seen_tracks": [], "unseen_tracks": TRACKS}))
    steps, missing = run_ablation(
        tmp_path, [("anchoring", "plain", "anchored"), ("fine-tuning", "anchored", "finetuned")]
    )
    assert [s.ingredient for s in steps] == ["anchoring"] and "fine-tuning" in missing[0]
    (step,) = steps
    assert step.unseen is not None and step.unseen.difference.estimate == pytest.approx(0.5)
    assert step.test.difference.estimate == pytest.approx(0.5) and step.test.distinguishable
    table = ablation_markdown(steps, missing)
    assert "`plain` -> `anchored`" in table and "+0.500" in table and "Not in this study" in table
