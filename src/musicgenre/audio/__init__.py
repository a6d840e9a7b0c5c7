"""Audio checks, decoding, resampling and segmentation (pure functions, no models).

Modules: :mod:`.check` (the checks and problem messages every path shares), :mod:`.decode` (soundfile and
PyAV readers, mono mix, resampling), :mod:`.io` (:func:`load_audio`), :mod:`.stream` (:class:`AudioStream`,
bounded-memory block decoding), :mod:`.segment` (fixed-length segments).
"""

from musicgenre.audio.check import AudioInfo
from musicgenre.audio.decode import audio_info, resample
from musicgenre.audio.io import load_audio
from musicgenre.audio.segment import SegmentConfig, Segments, fit_clip, split_segments

__all__ = [
    "AudioInfo",
    "SegmentConfig",
    "Segments",
    "audio_info",
    "fit_clip",
    "load_audio",
    "resample",
    "split_segments",
]
