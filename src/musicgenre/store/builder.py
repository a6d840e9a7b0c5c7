"""Building feature stores: reuse, resume, update and consolidate, one process per store at a time.

Building (:func:`build_stores`) decodes each track once, computes every requested feature of its segments
in a pool of worker processes (one torch thread each; see :mod:`musicgenre.store.workers`), and saves each
finished track to ``parts/<track_id>.npz``. An interrupted build (Ctrl-C, kill, crash) resumes where it
stopped: parts that exist and match the source file's size and mtime are kept. Consolidation then writes
``features.npy``, ``manifest.csv``, ``errors.csv``, ``meta.json`` and finally ``DONE``.

A complete store is reused as is, unless the dataset's file list changed (files added, removed, or with a
new size or mtime): then it is updated, recomputing only the new or changed tracks. Files that cannot be
decoded are reported, listed in ``errors.csv`` and left out; they are retried on the next build only if
the store is incomplete or the file list changed. If every file fails, :class:`DatasetError` is raised.

Each store is locked while it is checked, built or reused (:mod:`musicgenre.store.lock`), so a second
build of the same store waits for the first one and then reuses its result. Holding the lock, a build
first removes the temporary files that a killed build left behind.

The decoder and the extractor are parameters (``decode=``, ``extract=``), by default
:func:`~musicgenre.audio.load_audio` and :func:`~musicgenre.features.extract_many`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
from tqdm import tqdm

from musicgenre.audio.segment import SegmentConfig
from musicgenre.datasets.index import DatasetIndex, Track
from musicgenre.errors import DatasetError
from musicgenre.features.registry import FeatureConfig, extract_many
from musicgenre.store.format import (
    FailedFile,
    FeatureStore,
    Fingerprint,
    IncompleteStoreError,
    Manifest,
    Part,
    StoreSummary,
    features_writer,
    finish_store,
    is_complete,
    mark_incomplete,
    open_store,
    part_ok,
    part_path,
    prepare_parts,
    relative_source,
    remove_stale_files,
    reset,
    store_path,
)
from musicgenre.store.lock import StoreLock
from musicgenre.store.workers import ClipDecoder, Decoder, Extraction, Extractor, Job, run_jobs

log = logging.getLogger("musicgenre.store")


def build_stores(
    index: DatasetIndex,
    configs: Sequence[FeatureConfig],
    segment: SegmentConfig,
    *,
    cache_root: str | Path | None = None,
    workers: int = 2,
    progress: bool = True,
    rebuild: bool = False,
    extract: Extractor = extract_many,
    decode: Decoder | None = None,
) -> dict[str, FeatureStore]:
    """Build (or reuse, or resume) one store per feature config; returns ``{config.key(): store}``.

    Each track is decoded once (``decode(path, sample_rate)``; by default :func:`~musicgenre.audio.load_audio` reading
    only the first ``segment.clip_seconds``, so memory does not grow with the file) and all features still missing for it are
    computed together (``extract(configs, segments, sample_rate)``). ``workers`` processes share the work
    (1 = in this process; with more, ``extract`` and ``decode`` must be picklable). ``rebuild=True``
    discards existing stores first. A store that another process is building is waited for.
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

    with ExitStack() as locks:
        for path in sorted(paths.values()):  # always in the same order: two builds never deadlock
            lock = locks.enter_context(StoreLock(path, on_wait=lambda msg: _report(msg, progress)))
            if lock.held and path.is_dir():
                remove_stale_files(path)

        ready: dict[str, FeatureStore] = {}
        todo: list[FeatureConfig] = []
        for cfg in unique:
            path = paths[cfg.key()]
            if rebuild:
                reset(path)
            elif is_complete(path):
                try:
                    existing = open_store(path)
                except DatasetError as exc:
                    _report(f"{exc}; building it again", progress)
                    reset(path)
                else:
                    if existing.meta.get("files") == files:
                        ready[cfg.key()] = existing  # complete and up to date: nothing to do
                        continue
                    n = _salvage(existing, index, fps)
                    _report(
                        f"{path}: the dataset's files changed; updating the store ({n} tracks reused)",
                        progress,
                    )
                    mark_incomplete(path)
            todo.append(cfg)

        if todo:
            steps = Extraction(decode=decode or ClipDecoder(segment.clip_seconds), extract=extract)
            _build(index, todo, segment, paths, fps, files, steps, workers=workers, progress=progress)
        for cfg in todo:
            ready[cfg.key()] = open_store(paths[cfg.key()])
    return {cfg.key(): ready[cfg.key()] for cfg in unique}


def build_store(
    index: DatasetIndex, config: FeatureConfig, segment: SegmentConfig, **kwargs: Any
) -> FeatureStore:
    """:func:`build_stores` for a single feature."""
    return build_stores(index, [config], segment, **kwargs)[config.key()]


