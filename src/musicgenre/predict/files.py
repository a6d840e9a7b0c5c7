"""Turn the paths given on the command line into the audio files to label."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from musicgenre.audio.check import AUDIO_EXTENSIONS
from musicgenre.predict.results import PredictionFailure


def collect_audio_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[PredictionFailure]]:
    """Expand files and folders (recursively) into audio files, in the order given, folders sorted.

    A file given explicitly is always kept (its problems, such as an unsupported format, are reported
    when it is decoded). In folders, files with audio extensions are taken (case-insensitive); hidden
    files and folders (``.name``, e.g. macOS ``._song.mp3`` resource forks) are left out. A path that does
    not exist, a symbolic link loop, or a folder without audio files, becomes a :class:`PredictionFailure`.
    Duplicates are dropped.
    """
    files: list[Path] = []
    failures: list[PredictionFailure] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        try:
            key = p.resolve()
        except (RuntimeError, OSError):  # a symbolic link loop (RuntimeError before Python 3.13)
            failures.append(PredictionFailure(str(p), "symbolic link loop"))
            return
        if key not in seen:
            seen.add(key)
            files.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = _scan_dir(p)
            if not found:
                failures.append(
                    PredictionFailure(
                        str(p), f"no audio files in this folder (looked for {_ext_list()}, recursively)"
                    )
                )
            for f in found:
                add(f)
        elif p.exists() or p.is_symlink():
            add(p)
        else:
            failures.append(PredictionFailure(str(p), "no such file or directory"))
    return files, failures


def _scan_dir(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                out.append(Path(dirpath) / name)
    return out


def _ext_list() -> str:
    return " ".join(sorted(e[1:] for e in AUDIO_EXTENSIONS))


def protected_paths(files: Iterable[str | Path], checkpoint: str | Path | None) -> dict[str, str]:
    """What an output must not overwrite: ``{real path: "an input" | "the checkpoint"}``."""
    out = {os.path.realpath(p): "one of the inputs" for p in files}
    if checkpoint is not None:
        out[os.path.realpath(checkpoint)] = "the checkpoint"
    return out


def output_clash(dest: str | Path, protected: dict[str, str]) -> str | None:
    """Why ``dest`` must not be written (it is an input or the checkpoint), or None."""
    what = protected.get(os.path.realpath(dest))
    return f"{dest} is {what}; writing there would destroy it: choose another file" if what else None
