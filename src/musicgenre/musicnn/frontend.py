"""musicnn's input: librosa's mel spectrogram, rounded to float16, then ``log10(10000 x + 1)`` in float32.

musicnn's ``batch_data`` computes ``librosa.feature.melspectrogram(y, sr=16000, hop_length=256, n_fft=512,
n_mels=96).T`` (librosa defaults otherwise: centred frames with zero padding, periodic Hann window, power 2,
Slaney mel scale and normalisation), casts it to float16, and takes ``np.log10(10000 * rep + 1)``. Under
NumPy 2 that line stays in float16 and overflows to ``inf`` for loud bins (mel power above ~6.55); the
original ran under older NumPy, where the issue (#11) reports it was taken in float32. So: round to float16
(which the network was trained with), then take the log in float32.

A patch is the first :func:`patch_frames` frames of a segment: musicnn's ``input_length`` to frames,
``librosa.time_to_frames(seconds, sr, n_fft, hop) + 1``, i.e. 187 for 3 s (of the 188 frames).
"""

from __future__ import annotations

import torch
from torch import nn

from musicgenre.features import spectral

SAMPLE_RATE = 16000
N_FFT = 512
HOP = 256
N_MELS = 96


def patch_frames(n_samples: int) -> int:
    """Frames musicnn feeds the network for a patch of ``n_samples`` (187 for 48,000 samples at 16 kHz)."""
    return max(0, (n_samples - N_FFT // 2) // HOP) + 1


class MusicnnFrontend(nn.Module):
    """``(batch, samples)`` float32 at 16 kHz -> ``(batch, patch_frames(samples), 96)`` log-mel, float32.

    ``log=False`` returns the float32 mel power spectrogram before rounding (for checks against librosa).
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer(
            "window", torch.from_numpy(spectral.hann_window(N_FFT)).float(), persistent=False
        )
        fb = spectral.mel_filterbank(SAMPLE_RATE, N_FFT, N_MELS)
        self.register_buffer("fb_t", torch.from_numpy(fb.T.copy()).float(), persistent=False)

    def forward(self, x: torch.Tensor, log: bool = True) -> torch.Tensor:
        power = spectral.power_spectrogram(x.float(), self.window, N_FFT, HOP)
        mel = (power @ self.fb_t)[..., : patch_frames(x.shape[-1]), :]
        if not log:
            return mel
        return torch.log10(10000.0 * mel.half().float() + 1.0)
