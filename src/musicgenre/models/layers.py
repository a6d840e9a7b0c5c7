"""Building blocks shared by the genre models.

Every model is a *trunk* (one input ``(B, *shape)`` -> one vector ``(B, trunk.out_dim)``) followed by a
dense head. Single-input models wrap one trunk (:class:`SingleInputClassifier`); the combined model
concatenates several trunks. Trunks are plain ``nn.Module`` subclasses with an ``out_dim`` attribute.

Model options: each builder accepts keyword options (widths, dropout, ...) described by a frozen dataclass;
:func:`parse_options` turns the keyword dict (which may come back from JSON or a checkpoint with lists in
place of tuples) into that dataclass and rejects unknown keys with a message that lists the known ones.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import fields
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

T = TypeVar("T")


def parse_options(cls: type[T], options: Mapping[str, Any], model: str) -> T:
    """Build options dataclass ``cls`` from keyword ``options``; lists become tuples; unknown keys fail."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(options) - known)
    if unknown:
        raise ValueError(f"model {model!r} has no option(s) {unknown}; options: {sorted(known)}")
    clean = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return cls(**clean)


def module_key(input_name: str) -> str:
    """A ``ModuleDict``-safe key for an input name (no dots)."""
    return input_name.replace(".", "_")


def pool_size(length: int, factor: int = 2) -> int:
    """``factor`` when an axis of ``length`` can be pooled by it, else 1 (never pool an axis to nothing)."""
    return factor if length >= factor else 1


