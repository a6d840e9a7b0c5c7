"""Computing the parts of a store: one job per track, run in this process or in a pool of worker processes.

A job decodes one track once with the build's decoder, computes every requested feature of its segments
with the build's extractor, and writes one part per feature. Both are given by an :class:`Extraction`,
which travels to the workers with each job: its two callables must be picklable (module-level functions,
or instances of module-level classes) when ``workers > 1``.

Worker processes come from a fork server (spawn where there is none), as plain fork is unsafe once torch
has started threads: a script that builds stores with ``workers > 1`` needs the usual
``if __name__ == "__main__":`` guard. Workers exit when the build's process dies, even by ``kill -9``
(:func:`die_with`).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgenre.audio.io import audio_info, load_audio
from musicgenre.audio.segment import SegmentConfig, split_segments
from musicgenre.datasets.index import Track
from musicgenre.device import current_device_name, set_current_device
from musicgenre.errors import AudioError, MusicGenreError
from musicgenre.features.registry import FeatureConfig, extract_many
from musicgenre.store.format import Fingerprint, Part

#: Segments per extract call; bounds memory for long clips (clip_seconds=None).
MAX_BATCH = 64

#: ``decode(path, sample_rate) -> mono float32 samples``, like :func:`musicgenre.audio.load_audio`.
Decoder = Callable[[Path, int], np.ndarray]
#: ``extract(configs, segments, sample_rate) -> {config.key(): array}``, like
#: :func:`musicgenre.features.extract_many`.
Extractor = Callable[[Sequence[FeatureConfig], np.ndarray, int], dict[str, np.ndarray]]


@dataclass(frozen=True)
class ClipDecoder:
    """The default decoder: :func:`load_audio` of the first ``seconds`` only (None: the whole file), so a
    1-hour file costs no more memory than a 30 s one. :meth:`source_seconds` gives the file's length."""

    seconds: float | None = None

    #: Decoded beyond the clip, so that resampling gives the clip the same samples as a whole-file decode.
    MARGIN = 1.0

    @property
    def decode_seconds(self) -> float | None:
        return None if self.seconds is None else self.seconds + self.MARGIN

    def __call__(self, path: Path, sample_rate: int) -> np.ndarray:
        return load_audio(path, sample_rate, duration=self.decode_seconds)

    def source_seconds(self, path: Path, decoded_seconds: float) -> float:
        """The whole file's duration: the header's when decoding stopped before the end of the file."""
        limit = self.decode_seconds
        if limit is None or decoded_seconds < limit - 0.01:
            return decoded_seconds
        return max(decoded_seconds, audio_info(path).duration)


@dataclass(frozen=True)
class Extraction:
    """How a track becomes features: the decoder and the extractor of a build."""

    decode: Decoder = ClipDecoder()
    extract: Extractor = extract_many


@dataclass(frozen=True)
class Job:
    """The features still missing for one track, and where their parts go."""

    track: Track
    fingerprint: Fingerprint  # of the source file, stored in its parts
    configs: tuple[FeatureConfig, ...]
    parts: tuple[Path, ...]  # one part file per config
    segment: SegmentConfig
    extraction: Extraction


@dataclass(frozen=True)
class Result:
    """What a job did: the track's segment count and duration, or why it could not be used."""

    track_id: str
    segments: int
    seconds: float
    error: str | None = None
    cpu_seconds: float = 0.0  # CPU time the worker spent on this track


def _error_message(exc: Exception) -> str:
    if isinstance(exc, AudioError):
        return exc.problem
    return f"{type(exc).__name__}: {exc}"


def check_features(path: Path, name: str, feats: np.ndarray, segment_index: np.ndarray) -> None:
    """Raise :class:`AudioError` naming ``path`` when a feature row holds NaN or infinite values."""
    bad = ~np.isfinite(feats.reshape(len(feats), -1)).all(axis=1)
    if bad.any():
        first = int(segment_index[int(np.flatnonzero(bad)[0])])
        raise AudioError(
            path,
            f"feature {name} is not finite (NaN or infinite) in {int(bad.sum())} segment(s), first {first}",
        )


