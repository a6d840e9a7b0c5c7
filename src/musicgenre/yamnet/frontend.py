"""YAMNet's frontend: padding rule, log-mel spectrogram and patches (Google's ``features.py``).

Layering as in torchaudio: pure functions first (the mel matrix, the window, the padding rule, shape
arithmetic), then thin :class:`torch.nn.Module` wrappers that keep the window and mel matrix as buffers.

The computation, for a 16 kHz mono waveform:

1. zero-pad to at least 15,600 samples (one 0.96 s patch), then to a whole number of 7,680-sample patch
   hops after the first patch (:func:`padded_length`);
2. frame with a 400-sample window and a 160-sample hop, no centring and no end padding; multiply by a
   *periodic* Hann window; magnitude of the 512-point real FFT (the window is zero-padded to 512; where the
   zeros go does not change the magnitude);
3. multiply by TensorFlow's ``linear_to_mel_weight_matrix`` (64 HTK-mel bands, 125-7500 Hz, triangles
   without area normalisation, DC bin zeroed) and take ``log(mel + 0.001)``;
4. cut the ``(frames, 64)`` log-mel into patches of 96 frames with a hop of 48 frames.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from musicgenre.yamnet import params as P

# --------------------------------------------------------------------------------------------------
# Pure functions (numpy / integers)
# --------------------------------------------------------------------------------------------------


def hertz_to_mel(frequencies_hertz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale, as TensorFlow uses it: ``1127 * ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(frequencies_hertz, dtype=np.float64) / 700.0)


def linear_to_mel_weight_matrix(
    num_mel_bins: int = P.MEL_BANDS,
    num_spectrogram_bins: int = P.NUM_SPECTROGRAM_BINS,
    sample_rate: float = P.SAMPLE_RATE,
    lower_edge_hertz: float = P.MEL_MIN_HZ,
    upper_edge_hertz: float = P.MEL_MAX_HZ,
) -> np.ndarray:
    """Re-implementation of ``tf.signal.linear_to_mel_weight_matrix``: ``(num_spectrogram_bins, num_mel_bins)``.

    Band edges are equally spaced on the HTK mel scale; each band is a triangle from its lower to its
    upper edge with a peak of 1 at its centre (no area normalisation). The spectrogram bins are the
    linear frequencies ``0 .. sample_rate / 2``; the DC bin gets zero weight in every band. Computed in
    float64 and returned as float32 (TensorFlow computes in float32; the two differ by ~1e-7).
    """
    if num_mel_bins <= 0 or num_spectrogram_bins <= 1:
        raise ValueError("num_mel_bins must be positive and num_spectrogram_bins greater than 1")
    nyquist = sample_rate / 2.0
    if not 0.0 <= lower_edge_hertz < upper_edge_hertz <= nyquist:
        raise ValueError(
            f"need 0 <= lower_edge_hertz < upper_edge_hertz <= {nyquist}, "
            f"got {lower_edge_hertz} and {upper_edge_hertz}"
        )
    # The DC bin (index 0) is left out here and padded back as a row of zeros.
    linear_frequencies = np.linspace(0.0, nyquist, num_spectrogram_bins)[1:]
    spectrogram_bins_mel = hertz_to_mel(linear_frequencies)[:, np.newaxis]
    band_edges_mel = np.linspace(
        hertz_to_mel(lower_edge_hertz), hertz_to_mel(upper_edge_hertz), num_mel_bins + 2
    )
    lower_edge_mel = band_edges_mel[np.newaxis, :-2]
    center_mel = band_edges_mel[np.newaxis, 1:-1]
    upper_edge_mel = band_edges_mel[np.newaxis, 2:]
    lower_slopes = (spectrogram_bins_mel - lower_edge_mel) / (center_mel - lower_edge_mel)
    upper_slopes = (upper_edge_mel - spectrogram_bins_mel) / (upper_edge_mel - center_mel)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, [[1, 0], [0, 0]]).astype(np.float32)


def periodic_hann(length: int = P.STFT_WINDOW_SAMPLES) -> np.ndarray:
    """Periodic Hann window ``0.5 - 0.5 cos(2 pi n / length)``, ``n = 0 .. length-1`` (float32)."""
    n = np.arange(length, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)).astype(np.float32)


def padded_length(num_samples: int) -> int:
    """Length after YAMNet's padding rule (Google's ``pad_waveform``).

    At least :data:`~musicgenre.yamnet.params.MIN_SAMPLES` (15,600 = 0.975 s); beyond that, rounded up to
    a whole number of patch hops (7,680 samples). Examples: 0 -> 15,600; 15,600 -> 15,600;
    15,601 -> 23,280; 48,000 -> 54,000.
    """
    if num_samples < 0:
        raise ValueError(f"num_samples must be >= 0, got {num_samples}")
    n = max(num_samples, P.MIN_SAMPLES)
    hops = -(-(n - P.MIN_SAMPLES) // P.PATCH_HOP_SAMPLES)  # ceil
    return P.MIN_SAMPLES + hops * P.PATCH_HOP_SAMPLES


def num_frames(num_samples: int) -> int:
    """STFT frames of a signal of ``num_samples`` samples, *after* padding (no centring, no end padding)."""
    n = padded_length(num_samples)
    return 1 + (n - P.STFT_WINDOW_SAMPLES) // P.STFT_HOP_SAMPLES


def num_patches(num_samples: int) -> int:
    """Patches (one embedding each) of a signal of ``num_samples`` samples, after padding."""
    return 1 + (num_frames(num_samples) - P.PATCH_FRAMES) // P.PATCH_HOP_FRAMES


def pad_waveform(waveform: np.ndarray) -> np.ndarray:
    """Zero-pad the last axis of ``waveform`` to :func:`padded_length` (numpy)."""
    waveform = np.asarray(waveform, dtype=np.float32)
    n = waveform.shape[-1]
    pad = [(0, 0)] * (waveform.ndim - 1) + [(0, padded_length(n) - n)]
    return np.pad(waveform, pad)


def patch_times(num_samples: int) -> np.ndarray:
    """Start time (seconds) of each patch of a signal of ``num_samples`` samples (0, 0.48, 0.96, ...)."""
    hop_seconds = P.PATCH_HOP_SAMPLES / P.SAMPLE_RATE
    return np.arange(num_patches(num_samples), dtype=np.float64) * hop_seconds


# --------------------------------------------------------------------------------------------------
# Torch functions and modules
# --------------------------------------------------------------------------------------------------


def pad_waveform_torch(waveform: Tensor) -> Tensor:
    """Zero-pad the last axis of ``waveform`` to :func:`padded_length` (torch)."""
    n = int(waveform.shape[-1])
    extra = padded_length(n) - n
    return nn.functional.pad(waveform, (0, extra)) if extra else waveform


def frame(signal: Tensor, frame_length: int, frame_step: int) -> Tensor:
    """``(..., n)`` -> ``(..., 1 + (n - frame_length) // frame_step, frame_length)``: a view, no copy."""
    return signal.unfold(-1, frame_length, frame_step)


def patches_from_log_mel(log_mel: Tensor) -> Tensor:
    """``(..., frames, bands)`` -> ``(..., patches, 96, bands)`` with a 48-frame hop (a view)."""
    return log_mel.unfold(-2, P.PATCH_FRAMES, P.PATCH_HOP_FRAMES).transpose(-1, -2)


class LogMelSpectrogram(nn.Module):
    """Waveform ``(..., n)`` at 16 kHz -> YAMNet log-mel ``(..., frames, 64)``, without padding.

    The window ``(400,)`` and the mel matrix ``(257, 64)`` are buffers, so ``.to(device)`` moves them.
    """

    window: Tensor
    mel_matrix: Tensor

    def __init__(self) -> None:
        super().__init__()
        # The 400-sample window followed by 112 zeros: framing 512 samples at a time (after padding the
        # signal's end by 112) gives the same frames as 400-sample framing, already zero-padded for the FFT.
        window = np.zeros(P.FFT_LENGTH, np.float32)
        window[: P.STFT_WINDOW_SAMPLES] = periodic_hann()
        self.register_buffer("window", torch.from_numpy(window), persistent=False)
        self.register_buffer("mel_matrix", torch.from_numpy(linear_to_mel_weight_matrix()), persistent=False)

    def magnitude(self, waveform: Tensor) -> Tensor:
        """STFT magnitude ``(..., frames, 257)``: ``1 + (n - 400) // 160`` frames."""
        extended = nn.functional.pad(waveform, (0, P.FFT_LENGTH - P.STFT_WINDOW_SAMPLES))
        spectrum = torch.view_as_real(
            torch.fft.rfft(frame(extended, P.FFT_LENGTH, P.STFT_HOP_SAMPLES) * self.window)
        )
        re, im = spectrum[..., 0], spectrum[..., 1]
        return torch.addcmul(re * re, im, im).sqrt_()  # |X|, faster than complex abs

    def forward(self, waveform: Tensor) -> Tensor:
        if waveform.shape[-1] < P.STFT_WINDOW_SAMPLES:
            raise ValueError(f"need at least {P.STFT_WINDOW_SAMPLES} samples, got {waveform.shape[-1]}")
        mel = torch.matmul(self.magnitude(waveform), self.mel_matrix)
        return torch.log(mel + P.LOG_OFFSET)


class Frontend(nn.Module):
    """Waveforms ``(batch, n)`` -> padded log-mel ``(batch, frames, 64)`` and patches ``(batch, P, 96, 64)``.

    Every row is padded on its own by :func:`padded_length` (rows share ``n``, so they share the padding).
    ``log_mel`` replaces the float :class:`LogMelSpectrogram` (e.g. by the TFLite-exact one in
    :mod:`musicgenre.yamnet.emulation`).
    """

    def __init__(self, log_mel: nn.Module | None = None) -> None:
        super().__init__()
        self.log_mel = LogMelSpectrogram() if log_mel is None else log_mel

    def forward(self, waveforms: Tensor) -> tuple[Tensor, Tensor]:
        log_mel = self.log_mel(pad_waveform_torch(waveforms))
        return log_mel, patches_from_log_mel(log_mel)
