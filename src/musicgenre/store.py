"""The on-disk feature cache that all training reads from.

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

``cache_root`` defaults to :func:`musicgenre.settings.cache_dir`. ``dataset_key`` is the dataset folder's
name plus a short hash of its absolute path and the segment config; ``feature_key`` is
:meth:`FeatureConfig.key` (feature name plus a hash of its config). ``source_file`` in the manifest is
relative to the dataset root (``meta.json`` has the root); ``duration_s`` is the source clip's decoded
length and ``padding`` the fraction of the segment that is zero padding. Rows follow the dataset index
order (genre, track id), then segment index, so stores built from the same dataset and segment config
with the same set of good files have aligned rows.

Building (:func:`build_stores`) decodes each track once, computes every requested feature of its segments
with :func:`~musicgenre.features.extract_many` in a pool of worker processes (one torch thread each), and
saves each finished track to ``parts/<track_id>.npz`` (written to a temporary name, then renamed). An
interrupted build (Ctrl-C, kill, crash) resumes where it stopped: parts that exist and match the source
file's size and mtime are kept. Consolidation then writes ``features.npy`` (temporary name + rename),
``manifest.csv``, ``errors.csv``, ``meta.json`` and finally ``DONE``.

A complete store is reused as is, unless the dataset's file list changed (files added, removed, or with a
new size or mtime): then it is updated, recomputing only the new or changed tracks. Files that cannot be
decoded are reported, listed in ``errors.csv`` and left out; they are retried on the next build only if
the store is incomplete or the file list changed. If every file fails, :class:`DatasetError` is raised.

Worker processes come from a fork server (spawn where there is none), as plain fork is unsafe once torch
has started threads: a script that calls :func:`build_stores` with ``workers > 1`` needs the usual
``if __name__ == "__main__":`` guard. ``FeatureStore.features`` is a read-only memmap; pickling it (e.g.
into DataLoader worker processes) copies the whole array, so pass ``store.path`` and reopen it there.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import multiprocessing
import re
import shutil
import signal
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from tqdm import tqdm

from musicgenre import __version__
from musicgenre.audio.io import load_audio
from musicgenre.audio.segment import SegmentConfig, split_segments
from musicgenre.datasets.index import DatasetIndex, Track
from musicgenre.errors import AudioError, DatasetError, MusicGenreError
from musicgenre.features.registry import FeatureConfig, config_from_dict, extract_many
from musicgenre.fileio import atomic_path, atomic_write
from musicgenre.settings import cache_dir

__all__ = [
    "FeatureStore",
    "IncompleteStoreError",
    "Manifest",
    "build_store",
    "build_stores",
    "dataset_key",
    "open_store",
    "store_path",
]

log = logging.getLogger(__name__)

FORMAT_NAME = "musicgenre-feature-store"
#: Bumped whenever the store layout changes incompatibly (old stores are then rebuilt).
FORMAT_VERSION = 1
MANIFEST_COLUMNS = ("row", "track_id", "genre", "segment_index", "source_file", "duration_s", "padding")
ERROR_COLUMNS = ("track_id", "genre", "source_file", "error")
#: Segments per extract call; bounds memory for long clips (clip_seconds=None).
MAX_BATCH = 64

_FEATURES = "features.npy"
_MANIFEST = "manifest.csv"
_ERRORS = "errors.csv"
_META = "meta.json"
_DONE = "DONE"
_PARTS = "parts"


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


# --- building -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Job:
    track: Track
    fingerprint: tuple[int, int] | None  # (size, mtime_ns)
    configs: tuple[FeatureConfig, ...]
    parts: tuple[Path, ...]  # one part file per config
    segment: SegmentConfig


@dataclass(frozen=True)
class _Result:
    track_id: str
    segments: int
    seconds: float
    error: str | None = None
    cpu_seconds: float = 0.0  # CPU time the worker spent on this track


def _fingerprint(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return int(st.st_size), int(st.st_mtime_ns)


def _file_list(index: DatasetIndex, fps: dict[str, tuple[int, int] | None]) -> list[list[Any]]:
    out = []
    for t in index.tracks:
        fp = fps[t.track_id]
        out.append([t.track_id, t.genre, _relative(t.path, index.root), *(fp if fp else (None, None))])
    return out


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _part_path(store: Path, track_id: str) -> Path:
    return store / _PARTS / f"{track_id}.npz"


def _part_ok(path: Path, fingerprint: tuple[int, int] | None) -> bool:
    """A part is kept when it loads and was computed from a file of the same size and mtime."""
    if fingerprint is None or not path.is_file():
        return False
    try:
        with np.load(path) as z:
            return (int(z["source_size"]), int(z["source_mtime_ns"])) == fingerprint
    except Exception:  # truncated or foreign file: recompute it
        return False


def _write_part(path: Path, **arrays: np.ndarray) -> None:
    with atomic_write(path, "wb") as f:
        np.savez(f, **arrays)


def _error_message(exc: Exception) -> str:
    if isinstance(exc, AudioError):
        return exc.problem
    return f"{type(exc).__name__}: {exc}"


def _process_track(job: _Job) -> _Result:
    """Decode one track, compute its features and write one part per config. Runs in a worker."""
    track, segment = job.track, job.segment
    cpu0 = time.process_time()
    try:
        x = load_audio(track.path, segment.sample_rate)
        segs = split_segments(x, segment)
        chunks = [
            extract_many(job.configs, segs.samples[i : i + MAX_BATCH], segment.sample_rate)
            for i in range(0, len(segs), MAX_BATCH)
        ]
        seconds = x.shape[0] / segment.sample_rate
        for cfg, part in zip(job.configs, job.parts, strict=True):
            feats = np.concatenate([c[cfg.key()] for c in chunks]).astype(np.float32, copy=False)
            expected = (len(segs), *cfg.shape(segment))
            if feats.shape != expected:
                raise ValueError(f"feature {cfg.name!r} returned shape {feats.shape}, expected {expected}")
            size, mtime_ns = job.fingerprint or (-1, -1)
            _write_part(
                part,
                features=feats,
                segment_index=segs.index.astype(np.int64),
                padding=segs.padding.astype(np.float32),
                duration=np.float64(seconds),
                source_size=np.int64(size),
                source_mtime_ns=np.int64(mtime_ns),
            )
    except Exception as exc:
        return _Result(track.track_id, 0, 0.0, _error_message(exc), time.process_time() - cpu0)
    return _Result(track.track_id, len(segs), seconds, None, time.process_time() - cpu0)


def _init_worker() -> None:
    # The parent handles Ctrl-C: workers finish their current track (so no part is half written), then
    # the pool is shut down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(1)


def _run_serial(jobs: Sequence[_Job]) -> Iterator[_Result]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for job in jobs:
            yield _process_track(job)
    finally:
        torch.set_num_threads(threads)


def _mp_context() -> multiprocessing.context.BaseContext:
    """forkserver where available, else spawn; plain fork is unsafe once torch's thread pools exist.

    The fork server imports torch once per Python session, so later builds start their workers in a
    fraction of a second instead of importing torch again in each worker.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "musicgenre.store"])
        return ctx
    return multiprocessing.get_context("spawn")