def process_track(job: Job) -> Result:
    """Decode one track, compute its features and write one part per config. Runs in a worker."""
    track, segment, steps = job.track, job.segment, job.extraction
    cpu0 = time.process_time()
    try:
        x = steps.decode(track.path, segment.sample_rate)
        segs = split_segments(x, segment)
        chunks = [
            steps.extract(job.configs, segs.samples[i : i + MAX_BATCH], segment.sample_rate)
            for i in range(0, len(segs), MAX_BATCH)
        ]
        seconds = x.shape[0] / segment.sample_rate
        if isinstance(steps.decode, ClipDecoder):
            seconds = steps.decode.source_seconds(track.path, seconds)
        for cfg, part in zip(job.configs, job.parts, strict=True):
            feats = np.concatenate([c[cfg.key()] for c in chunks]).astype(np.float32, copy=False)
            expected = (len(segs), *cfg.shape(segment))
            if feats.shape != expected:
                raise ValueError(f"feature {cfg.name!r} returned shape {feats.shape}, expected {expected}")
            check_features(track.path, cfg.name, feats, segs.index)
            Part(
                features=feats,
                segment_index=segs.index.astype(np.int64),
                padding=segs.padding.astype(np.float32),
                duration=seconds,
                fingerprint=job.fingerprint,
            ).write(part)
    except Exception as exc:
        return Result(track.track_id, 0, 0.0, _error_message(exc), time.process_time() - cpu0)
    return Result(track.track_id, len(segs), seconds, None, time.process_time() - cpu0)


def run_jobs(jobs: Sequence[Job], workers: int) -> Iterator[Result]:
    """Results of ``jobs`` as they finish: in this process when ``workers <= 1``, else in a pool."""
    return _run_serial(jobs) if workers <= 1 else _run_pool(jobs, workers)


#: ``prctl`` option: the signal a process gets when its parent dies (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def die_with(pid: int) -> None:
    """Make this worker exit when process ``pid`` (the build's) dies, even by ``kill -9``, which gives it no
    chance to shut its pool down.

    A pool's workers are children of the fork server, which stays up while they hold its "alive" pipe, so
    the parent's death signal (``prctl(PR_SET_PDEATHSIG)``, set too, on Linux) would never come: a daemon
    thread waits on a pidfd of ``pid`` (Linux), or polls it once a second elsewhere.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    def watch() -> None:
        try:
            fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # no pidfds (not Linux, or before 5.3), or already gone
            while _alive(pid):
                time.sleep(1.0)
        else:
            select.select([fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _init_worker(build_pid: int, device: str = "cpu") -> None:
    # The parent handles Ctrl-C: workers finish their current track (so no part is half written), then
    # the pool is shut down. If the build's process is killed outright, the workers exit too. The
    # extractors run on the build's device (musicgenre.device; not part of the cache key).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with(build_pid)
    set_current_device(device)
    import torch

    torch.set_num_threads(1)


def _run_serial(jobs: Sequence[Job]) -> Iterator[Result]:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for job in jobs:
            yield process_track(job)
    finally:
        torch.set_num_threads(threads)


def mp_context() -> multiprocessing.context.BaseContext:
    """forkserver where available, else spawn; plain fork is unsafe once torch's thread pools exist.

    The fork server imports torch once per Python session, so later builds start their workers in a
    fraction of a second instead of importing torch again in each worker.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["torch", "musicgenre.store.workers"])
        return ctx
    return multiprocessing.get_context("spawn")


def _run_pool(jobs: Sequence[Job], workers: int) -> Iterator[Result]:
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp_context(),
        initializer=_init_worker,
        initargs=(os.getpid(), current_device_name()),
    )
    pending: set[Future[Result]] = set()
    todo = iter(jobs)
    try:
        # Keep a bounded number of tracks in flight so that results stream back in a steady order.
        for job in todo:
            pending.add(pool.submit(process_track, job))
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
                    pending.add(pool.submit(process_track, nxt))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
