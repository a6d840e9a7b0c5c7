"""``finetune_yamnet``: YAMNet's network trained end to end on each segment, with an anchored genre head.

Input, not normalised, either of:

* ``yamnet_activations`` ``(patches, 512, 6, 4)``: the feature maps after the frozen layers, cached once
  (:mod:`musicgenre.features.yamnet_activations`, whose ``layer`` must equal ``freeze_layers``). Each epoch
  then runs only the layers above: the study's row, about 20 times cheaper per epoch on a CPU.
* ``yamnet_logmel`` ``(336, 64)``: YAMNet's log-mel, cut into 0.96 s patches (hop 0.48 s) that go through
  all of YAMNet's convolutions (the frozen ones without gradients). Needed to unfreeze other layers without
  a new cache.

The patch embeddings are averaged over the segment, and a linear head gives the genre logits.

* Initialisation (:mod:`musicgenre.training.finetune_fit`): the convolutions from the YAMNet weights that
  the log-mel feature names; the head from YAMNet's AudioSet rows for each genre's classes (as
  ``anchored_yamnet``), so before training the model scores like the anchored head does.
* Freezing: the first ``freeze_layers`` of YAMNet's 14 layers are frozen (run without gradients); the rest
  train with the learning rate times ``backbone_lr``, the head with the full learning rate.
* Regularisation: the head is pulled toward its AudioSet rows (L2-SP, strength ``l2sp``; see
  :meth:`FinetunedYAMNet.penalty`); no weight decay toward zero anywhere.
* Batch norm: YAMNet's batch norms are folded into its convolutions (as in the deployed model), so there
  are no batch statistics to update or freeze: training mode and evaluation mode compute the same function.

The checkpoint holds the whole network (about 3.7 M parameters, 15 MB), so it is self-contained.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from musicgenre.features.yamnet_activations import boundary_shape, modules_of_layers
from musicgenre.models.layers import only_input, parse_options
from musicgenre.models.registry import register_model
from musicgenre.yamnet import params as P
from musicgenre.yamnet.frontend import patches_from_log_mel
from musicgenre.yamnet.network import YAMNetCNN


@dataclass(frozen=True)
class FinetuneOptions:
    """Options of ``finetune_yamnet`` (``classes``/``class_names`` are set by the fit, as for the zero-shot
    model)."""

    classes: tuple[tuple[int, ...], ...] = ()
    class_names: tuple[tuple[str, ...], ...] = ()
    freeze_layers: int = 12
    backbone_lr: float = 0.1
    l2sp: float = 1e-2


class FinetunedYAMNet(nn.Module):
    """``{name: (B, frames, 64)}`` log-mel -> logits ``(B, n_classes)``."""

    def __init__(
        self, input_name: str, n_classes: int, opts: FinetuneOptions, *, from_activations: bool
    ) -> None:
        super().__init__()
        self.from_activations = from_activations
        if not 0 <= opts.freeze_layers <= len(P.LAYER_DEFS):
            raise ValueError(f"freeze_layers must be in 0..{len(P.LAYER_DEFS)}, got {opts.freeze_layers}")
        self.input_name = input_name
        self.opts = opts
        self.cnn = YAMNetCNN()
        del self.cnn.dense  # the AudioSet classifier is not used: the head replaces it
        self.n_frozen = modules_of_layers(opts.freeze_layers)
        for module in list(self.cnn.layers)[: self.n_frozen]:
            module.requires_grad_(False)
        self.head = nn.Linear(P.EMBEDDING_SIZE, n_classes)
        self.register_buffer("anchor_weight", torch.zeros(n_classes, P.EMBEDDING_SIZE))
        self.register_buffer("anchor_bias", torch.zeros(n_classes))

    @torch.no_grad()
    def set_anchor(self, weight: Any, bias: Any) -> None:
        """Set the head's anchor and start the head from it."""
        self.anchor_weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.anchor_bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        self.head.weight.copy_(self.anchor_weight)
        self.head.bias.copy_(self.anchor_bias)

    def embed(self, x: Tensor) -> Tensor:
        """Log-mel ``(B, frames, 64)`` or frozen activations ``(B, P, C, H, W)`` -> the mean patch embedding
        ``(B, 1024)``."""
        layers = list(self.cnn.layers)
        if self.from_activations:
            b, p = x.shape[:2]
            x = x.reshape(b * p, *x.shape[2:])
        else:
            patches = patches_from_log_mel(x)  # (B, P, 96, 64)
            b, p = patches.shape[:2]
            x = patches.reshape(b * p, 1, P.PATCH_FRAMES, P.PATCH_BANDS)
            with torch.no_grad():
                for module in layers[: self.n_frozen]:
                    x = module(x)
        for module in layers[self.n_frozen :]:
            x = module(x)
        return x.mean(dim=(-2, -1)).view(b, p, -1).mean(1)

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        try:
            x = inputs[self.input_name]
        except KeyError:
            raise KeyError(f"model expects input {self.input_name!r}, got {sorted(inputs)}") from None
        return self.head(self.embed(x))

    def penalty(self) -> Tensor:
        """The L2-SP term added to the training loss: ``l2sp / 2 * ||head - anchor||^2``."""
        d = (self.head.weight - self.anchor_weight).pow(2).sum() + (self.head.bias - self.anchor_bias).pow(
            2
        ).sum()
        return 0.5 * self.opts.l2sp * d

    def param_groups(self, weight_decay: float) -> list[dict[str, Any]]:
        """Optimizer groups: the trainable backbone at ``backbone_lr`` times the rate, the head at the full
        rate; no weight decay (the head is regularised toward its anchor by :meth:`penalty` instead)."""
        backbone = [p for p in self.cnn.parameters() if p.requires_grad]
        groups = [{"params": list(self.head.parameters()), "weight_decay": 0.0, "lr_scale": 1.0}]
        if backbone:
            groups.append({"params": backbone, "weight_decay": 0.0, "lr_scale": self.opts.backbone_lr})
        return groups


@register_model(
    "finetune_yamnet",
    description="YAMNet fine-tuned (first layers frozen, their output cached) with an anchored head",
    input_ndim=frozenset({2, 4}),
    trainer="finetune",
)
def build_finetune_yamnet(
    input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any
) -> nn.Module:
    """Builder registered as ``finetune_yamnet``: its input is ``yamnet_activations`` ``(patches, C, H, W)``
    after layer ``freeze_layers``, or ``yamnet_logmel`` ``(frames, 64)``."""
    opts = parse_options(FinetuneOptions, options, "finetune_yamnet")
    name, shape = only_input("finetune_yamnet", input_shapes)
    if len(shape) == 4:
        if tuple(shape[1:]) != boundary_shape(opts.freeze_layers):
            raise ValueError(
                f"finetune_yamnet with freeze_layers={opts.freeze_layers} takes the activations after that "
                f"layer, (*, {boundary_shape(opts.freeze_layers)}); got {shape}"
            )
        return FinetunedYAMNet(name, n_classes, opts, from_activations=True)
    if shape[-1] != P.MEL_BANDS or shape[0] < P.PATCH_FRAMES:
        raise ValueError(
            f"finetune_yamnet takes YAMNet's log-mel (frames >= {P.PATCH_FRAMES}, {P.MEL_BANDS}); got {shape}"
        )
    return FinetunedYAMNet(name, n_classes, opts, from_activations=False)
