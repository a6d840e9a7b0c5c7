"""Confidence intervals, McNemar and reading predictions.csv (musicgenre.evaluation.stats), on hand-computed cases."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chi2

from musicgenre.evaluation import stats
from musicgenre.evaluation.metrics import evaluate_probabilities
from musicgenre.evaluation.stats import (
    PredictionsError,
    TrackDecisions,
    align,
    bootstrap_accuracy,
    mcnemar,
    paired_bootstrap,
    read_heldout,
    read_predictions,
    read_run,
    summarise,
    wilson_interval,
)
from musicgenre.evaluation.tables import write_csv_table

LABELS = ["blues", "jazz", "rock"]
Z95 = 1.959963984540054


def _pairs(both: int, a_only: int, b_only: int, neither: int) -> tuple[np.ndarray, np.ndarray]:
    """Correctness of models A and B with the given 2x2 table."""
    a = [True] * both + [True] * a_only + [False] * b_only + [False] * neither
    b = [True] * both + [False] * a_only + [True] * b_only + [False] * neither
    return np.array(a), np.array(b)


def _correct(n: int, k: int) -> np.ndarray:
    return np.array([True] * k + [False] * (n - k))


# ----------------------------------------------------------------------------------------------- McNemar


def test_mcnemar_exact_small_table() -> None:
    a, b = _pairs(both=7, a_only=1, b_only=8, neither=4)
    t = mcnemar(a, b)
    # 2 * (C(9,0) + C(9,1)) / 2^9 = 2 * 10 / 512
    assert t.p_value == pytest.approx(0.0390625, abs=1e-15)
    assert (t.n, t.a_only, t.b_only, t.statistic) == (20, 1, 8, 1.0)
    assert t.difference == pytest.approx((8 - 15) / 20)
    assert "exact" in t.method
    # swapping A and B keeps p and flips the difference
    s = mcnemar(b, a)
    assert (s.a_only, s.b_only, s.p_value, s.difference) == (8, 1, t.p_value, -t.difference)


def test_mcnemar_exact_second_table() -> None:
    a, b = _pairs(both=0, a_only=2, b_only=10, neither=0)
    # 2 * (1 + 12 + 66) / 4096
    assert mcnemar(a, b).p_value == pytest.approx(158 / 4096, abs=1e-15)


@pytest.mark.parametrize("k", [0, 1, 5, 12])
def test_mcnemar_equal_discordant_counts_give_p_one(k: int) -> None:
    a, b = _pairs(both=3, a_only=k, b_only=k, neither=2)
    t = mcnemar(a, b)
    assert t.p_value == 1.0
    assert t.difference == 0.0
    assert "exact" in t.method


def test_mcnemar_large_counts_use_chi_square_with_continuity_correction() -> None:
    a, b = _pairs(both=50, a_only=30, b_only=10, neither=10)
    t = mcnemar(a, b)
    stat = (abs(30 - 10) - 1) ** 2 / (30 + 10)  # 9.025
    assert t.statistic == pytest.approx(stat)
    assert t.p_value == pytest.approx(chi2.sf(stat, 1), rel=1e-12)
    assert t.p_value == pytest.approx(0.002663, abs=1e-6)
    assert "chi-square" in t.method
    assert t.difference == pytest.approx(0.2)


def test_mcnemar_switches_at_25_discordant_tracks() -> None:
    assert "exact" in mcnemar(*_pairs(5, 20, 4, 1)).method  # b + c = 24
    t = mcnemar(*_pairs(5, 20, 5, 1))  # b + c = 25
    assert "chi-square" in t.method
    assert t.p_value == pytest.approx(chi2.sf((15 - 1) ** 2 / 25, 1), rel=1e-12)


def test_mcnemar_rejects_unaligned_inputs() -> None:
    with pytest.raises(ValueError, match="align"):
        mcnemar(np.ones(3, bool), np.ones(4, bool))


# --------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    c = _correct(100, 70)
    assert bootstrap_accuracy(c, seed=3) == bootstrap_accuracy(c, seed=3)
    assert bootstrap_accuracy(c, seed=3) != bootstrap_accuracy(c, seed=4)


def test_bootstrap_matches_normal_approximation_at_n100_k70() -> None:
    iv = bootstrap_accuracy(_correct(100, 70))
    half = 1.96 * math.sqrt(0.7 * 0.3 / 100)  # 0.0898
    assert iv.estimate == pytest.approx(0.70)
    assert iv.low == pytest.approx(0.70 - half, abs=0.02)
    assert iv.high == pytest.approx(0.70 + half, abs=0.02)
    assert iv.contains(iv.estimate)
    assert (iv.n, iv.confidence) == (100, 0.95)
    assert "degenerate" not in iv.method


def test_bootstrap_agrees_with_resampling_track_indices() -> None:
    """The multinomial shortcut has the distribution of resampling tracks: compare with the plain recipe."""
    rng = np.random.default_rng(1)
    c = rng.random(100) < 0.62
    idx = np.random.default_rng(2).integers(0, 100, size=(20000, 100))
    naive = np.quantile(c[idx].mean(axis=1), [0.025, 0.975])
    iv = bootstrap_accuracy(c, n_boot=20000)
    assert iv.low == pytest.approx(naive[0], abs=0.011)
    assert iv.high == pytest.approx(naive[1], abs=0.011)


def test_bootstrap_chunking_does_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    c = _correct(50, 31)
    whole = bootstrap_accuracy(c, n_boot=500, seed=7)
    monkeypatch.setattr(stats, "_MAX_CELLS", 6)  # 3 resamples per chunk
    assert bootstrap_accuracy(c, n_boot=500, seed=7) == whole


def test_bootstrap_wider_at_higher_confidence() -> None:
    c = _correct(100, 70)
    narrow, wide = bootstrap_accuracy(c, confidence=0.8), bootstrap_accuracy(c, confidence=0.99)
    assert wide.low < narrow.low < 0.7 < narrow.high < wide.high


@pytest.mark.parametrize(
    ("n", "k", "value", "word"), [(10, 10, 1.0, "right"), (10, 0, 0.0, "wrong"), (1, 1, 1.0, "right")]
)
def test_bootstrap_degenerate_cases(n: int, k: int, value: float, word: str) -> None:
    iv = bootstrap_accuracy(_correct(n, k))
    assert (iv.estimate, iv.low, iv.high, iv.n) == (value, value, value, n)
    assert "degenerate" in iv.method and word in iv.method


def test_bootstrap_without_tracks_is_nan() -> None:
    iv = bootstrap_accuracy(np.array([], dtype=bool))
    assert iv.n == 0 and math.isnan(iv.estimate) and math.isnan(iv.low) and math.isnan(iv.high)
    assert not iv.contains(0.5)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 101])
def test_bootstrap_never_nan_for_tracks(n: int) -> None:
    for k in range(n + 1):
        iv = bootstrap_accuracy(_correct(n, k), n_boot=200)
        assert np.isfinite([iv.estimate, iv.low, iv.high]).all()
        assert 0.0 <= iv.low <= iv.estimate <= iv.high <= 1.0


def test_bootstrap_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_accuracy(_correct(4, 2), confidence=95)
    with pytest.raises(ValueError, match="n_boot"):
        bootstrap_accuracy(_correct(4, 2), n_boot=0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        bootstrap_accuracy(np.array([0.0, 2.0]))


def test_wilson_interval_hand_cases() -> None:
    z2 = Z95**2
    none = wilson_interval(_correct(10, 0))  # upper bound z²/(n + z²)
    assert (none.estimate, none.low) == (0.0, 0.0)
    assert none.high == pytest.approx(z2 / (10 + z2), abs=1e-12)
    every = wilson_interval(_correct(10, 10))  # lower bound n/(n + z²)
    assert every.low == pytest.approx(10 / (10 + z2), abs=1e-12)
    assert every.high == pytest.approx(1.0)
    boot, wil = bootstrap_accuracy(_correct(100, 70)), wilson_interval(_correct(100, 70))
    assert wil.low == pytest.approx(boot.low, abs=0.02) and wil.high == pytest.approx(boot.high, abs=0.02)


# -------------------------------------------------------------------------------------- paired bootstrap


def test_paired_bootstrap_identical_models_give_zero_interval() -> None:
    c = _correct(40, 25)
    iv = paired_bootstrap(c, c.copy())
    assert (iv.estimate, iv.low, iv.high, iv.n) == (0.0, 0.0, 0.0, 40)
    assert "degenerate" in iv.method
    assert iv.contains(0.0)


def test_paired_bootstrap_dominating_model_gives_positive_interval() -> None:
    # B right on 50 tracks; A right on those plus 12 more
    a, b = _pairs(both=50, a_only=12, b_only=0, neither=38)
    iv = paired_bootstrap(a, b)
    assert iv.estimate == pytest.approx(0.12)
    assert 0.0 < iv.low < 0.12 < iv.high
    assert not iv.contains(0.0)
    assert paired_bootstrap(b, a).high < 0.0


def test_paired_bootstrap_of_close_models_contains_zero() -> None:
    a, b = _pairs(both=60, a_only=6, b_only=4, neither=30)
    iv = paired_bootstrap(a, b)
    assert iv.estimate == pytest.approx(0.02) and iv.contains(0.0)


def test_paired_bootstrap_rejects_unaligned_inputs() -> None:
    with pytest.raises(ValueError, match="align"):
        paired_bootstrap(np.ones(3, bool), np.ones(4, bool))


# ------------------------------------------------------------------------------- reading predictions.csv


def _write_predictions(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    """A predictions.csv in the real format: the rows write_evaluation writes (EvalResult.track_rows)."""
    index = {g: i for i, g in enumerate(LABELS)}
    probs = np.full((len(rows), len(LABELS)), 0.1)
    for i, (_, _, pred) in enumerate(rows):
        probs[i, index[pred]] = 0.8
    result = evaluate_probabilities(
        probs, np.array([index[t] for _, t, _ in rows]), np.array([r[0] for r in rows]), LABELS
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_csv_table(result.track_rows(), path)


def test_read_predictions_in_write_evaluation_format(tmp_path: Path) -> None:
    f = _write_predictions(
        tmp_path / "predictions.csv", [("b.wav", "jazz", "rock"), ("a.wav", "blues", "blues")]
    )
    with f.open(newline="") as fh:
        header = next(csv.reader(fh))
    assert header[:5] == ["track_id", "true", "predicted", "correct", "n_segments"]
    d = read_predictions(f)
    assert d.track_ids.tolist() == ["a.wav", "b.wav"]  # evaluate_probabilities sorts tracks
    assert d.true.tolist() == ["blues", "jazz"] and d.predicted.tolist() == ["blues", "rock"]
    assert d.correct.tolist() == [True, False] and d.n == 2
    assert d.source == str(f)


def test_read_predictions_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(PredictionsError, match=r"missing\.csv: no such file"):
        read_predictions(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("track,true\nx,blues\n")
    with pytest.raises(PredictionsError, match=r"bad\.csv: missing column\(s\) track_id, predicted"):
        read_predictions(bad)
    dup = tmp_path / "dup.csv"
    dup.write_text("track_id,true,predicted\nx,blues,jazz\ny,jazz,jazz\nx,blues,blues\n")
    with pytest.raises(PredictionsError, match=r"dup\.csv: track 'x' appears twice \(lines 2 and 4\)"):
        read_predictions(dup)
    lie = tmp_path / "lie.csv"
    lie.write_text("track_id,true,predicted,correct\nx,blues,jazz,True\n")
    with pytest.raises(PredictionsError, match=r"lie\.csv, line 2"):
        read_predictions(lie)


def _kfold_run(root: Path) -> Path:
    _write_predictions(
        root / "fold-1" / "predictions.csv", [("t1", "blues", "blues"), ("t2", "jazz", "rock")]
    )
    _write_predictions(root / "fold-2" / "predictions.csv", [("t3", "rock", "rock")])
    _write_predictions(
        root / "fold-10" / "predictions.csv", [("t4", "jazz", "jazz"), ("t5", "rock", "blues")]
    )
    return root


def test_read_run_pools_kfold_test_sides_in_fold_order(tmp_path: Path) -> None:
    d = read_run(_kfold_run(tmp_path / "run"))
    assert d.track_ids.tolist() == ["t1", "t2", "t3", "t4", "t5"]  # fold-1, fold-2, fold-10
    assert d.correct.tolist() == [True, False, True, True, False]
    assert "fold-1" in d.source and "fold-10" in d.source
    iv = summarise(d, n_boot=500)
    assert iv.estimate == pytest.approx(0.6) and iv.n == 5


def test_read_run_rejects_a_track_in_two_folds(tmp_path: Path) -> None:
    run = _kfold_run(tmp_path / "run")
    _write_predictions(run / "fold-3" / "predictions.csv", [("t2", "jazz", "jazz")])
    with pytest.raises(
        PredictionsError,
        match=r"'t2' appears in both .*fold-1.predictions\.csv and .*fold-3.predictions\.csv",
    ):
        read_run(run)


def test_read_run_single_split_and_missing(tmp_path: Path) -> None:
    _write_predictions(tmp_path / "run" / "predictions.csv", [("t1", "blues", "jazz")])
    assert read_run(tmp_path / "run").correct.tolist() == [False]
    with pytest.raises(PredictionsError, match=r"empty: no predictions\.csv"):
        read_run(tmp_path / "empty")


def test_heldout_keeps_fold_models_apart(tmp_path: Path) -> None:
    ev = tmp_path / "run" / "eval-excerpts"
    tracks = [("x1", "blues"), ("x2", "jazz"), ("x3", "rock"), ("x4", "rock")]
    preds = {"fold-1": ["blues", "jazz", "rock", "jazz"], "fold-2": ["blues", "rock", "blues", "jazz"]}
    for fold, p in preds.items():
        _write_predictions(
            ev / fold / "predictions.csv", [(t, g, q) for (t, g), q in zip(tracks, p, strict=True)]
        )
    folds = read_heldout(ev)
    assert [f.correct.tolist() for f in folds] == [[True, True, True, False], [True, False, False, False]]
    ids, frac = stats.mean_correct(folds)
    assert ids.tolist() == ["x1", "x2", "x3", "x4"] and frac.tolist() == [1.0, 0.5, 0.5, 0.0]
    iv = summarise(folds, n_boot=500)
    assert iv.estimate == pytest.approx((0.75 + 0.25) / 2) and iv.n == 4  # mean fold accuracy, 4 tracks
    assert "2 fold models" in iv.method
    with pytest.raises(PredictionsError, match="read_heldout"):  # pooling would count each track twice
        read_run(ev)
    single = tmp_path / "run" / "eval-other"
    _write_predictions(single / "predictions.csv", [("x1", "blues", "rock")])
    assert [f.n for f in read_heldout(single)] == [1]


# ------------------------------------------------------------------------------------------------ align


def test_align_puts_common_tracks_in_one_order() -> None:
    a = TrackDecisions(
        np.array(["t3", "t1", "t2"]),
        np.array(["rock", "blues", "jazz"]),
        np.array(["rock", "jazz", "jazz"]),
        "A",
    )
    b = TrackDecisions(
        np.array(["t2", "t4", "t1", "t3"]),
        np.array(["jazz", "pop", "blues", "rock"]),
        np.array(["rock", "pop", "blues", "rock"]),
        "B",
    )
    a2, b2 = align(a, b)
    assert a2.track_ids.tolist() == b2.track_ids.tolist() == ["t1", "t2", "t3"]
    assert a2.true.tolist() == b2.true.tolist() == ["blues", "jazz", "rock"]
    assert a2.correct.tolist() == [False, True, True]
    assert b2.correct.tolist() == [True, False, True]
    t = mcnemar(a2.correct, b2.correct)
    assert (t.n, t.a_only, t.b_only, t.p_value) == (3, 1, 1, 1.0)
    with pytest.raises(PredictionsError, match=r"track sets differ \(3, 4 tracks, 3 common\) in A, B"):
        align(a, b, strict=True)


def test_align_errors() -> None:
    a = TrackDecisions(np.array(["t1"]), np.array(["rock"]), np.array(["rock"]), "A")
    b = TrackDecisions(np.array(["t1"]), np.array(["jazz"]), np.array(["rock"]), "B")
    c = TrackDecisions(np.array(["t9"]), np.array(["rock"]), np.array(["rock"]), "C")
    with pytest.raises(PredictionsError, match="'t1' is 'rock' in A but 'jazz' in B"):
        align(a, b)
    with pytest.raises(PredictionsError, match="no track in common between A, C"):
        align(a, c)
