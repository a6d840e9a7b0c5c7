"""Audio decoding, resampling and segmentation (pure functions, no models)."""

from musicgenre.audio.io import AudioInfo, audio_info, load_audio, resample
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