def _fingerprint(path: Path) -> Fingerprint:
    try:
        st = path.stat()
    except OSError:
        return None
    return int(st.st_size), int(st.st_mtime_ns)


def _file_list(index: DatasetIndex, fps: dict[str, Fingerprint]) -> list[list[Any]]:
    out = []
    for t in index.tracks:
        fp = fps[t.track_id]
        out.append([t.track_id, t.genre, relative_source(t.path, index.root), *(fp if fp else (None, None))])
    return out


def _report(msg: str, progress: bool) -> None:
    if progress:
        tqdm.write(msg)
    else:
        log.warning(msg)


def _salvage(old: FeatureStore, index: DatasetIndex, fps: dict[str, Fingerprint]) -> int:
    """Turn the unchanged tracks of a complete but outdated store back into parts. Returns their count."""
    path = old.path
    old_fps = {r[0]: (r[3], r[4]) for r in old.meta.get("files", []) if r[3] is not None}
    tids = old.manifest.track_id
    bounds: dict[str, tuple[int, int]] = {}
    if len(tids):
        starts = np.flatnonzero(np.r_[True, tids[1:] != tids[:-1]])
        stops = np.r_[starts[1:], len(tids)]
        bounds = {str(tids[a]): (int(a), int(b)) for a, b in zip(starts, stops, strict=True)}
    prepare_parts(path)
    n = 0
    for t in index.tracks:
        fp = fps[t.track_id]
        if fp is None or t.track_id not in bounds or tuple(old_fps.get(t.track_id, ())) != fp:
            continue
        a, b = bounds[t.track_id]
        part = part_path(path, t.track_id)
        if part_ok(part, fp):
            continue
        Part(
            features=np.asarray(old.features[a:b]),
            segment_index=old.manifest.segment_index[a:b],
            padding=old.manifest.padding[a:b],
            duration=float(old.manifest.duration[a]),
            fingerprint=fp,
        ).write(part)
        n += 1
    return n


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
        part = part_path(path, t.track_id)
        try:
            ok.append((t, part, Part.rows(part)))
        except Exception as exc:
            _bad_part(part, exc)
    n_rows = sum(n for _, _, n in ok)
    shape = (n_rows, *config.shape(segment))
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("tid", "genre", "seg", "src", "dur", "pad")}
    genres: dict[str, int] = {}
    seconds = 0.0
    row = 0
    with features_writer(path, shape) as out:
        for t, part, n in ok:
            try:
                p = Part.read(part)
                if p.features.shape != (n, *shape[1:]):
                    raise ValueError(f"shape {p.features.shape}, expected {(n, *shape[1:])}")
            except Exception as exc:
                _bad_part(part, exc)
            out[row : row + n] = p.features
            cols["seg"].append(p.segment_index)
            cols["pad"].append(p.padding)
            cols["tid"].append(np.full(n, t.track_id))
            cols["genre"].append(np.full(n, t.genre))
            cols["src"].append(np.full(n, relative_source(t.path, index.root)))
            cols["dur"].append(np.full(n, p.duration))
            genres[t.genre] = genres.get(t.genre, 0) + 1
            seconds += p.duration
            row += n
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
    failed = [  # in index order, whatever order the workers finished in
        FailedFile(t.track_id, t.genre, relative_source(t.path, index.root), errors[t.track_id])
        for t in index.tracks
        if t.track_id in errors
    ]
    summary = StoreSummary(
        dataset_root=Path(index.root),
        feature=config,
        segment=segment,
        shape=shape,
        tracks=len(ok),
        audio_seconds=seconds,
        tracks_per_genre=genres,
        failed=failed,
        skipped=[[relative_source(Path(p), index.root), why] for p, why in index.skipped],
        files=files,
        last_run=run,
    )
    finish_store(path, manifest, summary)


def _build(
    index: DatasetIndex,
    configs: list[FeatureConfig],
    segment: SegmentConfig,
    paths: dict[str, Path],
    fps: dict[str, Fingerprint],
    files: list[list[Any]],
    steps: Extraction,
    *,
    workers: int,
    progress: bool,
) -> None:
    for cfg in configs:
        prepare_parts(paths[cfg.key()])

    jobs: list[Job] = []
    for t in index.tracks:
        missing = [c for c in configs if not part_ok(part_path(paths[c.key()], t.track_id), fps[t.track_id])]
        if missing:
            parts = tuple(part_path(paths[c.key()], t.track_id) for c in missing)
            jobs.append(Job(t, fps[t.track_id], tuple(missing), parts, segment, steps))

    names = ", ".join(c.name for c in configs)
    errors: dict[str, str] = {}
    audio = cpu = 0.0
    start = time.perf_counter()
    n_workers = min(workers, len(jobs))
    results = run_jobs(jobs, n_workers)
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
