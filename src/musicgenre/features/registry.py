"""The feature registry: each feature is a dataclass config plus an extract function (lhotse style).

The registry also feeds the CLI's ``--feature`` / ``--input`` choices. A feature maps a batch of segments
``(n, segment_samples)`` at the segment sample rate to an array ``(n, *shape)`` of float32.

Features that are cheaper to compute together (YAMNet's log-mel and embedding come from one pass) share a
``joint`` key and a ``extract_joint`` function; the cache builder then computes them in one call.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np

from musicgenre.audio.segment import SegmentConfig


@dataclass(frozen=True)
class FeatureConfig:
    """Base class of every feature config. Subclasses are frozen dataclasses with a ``name``.

    ``channel_axis`` says how normalisation statistics are taken: per channel along that axis of one
    item (e.g. -1 = per MFCC coefficient / mel band / embedding dimension), or one scalar when None.
    """

    name: ClassVar[str] = ""
    channel_axis: ClassVar[int | None] = -1

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        """Shape of one segment's feature, without the batch axis."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """Config values plus the feature name, for manifests and checkpoints."""
        return {"name": self.name, **asdict(self)}

    def key(self) -> str:
        """Short stable hash of the config, used to name cache stores."""
        blob = json.dumps(self.to_dict(), sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha1(blob).hexdigest()[:10]}"


ExtractFn = Callable[[Any, np.ndarray, int], np.ndarray]
JointExtractFn = Callable[[Sequence[Any], np.ndarray, int], list[np.ndarray]]


@dataclass(frozen=True)
class FeatureSpec:
    """A registered feature: its config class, extractor and a one-line description."""

    name: str
    config_cls: type[FeatureConfig]
    extract: ExtractFn
    description: str
    joint: str | None = None
    extract_joint: JointExtractFn | None = None


_REGISTRY: dict[str, FeatureSpec] = {}


def register_feature(
    config_cls: type[FeatureConfig],
    *,
    description: str,
    joint: str | None = None,
    extract_joint: JointExtractFn | None = None,
) -> Callable[[ExtractFn], ExtractFn]:
    """Decorator: register the decorated ``extract(config, segments, sample_rate)`` as the feature
    ``config_cls.name`` (re-registering a name replaces it). Features computed together from one pass
    share a ``joint`` key and an ``extract_joint``.

    The built-in features register themselves when :mod:`musicgenre.features` imports their modules.
    """
    if not config_cls.name:
        raise ValueError(f"{config_cls.__name__} has no feature name")

    def decorate(extract: ExtractFn) -> ExtractFn:
        _REGISTRY[config_cls.name] = FeatureSpec(
            config_cls.name, config_cls, extract, description, joint, extract_joint
        )
        return extract

    return decorate


def feature_names() -> list[str]:
    """Names of all registered features, for CLI choices."""
    return sorted(_REGISTRY)


def get_feature(name: str) -> FeatureSpec:
    """Look a feature up by name; the error lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown feature {name!r}; known features: {', '.join(sorted(_REGISTRY))}") from None


def make_config(name: str, **overrides: Any) -> FeatureConfig:
    """Build the config of feature ``name`` with defaults, overriding the given fields."""
    cls = get_feature(name).config_cls
    known = {f.name for f in fields(cls)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"feature {name!r} has no option(s) {sorted(unknown)}; options: {sorted(known)}")
    return cls(**overrides)


def config_from_dict(d: dict[str, Any]) -> FeatureConfig:
    """Inverse of :meth:`FeatureConfig.to_dict`."""
    d = dict(d)
    name = d.pop("name")
    return make_config(name, **d)


def extract(config: FeatureConfig, segments: np.ndarray, sample_rate: int) -> np.ndarray:
    """Compute feature ``config`` for a batch of segments ``(n, samples)``; returns ``(n, *shape)`` float32."""
    spec = get_feature(config.name)
    out = spec.extract(config, np.asarray(segments, dtype=np.float32), sample_rate)
    return np.asarray(out, dtype=np.float32)


def extract_many(
    configs: Sequence[FeatureConfig], segments: np.ndarray, sample_rate: int
) -> dict[str, np.ndarray]:
    """Compute several features of the same segments, sharing work between jointly computed ones.

    Returns ``{config.key(): array}``.
    """
    segments = np.asarray(segments, dtype=np.float32)
    out: dict[str, np.ndarray] = {}
    groups: dict[str, list[FeatureConfig]] = {}
    for cfg in configs:
        spec = get_feature(cfg.name)
        if spec.joint and spec.extract_joint is not None:
            groups.setdefault(spec.joint, []).append(cfg)
        else:
            out[cfg.key()] = extract(cfg, segments, sample_rate)
    for group in groups.values():
        spec = get_feature(group[0].name)
        assert spec.extract_joint is not None
        arrays = spec.extract_joint(group, segments, sample_rate)
        for cfg, arr in zip(group, arrays, strict=True):
            out[cfg.key()] = np.asarray(arr, dtype=np.float32)
    return out
