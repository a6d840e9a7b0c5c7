"""Cut a signal into the study's fixed-length segments.

The study resamples each clip to 16 kHz, cuts or pads it to exactly 30 s, and splits it into ten 3 s
segments of 48,000 samples. Clip length, segment length and sample rate are settings here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class SegmentConfig:
    """How a decoded clip becomes segments.

    Attributes:
        sample_rate: rate every clip is resampled to (Hz).
        clip_seconds: every clip is cut or zero-padded to this length; ``None`` keeps its own length
            (the last partial segment is then padded).
        segment_seconds: length of one model input segment.
        max_padding: drop segments whose padded fraction exceeds this (``None`` keeps all, as the study
            does). Example: 0.5 drops segments that are mostly silence padding.
    """

    sample_rate: int = 16000
    clip_seconds: float | None = 30.0
    segment_seconds: float = 3.0
    max_padding: float | None = None

    def __post_init__(self) -> None:
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")
        if self.segment_seconds <= 0:
            raise ValueError(f"segment_seconds must be positive, got {self.segment_seconds}")
        if self.clip_seconds is not None and self.clip_seconds < self.segment_seconds:
            raise ValueError("clip_seconds must be at least segment_seconds")
        if self.max_padding is not None and not 0.0 <= self.max_padding < 1.0:
            raise ValueError("max_padding must be in [0, 1)")

    @property
    def segment_samples(self) -> int:
        """Samples per segment (48,000 for 3 s at 16 kHz)."""
        return int(round(self.segment_seconds * self.sample_rate))

    @property
    def clip_samples(self) -> int | None:
        """Samples per clip after cutting/padding, or None when clips keep their length."""
        return None if self.clip_seconds is None else int(round(self.clip_seconds * self.sample_rate))

    @property
    def segments_per_clip(self) -> int | None:
        """Segments from one clip when the clip length is fixed (10 for 30 s / 3 s)."""
        n = self.clip_samples
        return None if n is None else n // self.segment_samples

    def to_dict(self) -> dict:
        """Plain-dict form for JSON manifests and checkpoints."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SegmentConfig:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


@dataclass(frozen=True)
class Segments:
    """Segments of one clip: ``samples`` is ``(n, segment_samples)``; ``padding`` is each one's padded fraction."""

    samples: np.ndarray
    padding: np.ndarray
    index: np.ndarray  # position of each kept segment within the clip (0-based)

    def __len__(self) -> int:
        return int(self.samples.shape[0])


def fit_clip(x: np.ndarray, config: SegmentConfig) -> tuple[np.ndarray, int]:
    """Cut or zero-pad ``x`` to the configured clip length. Returns the clip and its count of real samples."""
    n = config.clip_samples
    if n is None:
        seg = config.segment_samples
        n = max(seg, -(-x.shape[0] // seg) * seg)
    real = min(x.shape[0], n)
    out = np.zeros(n, dtype=np.float32)
    out[:real] = x[:real]
    return out, real


def split_segments(x: np.ndarray, config: SegmentConfig) -> Segments:
    """Fit ``x`` to the clip length and split it into non-overlapping segments.

    With ``max_padding`` set, segments that are mostly padding are dropped, but the first one is always
    kept so that every clip yields at least one segment.
    """
    if x.ndim != 1:
        raise ValueError(f"expected a mono 1-D signal, got shape {x.shape}")
    clip, real = fit_clip(np.asarray(x, dtype=np.float32), config)
    seg = config.segment_samples
    n = clip.shape[0] // seg
    samples = clip[: n * seg].reshape(n, seg)
    starts = np.arange(n) * seg
    real_in_seg = np.clip(real - starts, 0, seg)
    padding = (1.0 - real_in_seg / seg).astype(np.float32)
    index = np.arange(n)
    if config.max_padding is not None:
        keep = padding <= config.max_padding
        keep[0] = True
        samples, padding, index = samples[keep], padding[keep], index[keep]
    return Segments(np.ascontiguousarray(samples), padding, index)
