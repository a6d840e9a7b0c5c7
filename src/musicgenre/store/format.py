"""The on-disk format of a feature store: its layout, and reading and writing its files.

One *store* holds one feature (one :class:`~musicgenre.features.FeatureConfig`) of every segment of one
dataset cut with one :class:`~musicgenre.audio.SegmentConfig`. Layout::

    <cache_root>/<dataset_key>/<feature_key>/
        features.npy    float32 (n_rows, *shape); open_store memory-maps it (mmap_mode="r")
        manifest.csv    row, track_id, genre, segment_index, source_file, duration_s, padding
        errors.csv      track_id, genre, source_file, error: files that could not be used
        meta.json       feature + segment configs, dataset root, musicgenre version, counts, errors,
                        and the dataset's file list [track_id, genre, relative path, size, mtime_ns]
        DONE            written last; a store without it is incomplete and is never read
        parts/          per-track results while building (deleted once DONE is written)
    <cache_root>/<dataset_key>/.<feature_key>.lock
                        the store's build lock (see musicgenre.store.lock)

``cache_root`` defaults to :func:`musicgenre.settings.cache_dir`. ``dataset_key`` is the dataset folder's
name plus a short hash of its absolute path and the segment config; ``feature_key`` is
:meth:`FeatureConfig.key` (feature name plus a hash of its config). ``source_file`` in the manifest is
relative to the dataset root (``meta.json`` has the root); ``duration_s`` is the source clip's decoded
length and ``padding`` the fraction of the segment that is zero padding. Rows follow the dataset index
order (genre, track id), then segment index, so stores built from the same dataset and segment config
with the same set of good files have aligned rows.

Every file is written with :mod:`musicgenre.fileio` (a temporary ``.<name>.<random>.tmp`` beside it, then
a rename). ``FeatureStore.features`` is a read-only memmap; pickling it (e.g. into DataLoader worker
processes) copies the whole array, so pass ``store.path`` and reopen it there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre import __version__
from musicgenre.audio.segment import SegmentConfig
from musicgenre.errors import DatasetError
from musicgenre.features.registry import FeatureConfig, config_from_dict
from musicgenre.fileio import TMP_SUFFIX, atomic_path, atomic_write
from musicgenre.settings import cache_dir

FORMAT_NAME = "musicgenre-feature-store"
#: Bumped whenever the store layout changes incompatibly (old stores are then rebuilt).
FORMAT_VERSION = 1
MANIFEST_COLUMNS = ("row", "track_id", "genre", "segment_index", "source_file", "duration_s", "padding")
ERROR_COLUMNS = ("track_id", "genre", "source_file", "error")

_FEATURES = "features.npy"
_MANIFEST = "manifest.csv"
_ERRORS = "errors.csv"
_META = "meta.json"
_DONE = "DONE"
_PARTS = "parts"

#: (size, mtime_ns) of a source file; None when it could not be read.
Fingerprint = tuple[int, int] | None


class IncompleteStoreError(DatasetError):
    """A feature store that is missing, unfinished (no DONE marker) or unreadable."""


# --- the store ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Manifest:
    """One entry per feature row, as numpy columns (``track_id`` etc. are unicode arrays)."""

    track_id: np.ndarray
    genre: np.ndarray
    segment_index: np.ndarray  # int64, position of the segment within its clip
    source_file: np.ndarray  # path relative to the dataset root
    duration: np.ndarray  # float64 seconds of the source clip
    padding: np.ndarray  # float32 fraction of the segment that is zero padding

    def __len__(self) -> int:
        return int(self.track_id.shape[0])

    def rows_for_tracks(self, track_ids: Sequence[str] | np.ndarray) -> np.ndarray:
        """Row numbers (ascending) of every segment of the given tracks."""
        return np.flatnonzero(np.isin(self.track_id, np.asarray(list(track_ids), dtype=str)))

    def write_csv(self, path: Path) -> None:
        """Write ``manifest.csv`` (via a temporary file and a rename)."""
        rows = zip(
            self.track_id.tolist(),
            self.genre.tolist(),
            self.segment_index.tolist(),
            self.source_file.tolist(),
            self.duration.tolist(),
            self.padding.tolist(),
            strict=True,
        )
        with atomic_write(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(MANIFEST_COLUMNS)
            for i, (tid, genre, seg, src, dur, pad) in enumerate(rows):
                w.writerow([i, tid, genre, seg, src, f"{dur:.6f}", str(np.float32(pad))])

    @classmethod
    def read_csv(cls, path: Path) -> Manifest:
        """Read ``manifest.csv``."""
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or tuple(header) != MANIFEST_COLUMNS:
                raise IncompleteStoreError(f"{path}: unexpected manifest header {header}")
            cols = list(zip(*reader, strict=True)) or [()] * len(MANIFEST_COLUMNS)
        rows = np.asarray(cols[0], dtype=np.int64)
        if not np.array_equal(rows, np.arange(len(rows))):
            raise IncompleteStoreError(f"{path}: rows are not numbered 0..n-1")
        return cls(
            track_id=np.asarray(cols[1], dtype=str),
            genre=np.asarray(cols[2], dtype=str),
            segment_index=np.asarray(cols[3], dtype=np.int64),
            source_file=np.asarray(cols[4], dtype=str),
            duration=np.asarray(cols[5], dtype=np.float64),
            padding=np.asarray(cols[6], dtype=np.float32),
        )


@dataclass
class FeatureStore:
    """A complete, read-only feature store. ``features[i]`` is described by row ``i`` of ``manifest``.

    Attributes:
        path: the store folder.
        features: ``(n_rows, *shape)`` float32, memory-mapped read-only.
        manifest: per-row track id, genre, segment index, source file, clip duration and padding.
        feature_config: the feature's config.
        segment_config: how clips were cut into segments.
        errors: ``(source_file, message)`` of the files that could not be used.
        meta: the parsed ``meta.json``.
    """

    path: Path
    features: np.ndarray
    manifest: Manifest
    feature_config: FeatureConfig
    segment_config: SegmentConfig
    errors: list[tuple[str, str]] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.features.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one row's feature."""
        return tuple(self.features.shape[1:])

    @property
    def root(self) -> Path:
        """The dataset root the store was built from (``source_file`` is relative to it)."""
        return Path(self.meta["dataset_root"])

    @property
    def genres(self) -> list[str]:
        """Sorted genre names present in the store."""
        return sorted(set(self.manifest.genre.tolist()))

    @property
    def track_ids(self) -> list[str]:
        """Track ids in row order, each once."""
        return list(dict.fromkeys(self.manifest.track_id.tolist()))


