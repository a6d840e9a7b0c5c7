"""``cnn2d``: a 2-D CNN over (time, features) inputs such as MFCCs ``(94, 20)`` or a log-mel ``(336, 64)``.

The input is treated as a one-channel image. Design, sized from the input shape:

* **Strided stem** for large inputs: while the grid has more than ``max_cells`` cells (default 2048, about
  the MFCC's 94 x 20), a stride-2 3x3 conv block (``stem_width`` channels) halves both axes. The log-mel
  spectrogram (21,504 cells) gets two stem blocks and reaches the main blocks at 84 x 16; MFCCs get none.
  Why: a full-resolution first block with max pooling (the textbook VGG block) spends ~13 of its
  ~20 CPU-seconds per 1000 training segments in that single layer on the spectrogram (oneDNN's weight
  gradient for a one-channel input, plus batch norm and ReLU over 21,504 x 16 activations); a stride-2
  first conv does the same downsampling ~10x cheaper.
* **Main blocks**: for each of ``widths`` (32, 64, 128, 256), 3x3 conv -> batch norm -> ReLU -> 2x2 max
  pool (an axis shorter than 2 is not pooled).
* **Global average + max pooling** over time and features, then a dense head (ReLU hidden layer, dropout).

It is the bigger of the two CNNs: 4-6 conv layers and ~0.5 M parameters against ``cnn1d``'s two, and
~10x its compute per segment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from musicgenre.models.layers import (
    ConvBNReLU2d,
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
class CNN2dOptions:
    """Options of ``cnn2d`` (also the CNN branch of ``combined`` for spectrogram-like inputs).

    Attributes:
        widths: channels of the main conv blocks (each followed by 2x2 max pooling).
        stem_width: channels of the stride-2 stem blocks used for large inputs.
        max_cells: add stem blocks until time x features is at most this.
        hidden: units of the head's hidden ReLU layer (0: linear head).
        dropout: dropout before each head layer.
        channels_last: run the convolutions in channels-last memory format (faster with oneDNN on CPU).
            The input is made channels-last, but with its single channel that layout is ambiguous and
            oneDNN keeps the whole trunk channels-first unless the weights are channels-last as well;
            :func:`channels_last_weights` does that for bfloat16 training (float32 runs keep their
            earlier numbers).
    """

    widths: tuple[int, ...] = (32, 64, 128, 256)
    stem_width: int = 16
    max_cells: int = 2048
    hidden: int = 256
    dropout: float = 0.3
    channels_last: bool = True


class CNN2dTrunk(nn.Module):
    """``(B, T, F)`` -> ``(B, 2 * widths[-1])``; see the module docstring for the layout."""

    def __init__(self, shape: tuple[int, int], opts: CNN2dOptions) -> None:
        super().__init__()
        if not opts.widths:
            raise ValueError("cnn2d needs at least one conv width")
        t, f = shape
        layers: list[nn.Module] = []
        c_in = 1
        while t * f > opts.max_cells and (t > 1 or f > 1):
            stride = (pool_size(t), pool_size(f))
            layers.append(ConvBNReLU2d(c_in, opts.stem_width, stride=stride))
            c_in = opts.stem_width
            t, f = pooled_length(t, stride[0]), pooled_length(f, stride[1])
        self.n_stem = len(layers)
        for w in opts.widths:
            pool = (pool_size(t), pool_size(f))
            layers.append(ConvBNReLU2d(c_in, w, pool=pool))
            c_in = w
            t, f = pooled_length(t, pool[0]), pooled_length(f, pool[1])
        self.features = nn.Sequential(*layers)
        self.pool = GlobalAvgMaxPool((2, 3))
        self.channels_last = opts.channels_last
        self.out_grid = (t, f)
        self.out_dim = 2 * c_in

    def forward(self, x: Tensor) -> Tensor:
        x = x.unsqueeze(1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.pool(self.features(x))


def channels_last_weights(model: nn.Module) -> nn.Module:
    """Put the convolution weights of ``model``'s 2-D CNN trunks (those with ``channels_last``) in
    channels-last memory format, so that oneDNN runs them, their batch norms and max pooling
    channels-last (the pooling's channels-first CPU kernel is ~10x slower). Same values, other strides;
    the results change by rounding only, so it is done for bfloat16 training (measured on AMD EPYC, 1
    thread: cnn_mfcc 2.04 -> 1.33 s per 1000 training segments, cnn_spectrogram 2.37 -> 1.66)."""
    for module in model.modules():
        if isinstance(module, CNN2dTrunk) and module.channels_last:
            module.features.to(memory_format=torch.channels_last)
    return model


@register_model(
    "cnn2d",
    description="2-D CNN over (time, features): conv/BN/ReLU/max-pool blocks, strided stem for large inputs",
    input_ndim=frozenset({2}),
)
def build_cnn2d(input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any) -> nn.Module:
    """Builder registered as ``cnn2d``."""
    opts = parse_options(CNN2dOptions, options, "cnn2d")
    name, shape = only_input("cnn2d", input_shapes)
    trunk = CNN2dTrunk(shape, opts)  # type: ignore[arg-type]
    return SingleInputClassifier(name, trunk, DenseHead(trunk.out_dim, n_classes, opts.hidden, opts.dropout))
