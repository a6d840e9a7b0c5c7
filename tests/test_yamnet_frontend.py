"""YAMNet frontend: mel matrix, window, padding rule, frame/patch arithmetic, log-mel against numpy float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from musicgenre.yamnet import frontend as F
from musicgenre.yamnet import params as P

#: One torch thread (see conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_mel_matrix_properties() -> None:
    m = F.linear_to_mel_weight_matrix()
    assert m.shape == (257, 64) and m.dtype == np.float32
    assert np.all(m[0] == 0.0), "the DC bin must have zero weight"
    assert m.min() >= 0.0 and m.max() <= 1.0
    freqs = np.linspace(0, 8000, 257)
    edges = np.linspace(F.hertz_to_mel(125.0), F.hertz_to_mel(7500.0), 66)
    for band in range(64):
        nonzero = freqs[m[:, band] > 0]
        assert nonzero.size > 0
        # every weighted bin lies strictly inside the band's triangle (HTK mel edges)
        assert F.hertz_to_mel(nonzero.min()) > edges[band] and F.hertz_to_mel(nonzero.max()) < edges[band + 2]
    # no area normalisation: the peaks of the wide upper bands come close to 1
    assert m[:, -1].max() > 0.9
    assert np.all(m[freqs > 7500.0] == 0.0) and np.all(m[freqs < 125.0] == 0.0)


def test_mel_matrix_formula_spot_check() -> None:
    # Band 10, bin 20 (312.5 Hz) computed by hand from the definition.
    m = F.linear_to_mel_weight_matrix()
    mel = lambda f: 1127.0 * np.log(1.0 + f / 700.0)  # noqa: E731
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    f = 20 * 8000 / 256
    lower, centre, upper = edges[10], edges[11], edges[12]
    want = max(0.0, min((mel(f) - lower) / (centre - lower), (upper - mel(f)) / (upper - centre)))
    assert m[20, 10] == pytest.approx(want, abs=1e-6)


def test_mel_matrix_rejects_bad_edges() -> None:
    with pytest.raises(ValueError):
        F.linear_to_mel_weight_matrix(upper_edge_hertz=9000.0)
    with pytest.raises(ValueError):
        F.linear_to_mel_weight_matrix(lower_edge_hertz=500.0, upper_edge_hertz=400.0)


def test_periodic_hann() -> None:
    w = F.periodic_hann(400)
    assert w.shape == (400,)
    assert w[0] == 0.0 and w[200] == pytest.approx(1.0)
    # periodic, not symmetric: w[n] == w[400 - n]
    assert np.allclose(w[1:], w[1:][::-1], atol=1e-7)


@pytest.mark.parametrize(
    ("n", "padded"),
    [(0, 15600), (1, 15600), (8000, 15600), (15600, 15600), (15601, 23280), (23280, 23280), (48000, 54000)],
)
def test_padding_rule(n: int, padded: int) -> None:
    assert F.padded_length(n) == padded


def test_study_shapes_from_padding_rule() -> None:
    assert P.MIN_SAMPLES == 15600 and P.PATCH_HOP_SAMPLES == 7680
    assert F.num_frames(48000) == 336 and F.num_patches(48000) == 6
    assert F.num_frames(15600) == 96 and F.num_patches(15600) == 1
    assert F.num_patches(100) == 1 and F.num_patches(30 * 16000) == 62
    np.testing.assert_allclose(F.patch_times(48000), [0.0, 0.48, 0.96, 1.44, 1.92, 2.4])
    with pytest.raises(ValueError):
        F.padded_length(-1)


def test_frontend_shapes_and_padding_is_zeros() -> None:
    fe = F.Frontend()
    x = torch.randn(2, 48000) * 0.1
    log_mel, patches = fe(x)
    assert log_mel.shape == (2, 336, 64) and patches.shape == (2, 6, 96, 64)
    # patch i starts at frame 48 i
    torch.testing.assert_close(patches[:, 3], log_mel[:, 144:240])
    padded = F.pad_waveform_torch(x)
    assert padded.shape == (2, 54000) and torch.all(padded[:, 48000:] == 0)
    np.testing.assert_array_equal(F.pad_waveform(x.numpy()), padded.numpy())
    short_log_mel, short_patches = fe(torch.ones(1, 1000))
    assert short_log_mel.shape == (1, 96, 64) and short_patches.shape == (1, 1, 96, 64)


def _numpy_log_mel(x: np.ndarray) -> np.ndarray:
    """Independent float64 reference: frame, periodic Hann, |rfft 512|, mel matrix, log(+0.001)."""
    n = np.arange(400)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 400)
    frames = np.lib.stride_tricks.sliding_window_view(x.astype(np.float64), 400)[::160] * window
    magnitude = np.abs(np.fft.rfft(frames, 512))
    return np.log(magnitude @ F.linear_to_mel_weight_matrix().astype(np.float64) + 0.001)


def test_log_mel_matches_float64_numpy() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(15600) / 16000
    signals = [
        np.zeros(15600),
        0.5 * np.sin(2 * np.pi * 440 * t),
        0.3 * rng.standard_normal(15600),
        0.9 * np.sign(np.sin(2 * np.pi * 97 * t)),
    ]
    module = F.LogMelSpectrogram()
    for s in signals:
        got = module(torch.from_numpy(s.astype(np.float32))).numpy()
        want = _numpy_log_mel(s.astype(np.float32))
        assert got.shape == (96, 64)
        err = np.abs(got - want)
        # float32 rounding (window, FFT) is ~1e-7 of the frame's peak magnitude; in bands whose energy is
        # near the 0.001 log offset (far from a pure sine's peak) that becomes up to ~2.4e-3 in the log.
        assert err.max() < 5e-3 and err.mean() < 5e-4


def test_log_mel_of_silence_is_log_offset() -> None:
    out = F.LogMelSpectrogram()(torch.zeros(15600))
    assert torch.allclose(out, torch.full_like(out, float(np.log(0.001))))
