"""musicgenre: music genre classification with honest evaluation protocols."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musicgenre.predict.classifier import GenreClassifier

__version__ = "0.1.0"

__all__ = ["__version__", "load"]


def load(
    checkpoint: str | Path | None = None, *, device: str | None = None, **options: Any
) -> GenreClassifier:
    """Load a trained checkpoint as a classifier with ``.predict(path)`` and ``.predict_array(x, sr)``.

    ``checkpoint`` is a ``model.ckpt`` or a training run folder; None loads the bundled default model
    (see its card: ``musicgenre model-info``). ``device``: ``auto``, ``cpu``, ``cuda`` or ``mps`` (``None``:
    the CPU, unless ``--device`` set it); see :mod:`musicgenre.device`. ``options`` go to
    :meth:`~musicgenre.predict.classifier.GenreClassifier.from_checkpoint` (``hop_seconds``, ...).
    """
    from musicgenre.predict.classifier import GenreClassifier

    if checkpoint is None:
        from musicgenre.bundled import default_checkpoint

        checkpoint = default_checkpoint()
    return GenreClassifier.from_checkpoint(checkpoint, device=device, **options)
