"""``combined``: the study's parallel multi-input model, for any subset (1 to 4) of the inputs.

Each input goes through its own sub-model made of parallel branches; every branch ends in a vector; all
vectors are concatenated, batch-normalised (so that branches with different output scales start on an
equal footing) and classified by a dense head (ReLU hidden layer, dropout). Default branches per input:

* rank-2 input (time, features): a **CNN branch and an LSTM branch** in parallel, as in the study. The
  CNN is ``cnn1d``'s trunk when the feature axis is wide (at least ``embedding_min_features`` = 256, i.e.
  a learned embedding such as YAMNet's 1024 dimensions, which have no local order) and ``cnn2d``'s trunk
  otherwise (MFCCs, mel bands: a frequency-like axis with local structure). The LSTM is ``bilstm``'s
  trunk (with its temporal pooling of long inputs).
* rank-1 input of more than ``vector_max_features`` values (the waveform): the ``waveform_cnn`` trunk
  only. An LSTM over 48,000 samples is not trainable on a CPU; the sample-level CNN already aggregates time.
* rank-1 input of at most ``vector_max_features`` (4,096) values, a pooled embedding such as musicnn's
  ``(1506,)``: a ``dense`` branch (linear layer, batch norm, ReLU, dropout). It has no time axis for a CNN
  or an LSTM to read.

The branches are the single models' trunks with their default sizes, so the combined model costs about
the sum of the single models on the same inputs (see ``benchmarks/results/training.md``). Override the
branch kinds per input with ``branches={"mfcc": ["cnn2d"]}`` and the trunk sizes with
``cnn1d={...}``, ``cnn2d={...}``, ``bilstm={...}``, ``waveform_cnn={...}`` (the single models' option
names; their head options are ignored here).

``min_inputs`` is 1: a single input gives a CNN + LSTM hybrid, useful as an ablation. The study's best row,
"Combined (No Spectrograms)", is ``combined`` on ``yamnet_embedding`` + ``mfcc``; the input subset is
always explicit (the feature configs passed to training), never implied by the model name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from musicgenre.models.bilstm import BiLSTMOptions
from musicgenre.models.bilstm import make_trunk as make_lstm_trunk
from musicgenre.models.cnn1d import CNN1dOptions, CNN1dTrunk
from musicgenre.models.cnn2d import CNN2dOptions, CNN2dTrunk
from musicgenre.models.layers import DenseHead, module_key, parse_options
from musicgenre.models.registry import register_model
from musicgenre.models.waveform_cnn import WaveformCNNOptions, WaveformTrunk

#: Branch kinds and the input ranks they accept.
BRANCH_RANKS = {"cnn1d": {2}, "cnn2d": {2}, "bilstm": {2}, "waveform_cnn": {1}, "dense": {1}}


@dataclass(frozen=True)
class DenseOptions:
    """The ``dense`` branch of a pooled vector: ``units`` outputs, ``dropout`` after the activation."""

    units: int = 256
    dropout: float = 0.3


class DenseTrunk(nn.Module):
    """``(B, F)`` -> ``(B, units)``: Linear, BatchNorm, ReLU, Dropout."""

    def __init__(self, n_features: int, opts: DenseOptions) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, opts.units),
            nn.BatchNorm1d(opts.units),
            nn.ReLU(),
            nn.Dropout(opts.dropout),
        )
        self.out_dim = opts.units

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@dataclass(frozen=True)
class CombinedOptions:
    """Options of ``combined``.

    Attributes:
        branches: per input name, the branch kinds to use (``cnn1d``, ``cnn2d``, ``bilstm``,
            ``waveform_cnn``, ``dense``); inputs not listed get the default branches (module docstring).
        embedding_min_features: rank-2 inputs with at least this many features get a ``cnn1d`` branch,
            narrower ones a ``cnn2d`` branch.
        vector_max_features: rank-1 inputs up to this size are pooled vectors (``dense`` branch), longer
            ones waveforms (``waveform_cnn``).
        cnn1d, cnn2d, bilstm, waveform_cnn, dense: option overrides for those trunks.
        hidden: units of the fusion head's hidden ReLU layer (0: linear head).
        dropout: dropout before each head layer.
    """

    branches: dict[str, Any] = field(default_factory=dict)
    embedding_min_features: int = 256
    vector_max_features: int = 4096
    cnn1d: dict[str, Any] = field(default_factory=dict)
    cnn2d: dict[str, Any] = field(default_factory=dict)
    bilstm: dict[str, Any] = field(default_factory=dict)
    waveform_cnn: dict[str, Any] = field(default_factory=dict)
    dense: dict[str, Any] = field(default_factory=dict)
    hidden: int = 256
    dropout: float = 0.3


def default_branches(
    shape: tuple[int, ...], embedding_min_features: int = 256, vector_max_features: int = 4096
) -> tuple[str, ...]:
    """The branch kinds ``combined`` uses for an input of ``shape`` by default."""
    if len(shape) == 1:
        return ("dense",) if shape[0] <= vector_max_features else ("waveform_cnn",)
    if len(shape) == 2:
        cnn = "cnn1d" if shape[1] >= embedding_min_features else "cnn2d"
        return (cnn, "bilstm")
    raise ValueError(f"combined: no default branches for rank-{len(shape)} inputs")


class CombinedModel(nn.Module):
    """Parallel branches per input -> concatenation -> batch norm -> dense head."""

    def __init__(self, input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, opts: CombinedOptions):
        super().__init__()
        unknown = sorted(set(opts.branches) - set(input_shapes))
        if unknown:
            raise ValueError(f"combined: 'branches' names inputs {unknown} that the model does not take")
        sub = {
            "cnn1d": parse_options(CNN1dOptions, opts.cnn1d, "combined/cnn1d"),
            "cnn2d": parse_options(CNN2dOptions, opts.cnn2d, "combined/cnn2d"),
            "bilstm": parse_options(BiLSTMOptions, opts.bilstm, "combined/bilstm"),
            "waveform_cnn": parse_options(WaveformCNNOptions, opts.waveform_cnn, "combined/waveform_cnn"),
            "dense": parse_options(DenseOptions, opts.dense, "combined/dense"),
        }
        self.input_names = list(input_shapes)
        self.routes: list[tuple[str, str]] = []  # (module key, input name)
        self.branches = nn.ModuleDict()
        for name, raw_shape in input_shapes.items():
            shape = tuple(int(s) for s in raw_shape)
            kinds = opts.branches.get(name) or default_branches(
                shape, opts.embedding_min_features, opts.vector_max_features
            )
            if isinstance(kinds, str):
                kinds = (kinds,)
            for kind in kinds:
                if kind not in BRANCH_RANKS:
                    raise ValueError(f"combined: unknown branch kind {kind!r}; known: {sorted(BRANCH_RANKS)}")
                if len(shape) not in BRANCH_RANKS[kind]:
                    raise ValueError(
                        f"combined: branch {kind!r} does not take input {name!r} of shape {shape}"
                    )
                key = f"{module_key(name)}__{kind}"
                if key in self.branches:
                    raise ValueError(f"combined: branch {kind!r} listed twice for input {name!r}")
                self.branches[key] = _make_trunk(kind, shape, sub[kind])
                self.routes.append((key, name))
        total = sum(b.out_dim for b in self.branches.values())
        self.fusion_norm = nn.BatchNorm1d(total)
        self.head = DenseHead(total, n_classes, opts.hidden, opts.dropout)
        self.out_dims = {key: self.branches[key].out_dim for key, _ in self.routes}

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise KeyError(f"combined model expects inputs {self.input_names}, missing {missing}")
        feats = [self.branches[key](inputs[name]) for key, name in self.routes]
        return self.head(self.fusion_norm(torch.cat(feats, dim=1)))


def _make_trunk(kind: str, shape: tuple[int, ...], opts: Any) -> nn.Module:
    if kind == "cnn1d":
        return CNN1dTrunk(shape, opts)  # type: ignore[arg-type]
    if kind == "cnn2d":
        return CNN2dTrunk(shape, opts)  # type: ignore[arg-type]
    if kind == "bilstm":
        return make_lstm_trunk(shape, opts)  # type: ignore[arg-type]
    if kind == "dense":
        return DenseTrunk(shape[0], opts)
    return WaveformTrunk(shape[0], opts)


@register_model(
    "combined",
    description="parallel multi-input model: per input CNN + LSTM branches (waveform: CNN; pooled vector: "
    "dense), concatenated",
    min_inputs=1,
    max_inputs=4,
    input_ndim=frozenset({1, 2}),
)
def build_combined(input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any) -> nn.Module:
    """Builder registered as ``combined``."""
    opts = parse_options(CombinedOptions, options, "combined")
    branches = {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in dict(opts.branches).items()}
    opts = CombinedOptions(**{**opts.__dict__, "branches": branches})
    return CombinedModel({k: tuple(v) for k, v in input_shapes.items()}, n_classes, opts)