def _run_pool(jobs: Sequence[_Job], workers: int) -> Iterator[_Result]:
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=_mp_context(), initializer=_init_worker)
    pending: set[Future[_Result]] = set()
    todo = iter(jobs)
    try:
        # Keep a bounded number of tracks in flight so that results stream back in a steady order.
        for job in todo:
            pending.add(pool.submit(_process_track, job))
            if len(pending) >= 4 * workers:
                break
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    raise MusicGenreError(
                        "a feature worker process died (out of memory, or killed); the tracks finished so "
                        "far are kept: run the build again to resume it, or use fewer workers"
                    ) from None
                yield result
                nxt = next(todo, None)
                if nxt is not None:
                    pending.add(pool.submit(_process_track, nxt))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _report(msg: str, progress: bool) -> None:
    if progress:
        tqdm.write(msg)
    else:
        log.warning(msg)


def _reset(path: Path) -> None:
    (path / _DONE).unlink(missing_ok=True)
    shutil.rmtree(path / _PARTS, ignore_errors=True)


def _salvage(old: FeatureStore, index: DatasetIndex, fps: dict[str, tuple[int, int] | None]) -> int:
    """Turn the unchanged tracks of a complete but outdated store back into parts. Returns their count."""
    path = old.path
    old_fps = {r[0]: (r[3], r[4]) for r in old.meta.get("files", []) if r[3] is not None}
    tids = old.manifest.track_id
    bounds: dict[str, tuple[int, int]] = {}
    if len(tids):
        starts = np.flatnonzero(np.r_[True, tids[1:] != tids[:-1]])
        stops = np.r_[starts[1:], len(tids)]
        bounds = {str(tids[a]): (int(a), int(b)) for a, b in zip(starts, stops, strict=True)}
    (path / _PARTS).mkdir(exist_ok=True)
    n = 0
    for t in index.tracks:
        fp = fps[t.track_id]
        if fp is None or t.track_id not in bounds or tuple(old_fps.get(t.track_id, ())) != fp:
            continue
        a, b = bounds[t.track_id]
        part = _part_path(path, t.track_id)
        if _part_ok(part, fp):
            continue
        _write_part(
            part,
            features=np.asarray(old.features[a:b]),
            segment_index=old.manifest.segment_index[a:b],
            padding=old.manifest.padding[a:b],
            duration=np.float64(old.manifest.duration[a]),
            source_size=np.int64(fp[0]),
            source_mtime_ns=np.int64(fp[1]),
        )
        n += 1
    return n


