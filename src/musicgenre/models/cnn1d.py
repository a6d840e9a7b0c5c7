"""``cnn1d``: a 1-D CNN over the time axis of a (time, features) input; the features are its channels.

Made for the YAMNet embedding sequence ``(6, 1024)`` (six 0.96 s frames of 1024 unordered dimensions, so
there is no local structure along the feature axis for a 2-D kernel to exploit), and accepts any rank-2
input, e.g. MFCCs ``(94, 20)`` or a log-mel ``(336, 64)``.

Layout: for each of ``widths`` (128, 128), a ``kernel_size``-wide conv -> batch norm -> ReLU, with 2x max
pooling over time between blocks (skipped once the sequence is shorter than 2); then global average + max
pooling over time and a dense head. On ``(6, 1024)`` that is 6 -> 3 frames, ~0.5 M parameters (most of
them in the first conv's 1024 input channels) and ~2.5 M multiply-adds per segment, the cheapest of the
trained models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import Tensor, nn

from musicgenre.models.layers import (
    ConvBNReLU1d,
    DenseHead,
    GlobalAvgMaxPool,
    SingleInputClassifier,
    only_input,
    parse_options,
    pool_size,
    pooled_length,
)
from musicgenre.models.registry import register_model


@dataclass(frozen=True)
class CNN1dOptions:
    """Options of ``cnn1d`` (also the CNN branch of ``combined`` for embedding-like inputs).

    Attributes:
        widths: channels of the conv blocks.
        kernel_size: temporal kernel width (odd).
        hidden: units of the head's hidden ReLU layer (0: linear head).
        dropout: dropout before each head layer.
    """

    widths: tuple[int, ...] = (128, 128)
    kernel_size: int = 3
    hidden: int = 128
    dropout: float = 0.3


class CNN1dTrunk(nn.Module):
    """``(B, T, C)`` -> ``(B, 2 * widths[-1])``."""

    def __init__(self, shape: tuple[int, int], opts: CNN1dOptions) -> None:
        super().__init__()
        if not opts.widths:
            raise ValueError("cnn1d needs at least one conv width")
        if opts.kernel_size < 1 or opts.kernel_size % 2 == 0:
            raise ValueError(f"cnn1d kernel_size must be odd and positive, got {opts.kernel_size}")
        t, c_in = shape
        layers: list[nn.Module] = []
        for i, w in enumerate(opts.widths):
            pool = pool_size(t) if i < len(opts.widths) - 1 else 1
            layers.append(ConvBNReLU1d(c_in, w, opts.kernel_size, pool=pool))
            c_in, t = w, pooled_length(t, pool)
        self.features = nn.Sequential(*layers)
        self.pool = GlobalAvgMaxPool((2,))
        self.out_steps = t
        self.out_dim = 2 * c_in

    def forward(self, x: Tensor) -> Tensor:
        return self.pool(self.features(x.transpose(1, 2)))


@register_model(
    "cnn1d",
    description="1-D CNN over time with the features as channels (made for YAMNet embeddings)",
    input_ndim=frozenset({2}),
)
def build_cnn1d(input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any) -> nn.Module:
    """Builder registered as ``cnn1d``."""
    opts = parse_options(CNN1dOptions, options, "cnn1d")
    name, shape = only_input("cnn1d", input_shapes)
    trunk = CNN1dTrunk(shape, opts)  # type: ignore[arg-type]
    return SingleInputClassifier(name, trunk, DenseHead(trunk.out_dim, n_classes, opts.hidden, opts.dropout))
