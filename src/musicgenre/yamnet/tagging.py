"""AudioSet class names and "top classes over time" for the ``musicgenre yamnet tag`` sanity tool.

The class map ``yamnet_class_map.csv`` (index, mid, display_name; 521 rows; Apache-2.0, from Google's
YAMNet) ships with the package; another copy can be passed explicitly.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from musicgenre.errors import MusicGenreError
from musicgenre.yamnet import params as P

CLASS_MAP_NAME = "yamnet_class_map.csv"


def default_class_map_path() -> Path:
    """The class map shipped with the package."""
    return Path(str(resources.files("musicgenre.yamnet").joinpath(CLASS_MAP_NAME)))


def load_class_names(path: str | Path | None = None) -> list[str]:
    """The 521 display names, in output order, from ``path`` (default: the packaged class map)."""
    path = Path(path) if path is not None else default_class_map_path()
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise MusicGenreError(f"{path}: cannot read the class map ({exc.strerror or exc})") from None
    try:
        names = {int(r["index"]): r["display_name"] for r in rows}
    except (KeyError, ValueError):
        raise MusicGenreError(
            f"{path}: not a YAMNet class map (need columns index, mid, display_name)"
        ) from None
    if sorted(names) != list(range(P.NUM_CLASSES)):
        raise MusicGenreError(f"{path}: expected classes 0..{P.NUM_CLASSES - 1}, found {len(names)}")
    return [names[i] for i in range(P.NUM_CLASSES)]


@dataclass(frozen=True)
class TagRow:
    """The top classes of one stretch of audio: ``start``/``end`` in seconds, ``(name, score)`` pairs."""

    start: float
    end: float
    top: list[tuple[str, float]]


def top_classes(scores: np.ndarray, names: list[str], k: int) -> list[tuple[str, float]]:
    """The ``k`` best ``(name, score)`` of a ``(521,)`` score vector, best first (ties by class index)."""
    order = np.lexsort((np.arange(scores.shape[0]), -scores))[:k]
    return [(names[i], float(scores[i])) for i in order]


def tag_rows(
    scores: np.ndarray,
    names: list[str],
    *,
    top_k: int = 3,
    patches_per_row: int = 1,
    duration: float | None = None,
) -> list[TagRow]:
    """Average ``(patches, 521)`` scores over groups of ``patches_per_row`` patches and take the top ``k``.

    Patch ``i`` covers ``[0.48 i, 0.48 i + 0.96)`` s; a row spans its first patch's start to its last patch's
    end, cut at ``duration`` when given.
    """
    hop = P.PATCH_HOP_SAMPLES / P.SAMPLE_RATE
    window = P.PATCH_FRAMES * P.STFT_HOP_SAMPLES / P.SAMPLE_RATE
    rows = []
    step = max(1, patches_per_row)
    for start in range(0, scores.shape[0], step):
        block = scores[start : start + step]
        t0 = start * hop
        t1 = (start + block.shape[0] - 1) * hop + window
        if duration is not None:
            t1 = min(t1, max(duration, t0))
        rows.append(TagRow(t0, t1, top_classes(block.mean(axis=0), names, top_k)))
    return rows
