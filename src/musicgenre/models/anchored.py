"""``anchored_yamnet``: a linear genre head on YAMNet's embedding, anchored to YAMNet's own genre classes.

The head starts as the zero-shot model's knowledge: its weights and bias for each genre are the rows of
YAMNet's AudioSet classifier for that genre's classes (the mean of the rows when a genre maps to several
classes; see :data:`~musicgenre.models.zeroshot.YAMNET_GENRE_CLASSES`). It is then trained with an L2 pull
toward those rows (L2-SP, Li et al. 2018), not toward zero, so that a few artists per genre cannot pull it
far from what the backbone learned on AudioSet. The strength is chosen on the validation tracks
(:mod:`musicgenre.training.anchored_fit`).

Input: the raw (not normalised) ``yamnet_embedding`` ``(patches, 1024)`` of a segment, mean-pooled over
its patches; since the head is linear, its logits are the mean of the per-patch logits. The anchor rows are
kept as buffers, so a checkpoint says where the head started.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from musicgenre.models.layers import only_input, parse_options
from musicgenre.models.registry import register_model
from musicgenre.yamnet import params as P


@dataclass(frozen=True)
class AnchoredOptions:
    """``classes``/``class_names``: each genre's AudioSet classes (set by the fit, as for the zero-shot
    model); ``l2sp``: the strength of the pull toward the anchor that the fit chose (for the record)."""

    classes: tuple[tuple[int, ...], ...] = ()
    class_names: tuple[tuple[str, ...], ...] = ()
    l2sp: float | None = None


class AnchoredHead(nn.Module):
    """``{name: (B, patches, 1024)}`` -> logits ``(B, n_classes)`` = Linear(mean over patches)."""

    def __init__(self, input_name: str, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.input_name = input_name
        self.linear = nn.Linear(n_features, n_classes)
        self.register_buffer("anchor_weight", torch.zeros(n_classes, n_features))
        self.register_buffer("anchor_bias", torch.zeros(n_classes))

    @torch.no_grad()
    def set_anchor(self, weight: Any, bias: Any) -> None:
        """Set the anchor ``(n_classes, F)``/``(n_classes,)`` and start the head from it."""
        self.anchor_weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.anchor_bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        self.linear.weight.copy_(self.anchor_weight)
        self.linear.bias.copy_(self.anchor_bias)

    @staticmethod
    def pool(x: Tensor) -> Tensor:
        """``(B, patches, F)`` -> ``(B, F)``: the mean over patches."""
        return x.mean(dim=1)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        try:
            x = inputs[self.input_name]
        except KeyError:
            raise KeyError(f"model expects input {self.input_name!r}, got {sorted(inputs)}") from None
        return self.linear(self.pool(x))


def anchor_rows(
    dense_weight: Any, dense_bias: Any, classes: tuple[tuple[int, ...], ...] | list[list[int]]
) -> tuple[Tensor, Tensor]:
    """The anchor of each genre: the mean of its classes' rows of YAMNet's dense layer (and biases)."""
    w = torch.as_tensor(dense_weight, dtype=torch.float32)
    b = torch.as_tensor(dense_bias, dtype=torch.float32)
    rows = [w[list(c)].mean(0) for c in classes]
    biases = [b[list(c)].mean() for c in classes]
    return torch.stack(rows), torch.stack(biases)


@register_model(
    "anchored_yamnet",
    description="linear head on YAMNet embeddings, started from and pulled toward (L2-SP) YAMNet's genre rows",
    input_ndim=frozenset({2}),
    trainer="anchored",
)
def build_anchored_yamnet(
    input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any
) -> nn.Module:
    """Builder registered as ``anchored_yamnet``; its input is ``yamnet_embedding`` ``(patches, 1024)``."""
    opts = parse_options(AnchoredOptions, options, "anchored_yamnet")
    name, shape = only_input("anchored_yamnet", input_shapes)
    if shape[-1] != P.EMBEDDING_SIZE:
        raise ValueError(f"anchored_yamnet takes YAMNet embeddings (*, {P.EMBEDDING_SIZE}); got {shape}")
    if opts.classes and len(opts.classes) != n_classes:
        raise ValueError(f"anchored_yamnet: {len(opts.classes)} class lists for {n_classes} genres")
    return AnchoredHead(name, shape[-1], n_classes)
