"""The "fit" of a zero-shot model (``trainer="zeroshot"``): no training, YAMNet's dense layer loaded as is.

The genre -> AudioSet class table is resolved against YAMNet's class map for the run's labels and stored
in the model options (so the checkpoint says which classes stand for which genre). The one "epoch" of the
history scores the training and validation rows, for the record. No file I/O here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from musicgenre.features.registry import FeatureConfig
from musicgenre.models.zeroshot import YAMNET_GENRE_CLASSES, ZeroShotHead, class_indices
from musicgenre.training.loop import EpochData, evaluate_rows, fit_history
from musicgenre.training.result import TrainingError


@dataclass
class ZeroShotOutcome:
    """How the zero-shot model scores on the training and validation rows."""

    train_loss: float
    train_acc: float
    valid_loss: float
    valid_acc: float

    def history(self, seconds: float) -> dict[str, list[float]]:
        return fit_history(self.train_loss, self.train_acc, self.valid_loss, self.valid_acc, seconds)


def zeroshot_options(
    label_names: Sequence[str], mapping: Mapping[str, Sequence[str]] | None = None, class_map: Any = None
) -> dict[str, Any]:
    """Model options for ``label_names``: each label's AudioSet class indices and names."""
    from musicgenre.yamnet.tagging import load_class_names

    mapping = mapping or YAMNET_GENRE_CLASSES
    indices = class_indices(label_names, mapping, load_class_names(class_map))
    names = [list(mapping[g]) for g in label_names]
    return {"classes": indices, "class_names": names}


def set_genre_classes(label_names: Sequence[str], options: dict[str, Any]) -> str | None:
    """Resolve the genre -> AudioSet class table into ``options`` (``classes``, ``class_names``), from the
    ``mapping_file`` option (popped) or the default table; returns that file (None: the default)."""
    from musicgenre.models.zeroshot import read_mapping

    mapping_file = options.pop("mapping_file", None)
    options.update(zeroshot_options(label_names, read_mapping(mapping_file) if mapping_file else None))
    return mapping_file


def yamnet_dense(config: FeatureConfig) -> tuple[Any, Any]:
    """YAMNet's dense layer ``(weight (521, 1024), bias (521,))`` of the weights that ``config`` (the
    embedding feature) was computed with."""
    from musicgenre.yamnet.weights import load_weights

    if config.name != "yamnet_embedding":
        raise TrainingError(f"this model takes yamnet_embedding, not {config.name}")
    fused = load_weights(getattr(config, "source", None))
    return fused.dense_weight, fused.dense_bias


def load_yamnet_dense(model: ZeroShotHead, config: FeatureConfig) -> None:
    """Load the dense layer of the YAMNet weights that ``config`` (the embedding feature) was computed with."""
    model.set_dense(*yamnet_dense(config))
    model.eval()


def score_zeroshot(model: ZeroShotHead, data: EpochData, batch_size: int) -> ZeroShotOutcome:
    """Loss and accuracy of the loaded zero-shot model on the training and validation rows."""
    train_loss, train_acc = evaluate_rows(model, data, data.train_rows, batch_size)
    valid_loss, valid_acc = evaluate_rows(model, data, data.valid_rows, batch_size)
    return ZeroShotOutcome(train_loss, train_acc, valid_loss, valid_acc)