def _meta_json(meta: dict[str, Any]) -> str:
    """Indented JSON, except that each entry of the (long) ``files`` and ``errors`` lists takes one line."""
    meta = dict(meta)
    lists = {k: meta.pop(k) for k in ("errors", "skipped", "files")}
    text = json.dumps(meta, indent=1)[: -len("\n}")]
    for key, rows in lists.items():
        body = ",\n".join("  " + json.dumps(r) for r in rows)
        text += f',\n "{key}": [' + (f"\n{body}\n ]" if rows else "]")
    return text + "\n}\n"


def _bad_part(part: Path, exc: Exception) -> NoReturn:
    """A part damaged after it was written: remove it, so that the next run computes that track again."""
    part.unlink(missing_ok=True)
    raise IncompleteStoreError(f"{part}: unreadable part file ({exc}); it was removed, run the build again")


def _consolidate(
    path: Path,
    config: FeatureConfig,
    segment: SegmentConfig,
    index: DatasetIndex,
    files: list[list[Any]],
    errors: dict[str, str],
    run: dict[str, Any],
) -> None:
    """Assemble the parts of a store into features.npy + manifest + meta, then write DONE."""
    ok: list[tuple[Track, Path, int]] = []
    for t in index.tracks:
        if t.track_id in errors:
            continue
        part = _part_path(path, t.track_id)
        try:
            with np.load(part) as z:
                ok.append((t, part, int(z["segment_index"].shape[0])))
        except Exception as exc:
            _bad_part(part, exc)
    n_rows = sum(n for _, _, n in ok)
    shape = (n_rows, *config.shape(segment))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("tid", "genre", "seg", "src", "dur", "pad")}
    genres: dict[str, int] = {}
    seconds = 0.0
    row = 0
    with atomic_path(path / _FEATURES) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        for t, part, n in ok:
            try:
                with np.load(part) as z:
                    feats = z["features"]
                    if feats.shape != (n, *shape[1:]):
                        raise ValueError(f"shape {feats.shape}, expected {(n, *shape[1:])}")
                    out[row : row + n] = feats
                    cols["seg"].append(z["segment_index"].astype(np.int64))
                    cols["pad"].append(z["padding"].astype(np.float32))
                    dur = float(z["duration"])
            except Exception as exc:
                _bad_part(part, exc)
            cols["tid"].append(np.full(n, t.track_id))
            cols["genre"].append(np.full(n, t.genre))
            cols["src"].append(np.full(n, _relative(t.path, index.root)))
            cols["dur"].append(np.full(n, dur))
            genres[t.genre] = genres.get(t.genre, 0) + 1
            seconds += dur
            row += n
        out.flush()
        del out

    def cat(key: str, dtype: Any) -> np.ndarray:
        return np.concatenate(cols[key]).astype(dtype) if cols[key] else np.zeros(0, dtype=dtype)

    manifest = Manifest(
        track_id=cat("tid", str),
        genre=cat("genre", str),
        segment_index=cat("seg", np.int64),
        source_file=cat("src", str),
        duration=cat("dur", np.float64),
        padding=cat("pad", np.float32),
    )
    manifest.write_csv(path / _MANIFEST)
    error_rows = [  # in index order, whatever order the workers finished in
        (t.track_id, t.genre, _relative(t.path, index.root), errors[t.track_id])
        for t in index.tracks
        if t.track_id in errors
    ]
    with atomic_write(path / _ERRORS, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(ERROR_COLUMNS)
        w.writerows(error_rows)
    meta = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "musicgenre_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset_root": str(Path(index.root).expanduser().absolute()),
        "dataset_key": path.parent.name,
        "feature_key": config.key(),
        "feature": config.to_dict(),
        "segment": segment.to_dict(),
        "shape": list(shape),
        "dtype": "float32",
        "counts": {
            "tracks": len(ok),
            "rows": n_rows,
            "errors": len(errors),
            "skipped": len(index.skipped),
            "audio_seconds": round(seconds, 3),
            "tracks_per_genre": genres,
        },
        "errors": [[src, msg] for _, _, src, msg in error_rows],
        "last_run": run,
        "skipped": [[_relative(Path(p), index.root), why] for p, why in index.skipped],
        "files": files,
    }
    with atomic_write(path / _META, "w") as f:
        f.write(_meta_json(meta))
    with atomic_write(path / _DONE, "w") as f:
        f.write(f"{n_rows} rows\n")
    shutil.rmtree(path / _PARTS, ignore_errors=True)


