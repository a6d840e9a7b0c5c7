"""Who is on each track: a track-to-artist file, read into an :class:`ArtistIndex`.

Two formats are read:

- GTZAN's index (Sturm 2012, ``GTZANindex.txt``): ``blues.00000.wav ::: John Lee Hooker ::: title``
  lines after ``##`` comment lines. The audio extension and any folder prefix of the name are dropped,
  so the entry matches the track id ``blues.00000`` (the file stem, see :mod:`musicgenre.datasets.index`).
- A generic CSV or TSV with a header naming the columns ``track_id`` and ``artist`` (other columns are
  ignored), for other datasets: ``track_id,artist`` then ``rock.00001,Morphine``.

A track with no known artist (not in the file, or an empty artist) counts as its own artist
(``unknown:<track_id>``), so it never groups with another track.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from musicgenre.audio.check import AUDIO_EXTENSIONS
from musicgenre.errors import DatasetError
from musicgenre.settings import shared_dir

#: The prefix of the stand-in artist of a track whose artist is not known.
UNKNOWN_PREFIX = "unknown:"
#: The separator of GTZAN's index.
GTZAN_SEPARATOR = ":::"


@dataclass(frozen=True)
class ArtistIndex:
    """Track id -> artist name (known artists only), read from ``source`` (``None``: built in code)."""

    artists: dict[str, str] = field(default_factory=dict)
    source: Path | None = None

    def artist_of(self, track_id: str) -> str:
        """The track's artist; ``unknown:<track_id>`` when the index does not know it."""
        return self.artists.get(str(track_id)) or f"{UNKNOWN_PREFIX}{track_id}"

    def is_known(self, track_id: str) -> bool:
        return bool(self.artists.get(str(track_id)))

    def groups(self, track_ids: Iterable[str]) -> dict[str, list[str]]:
        """Artist -> its tracks among ``track_ids`` (sorted, unique), artists in sorted order."""
        out: dict[str, set[str]] = {}
        for tid in track_ids:
            out.setdefault(self.artist_of(tid), set()).add(str(tid))
        return {a: sorted(ts) for a, ts in sorted(out.items())}

    def __len__(self) -> int:
        return len(self.artists)


def track_id_of(name: str) -> str:
    """The track id of a file name in an index: no folder, no audio extension (``blues.00000``)."""
    base = PurePosixPath(name.strip().replace("\\", "/")).name
    suffix = PurePosixPath(base).suffix
    return base[: -len(suffix)] if suffix.lower() in AUDIO_EXTENSIONS else base


def _clean(artist: str) -> str:
    return " ".join(artist.split())


def _add(out: dict[str, str], path: Path, line_no: int, name: str, artist: str) -> None:
    tid = track_id_of(name)
    if not tid:
        raise DatasetError(f"{path}:{line_no}: empty track name")
    artist = _clean(artist)
    if tid in out and out[tid] != artist:
        raise DatasetError(f"{path}:{line_no}: track {tid} is listed twice, as {out[tid]!r} and {artist!r}")
    out[tid] = artist


def _parse_gtzan(path: Path, lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(GTZAN_SEPARATOR)
        if len(parts) < 2 or not parts[0].strip():
            raise DatasetError(
                f"{path}:{line_no}: malformed line {text[:60]!r} (expected 'name ::: artist ::: title')"
            )
        _add(out, path, line_no, parts[0], parts[1])
    return out


def _parse_table(path: Path, lines: list[str]) -> dict[str, str]:
    rows = [(n, line) for n, line in enumerate(lines, start=1) if line.strip() and not line.startswith("#")]
    if not rows:
        raise DatasetError(f"{path}: no artists in the file")
    header_no, header = rows[0]
    delimiter = "\t" if "\t" in header else ","

    def fields_of(line: str) -> list[str]:
        return next(csv.reader([line], delimiter=delimiter), [])

    columns = [c.strip().lower() for c in fields_of(header)]
    if "track_id" not in columns or "artist" not in columns:
        raise DatasetError(
            f"{path}:{header_no}: the header must name the columns 'track_id' and 'artist' "
            f"(got {columns}); or use GTZAN's 'name ::: artist ::: title' lines"
        )
    i_track, i_artist = columns.index("track_id"), columns.index("artist")
    out: dict[str, str] = {}
    for line_no, line in rows[1:]:
        fields = fields_of(line)
        if len(fields) <= max(i_track, i_artist):
            raise DatasetError(
                f"{path}:{line_no}: {len(fields)} field(s), expected at least {max(i_track, i_artist) + 1} "
                f"(columns {', '.join(columns)}, separated by {delimiter!r})"
            )
        _add(out, path, line_no, fields[i_track], fields[i_artist])
    return out


def read_artists(path: str | Path) -> ArtistIndex:
    """Read a track-to-artist file (GTZAN's index or a ``track_id,artist`` CSV/TSV; see the module doc).

    Raises:
        DatasetError: the file is missing or unreadable, or a line is malformed (the message names the file
            and the line).
    """
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise DatasetError(f"{path}: artist file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the artist file ({exc})") from None
    content = [line for line in lines if line.strip() and not line.lstrip().startswith("#")]
    parse = _parse_gtzan if content and GTZAN_SEPARATOR in content[0] else _parse_table
    return ArtistIndex(parse(path, lines), source=path)


def default_artists_path() -> Path | None:
    """GTZAN's index at ``<shared>/data/gtzan-metadata/GTZANindex.txt`` when it exists, else ``None``."""
    path = shared_dir() / "data" / "gtzan-metadata" / "GTZANindex.txt"
    return path if path.is_file() else None


def resolve_artists(path: str | Path | None) -> ArtistIndex:
    """The artists of ``path``, or of :func:`default_artists_path` when ``path`` is ``None``.

    Raises:
        DatasetError: no path is given and there is no default index (the message says how to get one).
    """
    if path is None:
        path = default_artists_path()
        if path is None:
            where = shared_dir() / "data" / "gtzan-metadata" / "GTZANindex.txt"
            raise DatasetError(
                f"the artist protocol needs a track-to-artist file: pass --artists FILE (GTZAN's index or a "
                f"track_id,artist CSV), or place GTZAN's index at {where} "
                "(`musicgenre download gtzan --artists-only` fetches it)"
            )
    return read_artists(path)


def optional_artists(path: str | Path | None) -> ArtistIndex | None:
    """The artists of ``path``; without one, of the default index if there is one, else None (then
    held-out scores are not split by seen and unseen artist)."""
    if path is None and default_artists_path() is None:
        return None
    return resolve_artists(path)


def seen_split(index: ArtistIndex, trained_on: list[str], tracks: list[str]) -> tuple[list[str], list[str]]:
    """``tracks`` whose artist is among the artists of ``trained_on`` (seen), and the others (unseen).

    A track of an unknown artist is its own artist, so it is unseen unless it was trained on itself.
    """
    known = {index.artist_of(t) for t in trained_on}
    seen = [t for t in tracks if index.artist_of(t) in known]
    return seen, [t for t in tracks if index.artist_of(t) not in known]
