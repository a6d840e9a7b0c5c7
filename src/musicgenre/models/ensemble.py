"""``ensemble``: the average of the temperature-calibrated probabilities of finished models.

Each member is a finished model of the same split (any registered kind, with its own inputs and its own
input normalisation). Its logits are divided by its temperature, chosen on the validation tracks
(:mod:`musicgenre.training.ensemble_fit`), and the members' softmax probabilities are averaged with equal
weights. The model's "logits" are the logs of that average, so its probabilities are the average itself.

The checkpoint is self-contained: the options list each member's model kind, inputs, options and
normalisation shapes, and the state dict holds every member's weights, normalisation statistics and
temperature. The ensemble's own inputs (the union of its members') are not normalised.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from musicgenre.models.layers import module_key, parse_options
from musicgenre.models.registry import build_model, register_model


@dataclass(frozen=True)
class EnsembleOptions:
    """``members``: one dict per member with ``model``, ``inputs`` (names), ``options`` (its builder's)
    and ``norm_shapes`` (``{input: shape of its mean/std}``, only for normalised inputs)."""

    members: tuple[dict[str, Any], ...] = ()


class _Member(nn.Module):
    """One member: its input normalisation (buffers) then its model."""

    def __init__(self, model: nn.Module, inputs: Sequence[str], norm_shapes: Mapping[str, Sequence[int]]):
        super().__init__()
        self.model = model
        self.inputs = list(inputs)
        self.norm_keys = {name: module_key(name) for name in norm_shapes}
        for name, shape in norm_shapes.items():
            key = self.norm_keys[name]
            self.register_buffer(f"{key}_mean", torch.zeros(tuple(shape)))
            self.register_buffer(f"{key}_std", torch.ones(tuple(shape)))

    @torch.no_grad()
    def set_normalisation(self, normalisation: Mapping[str, Mapping[str, Tensor]]) -> None:
        for name, key in self.norm_keys.items():
            getattr(self, f"{key}_mean").copy_(normalisation[name]["mean"])
            getattr(self, f"{key}_std").copy_(normalisation[name]["std"])

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        x = {}
        for name in self.inputs:
            key = self.norm_keys.get(name)
            v = inputs[name]
            x[name] = v if key is None else (v - getattr(self, f"{key}_mean")) / getattr(self, f"{key}_std")
        return self.model(x)


class EnsembleModel(nn.Module):
    """``{name: tensor}`` -> ``log(mean_i softmax(member_i / T_i))``."""

    def __init__(self, input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, opts: EnsembleOptions):
        super().__init__()
        if len(opts.members) < 2:
            raise ValueError("ensemble: needs at least two members (set by the ensemble fit)")
        self.members = nn.ModuleList()
        for spec in opts.members:
            names = list(spec["inputs"])
            missing = [n for n in names if n not in input_shapes]
            if missing:
                raise ValueError(f"ensemble: member {spec['model']!r} needs inputs {missing}")
            model = build_model(
                spec["model"], {n: input_shapes[n] for n in names}, n_classes, **dict(spec.get("options", {}))
            )
            self.members.append(_Member(model, names, spec.get("norm_shapes", {})))
        self.register_buffer("temperature", torch.ones(len(opts.members)))

    def member_logits(self, inputs: Mapping[str, Tensor]) -> list[Tensor]:
        """Each member's uncalibrated logits ``(B, n_classes)``."""
        return [m(inputs) for m in self.members]

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        probs = [
            torch.softmax(z / t, dim=1)
            for z, t in zip(self.member_logits(inputs), self.temperature, strict=True)
        ]
        return torch.log(torch.stack(probs).mean(0).clamp_min(1e-12))


@register_model(
    "ensemble",
    description="average of the temperature-calibrated probabilities of finished rows (set by `study`)",
    min_inputs=1,
    max_inputs=8,
    trainer="ensemble",
)
def build_ensemble(input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any) -> nn.Module:
    """Builder registered as ``ensemble``."""
    opts = parse_options(EnsembleOptions, options, "ensemble")
    return EnsembleModel({k: tuple(v) for k, v in input_shapes.items()}, n_classes, opts)
