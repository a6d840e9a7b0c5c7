"""Index a folder-of-genres tree: ``<root>/<genre>/<file>`` (genre = folder name, track id = file stem,
made unique when two files share a stem)."""

from __future__ import annotations

import errno
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from musicgenre.audio.io import is_audio_path
from musicgenre.errors import DatasetError


@dataclass(frozen=True)
class Track:
    """One labelled audio file. ``track_id`` is the file stem, e.g. ``blues.00000``, unless another file of
    the dataset has the same stem (see :func:`unique_track_ids`)."""

    track_id: str
    genre: str
    path: Path


@dataclass
class DatasetIndex:
    """The tracks found under ``root``, sorted by (genre, track id).

    ``skipped`` lists ``(path, reason)`` for files that were not indexed (not audio, outside the genre
    folders, dangling symbolic links and link loops).
    """

    root: Path
    tracks: list[Track]
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def genres(self) -> list[str]:
        """Sorted genre names that have at least one track."""
        return sorted({t.genre for t in self.tracks})

    def by_genre(self) -> dict[str, list[Track]]:
        """Tracks grouped by genre."""
        out: dict[str, list[Track]] = {}
        for t in self.tracks:
            out.setdefault(t.genre, []).append(t)
        return out

    def __len__(self) -> int:
        return len(self.tracks)


def scan_dataset(root: str | Path) -> DatasetIndex:
    """List the audio files of a folder-of-genres tree, without decoding them.

    Raises :class:`DatasetError` when ``root`` is missing or not a directory, or has no genre folders.
    Files with non-audio extensions are listed in ``skipped``. Audio files directly under ``root`` are
    skipped too (they have no genre folder). Nested folders below a genre folder are searched recursively;
    a folder that cannot be read is an error naming it. Track ids are unique (:func:`unique_track_ids`).
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such directory")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory (expected <root>/<genre>/<audio files>)")
    skipped: list[tuple[Path, str]] = []
    genre_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for p in sorted(root.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            skipped.append((p, "file directly under the dataset root has no genre folder"))
    if not genre_dirs:
        raise DatasetError(f"{root}: no genre folders found (expected <root>/<genre>/<audio files>)")
    found: list[tuple[str, Path]] = []
    for gdir in genre_dirs:
        for f in _walk(gdir):
            if any(part.startswith(".") for part in f.relative_to(root).parts):
                continue
            if not f.is_file():
                skipped.append((f, _broken_link(f)))
            elif not is_audio_path(f):
                skipped.append((f, f"not an audio file extension ({f.suffix or 'none'})"))
            else:
                found.append((gdir.name, f))
    ids = unique_track_ids(root, [f for _, f in found])
    tracks = [Track(tid, genre, f) for tid, (genre, f) in zip(ids, found, strict=True)]
    return DatasetIndex(root=root, tracks=tracks, skipped=skipped)


def _walk(folder: Path) -> list[Path]:
    """Every entry below ``folder`` that is not a folder (files, links), sorted; symlinked folders are not
    followed. An unreadable folder is an error naming it: leaving its files out would change the dataset."""

    def fail(exc: OSError) -> None:
        why = "permission denied" if isinstance(exc, PermissionError) else (exc.strerror or str(exc))
        raise DatasetError(f"{exc.filename}: cannot read this folder ({why})")

    out: list[Path] = []
    for dirpath, _dirs, files in os.walk(folder, onerror=fail):
        out.extend(Path(dirpath) / name for name in files)
    return sorted(out)


def _broken_link(path: Path) -> str:
    """Why ``path``, listed in its folder, is not a readable file: a dangling link or a link loop."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.ENOENT:
            return f"dangling symbolic link (to {os.readlink(path)})" if path.is_symlink() else "vanished"
        return f"cannot read it ({exc.strerror})"
    return "not a regular file"


def unique_track_ids(root: Path, files: list[Path]) -> list[str]:
    """The track id of each file: its stem (``blues.00000``), or, for stems that several files share
    (``blues/01.au`` and ``rock/01.au``), its path below ``root`` without the extension, with dots for
    slashes (``blues.01``, ``rock.01``); with the extension if that is still not unique."""
    stems = Counter(f.stem for f in files)
    ids = [
        f.stem if stems[f.stem] == 1 else ".".join(f.relative_to(root).with_suffix("").parts) for f in files
    ]
    counts = Counter(ids)
    ids = [
        i if counts[i] == 1 else ".".join(f.relative_to(root).parts) for i, f in zip(ids, files, strict=True)
    ]
    clashes = [i for i, n in Counter(ids).items() if n > 1]
    if clashes:  # only names built to clash, e.g. rock/01.au beside rock.01.au
        paths = {i: [str(f) for j, f in zip(ids, files, strict=True) if j == i] for i in clashes}
        raise DatasetError(f"{root}: files whose track ids cannot be told apart; rename them: {paths}")
    return ids
