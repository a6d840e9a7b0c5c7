"""Training: batches from cached feature arrays, normalisation, the seeded and resumable training loop."""

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
