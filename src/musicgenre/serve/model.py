"""What the server says about its model (``GET /api/model``), and the interface it needs of a classifier."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from musicgenre.predict.results import PredictionResult

#: The model card's file name, looked for beside the checkpoint.
MODEL_CARD = "MODEL_CARD.md"


class Labeller(Protocol):
    """What the server uses of a :class:`~musicgenre.predict.classifier.GenreClassifier`."""

    labels: tuple[str, ...]
    model_id: str

    def predict(self, path: str | Path) -> PredictionResult: ...


@dataclass(frozen=True)
class ModelInfo:
    """``GET /api/model``: the model's id, its genres (in output order), its window and its card."""

    model_id: str
    labels: list[str]
    window_seconds: float | None
    model_card: str | None


def model_card(classifier: object) -> str | None:
    """The model card's text: the classifier's own ``model_card`` attribute when it has one (a bundled
    model), else ``MODEL_CARD.md`` beside its checkpoint; None when there is none."""
    card = getattr(classifier, "model_card", None)
    if isinstance(card, str):
        return card
    ckpt = getattr(classifier, "checkpoint_path", None)
    if ckpt is None:
        return None
    path = Path(ckpt).parent / MODEL_CARD
    return path.read_text(encoding="utf-8") if path.is_file() else None


def model_info(classifier: Labeller) -> ModelInfo:
    """The :class:`ModelInfo` of ``classifier`` (read once, at start-up)."""
    window = getattr(classifier, "window_seconds", None)
    return ModelInfo(
        model_id=classifier.model_id,
        labels=list(classifier.labels),
        window_seconds=float(window) if isinstance(window, int | float) else None,
        model_card=model_card(classifier),
    )