def pooled_length(length: int, factor: int) -> int:
    """Length after ceil-mode pooling/striding by ``factor``."""
    return -(-length // factor)


class GlobalAvgMaxPool(nn.Module):
    """Concatenate the mean and the max over ``dims`` (``(B, C, ...)`` -> ``(B, 2C)``)."""

    def __init__(self, dims: tuple[int, ...]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([x.mean(dim=self.dims), x.amax(dim=self.dims)], dim=1)


class DenseHead(nn.Sequential):
    """Dropout -> Linear(in, hidden) -> ReLU -> Dropout -> Linear(hidden, n_classes); ``hidden=0``: one Linear."""

    def __init__(self, in_dim: int, n_classes: int, hidden: int, dropout: float) -> None:
        layers: list[nn.Module] = [nn.Dropout(dropout)]
        if hidden > 0:
            layers += [nn.Linear(in_dim, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout)]
            in_dim = hidden
        layers.append(nn.Linear(in_dim, n_classes))
        super().__init__(*layers)


class ConvBNReLU2d(nn.Sequential):
    """3x3 convolution (no bias) -> batch norm -> ReLU, optionally strided, optionally max-pooled after."""

    def __init__(
        self, c_in: int, c_out: int, stride: tuple[int, int] = (1, 1), pool: tuple[int, int] = (1, 1)
    ) -> None:
        layers: list[nn.Module] = [
            nn.Conv2d(c_in, c_out, kernel_size=3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        ]
        if pool != (1, 1):
            layers.append(nn.MaxPool2d(pool, ceil_mode=True))
        super().__init__(*layers)


class ConvBNReLU1d(nn.Sequential):
    """1-D convolution ('same' padding, no bias) -> batch norm -> ReLU, optionally max-pooled after."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int = 3, pool: int = 1) -> None:
        layers: list[nn.Module] = [
            nn.Conv1d(c_in, c_out, kernel_size, padding=kernel_size // 2, bias=False),
            nn.BatchNorm1d(c_out),
            nn.ReLU(inplace=True),
        ]
        if pool > 1:
            layers.append(nn.MaxPool1d(pool, ceil_mode=True))
        super().__init__(*layers)


class StridedLinear1d(nn.Module):
    """A non-overlapping strided 1-D convolution (kernel = stride = ``k``) on channels-last input.

    ``(B, L, C_in)`` -> ``(B, ceil(L / k), C_out)``: the end is zero-padded to a multiple of ``k``, each run
    of ``k`` frames is flattened and projected by one ``Linear``, then batch norm and ReLU. Mathematically
    this is ``Conv1d(C_in, C_out, k, stride=k)``; written as a reshape plus one matrix product it runs about
    twice as fast on a CPU as oneDNN's convolution, whose weight-gradient kernel is slow for the few input
    channels and very long sequences at the start of a waveform network (measured in
    ``benchmarks/bench_training.py``).
    """

    def __init__(self, c_in: int, c_out: int, k: int) -> None:
        super().__init__()
        self.k = k
        self.linear = nn.Linear(c_in * k, c_out, bias=False)
        self.norm = nn.BatchNorm1d(c_out)

    def forward(self, x: Tensor) -> Tensor:
        b, length, c = x.shape
        pad = (-length) % self.k
        if pad:
            x = F.pad(x, (0, 0, 0, pad))
        x = x.reshape(b, (length + pad) // self.k, c * self.k)
        y = self.linear(x)
        y = self.norm(y.reshape(-1, y.shape[-1])).reshape(y.shape)
        return F.relu(y, inplace=True)


class BiLSTMTrunk(nn.Module):
    """The study's recurrent trunk: stacked bidirectional LSTMs, each followed by dropout and batch norm.

    Input ``(B, T, F)`` (time, features). Output ``(B, 2 * hidden)``: with ``pooling="last"`` the final
    hidden states of the last layer's forward and backward directions (what Keras' ``Bidirectional(LSTM)``
    without ``return_sequences`` returns, as in the study); with ``"mean"`` the mean over time of the last
    layer's outputs.

    Long sequences are average-pooled over time first, to at most ``max_steps`` steps. An LSTM is sequential
    in time, so its cost grows with the number of steps and barely parallelises over CPU threads: on the
    study's 336-frame log-mel spectrogram (10 ms hop) a 2-layer BiLSTM takes ~4x longer per epoch than on
    the 112 steps left after pooling by 3 (30 ms hop, still finer than the MFCC's 32 ms hop, which the
    study fed unpooled). ``max_steps=0`` disables the pooling.
    """

    def __init__(
        self,
        shape: tuple[int, int],
        hidden: int = 64,
        layers: int = 2,
        dropout: float = 0.3,
        max_steps: int = 128,
        pooling: str = "last",
    ) -> None:
        super().__init__()
        if pooling not in ("last", "mean"):
            raise ValueError(f"pooling must be 'last' or 'mean', got {pooling!r}")
        if layers < 1 or hidden < 1:
            raise ValueError("bilstm needs layers >= 1 and hidden >= 1")
        steps, n_features = shape
        self.time_pool = math.ceil(steps / max_steps) if max_steps and steps > max_steps else 1
        self.steps = pooled_length(steps, self.time_pool)
        self.pooling = pooling
        self.lstms = nn.ModuleList()
        self.drops = nn.ModuleList()
        self.norms = nn.ModuleList()
        size = n_features
        for _ in range(layers):
            self.lstms.append(nn.LSTM(size, hidden, batch_first=True, bidirectional=True))
            self.drops.append(nn.Dropout(dropout))
            self.norms.append(nn.BatchNorm1d(2 * hidden))
            size = 2 * hidden
        self.out_dim = 2 * hidden

    def forward(self, x: Tensor) -> Tensor:
        if self.time_pool > 1:
            x = F.avg_pool1d(x.transpose(1, 2), self.time_pool, self.time_pool, ceil_mode=True)
            x = x.transpose(1, 2)
        n = len(self.lstms)
        for i, (lstm, drop, norm) in enumerate(zip(self.lstms, self.drops, self.norms, strict=True)):
            out, (h, _) = lstm(x)
            if i == n - 1:
                z = torch.cat([h[0], h[1]], dim=1) if self.pooling == "last" else out.mean(dim=1)
                return norm(drop(z))
            x = norm(drop(out).transpose(1, 2)).transpose(1, 2)
        raise AssertionError("unreachable")  # pragma: no cover


class SingleInputClassifier(nn.Module):
    """One named input through a trunk and a dense head: ``forward({name: x}) -> logits (B, n_classes)``."""

    def __init__(self, input_name: str, trunk: nn.Module, head: nn.Module) -> None:
        super().__init__()
        self.input_name = input_name
        self.trunk = trunk
        self.head = head

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        try:
            x = inputs[self.input_name]
        except KeyError:
            raise KeyError(f"model expects input {self.input_name!r}, got {sorted(inputs)}") from None
        return self.head(self.trunk(x))


def only_input(model: str, input_shapes: Mapping[str, Sequence[int]]) -> tuple[str, tuple[int, ...]]:
    """The single (name, shape) of a single-input model."""
    if len(input_shapes) != 1:
        raise ValueError(f"model {model!r} takes exactly one input, got {list(input_shapes)}")
    name, shape = next(iter(input_shapes.items()))
    return name, tuple(int(s) for s in shape)
