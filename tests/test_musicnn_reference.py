"""The PyTorch port of musicnn against musicnn's own TensorFlow code (``tests/data/musicnn_golden.npz``).

The golden file comes from ``scripts/make_musicnn_golden.py`` (musicnn 0.1.0's extractor under TensorFlow
2.21, with the log of the spectrogram taken in float32, see there). Tolerances, per quantity and case:

- mel power spectrogram (before the float16 rounding): max |diff| <= 1e-5 x its max (librosa vs torch STFT);
- log-mel, the network's input: max |diff| <= 1e-3 and at most 0.5% of bins off by more than 1e-5 (the
  float16 rounding turns the mel's last-bit differences into an occasional float16 step, ~3e-4 after the log);
- taggram (sigmoid tag probabilities): max |diff| <= 1e-4;
- ``max_pool``, ``mean_pool``, ``penultimate``: cosine >= 0.9999 and max |diff| <= 1e-4 x max |reference|.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre.audio import SegmentConfig, load_audio, split_segments

GOLDEN = Path(__file__).parent / "data" / "musicnn_golden.npz"
FEATURES = ("max_pool", "mean_pool", "penultimate")


@pytest.fixture(scope="module")
def golden(gtzan_mini: Path) -> tuple[dict[str, np.ndarray], list[str], np.ndarray]:
    g = dict(np.load(GOLDEN))
    cases = sorted({"/".join(k.split("/")[:2]) for k in g if k.startswith(("real/", "synthetic/"))})
    inputs = []
    for case in cases:
        if case.startswith("synthetic/"):
            inputs.append(g[f"{case}/input_pcm16"].astype(np.float32) / 32768.0)
            continue
        x = load_audio(gtzan_mini / str(g[f"{case}/source"]), 16000)
        seg = split_segments(x, SegmentConfig(sample_rate=16000)).samples[int(g[f"{case}/segment"])]
        np.testing.assert_allclose(
            seg[:256], g[f"{case}/head"], atol=1e-6, err_msg=f"{case}: not the same input"
        )
        assert np.linalg.norm(seg.astype(np.float64)) == pytest.approx(float(g[f"{case}/l2"]), rel=1e-5), case
        inputs.append(seg)
    return g, cases, np.stack(inputs).astype(np.float32)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def test_frontend_matches_librosa(golden, musicnn_weights, one_torch_thread) -> None:
    from musicgenre.musicnn.frontend import MusicnnFrontend

    g, cases, x = golden
    frontend = MusicnnFrontend()
    mel = frontend(torch.from_numpy(x), log=False).numpy()
    log_mel = frontend(torch.from_numpy(x)).numpy()
    checked = 0
    for i, case in enumerate(cases):
        if f"{case}/mel" not in g:
            continue
        ref = g[f"{case}/mel"]
        assert mel[i].shape == ref.shape == (187, 96)
        assert np.abs(mel[i] - ref).max() <= 1e-5 * ref.max(), case
        ref_log = np.log10(10000 * ref.astype(np.float16).astype(np.float32) + 1)
        diff = np.abs(log_mel[i] - ref_log)
        assert diff.max() <= 1e-3, case
        assert (diff > 1e-5).mean() <= 0.005, case
        checked += 1
    assert checked >= 4


@pytest.mark.parametrize("model", ["MSD", "MTT"])
def test_network_matches_musicnn(golden, musicnn_weights, model: str, one_torch_thread) -> None:
    from musicgenre.musicnn.model import get_model

    g, cases, x = golden
    out = get_model(musicnn_weights, model=model).infer(x)
    for i, case in enumerate(cases):
        taggram = out.taggram[i].numpy()
        assert np.abs(taggram - g[f"{case}/{model}/taggram"]).max() <= 1e-4, case
        for q in FEATURES:
            got, ref = getattr(out, q)[i].numpy(), g[f"{case}/{model}/{q}"]
            assert got.shape == ref.shape, (case, q)
            assert _cosine(got, ref) >= 0.9999, (case, q)
            assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max(), (case, q)
