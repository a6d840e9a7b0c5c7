"""The shared decoders (audio/decode.py): mono mixdown and resampling."""

from __future__ import annotations

import numpy as np

from musicgenre.audio.decode import resample, to_mono
from test_audio_io import _tone


def test_to_mono_and_resample() -> None:
    x = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    np.testing.assert_array_equal(to_mono(x), [0.5, 0.5])
    assert to_mono(x[:, 0]) is not None and to_mono(x[:, 0]).ndim == 1
    tone = _tone(440.0, 1.0, 48000)
    out = resample(tone, 48000, 16000)
    assert out.dtype == np.float32 and out.shape == (16000,)
    same = resample(tone.astype(np.float64), 48000, 48000)
    assert same.dtype == np.float32 and np.array_equal(same, tone)
