"""Typed prediction results, and their flat record form for JSON and CSV."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

#: Flags a result can carry.
#:   ``padded``: the audio is shorter than one window and was zero-padded to one.
#:   ``silent``: the whole file is below the silence level; no genre is given (``top_genre`` is None).
#:   ``low_confidence``: the top probability is below the classifier's ``low_confidence`` level.
FLAGS = ("padded", "silent", "low_confidence")

#: Keys of :meth:`PredictionResult.to_record` / :meth:`PredictionFailure.to_record`, in CSV column order
#: (followed by ``top<i>_genre``/``top<i>_probability`` for the top k and ``prob_<genre>`` per label).
RECORD_KEYS = (
    "path",
    "top_genre",
    "confidence",
    "margin",
    "duration",
    "n_windows",
    "windows_used",
    "window_seconds",
    "hop_seconds",
    "aggregate",
    "model_id",
    "flags",
    "error",
)


@dataclass(frozen=True, eq=False)
class PredictionResult:
    """The genre of one recording.

    Attributes:
        path: the file (None for :meth:`GenreClassifier.predict_array`).
        top_genre: the most likely genre, or None for silent audio.
        confidence: probability of ``top_genre`` (vote share with ``aggregate="vote"``); 0 when silent.
        probabilities: ``{genre: probability}`` over every label of the model, summing to 1 (uniform when
            silent).
        margin: top probability minus the runner-up's.
        entropy: normalised entropy of ``probabilities`` (0 = certain, 1 = uniform).
        duration: seconds of audio decoded.
        n_windows: windows classified.
        windows_used: windows that went into ``probabilities`` (silent windows are left out unless every
            window is silent).
        window_seconds / hop_seconds: window length and hop.
        window_times: ``(n_windows,)`` start of each window in seconds.
        window_probabilities: ``(n_windows, n_labels)`` the model's probabilities for each window, columns
            in ``labels`` order.
        window_silent: ``(n_windows,)`` True for windows below the silence level.
        labels: the model's genre names.
        aggregate: ``"mean"`` or ``"vote"``.
        flags: any of :data:`FLAGS`.
        model_id: ``<model>:<inputs>@<sha256 prefix of the checkpoint>``.
        sample_rate / channels: of the source audio.
        seconds: wall-clock time the prediction took.
    """

    path: str | None
    top_genre: str | None
    confidence: float
    probabilities: dict[str, float]
    margin: float
    entropy: float
    duration: float
    n_windows: int
    windows_used: int
    window_seconds: float
    hop_seconds: float
    window_times: np.ndarray
    window_probabilities: np.ndarray
    window_silent: np.ndarray
    labels: tuple[str, ...]
    aggregate: str
    flags: tuple[str, ...] = ()
    model_id: str = ""
    sample_rate: int = 0
    channels: int = 0
    seconds: float = 0.0

    #: True: this file was labelled (a :class:`PredictionFailure` has ``ok = False``).
    ok = True

    @property
    def padded(self) -> bool:
        """True when the audio was shorter than one window."""
        return "padded" in self.flags

    @property
    def silent(self) -> bool:
        """True when the whole file is silent."""
        return "silent" in self.flags

    def top_k(self, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most likely genres with their probabilities, best first (empty when silent)."""
        if self.top_genre is None or k <= 0:
            return []
        order = sorted(self.probabilities.items(), key=lambda kv: (-kv[1], self.labels.index(kv[0])))
        return order[:k]

    def to_record(self, top_k: int = 3, *, windows: bool = False) -> dict[str, Any]:
        """Flat, JSON-serialisable record (the JSON/CSV schema; see :data:`RECORD_KEYS`).

        ``windows`` adds ``"windows"``: one ``{"start", "top_genre", "probability", "silent"}`` per window,
        in time order (JSON only; the web page draws its timeline from them).
        """
        rec: dict[str, Any] = {
            "path": self.path,
            "top_genre": self.top_genre,
            "confidence": _r(self.confidence),
            "margin": _r(self.margin),
            "duration": round(self.duration, 3),
            "n_windows": self.n_windows,
            "windows_used": self.windows_used,
            "window_seconds": _r(self.window_seconds),
            "hop_seconds": _r(self.hop_seconds),
            "aggregate": self.aggregate,
            "model_id": self.model_id,
            "flags": list(self.flags),
            "error": None,
            "top_k": [{"genre": g, "probability": _r(p)} for g, p in self.top_k(top_k)],
            "probabilities": {g: _r(p) for g, p in self.probabilities.items()},
        }
        if windows:
            rec["windows"] = self.window_records()
        return rec

    def window_records(self) -> list[dict[str, Any]]:
        """Each window's start (s), most likely genre, its probability and whether it is silent."""
        probs = np.asarray(self.window_probabilities)
        best = probs.argmax(axis=1) if probs.size else np.zeros(0, dtype=int)
        return [
            {
                "start": round(float(t), 3),
                "top_genre": self.labels[int(j)],
                "probability": _r(probs[i, j]),
                "silent": bool(self.window_silent[i]),
            }
            for i, (t, j) in enumerate(zip(self.window_times, best, strict=True))
        ]

    def __repr__(self) -> str:
        conf = f"{self.confidence:.3f}"
        flags = f", flags={list(self.flags)}" if self.flags else ""
        return (
            f"PredictionResult(path={self.path!r}, top_genre={self.top_genre!r}, confidence={conf}, "
            f"duration={self.duration:.2f}, n_windows={self.n_windows}{flags})"
        )


@dataclass(frozen=True)
class PredictionFailure:
    """A file that could not be labelled: ``error`` is the one-line problem (the path is in ``path``)."""

    path: str
    error: str
    model_id: str = ""

    ok = False

    @property
    def message(self) -> str:
        """``"<path>: <problem>"``."""
        return f"{self.path}: {self.error}"

    def to_record(self, top_k: int = 3, *, windows: bool = False) -> dict[str, Any]:
        """The same keys as a result's record, with ``error`` set and everything else empty."""
        rec: dict[str, Any] = dict.fromkeys(RECORD_KEYS)
        rec.update(
            path=self.path, model_id=self.model_id, flags=[], error=self.error, top_k=[], probabilities={}
        )
        if windows:
            rec["windows"] = []
        return rec


def _r(x: float) -> float:
    return round(float(x), 6)
