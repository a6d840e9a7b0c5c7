"""YAMNet's MobileNet-v1 body as one runtime model with fused conv(+folded batch norm)+bias+ReLU.

Both weight loaders (:mod:`~musicgenre.yamnet.tflite_weights`, :mod:`~musicgenre.yamnet.keras_weights`)
produce a :class:`FusedWeights`: every conv as a PyTorch-layout kernel plus a bias that already contains
the batch norm, then the dense classifier. The network is then just ``relu(conv(x) + b)`` 27 times,
global average pooling (the 1024-d embedding) and a dense layer (521 logits; scores are their sigmoid).

TensorFlow's ``'SAME'`` padding is asymmetric at stride 2: for an even input size and a 3x3 kernel it pads
0 rows/columns before and 1 after. PyTorch's ``padding=`` is symmetric, so stride-2 convs pad explicitly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from musicgenre.yamnet import params as P


@dataclass(frozen=True)
class ConvWeights:
    """One fused conv: ``weight`` ``(out, in / groups, kh, kw)`` float32 and ``bias`` ``(out,)``."""

    name: str  # e.g. "layer2/depthwise_conv"
    weight: np.ndarray
    bias: np.ndarray
    stride: int
    groups: int = 1


@dataclass(frozen=True)
class FusedWeights:
    """All weights of YAMNet in runtime form, plus where they came from.

    ``kind`` names the source format (``"tflite-int8"`` or ``"keras-float"``); it goes into feature cache
    keys, because the two sources give slightly different numbers.
    """

    convs: tuple[ConvWeights, ...]
    dense_weight: np.ndarray  # (521, 1024)
    dense_bias: np.ndarray  # (521,)
    kind: str
    source: str = ""
    notes: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Check that every array has the shape the architecture needs (raises ``ValueError``)."""
        expected = conv_shapes()
        if len(self.convs) != len(expected):
            raise ValueError(f"expected {len(expected)} convs, got {len(self.convs)}")
        for conv, (name, wshape, stride, groups) in zip(self.convs, expected, strict=True):
            if conv.name != name or tuple(conv.weight.shape) != wshape or conv.stride != stride:
                raise ValueError(
                    f"conv {conv.name} {tuple(conv.weight.shape)} stride {conv.stride} does not match "
                    f"{name} {wshape} stride {stride}"
                )
            if conv.groups != groups or tuple(conv.bias.shape) != (wshape[0],):
                raise ValueError(f"conv {name}: bad groups {conv.groups} or bias shape {conv.bias.shape}")
        if self.dense_weight.shape != (P.NUM_CLASSES, P.EMBEDDING_SIZE):
            raise ValueError(f"dense weight has shape {self.dense_weight.shape}")
        if self.dense_bias.shape != (P.NUM_CLASSES,):
            raise ValueError(f"dense bias has shape {self.dense_bias.shape}")
        for arr in (*(c.weight for c in self.convs), *(c.bias for c in self.convs), self.dense_weight):
            if not np.isfinite(arr).all():
                raise ValueError("weights contain NaN or infinite values")


def conv_shapes() -> list[tuple[str, tuple[int, int, int, int], int, int]]:
    """``(name, weight shape, stride, groups)`` of the 27 convs, in order."""
    out: list[tuple[str, tuple[int, int, int, int], int, int]] = []
    channels = 1
    for i, (kind, stride, filters) in enumerate(P.LAYER_DEFS, start=1):
        if kind == "conv":
            out.append((f"layer{i}/conv", (filters, channels, 3, 3), stride, 1))
        else:
            out.append((f"layer{i}/depthwise_conv", (channels, 1, 3, 3), stride, channels))
            out.append((f"layer{i}/pointwise_conv", (filters, channels, 1, 1), 1, 1))
        channels = filters
    return out


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow ``'SAME'`` padding ``(before, after)`` along one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class FusedConv(nn.Module):
    """``relu(conv(pad(x)) + bias)`` with TensorFlow 'SAME' padding."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, groups: int) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        # Stride 1 'SAME' is symmetric, so the conv pads itself; stride 2 pads explicitly (asymmetric).
        pad = (kernel - 1) // 2 if stride == 1 else 0
        self.conv = nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=pad, groups=groups, bias=True)

    def forward(self, x: Tensor) -> Tensor:
        if self.stride != 1:
            ph = same_padding(x.shape[-2], self.kernel, self.stride)
            pw = same_padding(x.shape[-1], self.kernel, self.stride)
            x = nn.functional.pad(x, (pw[0], pw[1], ph[0], ph[1]))
        return torch.relu(self.conv(x))


class YAMNetCNN(nn.Module):
    """Patches ``(n, 96, 64)`` (or ``(n, 1, 96, 64)``) -> ``(embeddings (n, 1024), logits (n, 521))``."""

    def __init__(self, weights: FusedWeights | None = None) -> None:
        super().__init__()
        layers = []
        for _name, (out_ch, in_per_group, k, _), stride, groups in conv_shapes():
            layers.append(FusedConv(in_per_group * groups, out_ch, k, stride, groups))
        self.layers = nn.Sequential(*layers)
        self.dense = nn.Linear(P.EMBEDDING_SIZE, P.NUM_CLASSES)
        self.kind = "uninitialised"
        if weights is not None:
            self.load_fused(weights)

    @torch.no_grad()
    def load_fused(self, weights: FusedWeights) -> None:
        """Copy ``weights`` (validated first) into the modules."""
        weights.validate()
        self.load_convs(weights.convs)
        self.dense.weight.copy_(
            torch.from_numpy(np.ascontiguousarray(weights.dense_weight, dtype=np.float32))
        )
        self.dense.bias.copy_(torch.from_numpy(np.ascontiguousarray(weights.dense_bias, dtype=np.float32)))
        self.kind = weights.kind

    @torch.no_grad()
    def load_convs(self, convs: Sequence[ConvWeights]) -> None:
        """Copy the fused convolutions ``convs`` (one per module of :attr:`layers`) into the modules."""
        for module, conv in zip(self.layers, convs, strict=True):
            module.conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(conv.weight, dtype=np.float32)))
            module.conv.bias.copy_(torch.from_numpy(np.ascontiguousarray(conv.bias, dtype=np.float32)))

    def features(self, patches: Tensor) -> Tensor:
        """Last feature map ``(n, 1024, 3, 2)``."""
        x = patches.unsqueeze(1) if patches.dim() == 3 else patches
        return self.layers(x)

    def forward(self, patches: Tensor) -> tuple[Tensor, Tensor]:
        embeddings = self.features(patches).mean(dim=(-2, -1))
        return embeddings, self.dense(embeddings)
