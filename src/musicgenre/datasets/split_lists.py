"""Fixed train/valid/test split lists, such as the fault-filtered GTZAN split.

The fault-filtered, artist-conscious GTZAN split of Kereliuk, Sturm & Larsen (2015) ships as three text
files, ``train_filtered.txt``, ``valid_filtered.txt`` and ``test_filtered.txt``, with one entry per line
(``blues/blues.00029.wav``). Entries are matched to a dataset's tracks by *track id* (the file stem,
``blues.00029``) whatever the extension, so lists written for ``.wav`` copies match ``.au`` originals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from musicgenre.audio.io import AUDIO_EXTENSIONS
from musicgenre.errors import DatasetError

#: The sides of a split, in order.
SPLIT_SIDES = ("train", "valid", "test")

#: File names tried for each side, first match wins.
SPLIT_FILE_PATTERNS = ("{side}_filtered.txt", "{side}.txt")


def track_id_from_entry(entry: str) -> str:
    """The track id named by a split-list entry: the last path component without an audio extension.

    ``"blues/blues.00029.wav"`` -> ``"blues.00029"``; ``"blues.00029"`` (no extension) is kept as is,
    because ``.00029`` is not an audio extension.
    """
    name = PurePosixPath(entry.strip().replace("\\", "/")).name
    stem, dot, ext = name.rpartition(".")
    if dot and stem and f".{ext.lower()}" in AUDIO_EXTENSIONS:
        return stem
    return name


def _find_list_file(split_dir: Path, side: str) -> Path:
    candidates = [split_dir / p.format(side=side) for p in SPLIT_FILE_PATTERNS]
    for c in candidates:
        if c.is_file():
            return c
    names = " or ".join(c.name for c in candidates)
    raise DatasetError(f"{split_dir}: missing split list for {side!r} (expected {names})")


def read_split_list(path: str | Path) -> list[str]:
    """Read one split list: track ids in file order.

    Blank lines and lines starting with ``#`` are ignored. Raises :class:`DatasetError` naming the file
    and line for a malformed line (whitespace inside an entry, no file name) or an id listed twice.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{path}: split list not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read split list ({exc})") from None
    ids: list[str] = []
    first_line: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tid = track_id_from_entry(line)
        if any(ch.isspace() for ch in line) or line.endswith(("/", "\\")) or not tid or tid in (".", ".."):
            raise DatasetError(
                f"{path}:{lineno}: malformed line {raw!r} (expected one <genre>/<track id>.<ext> per line)"
            )
        if tid in first_line:
            raise DatasetError(
                f"{path}:{lineno}: track {tid!r} is listed twice (first on line {first_line[tid]})"
            )
        first_line[tid] = lineno
        ids.append(tid)
    return ids


def read_split_lists(split_dir: str | Path) -> dict[str, list[str]]:
    """Read ``train``/``valid``/``test`` lists from ``split_dir`` (``<side>_filtered.txt`` or ``<side>.txt``).

    Returns ``{"train": [...], "valid": [...], "test": [...]}`` of track ids in file order. Raises
    :class:`DatasetError` for a missing folder or list file, a malformed line, or a track that two lists
    name (the message names both files).
    """
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise DatasetError(f"{split_dir}: split-list folder not found")
    lists: dict[str, list[str]] = {}
    where: dict[str, tuple[str, Path]] = {}
    for side in SPLIT_SIDES:
        path = _find_list_file(split_dir, side)
        ids = read_split_list(path)
        for tid in ids:
            if tid in where:
                other_side, other_path = where[tid]
                raise DatasetError(
                    f"{path}: track {tid!r} is also in the {other_side} list ({other_path}); "
                    "a track must be on one side only"
                )
            where[tid] = (side, path)
        lists[side] = ids
    return lists


