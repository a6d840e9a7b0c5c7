"""RunSummary and StudyResult: aggregation over folds, JSON round trip, the flat table row."""

from __future__ import annotations

import dataclasses
import json

import pytest

from musicgenre.results import HELD_OUT, RunSummary, StudyResult, mean_std


def _fold(i: int, acc: float, protocol: str = "kfold", **kw) -> RunSummary:
    base = dict(
        model="cnn2d",
        inputs=("mfcc",),
        protocol=protocol,
        split=f"fold {i}",
        leaky=False,
        dataset="/data",
        segment_accuracy=acc - 0.1,
        track_accuracy=acc,
        macro_f1=acc - 0.05,
        n_test_tracks=20,
        n_test_segments=200,
        checkpoints=(f"/runs/fold-{i}/model.ckpt",),
        out_dir=f"/runs/x/fold-{i}",
    )
    base.update(kw)
    return RunSummary(**base)


def test_mean_std_matches_the_sample_formula() -> None:
    assert mean_std([0.5]) == (0.5, 0.0)
    m, s = mean_std([0.6, 0.8, None, float("nan")])
    assert m == pytest.approx(0.7) and s == pytest.approx(0.1414213562)


def test_aggregate_kfold_sums_disjoint_test_sides() -> None:
    folds = [_fold(i, a, n_params=10, train_seconds=2.0, best_epoch=b, epochs=30) for i, a, b in
             [(1, 0.6, 3), (2, 0.8, 5)]]  # fmt: skip
    agg = RunSummary.aggregate(folds)
    assert agg.folds == 2 and agg.split == "2 folds"
    assert agg.track_accuracy == pytest.approx(0.7) and agg.track_accuracy_std == pytest.approx(0.1414213562)
    assert agg.best_epoch == pytest.approx(4.0) and agg.best_epoch_std is not None
    assert agg.n_test_tracks == 40 and agg.train_seconds == pytest.approx(4.0)
    assert agg.checkpoints == ("/runs/fold-1/model.ckpt", "/runs/fold-2/model.ckpt")
    assert agg.out_dir == "/runs/x"


def test_aggregate_held_out_counts_the_shared_tracks_once() -> None:
    agg = RunSummary.aggregate([_fold(1, 0.5, HELD_OUT), _fold(2, 0.7, HELD_OUT)])
    assert agg.n_test_tracks == 20 and agg.n_test_segments == 200
    assert agg.best_epoch is None and agg.best_epoch_std is None and agg.train_seconds is None
    assert RunSummary.aggregate([_fold(1, 0.5)]) == _fold(1, 0.5)
    with pytest.raises(ValueError):
        RunSummary.aggregate([])


def test_json_round_trip_and_the_older_single_checkpoint_form() -> None:
    s = _fold(1, 0.6, n_params=10, best_epoch=3, epochs=30)
    assert RunSummary.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    old = {k: v for k, v in s.to_dict().items() if k != "checkpoints"}
    old["checkpoint"] = "/old/model.ckpt"
    assert RunSummary.from_dict(old).checkpoints == ("/old/model.ckpt",)


def test_study_row_is_flat() -> None:
    held = dataclasses.replace(_fold(1, 0.4, HELD_OUT), track_accuracy_std=0.02)
    row = StudyResult("cnn_mfcc", "CNN MFCC", 0.75, _fold(1, 0.6), "/runs/cnn_mfcc", held).to_row()
    assert row["key"] == "cnn_mfcc" and row["study_accuracy"] == 0.75 and row["track_accuracy"] == 0.6
    assert row["heldout_track_accuracy"] == 0.4 and row["heldout_track_accuracy_std"] == 0.02
    assert row["inputs"] == ["mfcc"]
    bare = StudyResult("k", "K", None, _fold(1, 0.6), "/r").to_row()
    assert bare["heldout_track_accuracy"] is None
