"""MFCC feature: equality with librosa (golden file), batching, silence and determinism.

Golden file: ``tests/data/mfcc_golden.npz``, written by ``scripts/make_mfcc_golden.py`` with librosa 0.11
(``librosa.feature.mfcc(y=x, sr=16000, n_mfcc=20).T``, all other arguments at their defaults).

Tolerances, and what was measured when they were set (our float32 torch vs librosa's own float32 numpy
pipeline; librosa float32 vs librosa float64 differs by the same order, so this is rounding, not method):

- MFCC, absolute: ``max |ours - librosa| <= MFCC_ATOL`` = 1e-2 coefficient units (dB-scaled; c0 reaches
  -1131 for silence). Measured max 1.8e-3 (chirp), 1.2e-3 (near-silent / all-zero inputs, c0 = -1131),
  <= 2.5e-4 on the real music segments.
- MFCC, relative to the input's largest coefficient: ``max |diff| / max |librosa| <= MFCC_RTOL`` = 2e-5.
  Measured max 3.0e-6 (chirp), <= 4.2e-7 on the real music segments.
- Log-mel before the DCT, absolute in dB: ``<= LOGMEL_ATOL_DB`` = 0.02 dB. Measured max 2.5e-3 dB (chirp,
  in bands ~80 dB below its peak), <= 1e-4 dB on the real music segments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.fft
import torch

from musicgenre.audio import SegmentConfig, load_audio, split_segments
from musicgenre.features import extract, extract_many, get_feature, make_config, spectral
from musicgenre.features.mfcc import MFCC, MfccConfig, extract_mfcc

GOLDEN = Path(__file__).parent / "data" / "mfcc_golden.npz"
SR = 16000
MFCC_ATOL = 1e-2
MFCC_RTOL = 2e-5
LOGMEL_ATOL_DB = 0.02


@pytest.fixture(scope="module")
def golden() -> dict[str, np.ndarray]:
    with np.load(GOLDEN) as z:
        return {k: z[k] for k in z.files}


def _cases(prefix: str) -> list[str]:
    with np.load(GOLDEN) as z:
        return sorted({k.split("/")[1] for k in z.files if k.startswith(prefix + "/")})


def _logmel(x: np.ndarray) -> np.ndarray:
    """Our log-mel (frames, 128), from the same building blocks as the MFCC module."""
    m = MFCC(SR)
    with torch.inference_mode():
        power = spectral.power_spectrogram(torch.from_numpy(x), m.window, m.n_fft, m.hop_length)
        return spectral.power_to_db(power @ m.mel_fb).numpy()


def _assert_mfcc_close(ours: np.ndarray, ref: np.ndarray, what: str) -> None:
    assert ours.shape == ref.shape, what
    diff = np.abs(ours.astype(np.float64) - ref.astype(np.float64))
    scale = float(np.abs(ref).max())
    assert diff.max() <= MFCC_ATOL, f"{what}: max abs error {diff.max():.3g} > {MFCC_ATOL}"
    assert diff.max() / scale <= MFCC_RTOL, f"{what}: relative error {diff.max() / scale:.3g} > {MFCC_RTOL}"


def _real_segment(gtzan_mini: Path, golden: dict[str, np.ndarray], case: str) -> np.ndarray:
    base = f"real/{case}"
    x = load_audio(gtzan_mini / str(golden[f"{base}/source"]), SR)
    x = split_segments(x, SegmentConfig(sample_rate=SR)).samples[int(golden[f"{base}/segment"])]
    # The golden MFCC is only meaningful for the same input: check decoding + resampling first.
    np.testing.assert_allclose(x[:256], golden[f"{base}/head"], atol=1e-6, err_msg=f"{case}: input changed")
    np.testing.assert_allclose(np.linalg.norm(x.astype(np.float64)), golden[f"{base}/l2"], rtol=1e-5)
    return x


# --- config and registry -------------------------------------------------------------------------------


def test_config_shape_and_registry() -> None:
    cfg = make_config("mfcc")
    assert isinstance(cfg, MfccConfig)
    assert cfg.shape(SegmentConfig()) == (94, 20)
    assert cfg.shape(SegmentConfig(segment_seconds=1.0)) == (32, 20)
    assert MfccConfig(n_mfcc=13, hop_length=256).shape(SegmentConfig()) == (188, 13)
    assert get_feature("mfcc").config_cls is MfccConfig
    assert MfccConfig.channel_axis == -1
    x = np.zeros((3, 48000), dtype=np.float32)
    out = extract(cfg, x, SR)
    assert out.shape == (3, 94, 20) and out.dtype == np.float32
    many = extract_many([cfg], x, SR)
    np.testing.assert_array_equal(many[cfg.key()], out)


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        MfccConfig(n_mfcc=200)
    with pytest.raises(ValueError):
        MfccConfig(top_db=-1.0)
    with pytest.raises(ValueError):
        MfccConfig(hop_length=0)
    with pytest.raises(ValueError):
        extract_mfcc(MfccConfig(), np.zeros(48000, dtype=np.float32), SR)


# --- golden comparisons with librosa ------------------------------------------------------------------


@pytest.mark.parametrize("case", _cases("synthetic"))
def test_golden_synthetic(golden: dict[str, np.ndarray], case: str) -> None:
    x = golden[f"synthetic/{case}/input"]
    assert x.dtype == np.float32
    ours = extract_mfcc(MfccConfig(), x[None], SR)[0]
    _assert_mfcc_close(ours, golden[f"synthetic/{case}/mfcc"], case)
    if f"synthetic/{case}/logmel" in golden:
        err = np.abs(_logmel(x) - golden[f"synthetic/{case}/logmel"]).max()
        assert err <= LOGMEL_ATOL_DB, f"{case}: log-mel max abs error {err:.3g} dB"


@pytest.mark.parametrize("case", _cases("real"))
def test_golden_real(golden: dict[str, np.ndarray], gtzan_mini: Path, case: str) -> None:
    x = _real_segment(gtzan_mini, golden, case)
    ours = extract_mfcc(MfccConfig(), x[None], SR)[0]
    assert ours.shape == (94, 20)
    _assert_mfcc_close(ours, golden[f"real/{case}/mfcc"], case)
    if f"real/{case}/logmel" in golden:
        err = np.abs(_logmel(x) - golden[f"real/{case}/logmel"]).max()
        assert err <= LOGMEL_ATOL_DB, f"{case}: log-mel max abs error {err:.3g} dB"


def test_float64_module_matches_golden(golden: dict[str, np.ndarray]) -> None:
    m = MFCC(SR, dtype=torch.float64)
    for case in _cases("synthetic"):
        with torch.inference_mode():
            ours = m(torch.from_numpy(golden[f"synthetic/{case}/input"])).numpy()
        assert ours.dtype == np.float64
        _assert_mfcc_close(ours, golden[f"synthetic/{case}/mfcc"], f"float64 {case}")


# --- batching, silence, determinism -------------------------------------------------------------------


def _mixed_batch(golden: dict[str, np.ndarray], gtzan_mini: Path) -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.stack(
        [
            _real_segment(gtzan_mini, golden, "blues00000_seg3"),
            np.zeros(48000, dtype=np.float32),
            _real_segment(gtzan_mini, golden, "metal00007_seg5"),  # mostly padding
            (1e-6 * rng.standard_normal(48000)).astype(np.float32),  # near the amin floor
            (0.9 * np.sin(np.arange(48000) * 0.3)).astype(np.float32),  # loud tone
        ]
    )


def test_batched_equals_per_item(golden: dict[str, np.ndarray], gtzan_mini: Path) -> None:
    # The top_db floor is per segment: a loud neighbour in the batch must not change a quiet segment.
    batch = _mixed_batch(golden, gtzan_mini)
    together = extract_mfcc(MfccConfig(), batch, SR)
    for i, x in enumerate(batch):
        alone = extract_mfcc(MfccConfig(), x[None], SR)[0]
        np.testing.assert_allclose(together[i], alone, rtol=0, atol=1e-4, err_msg=f"item {i}")
    # A 2-D batch and a leading extra axis give the same result.
    with torch.inference_mode():
        nested = MFCC(SR)(torch.from_numpy(batch.reshape(5, 1, -1))).numpy()
    np.testing.assert_allclose(nested[:, 0], together, rtol=0, atol=1e-4)


def test_silence_is_finite_and_constant() -> None:
    x = np.zeros((2, 48000), dtype=np.float32)
    x[1, 100] = 1e-30  # subnormal-scale content: still clamped at amin, no NaN/inf
    out = extract_mfcc(MfccConfig(), x, SR)
    assert np.isfinite(out).all()
    # All 128 mel bands sit at 10*log10(amin) = -100 dB; the orthonormal DCT of a constant is
    # (-100 * sqrt(128), 0, 0, ...).
    np.testing.assert_allclose(out[..., 0], -100.0 * np.sqrt(128), rtol=1e-5)
    np.testing.assert_allclose(out[..., 1:], 0.0, atol=1e-3)


def test_top_db_floor_per_segment() -> None:
    t = np.arange(48000) / SR
    loud = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = extract_mfcc(MfccConfig(), loud[None], SR)
    out_nofloor = extract_mfcc(MfccConfig(top_db=None), loud[None], SR)
    assert np.isfinite(out).all() and np.isfinite(out_nofloor).all()
    assert not np.allclose(out, out_nofloor)  # a pure tone has bands > 80 dB below its peak
    m = MFCC(SR)
    with torch.inference_mode():
        db = spectral.power_to_db(
            spectral.power_spectrogram(torch.from_numpy(loud[None]), m.window, 2048, 512) @ m.mel_fb
        )
    assert float(db.max() - db.min()) == pytest.approx(80.0, abs=1e-3)


def test_deterministic(golden: dict[str, np.ndarray], gtzan_mini: Path) -> None:
    batch = _mixed_batch(golden, gtzan_mini)
    a = extract_mfcc(MfccConfig(), batch, SR)
    b = extract_mfcc(MfccConfig(), batch.copy(), SR)
    np.testing.assert_array_equal(a, b)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        c = extract_mfcc(MfccConfig(), batch, SR)
    finally:
        torch.set_num_threads(threads)
    np.testing.assert_allclose(a, c, rtol=0, atol=1e-4)


def test_module_buffers() -> None:
    m = MFCC(SR)
    state = m.state_dict()
    assert set(state) == {"window", "mel_fb", "dct"}
    assert state["window"].shape == (2048,)
    assert state["mel_fb"].shape == (1025, 128)
    assert state["dct"].shape == (128, 20)
    assert all(v.dtype == torch.float32 for v in state.values())


# --- pure DSP helpers ---------------------------------------------------------------------------------


def test_dct_matrix_is_orthonormal_dct2() -> None:
    x = np.random.default_rng(1).standard_normal((128, 7))
    d = spectral.dct_matrix(128, 20)
    np.testing.assert_allclose(d @ x, scipy.fft.dct(x, type=2, norm="ortho", axis=0)[:20], atol=1e-12)
    full = spectral.dct_matrix(16, 16)
    np.testing.assert_allclose(full @ full.T, np.eye(16), atol=1e-12)


def test_mel_scale_and_filterbank() -> None:
    assert spectral.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert spectral.hz_to_mel(500.0) == pytest.approx(7.5)
    hz = np.array([0.0, 200.0, 999.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(spectral.mel_to_hz(spectral.hz_to_mel(hz)), hz, atol=1e-9)
    fb = spectral.mel_filterbank(SR, 2048, 128)
    assert fb.shape == (128, 1025)
    assert (fb >= 0).all() and (fb.max(axis=1) > 0).all()  # no empty band at 16 kHz / 2048
    # Slaney normalisation: each triangle has unit area in Hz (weights * bin spacing sum to ~1).
    area = fb.sum(axis=1) * (SR / 2048)
    np.testing.assert_allclose(area[10:], 1.0, rtol=0.05)
    with pytest.raises(ValueError):
        spectral.mel_filterbank(SR, 2048, 128, fmin=0.0, fmax=9000.0)


def test_band_blocks_cover_every_weight() -> None:
    fb = spectral.mel_filterbank(SR, 2048, 128)
    blocks = spectral.band_blocks(fb, 8)
    assert [b0 for _, _, b0, _ in blocks] == list(range(0, 128, 16)) and blocks[-1][3] == 128
    for lo, hi, b0, b1 in blocks:
        outside = fb[b0:b1].copy()
        outside[:, lo:hi] = 0
        assert (outside == 0).all()
    x = np.random.default_rng(3).random((5, 1025))
    blocked = np.concatenate([x[:, lo:hi] @ fb[b0:b1, lo:hi].T for lo, hi, b0, b1 in blocks], axis=1)
    np.testing.assert_allclose(blocked, x @ fb.T, rtol=1e-12, atol=1e-15)


def test_power_spectrogram_matches_numpy_stft() -> None:
    x = np.random.default_rng(2).standard_normal(5000)
    window = spectral.hann_window(512)
    ours = spectral.power_spectrogram(torch.from_numpy(x), torch.from_numpy(window), 512, 128).numpy()
    padded = np.pad(x, 256)
    frames = np.lib.stride_tricks.sliding_window_view(padded, 512)[::128]
    ref = np.abs(np.fft.rfft(frames * window, axis=-1)) ** 2
    assert ours.shape == (spectral.n_frames(5000, 128), 257) == ref.shape
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-9)
