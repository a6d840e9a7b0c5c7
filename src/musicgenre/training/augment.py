"""Training-time augmentation of cached inputs (opt-in, seeded, recorded in the run's config).

What each augmentation does, and to which inputs (after their normalisation, so 0 is an input's mean):

* ``mixup_alpha`` > 0 (mixup, Zhang et al. 2018): each batch is mixed with a shuffled copy of itself with
  weight ``lam ~ Beta(alpha, alpha)``, every input alike, and the loss is mixed the same way. Any
  gradient-trained row.
* ``time_masks`` / ``feature_masks`` > 0 (SpecAugment-style, Park et al. 2019): that many bands of up to
  ``mask_fraction`` of the time axis / the feature axis of every rank-2 input ``(time, features)`` are set
  to 0, independently per item. On the log-mel and MFCCs these are SpecAugment's time and frequency
  masks; on YAMNet's patch embeddings they drop patches and embedding dimensions.
* ``gain_db`` > 0: each waveform (a rank-1 input longer than 4,096 samples) is scaled by a random gain of
  up to +-``gain_db`` dB.

Not available here: a random crop of a new 3 s window per epoch needs the decoded track, and the feature
cache holds fixed segments; the sklearn probe, the zero-shot model, the anchored head and ensembles are
fitted in one step and take no augmentation. The draws come from generators seeded by ``(seed, epoch)``
(:func:`augment_generators`), so a run is reproducible and resumes exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

#: Rank-1 inputs longer than this are waveforms (shorter ones are pooled feature vectors).
WAVEFORM_MIN_SAMPLES = 4097


@dataclass(frozen=True)
class Augment:
    """The augmentation settings of a run (all off by default)."""

    mixup_alpha: float = 0.0
    time_masks: int = 0
    feature_masks: int = 0
    mask_fraction: float = 0.1
    gain_db: float = 0.0

    def __post_init__(self) -> None:
        if self.mixup_alpha < 0 or self.gain_db < 0 or self.time_masks < 0 or self.feature_masks < 0:
            raise ValueError(f"augmentation settings must not be negative: {self}")
        if not 0 < self.mask_fraction <= 1:
            raise ValueError(f"mask_fraction must be in (0, 1], got {self.mask_fraction}")

    @property
    def active(self) -> bool:
        return bool(self.mixup_alpha or self.time_masks or self.feature_masks or self.gain_db)


@dataclass
class Mixed:
    """An augmented batch: inputs, the labels, and for mixup the partner labels and the weight ``lam``."""

    inputs: dict[str, Tensor]
    partner: Tensor | None = None
    lam: float = 1.0
    perm: Tensor | None = None  # mixup's partner of each item

    def loss(self, loss_fn: torch.nn.Module, logits: Tensor, y: Tensor) -> Tensor:
        """The (mixed) loss of ``logits`` against ``y`` (and the partners)."""
        if self.partner is None:
            return loss_fn(logits, y)
        return self.lam * loss_fn(logits, y) + (1.0 - self.lam) * loss_fn(logits, self.partner)


def augment_generators(seed: int, epoch: int) -> tuple[np.random.Generator, torch.Generator]:
    """The epoch's generators for the augmentation draws (independent of shuffling and dropout)."""
    from musicgenre.training.seed import derive_seed

    return (
        np.random.default_rng(derive_seed(seed, epoch, 3)),
        torch.Generator().manual_seed(derive_seed(seed, epoch, 4)),
    )


def _masks(x: Tensor, axis: int, count: int, fraction: float, gen: torch.Generator) -> Tensor:
    """Zero ``count`` random bands of up to ``fraction`` of ``axis`` (1: time, 2: features) per item."""
    size = x.shape[axis]
    widest = max(1, int(size * fraction))
    keep = torch.ones(x.shape[0], size, dtype=x.dtype)
    pos = torch.arange(size)
    for _ in range(count):
        width = torch.randint(0, widest + 1, (x.shape[0], 1), generator=gen)
        start = (torch.rand(x.shape[0], 1, generator=gen) * (size - width + 1)).floor().long()
        keep = keep * ~((pos >= start) & (pos < start + width))
    return x * (keep[:, :, None] if axis == 1 else keep[:, None, :])


def apply_augment(
    inputs: Mapping[str, Tensor],
    y: Tensor,
    aug: Augment,
    rng: np.random.Generator,
    gen: torch.Generator,
) -> Mixed:
    """Augment one training batch (see the module docstring)."""
    out = dict(inputs)
    for name, x in inputs.items():
        if x.dim() == 3 and (aug.time_masks or aug.feature_masks):
            x = _masks(x, 1, aug.time_masks, aug.mask_fraction, gen) if aug.time_masks else x
            x = _masks(x, 2, aug.feature_masks, aug.mask_fraction, gen) if aug.feature_masks else x
        elif x.dim() == 2 and x.shape[1] >= WAVEFORM_MIN_SAMPLES and aug.gain_db:
            db = (torch.rand(x.shape[0], 1, generator=gen) * 2 - 1) * aug.gain_db
            x = x * torch.pow(10.0, db / 20.0).to(x.dtype)
        out[name] = x
    if not aug.mixup_alpha or len(y) < 2:
        return Mixed(out)
    lam = float(rng.beta(aug.mixup_alpha, aug.mixup_alpha))
    perm = torch.from_numpy(rng.permutation(len(y)))
    mixed = {n: lam * x + (1.0 - lam) * x[perm] for n, x in out.items()}
    return Mixed(mixed, y[perm], lam, perm)


#: ``--augment`` names of the :class:`Augment` fields.
_NAMES = {
    "mixup": "mixup_alpha",
    "time-masks": "time_masks",
    "feature-masks": "feature_masks",
    "mask-fraction": "mask_fraction",
    "gain": "gain_db",
}


def parse_augment(text: str) -> Augment:
    """``"mixup=0.2,time-masks=2,feature-masks=2,mask-fraction=0.1,gain=6"`` -> :class:`Augment`."""
    values: dict[str, float | int] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key, sep, raw = part.partition("=")
        field_name = _NAMES.get(key.strip())
        if not sep or field_name is None:
            raise ValueError(f"--augment: expected NAME=VALUE with NAME in {sorted(_NAMES)}, got {part!r}")
        try:
            values[field_name] = int(raw) if field_name.endswith("masks") else float(raw)
        except ValueError:
            raise ValueError(f"--augment: {key.strip()} needs a number, got {raw!r}") from None
    return Augment(**values)  # type: ignore[arg-type]
