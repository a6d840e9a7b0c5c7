"""YAMNet features: ``yamnet_embedding`` ``(6, 1024)`` and ``yamnet_logmel`` ``(336, 64)`` per 3 s segment.

Each segment is padded on its own by YAMNet's rule (48,000 samples -> 54,000 -> 336 frames -> 6 patches);
shapes are derived from the segment length, so other segment lengths work too. Both features come from one
batched pass (``joint="yamnet"``): asking for both frames and runs the network once.

``weights`` is the identity (``"<kind>:<git blob id>"``) of the weights these features come from, and
``source`` the bundle to load them from (see :mod:`musicgenre.features.pretrained`): a path or an empty
``weights`` is resolved when the config is built (:mod:`musicgenre.yamnet.weights`), and the CLI and
``GenreClassifier`` bind the weights they resolved with :func:`~musicgenre.features.pretrained.with_weights`.
The cache key holds the identity, so features from Google's float Keras weights and from the int8 TFLite
file never share a cache store, and a config's key does not depend on the environment.

``precision`` is that of YAMNet's network (see :mod:`musicgenre.yamnet.fast`): ``"auto"`` (bfloat16 on CPUs
with native bfloat16 units, else float32), ``"float32"`` or ``"bfloat16"``. The cache key holds the
*resolved* precision, so bfloat16 and float32 embeddings never share a store either.

``backend`` is the runtime of the network (see :mod:`musicgenre.yamnet.backends`): ``"auto"`` (OpenVINO when
installed, else torch), ``"torch"`` or ``"openvino"``. The key holds the *resolved* backend too, so features
from different runtimes never share a store; for ``"torch"`` the key is the one from before backends existed,
so existing stores stay valid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from musicgenre.audio.io import resample
from musicgenre.audio.segment import SegmentConfig
from musicgenre.features.pretrained import PretrainedFeatureConfig
from musicgenre.features.registry import register_feature
from musicgenre.pretrained import PretrainedBundle, WeightsFamily
from musicgenre.yamnet import params as P
from musicgenre.yamnet.frontend import num_frames, num_patches
from musicgenre.yamnet.weights import YAMNET

JOINT_KEY = "yamnet"


def _samples_16k(segment: SegmentConfig) -> int:
    """Samples per segment once resampled to YAMNet's 16 kHz."""
    return int(round(segment.segment_samples * P.SAMPLE_RATE / segment.sample_rate))


@dataclass(frozen=True)
class _YamnetConfig(PretrainedFeatureConfig):
    weights_family: ClassVar[WeightsFamily] = YAMNET

    precision: str = "auto"  # of the network: "auto", "float32" or "bfloat16"
    backend: str = "auto"  # runtime of the network: "auto", "torch" or "openvino"

    def key(self) -> str:
        """Hash of the config: the weights' identity (format + content), the *resolved* precision and backend."""
        from musicgenre.yamnet.backends import resolve_backend
        from musicgenre.yamnet.fast import resolve_precision

        return self.resolved_key(
            dataclasses.replace(
                self, precision=resolve_precision(self.precision), backend=resolve_backend(self.backend)
            )
        )


@dataclass(frozen=True)
class YamnetEmbeddingConfig(_YamnetConfig):
    """YAMNet's 1024-d embedding of each 0.96 s patch (hop 0.48 s) of the padded segment."""

    name: ClassVar[str] = "yamnet_embedding"

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (num_patches(_samples_16k(segment)), P.EMBEDDING_SIZE)


@dataclass(frozen=True)
class YamnetLogMelConfig(_YamnetConfig):
    """YAMNet's log-mel spectrogram (64 bands, 10 ms hop) of the padded segment."""

    name: ClassVar[str] = "yamnet_logmel"

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (num_frames(_samples_16k(segment)), P.MEL_BANDS)


def _to_16k(segments: np.ndarray, sample_rate: int) -> np.ndarray:
    segments = np.asarray(segments, dtype=np.float32)
    if segments.ndim != 2:
        raise ValueError(f"expected segments (n, samples), got shape {segments.shape}")
    if sample_rate == P.SAMPLE_RATE:
        return segments
    return (
        np.stack([resample(s, sample_rate, P.SAMPLE_RATE) for s in segments]) if len(segments) else segments
    )


def yamnet_features(
    segments: np.ndarray,
    sample_rate: int,
    weights: PretrainedBundle | str | None = None,
    precision: str = "auto",
    backend: str = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """``(log_mel (n, frames, 64), embeddings (n, patches, 1024))`` float32 of ``segments`` ``(n, samples)``.

    ``weights``: a bundle, a path, or None (the default resolution). The network runs on
    :func:`~musicgenre.device.current_device` (not part of the feature config, so not of the cache key).
    """
    from musicgenre.yamnet.model import get_model

    x = _to_16k(segments, sample_rate)
    if x.shape[0] == 0:
        n = x.shape[1]
        return (
            np.zeros((0, num_frames(n), P.MEL_BANDS), np.float32),
            np.zeros((0, num_patches(n), P.EMBEDDING_SIZE), np.float32),
        )
    out = get_model(weights or None, precision=precision, backend=backend).infer(x)
    return out.log_mel.cpu().numpy().astype(np.float32, copy=False), out.embeddings.cpu().numpy().astype(
        np.float32, copy=False
    )


def extract_joint(
    configs: Sequence[_YamnetConfig], segments: np.ndarray, sample_rate: int
) -> list[np.ndarray]:
    """Both YAMNet features from one pass per distinct (weights, precision, backend), in ``configs``' order."""
    results: dict[tuple[PretrainedBundle, str, str], tuple[np.ndarray, np.ndarray]] = {}
    out = []
    for cfg in configs:
        setting = (cfg.bundle(), cfg.precision, cfg.backend)
        if setting not in results:
            results[setting] = yamnet_features(segments, sample_rate, *setting)
        log_mel, embeddings = results[setting]
        out.append(embeddings if isinstance(cfg, YamnetEmbeddingConfig) else log_mel)
    return out


@register_feature(
    YamnetEmbeddingConfig,
    description="YAMNet embedding per 0.96 s patch (6, 1024)",
    joint=JOINT_KEY,
    extract_joint=extract_joint,
)
def extract_embedding(config: YamnetEmbeddingConfig, segments: np.ndarray, sample_rate: int) -> np.ndarray:
    return extract_joint([config], segments, sample_rate)[0]


@register_feature(
    YamnetLogMelConfig,
    description="YAMNet log-mel spectrogram, 64 bands (336, 64)",
    joint=JOINT_KEY,
    extract_joint=extract_joint,
)
def extract_logmel(config: YamnetLogMelConfig, segments: np.ndarray, sample_rate: int) -> np.ndarray:
    return extract_joint([config], segments, sample_rate)[0]
