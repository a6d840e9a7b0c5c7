"""Prediction input side: windows, aggregation, path expansion (block decoding: test_audio_stream.py)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from musicgenre.predict.aggregate import aggregate, confidence
from musicgenre.predict.files import collect_audio_files
from musicgenre.predict.windows import SignalStats, sliding_windows


# ---------------------------------------------------------------------------------------------- windows
def _windows(n: int, window: int, hop: int, block: int, batch: int = 4):
    x = np.arange(n, dtype=np.float32) + 1
    blocks = (x[i : i + block] for i in range(0, n, block))
    batches = list(sliding_windows(blocks, window, hop, batch_size=batch))
    if not batches:
        return x, np.zeros((0, window)), np.zeros(0, int), np.zeros(0, int)
    return (
        x,
        np.concatenate([b.samples for b in batches]),
        np.concatenate([b.starts for b in batches]),
        np.concatenate([b.real for b in batches]),
    )


@pytest.mark.parametrize("block", [1, 7, 10, 33, 1000])
def test_windows_do_not_depend_on_block_size(block: int) -> None:
    x, w, starts, real = _windows(103, 10, 10, block)
    # 10 back-to-back windows, then one aligned with the end for the 3-sample tail.
    assert starts.tolist() == [*range(0, 100, 10), 93]
    assert (real == 10).all()
    for s, row in zip(starts, w, strict=True):
        np.testing.assert_array_equal(row, x[s : s + 10])


def test_short_signal_is_padded_to_one_window() -> None:
    _, w, starts, real = _windows(6, 10, 10, 4)
    assert starts.tolist() == [0] and real.tolist() == [6]
    np.testing.assert_array_equal(w[0], [1, 2, 3, 4, 5, 6, 0, 0, 0, 0])


def test_exact_multiple_and_overlap_and_sparse_hops() -> None:
    assert _windows(30, 10, 10, 8)[2].tolist() == [0, 10, 20]
    assert _windows(30, 10, 5, 8)[2].tolist() == [0, 5, 10, 15, 20]
    assert _windows(32, 10, 5, 8)[2].tolist() == [0, 5, 10, 15, 20, 22]
    assert _windows(55, 10, 20, 8)[2].tolist() == [0, 20, 40, 45]
    assert _windows(0, 10, 10, 8)[2].tolist() == []


def test_signal_stats() -> None:
    stats = SignalStats()
    list(sliding_windows([np.full(100, 0.5, np.float32), np.zeros(300, np.float32)], 50, 50, stats=stats))
    assert stats.n_samples == 400 and stats.peak == 0.5
    assert stats.rms == pytest.approx(0.25)


# ---------------------------------------------------------------------------------------------- aggregate
def test_mean_and_vote_aggregation() -> None:
    p = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.1, 0.9]])
    np.testing.assert_allclose(aggregate(p, "mean"), [0.4, 0.3, 0.3])
    np.testing.assert_allclose(aggregate(p, "vote"), [2 / 3, 0, 1 / 3])
    # The mask leaves windows out (all are used when it selects none).
    np.testing.assert_allclose(aggregate(p, "mean", mask=np.array([False, False, True])), p[2])
    np.testing.assert_allclose(aggregate(p, "mean", mask=np.zeros(3, bool)), [0.4, 0.3, 0.3])
    # A tied vote goes to the class with the higher mean probability.
    tie = np.array([[0.5, 0.45, 0.05], [0.1, 0.8, 0.1]])
    out = aggregate(tie, "vote")
    assert out.argmax() == 1 and out.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate(p, "median")


def test_confidence() -> None:
    c = confidence(np.array([0.7, 0.2, 0.1]))
    assert c.top == pytest.approx(0.7) and c.margin == pytest.approx(0.5) and 0 < c.entropy < 1
    assert confidence(np.full(4, 0.25)).entropy == pytest.approx(1.0)
    assert confidence(np.array([1.0, 0.0])).entropy == pytest.approx(0.0)


# ---------------------------------------------------------------------------------------------- paths
def test_collect_audio_files(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    (lib / "b" / "deep").mkdir(parents=True)
    (lib / ".hidden").mkdir()
    for rel in ("a.WAV", "b/x.mp3", "b/deep/y.flac", ".hidden/z.wav", "b/._x.mp3"):
        (lib / rel).write_bytes(b"x")
    (lib / "cover.jpg").write_bytes(b"x")
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "readme.txt").write_text("no audio")
    single = tmp_path / "song.ogg"
    single.write_bytes(b"x")
    files, failures = collect_audio_files([lib, tmp_path / "missing.mp3", empty, single, lib / "a.WAV"])
    rel = [os.path.relpath(f, tmp_path) for f in files]
    assert rel == ["library/a.WAV", "library/b/x.mp3", "library/b/deep/y.flac", "song.ogg"]
    assert [(Path(f.path).name, f.error) for f in failures] == [
        ("missing.mp3", "no such file or directory"),
        ("empty", failures[1].error),
    ]
    assert "no audio files" in failures[1].error
