"""Training: batches from cached feature arrays, normalisation, the seeded and resumable training loop.

The names below are imported on first use (module ``__getattr__``), so that prediction, which needs only
:mod:`.inference` and :mod:`.data`, does not import the trainer, the loop and their dependencies.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musicgenre.training.inference import model_from_checkpoint, predict_logits, predict_proba
    from musicgenre.training.normalisation import (
        apply_normalisation,
        compute_all_normalisation,
        compute_normalisation,
        normalise,
    )
    from musicgenre.training.trainer import (
        TrainConfig,
        TrainingError,
        TrainResult,
        default_train_config,
        load_train_result,
        train_model,
    )

_WHERE = {
    "model_from_checkpoint": "inference",
    "predict_logits": "inference",
    "predict_proba": "inference",
    "apply_normalisation": "normalisation",
    "compute_all_normalisation": "normalisation",
    "compute_normalisation": "normalisation",
    "normalise": "normalisation",
    "TrainConfig": "trainer",
    "TrainingError": "trainer",
    "TrainResult": "trainer",
    "default_train_config": "trainer",
    "load_train_result": "trainer",
    "train_model": "trainer",
}

__all__ = [
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "apply_normalisation",
    "compute_all_normalisation",
    "compute_normalisation",
    "default_train_config",
    "load_train_result",
    "model_from_checkpoint",
    "normalise",
    "predict_logits",
    "predict_proba",
    "train_model",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'musicgenre.training' has no attribute {name!r}")
    return getattr(importlib.import_module(f"musicgenre.training.{module}"), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_WHERE])
