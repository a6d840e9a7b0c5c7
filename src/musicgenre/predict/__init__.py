"""Label any audio file or folder with a trained checkpoint, from Python or ``musicgenre predict``.

Example::

    import musicgenre

    clf = musicgenre.load("runs/cnn1d-yamnet_embedding-track/model.ckpt")
    result = clf.predict("song.mp3")             # any format, rate, channel count and length
    print(result.top_genre, f"{result.confidence:.2f}", result.top_k(3))
    result = clf.predict_array(samples, 44100)   # a numpy signal: 1-D or (frames, channels)

A :class:`PredictionResult` also holds ``probabilities`` (``{genre: p}``), ``duration``, ``n_windows``,
``window_times`` and ``window_probabilities`` (one row per window), and ``flags`` (``padded``, ``silent``,
``low_confidence``). Files that cannot be used raise :class:`~musicgenre.errors.AudioError` naming the file
and the problem; :meth:`GenreClassifier.predict_many` turns them into :class:`PredictionFailure` items.

Modules: :mod:`.windows` (sliding windows), :mod:`.aggregate` (window probabilities to a track
distribution and confidence), :mod:`.classifier` (:class:`GenreClassifier`), :mod:`.results` (result
types), :mod:`.output` (table, JSON, CSV, timeline), :mod:`.files` (expanding paths and folders). Files are
decoded block by block by :mod:`musicgenre.audio.stream`, with the same checks as training's
:func:`musicgenre.audio.load_audio`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from musicgenre.predict.classifier import GenreClassifier
    from musicgenre.predict.results import PredictionFailure, PredictionResult

__all__ = ["GenreClassifier", "PredictionFailure", "PredictionResult"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the package (e.g. for the CLI's --help) does not import torch.
    if name == "GenreClassifier":
        from musicgenre.predict.classifier import GenreClassifier

        return GenreClassifier
    if name in ("PredictionResult", "PredictionFailure"):
        from musicgenre.predict import results

        return getattr(results, name)
    raise AttributeError(f"module 'musicgenre.predict' has no attribute {name!r}")