def build_stores(
    index: DatasetIndex,
    configs: Sequence[FeatureConfig],
    segment: SegmentConfig,
    *,
    cache_root: str | Path | None = None,
    workers: int = 2,
    progress: bool = True,
    rebuild: bool = False,
) -> dict[str, FeatureStore]:
    """Build (or reuse, or resume) one store per feature config; returns ``{config.key(): store}``.

    Each track is decoded once and all features still missing for it are computed together. ``workers``
    processes share the work (1 = in this process). ``rebuild=True`` discards existing stores first.
    Raises :class:`DatasetError` when the index has no tracks or every file fails.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not index.tracks:
        raise DatasetError(f"{index.root}: no audio tracks to extract features from")
    unique = list({cfg.key(): cfg for cfg in configs}.values())
    fps = {t.track_id: _fingerprint(t.path) for t in index.tracks}
    files = _file_list(index, fps)
    paths = {cfg.key(): store_path(index.root, cfg, segment, cache_root) for cfg in unique}

    ready: dict[str, FeatureStore] = {}
    todo: list[FeatureConfig] = []
    for cfg in unique:
        path = paths[cfg.key()]
        if rebuild:
            _reset(path)
        elif is_complete(path):
            try:
                existing = open_store(path)
            except DatasetError as exc:
                _report(f"{exc}; building it again", progress)
                _reset(path)
            else:
                if existing.meta.get("files") == files:
                    ready[cfg.key()] = existing  # complete and up to date: nothing to do
                    continue
                n = _salvage(existing, index, fps)
                _report(
                    f"{path}: the dataset's files changed; updating the store ({n} tracks reused)", progress
                )
                (path / _DONE).unlink(missing_ok=True)
        todo.append(cfg)

    if todo:
        _build(index, todo, segment, paths, fps, files, workers=workers, progress=progress)
    for cfg in todo:
        ready[cfg.key()] = open_store(paths[cfg.key()])
    return {cfg.key(): ready[cfg.key()] for cfg in unique}


def build_store(
    index: DatasetIndex, config: FeatureConfig, segment: SegmentConfig, **kwargs: Any
) -> FeatureStore:
    """:func:`build_stores` for a single feature."""
    return build_stores(index, [config], segment, **kwargs)[config.key()]


def _build(
    index: DatasetIndex,
    configs: list[FeatureConfig],
    segment: SegmentConfig,
    paths: dict[str, Path],
    fps: dict[str, tuple[int, int] | None],
    files: list[list[Any]],
    *,
    workers: int,
    progress: bool,
) -> None:
    for cfg in configs:
        parts = paths[cfg.key()] / _PARTS
        parts.mkdir(parents=True, exist_ok=True)
        for stale in parts.glob(".*.tmp"):  # left by an interrupted write
            stale.unlink(missing_ok=True)

    jobs: list[_Job] = []
    for t in index.tracks:
        missing = [
            c for c in configs if not _part_ok(_part_path(paths[c.key()], t.track_id), fps[t.track_id])
        ]
        if missing:
            parts = tuple(_part_path(paths[c.key()], t.track_id) for c in missing)
            jobs.append(_Job(t, fps[t.track_id], tuple(missing), parts, segment))

    names = ", ".join(c.name for c in configs)
    errors: dict[str, str] = {}
    audio = cpu = 0.0
    start = time.perf_counter()
    n_workers = min(workers, len(jobs))
    results = _run_serial(jobs) if n_workers <= 1 else _run_pool(jobs, n_workers)
    with tqdm(
        total=len(index.tracks),
        initial=len(index.tracks) - len(jobs),
        unit="track",
        desc=f"features ({names})",
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        by_id = {t.track_id: t for t in index.tracks}
        for res in results:
            if res.error is not None:
                errors[res.track_id] = res.error
                _report(f"skipping {by_id[res.track_id].path}: {res.error}", progress)
            audio += res.seconds
            cpu += res.cpu_seconds
            elapsed = max(time.perf_counter() - start, 1e-9)
            bar.set_postfix_str(f"{audio:.0f} s audio, {audio / elapsed:.0f}x realtime", refresh=False)
            bar.update(1)

    if len(errors) == len(index.tracks):
        first = next(iter(errors.items()))
        raise DatasetError(
            f"{index.root}: none of the {len(errors)} audio files could be used "
            f"(first: {by_id[first[0]].path}: {first[1]})"
        )
    run = {  # what this build computed (a resumed or updated build computes only part of the store)
        "workers": max(n_workers, 1),
        "tracks_computed": len(jobs),
        "audio_seconds_computed": round(audio, 3),
        "extract_wall_seconds": round(time.perf_counter() - start, 3),
        "worker_cpu_seconds": round(cpu, 3),
    }
    for cfg in configs:
        _consolidate(paths[cfg.key()], cfg, segment, index, files, errors, run)
    if errors:
        _report(f"{len(errors)} of {len(index.tracks)} files could not be used; see errors.csv", progress)
