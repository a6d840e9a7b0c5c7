"""Index a folder-of-genres tree: ``<root>/<genre>/<file>`` (genre = folder name, track id = file stem)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from musicgenre.audio.io import is_audio_path
from musicgenre.errors import DatasetError


@dataclass(frozen=True)
class Track:
    """One labelled audio file. ``track_id`` is the file stem, e.g. ``blues.00000``."""

    track_id: str
    genre: str
    path: Path


@dataclass
class DatasetIndex:
    """The tracks found under ``root``, sorted by (genre, track id).

    ``skipped`` lists ``(path, reason)`` for files that were not indexed (not audio, hidden, duplicate id).
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
    skipped too (they have no genre folder). Nested folders below a genre folder are searched recursively.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"{root}: no such directory")
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory (expected <root>/<genre>/<audio files>)")
    tracks: list[Track] = []
    skipped: list[tuple[Path, str]] = []
    seen: dict[str, Path] = {}
    genre_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    for p in sorted(root.iterdir()):
        if p.is_file() and not p.name.startswith("."):
            skipped.append((p, "file directly under the dataset root has no genre folder"))
    if not genre_dirs:
        raise DatasetError(f"{root}: no genre folders found (expected <root>/<genre>/<audio files>)")
    for gdir in genre_dirs:
        for f in sorted(gdir.rglob("*")):
            if not f.is_file() or any(part.startswith(".") for part in f.relative_to(root).parts):
                continue
            if not is_audio_path(f):
                skipped.append((f, f"not an audio file extension ({f.suffix or 'none'})"))
                continue
            tid = f.stem
            if tid in seen:
                skipped.append((f, f"duplicate track id {tid!r} (already {seen[tid]})"))
                continue
            seen[tid] = f
            tracks.append(Track(tid, gdir.name, f))
    return DatasetIndex(root=root, tracks=tracks, skipped=skipped)
