"""``yamnet_activations``: YAMNet's feature maps after its first ``layer`` layers, per patch of a segment.

The input of a fine-tuned YAMNet whose first ``layer`` layers are frozen (``finetune_yamnet``): those layers
never change, so their output is computed once, cached like every feature, and each training epoch runs
only the layers above. Shape ``(patches, channels, height, width)``: ``(6, 512, 6, 4)`` after layer 12 for
a 3 s segment (73,728 values, 295 kB per segment).

Computed by the float32 network on YAMNet's float frontend (the fine-tuned layers and the head run in
float32 too), from the weights the config names, like ``yamnet_embedding``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from musicgenre.audio.segment import SegmentConfig
from musicgenre.features.pretrained import PretrainedFeatureConfig
from musicgenre.features.registry import register_feature
from musicgenre.features.yamnet import _samples_16k, _to_16k
from musicgenre.pretrained import WeightsFamily
from musicgenre.yamnet import params as P
from musicgenre.yamnet.frontend import num_patches
from musicgenre.yamnet.weights import YAMNET

BATCH_SIZE = 16  # segments per forward pass


def modules_of_layers(n_layers: int) -> int:
    """How many conv modules of :class:`~musicgenre.yamnet.network.YAMNetCNN` the first ``n_layers`` of
    YAMNet's 14 layers hold (the first is one full conv, every later one a depthwise and a pointwise conv)."""
    return 0 if n_layers <= 0 else 1 + 2 * (n_layers - 1)


def boundary_shape(layer: int) -> tuple[int, int, int]:
    """``(channels, height, width)`` of one patch's feature map after ``layer`` layers ('SAME' padding)."""
    h, w, c = P.PATCH_FRAMES, P.PATCH_BANDS, 1
    for _kind, stride, filters in P.LAYER_DEFS[:layer]:
        h, w, c = -(-h // stride), -(-w // stride), filters
    return c, h, w


@dataclass(frozen=True)
class YamnetActivationsConfig(PretrainedFeatureConfig):
    """YAMNet's feature maps after layer ``layer`` (1..13) of every patch of the segment."""

    name: ClassVar[str] = "yamnet_activations"
    weights_family: ClassVar[WeightsFamily] = YAMNET
    channel_axis: ClassVar[int | None] = None

    layer: int = 12

    def __post_init__(self) -> None:
        if not 1 <= self.layer < len(P.LAYER_DEFS):
            raise ValueError(
                f"yamnet_activations: layer must be in 1..{len(P.LAYER_DEFS) - 1}, got {self.layer}"
            )
        super().__post_init__()

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (num_patches(_samples_16k(segment)), *boundary_shape(self.layer))


@register_feature(
    YamnetActivationsConfig, description="YAMNet feature maps after layer 12, per patch (6, 512, 6, 4)"
)
def extract_activations(
    config: YamnetActivationsConfig, segments: np.ndarray, sample_rate: int
) -> np.ndarray:
    from musicgenre.yamnet.model import get_model

    x = _to_16k(segments, sample_rate)
    n_patches = num_patches(x.shape[1])
    out = np.zeros((x.shape[0], n_patches, *boundary_shape(config.layer)), np.float32)
    if x.shape[0] == 0:
        return out
    model = get_model(config.bundle(), precision="float32")
    frozen = list(model.cnn.layers)[: modules_of_layers(config.layer)]
    with torch.inference_mode():
        for start in range(0, x.shape[0], BATCH_SIZE):
            _, patches = model.frontend(torch.from_numpy(x[start : start + BATCH_SIZE]))
            b = patches.shape[0]
            h = patches.reshape(b * n_patches, 1, P.PATCH_FRAMES, P.PATCH_BANDS)
            for module in frozen:
                h = module(h)
            out[start : start + b] = h.reshape(b, n_patches, *h.shape[1:]).numpy()
    return out
