"""Pure DSP helpers for spectral features (torchaudio-style functional layer).

Matrix builders (Slaney mel filterbank, orthonormal DCT-II, periodic Hann window) return float64 numpy
arrays computed exactly as librosa 0.11 defines them; the torch functions (framed STFT power, power to dB)
work on batches ``(..., samples)`` in any float dtype. :mod:`musicgenre.features.mfcc` composes them.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

# Slaney's Auditory Toolbox mel scale: linear below 1 kHz, logarithmic above.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """Frequencies (Hz) to Slaney mels (librosa ``hz_to_mel(htk=False)``)."""
    f = np.asarray(hz, dtype=np.float64)
    mel = f / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, mel)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Slaney mels to frequencies in Hz (librosa ``mel_to_hz(htk=False)``)."""
    m = np.asarray(mel, dtype=np.float64)
    hz = _F_SP * m
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log_part, hz)


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int = 128, fmin: float = 0.0, fmax: float | None = None
) -> np.ndarray:
    """Slaney-scale triangular mel filterbank with 'slaney' area normalisation, ``(n_mels, 1 + n_fft // 2)``.

    Same as ``librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)``
    (htk=False, norm='slaney'), but kept in float64.
    """
    if fmax is None:
        fmax = sample_rate / 2.0
    if not 0.0 <= fmin < fmax <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= sample_rate/2, got fmin={fmin}, fmax={fmax}")
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:] - mel_f[:-2])
    return weights * enorm[:, None]


def band_blocks(fb: np.ndarray, n_blocks: int) -> list[tuple[int, int, int, int]]:
    """Group the rows (bands) of a ``(n_mels, n_freq)`` filterbank into ``n_blocks`` runs of adjacent bands.

    Returns ``(bin_lo, bin_hi, band_lo, band_hi)`` per group: every weight of bands ``band_lo:band_hi``
    outside bins ``bin_lo:bin_hi`` is zero, so ``power[..., bin_lo:bin_hi] @ fb[band_lo:band_hi,
    bin_lo:bin_hi].T`` gives those bands exactly.
    """
    edges = np.linspace(0, fb.shape[0], n_blocks + 1).round().astype(int)
    out = []
    for b0, b1 in itertools.pairwise(edges.tolist()):
        used = np.flatnonzero(np.any(fb[b0:b1] != 0, axis=0))
        lo, hi = (int(used[0]), int(used[-1]) + 1) if used.size else (0, 0)
        out.append((lo, hi, int(b0), int(b1)))
    return out


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II as a ``(n_out, n_in)`` matrix: ``y = D @ x`` equals ``scipy.fft.dct(x, norm='ortho')[:n_out]``."""
    if not 0 < n_out <= n_in:
        raise ValueError(f"need 0 < n_out <= n_in, got n_out={n_out}, n_in={n_in}")
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    d = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    d[0] /= np.sqrt(2.0)
    return d


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window of length ``n`` (``scipy.signal.get_window('hann', n, fftbins=True)``)."""
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def n_frames(n_samples: int, hop_length: int) -> int:
    """Frames of a centred STFT (``center=True``): ``1 + n_samples // hop_length``."""
    return 1 + n_samples // hop_length


def power_spectrogram(x: torch.Tensor, window: torch.Tensor, n_fft: int, hop_length: int) -> torch.Tensor:
    """Centred, zero-padded STFT power ``|X|^2`` of ``x`` ``(..., samples)`` -> ``(..., frames, 1 + n_fft//2)``.

    Time-major: the transpose of ``np.abs(librosa.stft(x, n_fft=n_fft, hop_length=hop_length,
    window='hann', center=True, pad_mode='constant'))**2`` when ``window`` is the periodic Hann window of
    length ``n_fft``. ``frames = 1 + samples // hop_length``.
    """
    lead = x.shape[:-1]
    spec = torch.stft(
        x.reshape(-1, x.shape[-1]),
        n_fft,
        hop_length,
        window=window,
        center=True,
        pad_mode="constant",
        onesided=True,
        return_complex=True,
    ).transpose(-1, -2)  # (batch, frames, freq)
    power = spec.real.square() + spec.imag.square()
    return power.reshape(*lead, power.shape[-2], power.shape[-1])


def power_to_db(
    power: torch.Tensor,
    *,
    amin: float = 1e-10,
    ref: float = 1.0,
    top_db: float | None = 80.0,
    item_dims: int = 2,
) -> torch.Tensor:
    """``10 log10(max(power, amin) / ref)``, then floored at (max - top_db) over each item's last ``item_dims`` axes.

    For a batch of spectrograms ``(batch, frames, bands)`` with ``item_dims=2`` this is librosa's
    ``power_to_db(S, ref=ref, amin=amin, top_db=top_db)`` applied to each spectrogram separately.
    """
    db = 10.0 * torch.log10(torch.clamp(power, min=amin))
    db = db - 10.0 * float(np.log10(max(amin, abs(ref))))
    if top_db is not None:
        if top_db < 0:
            raise ValueError("top_db must be non-negative")
        peak = db.flatten(start_dim=db.ndim - item_dims).amax(dim=-1)
        floor = (peak - top_db).reshape(*peak.shape, *([1] * item_dims))
        db = torch.maximum(db, floor)
    return db
