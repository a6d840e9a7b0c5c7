"""``waveform_cnn``: a sample-level 1-D CNN on the raw waveform ``(48000,)``, sized to train on a CPU.

In the spirit of Lee et al. (2017), "Sample-level deep convolutional neural networks for music
auto-tagging using raw waveforms": tiny filters (a few samples) stacked deep, each layer downsampling by
3, no spectrogram front end. Two changes make it fast on a CPU:

* **Non-overlapping strided convolutions** (kernel = stride = 3) instead of Lee's stride-1 conv followed by
  3x max pooling. The conv then computes one output per 3 inputs instead of 3, and the full-resolution
  activations before each pooling never exist. (The SampleCNN paper's own comparison found strided
  sub-sampling only slightly behind max pooling.)
* **A 9-sample first layer** (0.56 ms at 16 kHz, two of Lee's 3-sample layers fused into one linear
  filter bank of ``front_width`` filters), so the network starts at 5,334 frames instead of 16,000.

Every strided layer is written as reshape + ``Linear`` on channels-last tensors
(:class:`~musicgenre.models.layers.StridedLinear1d`): the same function as ``Conv1d(k, stride=k)`` but
~2x faster on a CPU, because oneDNN's convolution weight gradient is slow for long sequences with few
channels, which is exactly the start of a waveform network.

Layout for 48,000 samples: frames of 9 -> 5,334 x 32, then 7 strided blocks (32, 64, 64, 128, 128, 256,
256 channels) -> 1,778, 593, 198, 66, 22, 8, 3 frames; each block's receptive field grows 3x (the last
covers 19,683 samples, 1.23 s); global average + max pooling; dense head. The end of the signal is
zero-padded to a multiple of each stride, so no sample is dropped. ~0.4 M parameters and ~15 M
multiply-adds per segment; measured epoch times are in ``benchmarks/results/training.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from musicgenre.models.layers import (
    DenseHead,
    SingleInputClassifier,
    StridedLinear1d,
    only_input,
    parse_options,
    pooled_length,
)
from musicgenre.models.registry import register_model


@dataclass(frozen=True)
class WaveformCNNOptions:
    """Options of ``waveform_cnn`` (also the waveform branch of ``combined``).

    Attributes:
        frame: samples per first-layer frame (its kernel and stride).
        front_width: filters of the first layer.
        widths: channels of the strided blocks that follow.
        stride: kernel and stride of those blocks.
        hidden: units of the head's hidden ReLU layer (0: linear head).
        dropout: dropout before each head layer.
    """

    frame: int = 9
    front_width: int = 32
    widths: tuple[int, ...] = (32, 64, 64, 128, 128, 256, 256)
    stride: int = 3
    hidden: int = 128
    dropout: float = 0.3


class WaveformTrunk(nn.Module):
    """``(B, N)`` samples -> ``(B, 2 * widths[-1])``."""

    def __init__(self, n_samples: int, opts: WaveformCNNOptions) -> None:
        super().__init__()
        if opts.frame < 1 or opts.stride < 2:
            raise ValueError("waveform_cnn needs frame >= 1 and stride >= 2")
        layers = [StridedLinear1d(1, opts.front_width, opts.frame)]
        length = pooled_length(n_samples, opts.frame)
        c_in = opts.front_width
        lengths = [length]
        for w in opts.widths:
            layers.append(StridedLinear1d(c_in, w, opts.stride))
            c_in, length = w, pooled_length(length, opts.stride)
            lengths.append(length)
        self.blocks = nn.Sequential(*layers)
        self.lengths = tuple(lengths)
        self.out_dim = 2 * c_in

    def forward(self, x: Tensor) -> Tensor:
        h = self.blocks(x.unsqueeze(-1))  # (B, L, C): channels-last throughout
        return torch.cat([h.mean(dim=1), h.amax(dim=1)], dim=1)


@register_model(
    "waveform_cnn",
    description="sample-level strided 1-D CNN on the raw waveform (Lee et al. 2017 style, CPU-sized)",
    input_ndim=frozenset({1}),
)
def build_waveform_cnn(
    input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any
) -> nn.Module:
    """Builder registered as ``waveform_cnn``."""
    opts = parse_options(WaveformCNNOptions, options, "waveform_cnn")
    name, shape = only_input("waveform_cnn", input_shapes)
    (n_samples,) = shape
    trunk = WaveformTrunk(n_samples, opts)
    return SingleInputClassifier(name, trunk, DenseHead(trunk.out_dim, n_classes, opts.hidden, opts.dropout))
