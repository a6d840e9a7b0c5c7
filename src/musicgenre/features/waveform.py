"""The raw waveform feature: the segment itself, ``(segment_samples,)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musicgenre.audio.segment import SegmentConfig
from musicgenre.features.registry import FeatureConfig, register_feature


@dataclass(frozen=True)
class WaveformConfig(FeatureConfig):
    """The segment's samples, unchanged (normalised later with one global mean and std)."""

    name: ClassVar[str] = "waveform"
    channel_axis: ClassVar[int | None] = None

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (segment.segment_samples,)


@register_feature(WaveformConfig, description="raw 16 kHz waveform of the segment (48000,)")
def extract_waveform(config: WaveformConfig, segments: np.ndarray, sample_rate: int) -> np.ndarray:
    """Return the segments as float32 ``(n, samples)``."""
    return np.ascontiguousarray(segments, dtype=np.float32)
