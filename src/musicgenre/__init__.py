"""musicgenre: music genre classification with honest evaluation protocols."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from musicgenre.predict.classifier import GenreClassifier

__version__ = "0.1.0"

__all__ = ["__version__", "load"]


def load(checkpoint: str | Path, *, device: str | None = None) -> GenreClassifier:
    """Load a trained checkpoint as a classifier with ``.predict(path)`` and ``.predict_array(x, sr)``.

    ``device``: ``auto``, ``cpu``, ``cuda`` or ``mps`` (``None``: the CPU, unless ``--device`` set it); see
    :mod:`musicgenre.device`.
    """
    from musicgenre.predict.classifier import GenreClassifier

    return GenreClassifier.from_checkpoint(checkpoint, device=device)
