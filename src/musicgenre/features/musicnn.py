"""musicnn features: ``musicnn_msd`` and ``musicnn_mtt``, the pooled features ``(1506,)`` per segment.

Each segment (resampled to 16 kHz) is one musicnn patch: its first ``patch_frames`` frames (187 for 3 s),
as musicnn's extractor does with ``input_length`` equal to the segment. The feature is ``max_pool`` then
``mean_pool`` (753 each) of the MSD or the MagnaTagATune model, the input of musicnn's dense back-end.

``weights`` is the identity of the weights folder (``"tf-checkpoint:<content id>"``) and ``source`` the
bundle to load it from (see :mod:`musicgenre.features.pretrained` and :mod:`musicgenre.musicnn.weights`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musicgenre.audio.io import resample
from musicgenre.audio.segment import SegmentConfig
from musicgenre.features.pretrained import PretrainedFeatureConfig
from musicgenre.features.registry import register_feature
from musicgenre.musicnn.weights import MUSICNN
from musicgenre.pretrained import WeightsFamily

SAMPLE_RATE = 16000
POOLED_SIZE = 2 * 753


@dataclass(frozen=True)
class _MusicnnConfig(PretrainedFeatureConfig):
    weights_family: ClassVar[WeightsFamily] = MUSICNN
    model: ClassVar[str] = ""

    backend: str = "auto"  # runtime of the network: "auto", "torch" or "openvino"

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (POOLED_SIZE,)

    def key(self) -> str:
        """Hash of the config: the weights' identity and the *resolved* backend, so that features of different
        runtimes never share a store (they agree to about 1e-6, but are not bit-identical)."""
        from musicgenre.musicnn.model import resolve_backend

        return self.resolved_key(dataclasses.replace(self, backend=resolve_backend(self.backend)))


@dataclass(frozen=True)
class MusicnnMsdConfig(_MusicnnConfig):
    """musicnn's MSD model (Million Song Dataset top-50 tags): max- and mean-pooled features."""

    name: ClassVar[str] = "musicnn_msd"
    model: ClassVar[str] = "MSD"


@dataclass(frozen=True)
class MusicnnMttConfig(_MusicnnConfig):
    """musicnn's MagnaTagATune model: max- and mean-pooled features."""

    name: ClassVar[str] = "musicnn_mtt"
    model: ClassVar[str] = "MTT"


def _to_16k(segments: np.ndarray, sample_rate: int) -> np.ndarray:
    segments = np.asarray(segments, dtype=np.float32)
    if segments.ndim != 2:
        raise ValueError(f"expected segments (n, samples), got shape {segments.shape}")
    if sample_rate == SAMPLE_RATE or not len(segments):
        return segments
    return np.stack([resample(s, sample_rate, SAMPLE_RATE) for s in segments])


def extract_pooled(config: _MusicnnConfig, segments: np.ndarray, sample_rate: int) -> np.ndarray:
    """``(n, 1506)``: ``max_pool`` then ``mean_pool`` of each segment."""
    from musicgenre.musicnn.model import get_model

    x = _to_16k(segments, sample_rate)
    if x.shape[0] == 0:
        return np.zeros((0, POOLED_SIZE), np.float32)
    out = get_model(config.bundle(), model=config.model, backend=config.backend).infer(x)
    return np.concatenate([out.max_pool.cpu().numpy(), out.mean_pool.cpu().numpy()], axis=1).astype(
        np.float32
    )


register_feature(MusicnnMsdConfig, description="musicnn (MSD) max+mean pooled features (1506,)")(
    extract_pooled
)
register_feature(MusicnnMttConfig, description="musicnn (MTT) max+mean pooled features (1506,)")(
    extract_pooled
)
