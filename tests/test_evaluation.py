"""Evaluation: track aggregation, metrics against scikit-learn, written files, tables and figures."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_recall_fscore_support

from musicgenre.evaluation.figures import plot_confusion_matrices, plot_training_curves
from musicgenre.evaluation.metrics import (
    aggregate_tracks,
    confusion_matrix,
    evaluate_probabilities,
    write_evaluation,
)
from musicgenre.evaluation.tables import format_markdown_table, write_tables

NAMES = ["blues", "jazz", "rock"]


def hand_made() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three tracks. Track A (rock): two weak 'jazz' segments and one very confident 'rock' segment, so a
    majority vote says jazz but the mean of probabilities says rock. Track B (blues) is right on every
    segment; track C (jazz) is wrong on both of its segments (predicted blues)."""
    probs = np.array(
        [
            [0.00, 0.50, 0.50 - 1e-3],  # A: argmax jazz (barely)
            [0.10, 0.46, 0.44],  # A: jazz
            [0.00, 0.02, 0.98],  # A: rock, confidently
            [0.80, 0.10, 0.10],  # B: blues
            [0.70, 0.20, 0.10],  # B: blues
            [0.60, 0.30, 0.10],  # C: blues (wrong)
            [0.55, 0.40, 0.05],  # C: blues (wrong)
        ]
    )
    labels = np.array([2, 2, 2, 0, 0, 1, 1])
    tracks = np.array(["A", "A", "A", "B", "B", "C", "C"])
    return probs, labels, tracks


def test_track_prediction_is_the_mean_of_segment_probabilities() -> None:
    probs, labels, tracks = hand_made()
    ids, t_labels, t_probs, counts = aggregate_tracks(probs, labels, tracks)
    assert ids.tolist() == ["A", "B", "C"] and counts.tolist() == [3, 2, 2] and t_labels.tolist() == [2, 0, 1]
    np.testing.assert_allclose(t_probs[0], probs[:3].mean(axis=0))
    res = evaluate_probabilities(probs, labels, tracks, NAMES)
    assert res.track_predictions.tolist() == [2, 0, 0]  # A: rock by the mean, not jazz by majority
    assert res.track_accuracy == pytest.approx(2 / 3)
    assert res.segment_accuracy == pytest.approx(3 / 7)  # segments: A3, B1, B2 right
    assert res.n_tracks == 3 and res.n_segments == 7
    assert res.confusion_track.tolist() == [[1, 0, 0], [1, 0, 0], [0, 0, 1]]
    assert res.confusion_segment.sum() == 7 and res.confusion_segment[2].tolist() == [0, 2, 1]


def test_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    n, k = 200, 5
    labels = rng.integers(0, k - 1, n)  # class 4 never true, sometimes predicted
    probs = rng.dirichlet(np.ones(k), size=n)
    probs[np.arange(n), labels] += rng.uniform(0, 0.6, n)
    tracks = np.arange(n).astype(str)  # one segment per track: track metrics == segment metrics
    res = evaluate_probabilities(probs, labels, tracks, [f"g{i}" for i in range(k)])
    pred = probs.argmax(1)
    assert res.macro_f1 == pytest.approx(f1_score(labels, pred, average="macro", zero_division=0))
    p, r, f, s = precision_recall_fscore_support(labels, pred, labels=range(k), zero_division=0)
    for i, g in enumerate(res.per_genre):
        assert g["track_precision"] == pytest.approx(p[i]) and g["track_recall"] == pytest.approx(r[i])
        assert g["track_f1"] == pytest.approx(f[i]) and g["track_support"] == s[i]
    assert confusion_matrix(labels, pred, k).sum() == n


def test_bad_input_is_refused() -> None:
    probs, labels, tracks = hand_made()
    labels = labels.copy()
    labels[0] = 1  # track A's segments disagree
    with pytest.raises(ValueError, match="different labels"):
        evaluate_probabilities(probs, labels, tracks, NAMES)
    with pytest.raises(ValueError, match="no segments"):
        evaluate_probabilities(np.zeros((0, 3)), np.zeros(0, int), np.zeros(0, str), NAMES)
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        evaluate_probabilities(probs, labels, tracks, NAMES[:2])