def dataset_key(root: str | Path, segment: SegmentConfig) -> str:
    """``<folder name>-<hash of its absolute path and the segment config>``, e.g. ``gtzan-mini-1a2b3c4d5e``."""
    root = Path(root).expanduser().absolute()
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", root.name).strip("._") or "dataset"
    blob = json.dumps({"root": str(root.resolve()), "segment": segment.to_dict()}, sort_keys=True)
    return f"{name}-{hashlib.sha1(blob.encode()).hexdigest()[:10]}"


def store_path(
    index_root: str | Path,
    config: FeatureConfig,
    segment: SegmentConfig,
    cache_root: str | Path | None = None,
) -> Path:
    """Folder of the store for this dataset root, feature config and segment config."""
    base = Path(cache_root).expanduser() if cache_root is not None else cache_dir()
    return base / dataset_key(index_root, segment) / config.key()


def is_complete(path: str | Path) -> bool:
    """True when ``path`` holds a finished store (its DONE marker exists)."""
    return (Path(path) / _DONE).is_file()


def open_store(path: str | Path) -> FeatureStore:
    """Open a complete store; raises :class:`IncompleteStoreError` when it is missing or unfinished."""
    path = Path(path)
    if not path.is_dir():
        raise IncompleteStoreError(f"{path}: no feature store here")
    if not is_complete(path):
        raise IncompleteStoreError(
            f"{path}: feature store is incomplete (no DONE marker); build it again to finish it"
        )
    try:
        meta = json.loads((path / _META).read_text())
        if meta.get("format") != FORMAT_NAME or meta.get("format_version") != FORMAT_VERSION:
            raise IncompleteStoreError(
                f"{path}: store format {meta.get('format')!r} v{meta.get('format_version')} is not "
                f"{FORMAT_NAME!r} v{FORMAT_VERSION}; delete it and build again"
            )
        features = np.load(path / _FEATURES, mmap_mode="r")
        manifest = Manifest.read_csv(path / _MANIFEST)
        errors = [(str(src), str(msg)) for src, msg in meta.get("errors", [])]
        feature_config = config_from_dict(meta["feature"])
        segment_config = SegmentConfig.from_dict(meta["segment"])
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise IncompleteStoreError(f"{path}: unreadable feature store ({exc})") from None
    if features.shape[0] != len(manifest) or list(features.shape) != meta.get("shape"):
        raise IncompleteStoreError(
            f"{path}: features {features.shape} do not match the manifest ({len(manifest)} rows)"
        )
    return FeatureStore(path, features, manifest, feature_config, segment_config, errors, meta)


