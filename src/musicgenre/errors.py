"""Exceptions with messages that name the file and the problem."""

from __future__ import annotations

from pathlib import Path


class MusicGenreError(Exception):
    """Base class for errors that the CLI reports as one line, without a traceback."""


class AudioError(MusicGenreError):
    """A file that cannot be used as audio. ``str(err)`` is ``"<path>: <problem>"``."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class UnsupportedFormatError(AudioError):
    """An audio file in a format (extension or container) that the decoders at hand do not support."""


class DatasetError(MusicGenreError):
    """A dataset folder that cannot be used (missing, empty, no usable tracks)."""


class CheckpointError(MusicGenreError):
    """A checkpoint that is missing, corrupt or from an incompatible version."""


class WeightsNotFoundError(MusicGenreError):
    """Pretrained weights are needed but not available; the message says how to get them."""


class WeightsMismatchError(WeightsNotFoundError):
    """The weights at hand are not those a checkpoint or feature store was made with."""