def test_write_evaluation_files(tmp_path: Path) -> None:
    res = evaluate_probabilities(*hand_made(), NAMES)
    paths = write_evaluation(res, tmp_path, "demo — test", notes=["LEAKY PROTOCOL: example note."])
    assert set(paths) == {
        "metrics.json",
        "metrics.csv",
        "metrics.md",
        "confusion_matrix.png",
        "predictions.csv",
    }
    data = json.loads(paths["metrics.json"].read_text())
    assert data["track_accuracy"] == pytest.approx(2 / 3) and data["confusion_track"][0] == [1, 0, 0]
    assert data["title"] == "demo — test" and len(data["per_genre"]) == 3
    md = paths["metrics.md"].read_text()
    assert md.startswith("# demo — test") and "LEAKY" in md and "| rock |" in md
    with paths["predictions.csv"].open() as f:
        rows = list(csv.DictReader(f))
    assert [r["track_id"] for r in rows] == ["A", "B", "C"] and rows[0]["predicted"] == "rock"
    assert float(rows[0]["p_rock"]) == pytest.approx(res.track_probabilities[0, 2], abs=1e-6)
    with paths["metrics.csv"].open() as f:
        assert next(csv.reader(f))[:2] == ["genre", "track_precision"]
    assert paths["confusion_matrix.png"].stat().st_size > 5000


def test_tables() -> None:
    rows = [
        {"model": "cnn2d", "acc": 0.7512, "n": 100, "note": None},
        {"model": "a|b", "acc": float("nan"), "n": 5, "extra": True},
    ]
    md = format_markdown_table(rows, [("model", "Model"), ("acc", "Acc."), "n"])
    lines = md.strip().splitlines()
    assert lines[0] == "| Model | Acc. | n |" and lines[1] == "|---|---:|---:|"
    assert lines[2] == "| cnn2d | 0.751 | 100 |" and lines[3] == "| a\\|b |  | 5 |"
    assert "| extra |" in format_markdown_table(rows).splitlines()[0] + " "


def test_write_tables(tmp_path: Path) -> None:
    rows = [{"model": "x", "acc": 0.5, "folds": [0.4, 0.6]}, {"model": "y", "acc": math.nan}]
    paths = write_tables(rows, tmp_path / "results", title="Results", notes=["note"])
    assert set(paths) == {"md", "csv", "json"}
    assert json.loads(paths["json"].read_text())[1]["acc"] is None
    text = paths["csv"].read_text().splitlines()
    assert text[0] == "model,acc,folds" and text[1] == "x,0.5,0.4;0.6" and text[2] == "y,,"
    assert paths["md"].read_text().startswith("# Results\n\nnote\n")


def test_figures(tmp_path: Path) -> None:
    hist = {
        "train_loss": [1.0, 0.5, 0.3],
        "train_acc": [0.4, 0.7, 0.9],
        "valid_loss": [1.1, 0.7, 0.8],
        "valid_acc": [0.3, 0.6, 0.55],
    }
    assert plot_training_curves(hist, tmp_path / "c.png", best_epoch=2, title="t").stat().st_size > 5000
    novalid = {**hist, "valid_loss": [math.nan] * 3, "valid_acc": [math.nan] * 3}
    assert plot_training_curves(novalid, tmp_path / "n.png", best_epoch=3).exists()
    probe = {"train_loss": [0.2], "train_acc": [0.9], "valid_loss": [0.3], "valid_acc": [0.8],
             "c_grid": [0.01, 1.0], "c_train_acc": [0.8, 0.9], "c_valid_acc": [0.7, 0.8],
             "c_valid_loss": [0.5, 0.4]}  # fmt: skip
    assert plot_training_curves(probe, tmp_path / "p.png", best_epoch=1).exists()
    cm = np.array([[3, 1], [0, 4]])
    assert plot_confusion_matrices([(cm, "a"), (cm * 2, "b")], ["x", "y"], tmp_path / "cm.png").exists()