def relative_source(path: Path, root: Path) -> str:
    """``path`` relative to the dataset root, as stored in ``source_file`` (absolute when outside it)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --- part files -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Part:
    """One track's rows of one store, kept in ``parts/<track_id>.npz`` until the store is consolidated.

    ``fingerprint`` is the (size, mtime_ns) of the source file the rows were computed from.
    """

    features: np.ndarray  # (n, *shape) float32
    segment_index: np.ndarray  # (n,) int64
    padding: np.ndarray  # (n,) float32
    duration: float  # seconds of the decoded source clip
    fingerprint: Fingerprint

    def write(self, path: Path) -> None:
        """Save the part (temporary name, then rename)."""
        size, mtime_ns = self.fingerprint or (-1, -1)
        with atomic_write(path, "wb") as f:
            np.savez(
                f,
                features=self.features,
                segment_index=self.segment_index,
                padding=self.padding,
                duration=np.float64(self.duration),
                source_size=np.int64(size),
                source_mtime_ns=np.int64(mtime_ns),
            )

    @classmethod
    def read(cls, path: Path) -> Part:
        """Load a part; raises whatever numpy raises for a missing or damaged file."""
        with np.load(path) as z:
            return cls(
                features=z["features"],
                segment_index=z["segment_index"].astype(np.int64),
                padding=z["padding"].astype(np.float32),
                duration=float(z["duration"]),
                fingerprint=(int(z["source_size"]), int(z["source_mtime_ns"])),
            )

    @staticmethod
    def rows(path: Path) -> int:
        """The number of rows of a part, without loading its features."""
        with np.load(path) as z:
            return int(z["segment_index"].shape[0])


def part_path(store: Path, track_id: str) -> Path:
    """Where the part of ``track_id`` lives while ``store`` is built."""
    return store / _PARTS / f"{track_id}.npz"


def part_ok(path: Path, fingerprint: Fingerprint) -> bool:
    """A part is kept when it loads and was computed from a file of the same size and mtime."""
    if fingerprint is None or not path.is_file():
        return False
    try:
        with np.load(path) as z:
            return (int(z["source_size"]), int(z["source_mtime_ns"])) == fingerprint
    except Exception:  # truncated or foreign file: recompute it
        return False


# --- writing a store ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FailedFile:
    """A source file that could not be used: one row of ``errors.csv``."""

    track_id: str
    genre: str
    source_file: str  # relative to the dataset root
    error: str


@dataclass(frozen=True)
class StoreSummary:
    """What ``meta.json`` records about a finished store, besides the format fields."""

    dataset_root: Path
    feature: FeatureConfig
    segment: SegmentConfig
    shape: tuple[int, ...]
    tracks: int
    audio_seconds: float
    tracks_per_genre: dict[str, int]
    failed: list[FailedFile]  # in dataset index order
    skipped: list[list[str]]  # [source_file, why] of the files the index left out
    files: list[list[Any]]  # [track_id, genre, source_file, size, mtime_ns] of every indexed file
    last_run: dict[str, Any]  # what the build that finished the store computed


@contextmanager
def features_writer(store: Path, shape: tuple[int, ...]) -> Iterator[np.ndarray]:
    """A writable float32 memmap of ``shape`` that becomes ``features.npy`` when the block succeeds."""
    with atomic_path(store / _FEATURES) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        yield out
        out.flush()
        del out


def finish_store(store: Path, manifest: Manifest, summary: StoreSummary) -> None:
    """Write ``manifest.csv``, ``errors.csv``, ``meta.json`` and then ``DONE``; remove the parts.

    ``features.npy`` must already be written (:func:`features_writer`).
    """
    manifest.write_csv(store / _MANIFEST)
    with atomic_write(store / _ERRORS, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ERROR_COLUMNS)
        w.writerows([(e.track_id, e.genre, e.source_file, e.error) for e in summary.failed])
    shape = list(summary.shape)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "musicgenre_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_root": str(Path(summary.dataset_root).expanduser().absolute()),
        "dataset_key": store.parent.name,
        "feature_key": summary.feature.key(),
        "feature": summary.feature.to_dict(),
        "segment": summary.segment.to_dict(),
        "shape": shape,
        "dtype": "float32",
        "counts": {
            "tracks": summary.tracks,
            "rows": shape[0],
            "errors": len(summary.failed),
            "skipped": len(summary.skipped),
            "audio_seconds": round(summary.audio_seconds, 3),
            "tracks_per_genre": summary.tracks_per_genre,
        },
        "errors": [[e.source_file, e.error] for e in summary.failed],
        "last_run": summary.last_run,
        "skipped": summary.skipped,
        "files": summary.files,
    }
    with atomic_write(store / _META, "w") as f:
        f.write(_meta_json(meta))
    with atomic_write(store / _DONE, "w") as f:
        f.write(f"{shape[0]} rows\n")
    shutil.rmtree(store / _PARTS, ignore_errors=True)


def _meta_json(meta: dict[str, Any]) -> str:
    """Indented JSON, except that each entry of the (long) ``files`` and ``errors`` lists takes one line."""
    meta = dict(meta)
    lists = {k: meta.pop(k) for k in ("errors", "skipped", "files")}
    text = json.dumps(meta, indent=1)[: -len("\n}")]
    for key, rows in lists.items():
        body = ",\n".join("  " + json.dumps(r) for r in rows)
        text += f',\n "{key}": [' + (f"\n{body}\n ]" if rows else "]")
    return text + "\n}\n"


# --- changing a store (only while holding its lock) ----------------------------------------------------


def prepare_parts(store: Path) -> None:
    """Create the ``parts/`` folder (and the store folder)."""
    (store / _PARTS).mkdir(parents=True, exist_ok=True)


def mark_incomplete(store: Path) -> None:
    """Remove the DONE marker: the store is not read again until it is finished anew."""
    (store / _DONE).unlink(missing_ok=True)


def reset(store: Path) -> None:
    """Forget a store's state: no DONE marker, no parts (its other files are overwritten when it is built)."""
    mark_incomplete(store)
    shutil.rmtree(store / _PARTS, ignore_errors=True)


def remove_stale_files(store: Path) -> int:
    """Remove what a killed build left: temporary files, and the parts of a store that was finished.

    Only call this while holding the store's lock: the temporary files of a running build look the same.
    Returns the number of files and folders removed.
    """
    n = 0
    for folder in (store, store / _PARTS):
        for tmp in folder.glob(f".*{TMP_SUFFIX}"):
            tmp.unlink(missing_ok=True)
            n += 1
    if is_complete(store) and (store / _PARTS).is_dir():  # killed between DONE and removing parts/
        shutil.rmtree(store / _PARTS, ignore_errors=True)
        n += 1
    return n
