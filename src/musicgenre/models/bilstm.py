"""``bilstm``: the study's recurrent model on any (time, features) input.

Two bidirectional LSTM layers, each followed by dropout and batch norm, then a ReLU dense layer and the
output layer (softmax is applied by the loss and at prediction time), as in the study. See
:class:`~musicgenre.models.layers.BiLSTMTrunk` for the details, including the one addition: sequences
longer than ``max_steps`` (128) are average-pooled over time first. That touches only the 336-frame
log-mel spectrogram (pooled by 3 to 112 steps of 30 ms); MFCCs (94 frames) and embeddings (6 frames) run
unpooled. Without it the spectrogram BiLSTM is ~4x slower per epoch than with it and dominates the grid
(``benchmarks/results/training.md``: ``max_steps=0`` row); set ``max_steps=0`` for the study's exact layout.

Hidden size 64 per direction: LSTM cost grows with hidden^2 and, being sequential, gains almost nothing
from a second CPU thread; 128 units per direction take ~3x longer per epoch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from musicgenre.models.layers import (
    BiLSTMTrunk,
    DenseHead,
    SingleInputClassifier,
    only_input,
    parse_options,
)
from musicgenre.models.registry import register_model


@dataclass(frozen=True)
class BiLSTMOptions:
    """Options of ``bilstm`` (also the LSTM branch of ``combined``).

    Attributes:
        hidden: LSTM units per direction.
        layers: stacked bidirectional layers (the study: 2).
        dropout: dropout after each LSTM layer (before its batch norm).
        max_steps: average-pool time to at most this many steps first (0: never).
        pooling: ``"last"`` (final states, the study's) or ``"mean"`` (mean over time) of the last layer.
        dense: units of the ReLU dense layer (0: none).
        head_dropout: dropout before the head's layers.
    """

    hidden: int = 64
    layers: int = 2
    dropout: float = 0.3
    max_steps: int = 128
    pooling: str = "last"
    dense: int = 64
    head_dropout: float = 0.3


def make_trunk(shape: tuple[int, int], opts: BiLSTMOptions) -> BiLSTMTrunk:
    """The recurrent trunk for ``shape`` with ``opts``."""
    return BiLSTMTrunk(
        shape,
        hidden=opts.hidden,
        layers=opts.layers,
        dropout=opts.dropout,
        max_steps=opts.max_steps,
        pooling=opts.pooling,
    )


@register_model(
    "bilstm",
    description="2-layer bidirectional LSTM with dropout + batch norm (the study's), long inputs pooled",
    input_ndim=frozenset({2}),
)
def build_bilstm(input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any) -> nn.Module:
    """Builder registered as ``bilstm``."""
    opts = parse_options(BiLSTMOptions, options, "bilstm")
    name, shape = only_input("bilstm", input_shapes)
    trunk = make_trunk(shape, opts)  # type: ignore[arg-type]
    head = DenseHead(trunk.out_dim, n_classes, opts.dense, opts.head_dropout)
    return SingleInputClassifier(name, trunk, head)