def match_split_lists(
    lists: Mapping[str, Iterable[str]], track_ids: Iterable[str]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Assign a dataset's tracks to the sides of a split list.

    Args:
        lists: ``{side: [track ids or list entries]}``, e.g. from :func:`read_split_lists`. Entries are
            reduced to track ids with :func:`track_id_from_entry`, so extensions do not matter.
        track_ids: the dataset's track ids (file stems, e.g. ``Track.track_id``).

    Returns:
        ``(assignment, missing)``: ``assignment`` maps each dataset track that a list names to its side;
        ``missing`` maps every side to the listed ids that the dataset lacks (in list order). Dataset
        tracks that no list names are left out of ``assignment`` (see :func:`split_list_report`).

    Raises:
        DatasetError: a track id is named by two lists (or twice by one).
    """
    side_of: dict[str, str] = {}
    ordered: dict[str, list[str]] = {}
    for side, entries in lists.items():
        ids = [track_id_from_entry(e) for e in entries]
        for tid in ids:
            if tid in side_of:
                other = side_of[tid]
                where = (
                    f"twice in the {side} list" if other == side else f"in both the {other} and {side} lists"
                )
                raise DatasetError(f"track {tid!r} is {where}; a track must be on one side only")
            side_of[tid] = side
        ordered[side] = ids
    present = set(track_ids)
    assignment = {tid: side_of[tid] for tid in sorted(present) if tid in side_of}
    missing = {side: [tid for tid in ids if tid not in present] for side, ids in ordered.items()}
    return assignment, missing


@dataclass
class SplitListReport:
    """How a dataset matches a set of split lists (for the CLI and run manifests).

    Attributes:
        listed: ids per side in the lists.
        matched: dataset tracks per side (sorted).
        missing: listed ids per side that the dataset lacks (list order).
        unlisted: dataset tracks that no list names; they are left out of the split.
    """

    listed: dict[str, int]
    matched: dict[str, list[str]]
    missing: dict[str, list[str]]
    unlisted: list[str] = field(default_factory=list)

    @property
    def assignment(self) -> dict[str, str]:
        """``{track_id: side}`` for the matched tracks."""
        return {tid: side for side, ids in self.matched.items() for tid in ids}

    @property
    def ok(self) -> bool:
        """True when every side has at least one track."""
        return bool(self.matched) and all(self.matched.values())

    def format(self, max_ids: int = 10) -> str:
        """Human-readable summary; at most ``max_ids`` missing ids are named per side."""
        lines = []
        for side in self.matched:
            n_missing = len(self.missing.get(side, []))
            lines.append(
                f"{side:>5}: {len(self.matched[side])} tracks matched of {self.listed.get(side, 0)} listed"
                + (f", {n_missing} missing from the dataset" if n_missing else "")
            )
            if n_missing:
                shown = self.missing[side][:max_ids]
                more = f" ... (+{n_missing - len(shown)} more)" if n_missing > len(shown) else ""
                lines.append(f"       missing: {' '.join(shown)}{more}")
        if self.unlisted:
            lines.append(f"{len(self.unlisted)} dataset tracks are in no list and are left out")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return {
            "listed": dict(self.listed),
            "matched": {side: len(ids) for side, ids in self.matched.items()},
            "missing": {side: list(ids) for side, ids in self.missing.items()},
            "unlisted": len(self.unlisted),
            "unlisted_ids": list(self.unlisted),
        }


def split_list_report(lists: Mapping[str, Iterable[str]], track_ids: Iterable[str]) -> SplitListReport:
    """:func:`match_split_lists` plus counts and the unlisted tracks, as a report object."""
    lists = {side: list(entries) for side, entries in lists.items()}
    track_ids = list(track_ids)
    assignment, missing = match_split_lists(lists, track_ids)
    matched: dict[str, list[str]] = {side: [] for side in lists}
    for tid, side in assignment.items():
        matched[side].append(tid)
    unlisted = sorted(set(track_ids) - set(assignment))
    return SplitListReport(
        listed={side: len(entries) for side, entries in lists.items()},
        matched=matched,
        missing=missing,
        unlisted=unlisted,
    )
