"""AudioSet class names and "top classes over time" for ``musicgenre tag --model yamnet`` and ``yamnet tag``.

The class map ``yamnet_class_map.csv`` (index, mid, display_name; 521 rows; Apache-2.0, from Google's
YAMNet repository) is not shipped with the package. :func:`resolve_class_map` finds it, first hit wins:

1. an explicit path (``--class-map PATH``);
2. the environment variable ``MUSICGENRE_YAMNET_CLASS_MAP``;
3. the cached download ``<weights_dir>/yamnet_class_map.csv``;
4. the copy beside the weights file in use (``models/yamnet/`` holds both);
5. ``<shared>/models/yamnet/yamnet_class_map.csv``;
6. a download of Google's file into the weights folder, verified by its SHA-256.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from musicgenre import settings
from musicgenre.download import DownloadError, download_file
from musicgenre.errors import MusicGenreError
from musicgenre.tagging import TagRow, group_rows, top_tags
from musicgenre.yamnet import params as P

CLASS_MAP_NAME = "yamnet_class_map.csv"
CLASS_MAP_ENV_VAR = "MUSICGENRE_YAMNET_CLASS_MAP"
CLASS_MAP_URL = (
    "https://raw.githubusercontent.com/tensorflow/models/master/research/audioset/yamnet/yamnet_class_map.csv"
)
#: SHA-256 of Google's class map (14,096 bytes, 521 classes).
CLASS_MAP_SHA256 = "cdf24d193e196d9e95912a2667051ae203e92a2ba09449218ccb40ef787c6df2"


def resolve_class_map(
    path: str | Path | None = None, *, weights: str | Path | None = None, download: bool = True
) -> Path:
    """The class map file, in the order given in the module docstring.

    ``weights`` is the weights file in use (its folder is searched); ``download=False`` stops before the
    network step. Raises :class:`MusicGenreError` saying where to get the file when none is found.
    """
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(CLASS_MAP_ENV_VAR)
    if env:
        return Path(env).expanduser()
    candidates = [settings.weights_dir() / CLASS_MAP_NAME]
    if weights is not None:
        candidates.append(Path(weights).expanduser().parent / CLASS_MAP_NAME)
    candidates.append(settings.shared_dir() / "models" / "yamnet" / CLASS_MAP_NAME)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if download:
        try:
            return download_file(CLASS_MAP_URL, candidates[0], sha256=CLASS_MAP_SHA256, progress=False)
        except DownloadError as exc:
            raise MusicGenreError(f"YAMNet class map not found and {exc}. {_class_map_hint()}") from None
    raise MusicGenreError(f"YAMNet class map not found. {_class_map_hint()}")


def _class_map_hint() -> str:
    return (
        f"Download {CLASS_MAP_URL} (sha256 {CLASS_MAP_SHA256}) to {settings.weights_dir() / CLASS_MAP_NAME}, "
        f"pass --class-map PATH, or set {CLASS_MAP_ENV_VAR}=PATH."
    )


def load_class_names(path: str | Path | None = None) -> list[str]:
    """The 521 display names, in output order, from ``path`` (default: :func:`resolve_class_map`)."""
    path = Path(path) if path is not None else resolve_class_map()
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


def top_classes(scores: np.ndarray, names: list[str], k: int) -> list[tuple[str, float]]:
    """The ``k`` best ``(name, score)`` of a ``(521,)`` score vector, best first (ties by class index)."""
    return top_tags(scores, names, k)


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
    end, cut at ``duration`` when given (see :func:`musicgenre.tagging.group_rows`).
    """
    hop = P.PATCH_HOP_SAMPLES / P.SAMPLE_RATE
    window = P.PATCH_FRAMES * P.STFT_HOP_SAMPLES / P.SAMPLE_RATE
    starts = hop * np.arange(scores.shape[0])
    return group_rows(
        scores,
        names,
        starts,
        starts + window,
        top_k=top_k,
        patches_per_row=patches_per_row,
        duration=duration,
    )
