"""Feature-extraction throughput of the feature cache: seconds of audio per wall-clock second.

Each run builds the stores of a whole dataset (default: gtzan-mini, 100 real clips) from scratch into a
fresh temporary cache with :func:`musicgenre.store.build_stores`, so the figure covers decoding,
resampling, segmentation, feature extraction and writing the store (and, with several workers, starting
the process pool). A feature group given as ``a+b`` is computed in one pass (each track decoded once).

    python benchmarks/bench_features.py                      # waveform, mfcc, waveform+mfcc; workers 1 and 2
    python benchmarks/bench_features.py --features mfcc --features yamnet_embedding --workers 2
    python benchmarks/bench_features.py --out benchmarks/results/features.md

Also reported: decoding alone (load_audio + split_segments, one process), the MFCC module alone (a batch of
10 segments, one torch thread) and the pretrained feature modules alone (``--module-features``, default
yamnet_embedding and musicnn_msd) on the same real segments, interleaved repetition by repetition, per torch
thread count: ms per 3 s segment and multiples of real time.

    python benchmarks/bench_features.py --features musicnn_msd --features yamnet_embedding --workers 1 \
        --max-tracks 20 --out benchmarks/results/features-musicnn.md
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from machine_info import describe_machine
from musicgenre.audio import SegmentConfig, load_audio, split_segments
from musicgenre.datasets.index import DatasetIndex, scan_dataset
from musicgenre.features import extract, feature_names, make_config
from musicgenre.settings import shared_dir
from musicgenre.store import build_stores

DEFAULT_GROUPS = ["waveform", "mfcc", "waveform+mfcc"]


def select_tracks(root: Path, max_tracks: int | None) -> DatasetIndex:
    """The dataset, or ``max_tracks`` of its tracks spread evenly over it (so over its genres)."""
    index = scan_dataset(root)
    if not max_tracks or max_tracks >= len(index.tracks):
        return index
    picks = np.linspace(0, len(index.tracks) - 1, max_tracks).round().astype(int)
    return DatasetIndex(root=index.root, tracks=[index.tracks[i] for i in picks])


def bench_build(index: DatasetIndex, group: list[str], workers: int, segment: SegmentConfig) -> dict:
    configs = [make_config(name) for name in group]
    with tempfile.TemporaryDirectory(prefix="mg-bench-") as tmp:
        load = os.getloadavg()[0]
        start, cpu0 = time.perf_counter(), time.process_time()
        stores = build_stores(index, configs, segment, cache_root=Path(tmp), workers=workers, progress=False)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        first = next(iter(stores.values()))
        audio = float(first.meta["counts"]["audio_seconds"])
        if workers > 1:  # the workers' CPU time (this process only waited and consolidated)
            cpu += float(first.meta["last_run"]["worker_cpu_seconds"])
        size = sum(f.stat().st_size for s in stores.values() for f in s.path.iterdir())
    return {
        "group": "+".join(group),
        "workers": workers,
        "tracks": len(index.tracks),
        "rows": len(first),
        "audio_s": audio,
        "wall_s": wall,
        "throughput": audio / wall,
        "cpu_s": cpu,
        "per_cpu": audio / cpu,
        "mb": size / 1e6,
        "load": load,
    }


def bench_pool_start(root: Path, workers: int, segment: SegmentConfig) -> float:
    """Wall seconds of a first multi-worker build of 2 tracks: mostly starting the fork server (imports torch)."""
    full = scan_dataset(root)
    small = DatasetIndex(root=full.root, tracks=full.tracks[:2])
    with tempfile.TemporaryDirectory(prefix="mg-bench-") as tmp:
        start = time.perf_counter()
        build_stores(
            small, [make_config("waveform")], segment, cache_root=Path(tmp), workers=workers, progress=False
        )
        return time.perf_counter() - start


def bench_decode(index: DatasetIndex, segment: SegmentConfig) -> tuple[float, float]:
    """(seconds of audio, wall seconds) to decode, resample and segment every track in this process."""
    audio = 0.0
    start = time.perf_counter()
    for t in index.tracks:
        x = load_audio(t.path, segment.sample_rate)
        split_segments(x, segment)
        audio += x.size / segment.sample_rate
    return audio, time.perf_counter() - start


def bench_mfcc_batch(segment: SegmentConfig, repeats: int = 50) -> float:
    """Median milliseconds to compute the MFCCs of 10 segments with one torch thread."""
    x = np.random.default_rng(0).standard_normal((10, segment.segment_samples)).astype(np.float32) * 0.1
    cfg = make_config("mfcc")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        extract(cfg, x, segment.sample_rate)
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            extract(cfg, x, segment.sample_rate)
            times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(threads)
    return float(np.median(times) * 1e3)


def real_segments(index: DatasetIndex, segment: SegmentConfig, count: int) -> np.ndarray:
    """The first ``count`` segments of the tracks, in order: ``(count, samples)`` at the segment rate."""
    parts: list[np.ndarray] = []
    for t in index.tracks:
        parts.extend(split_segments(load_audio(t.path, segment.sample_rate), segment).samples)
        if len(parts) >= count:
            break
    return np.stack(parts[:count]).astype(np.float32)


def bench_modules(
    names: list[str], segments: np.ndarray, segment: SegmentConfig, threads: int, repeats: int = 5
) -> list[dict]:
    """ms per segment of each feature module on the same segments (models loaded first), interleaved."""
    configs = {n: make_config(n) for n in names}
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for cfg in configs.values():
            extract(cfg, segments[:2], segment.sample_rate)  # loads the model, warms the kernels
        load = os.getloadavg()[0]
        times: dict[str, list[float]] = {n: [] for n in names}
        cpu: dict[str, list[float]] = {n: [] for n in names}
        for _ in range(repeats):
            for n, cfg in configs.items():
                t0, c0 = time.perf_counter(), time.process_time()
                extract(cfg, segments, segment.sample_rate)
                times[n].append((time.perf_counter() - t0) / len(segments) * 1e3)
                cpu[n].append((time.process_time() - c0) / len(segments) * 1e3)
    finally:
        torch.set_num_threads(before)
    seg_ms = segment.segment_seconds * 1e3
    return [
        {
            "feature": n,
            "threads": threads,
            "segments": len(segments),
            "ms": float(np.median(times[n])),
            "best_ms": float(np.min(times[n])),
            "cpu_ms": float(np.median(cpu[n])),
            "realtime": seg_ms / float(np.median(times[n])),
            "best_realtime": seg_ms / float(np.min(times[n])),
            "load": f"{load:.1f}/{os.getloadavg()[0]:.1f}",
        }
        for n in names
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=shared_dir() / "data" / "gtzan-mini")
    parser.add_argument(
        "--features",
        action="append",
        help="feature group to build, e.g. mfcc or waveform+mfcc (repeatable; default: %(default)s)",
    )
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    parser.add_argument("--max-tracks", type=int, help="use this many tracks, spread over the dataset")
    parser.add_argument(
        "--module-features",
        default="yamnet_embedding,musicnn_msd",
        help="comma-separated features timed alone on the same segments ('' to skip; default %(default)s)",
    )
    parser.add_argument("--module-segments", type=int, default=40, help="real segments for the module timing")
    parser.add_argument("--module-threads", default="1,2", help="torch thread counts for the module timing")
    parser.add_argument("--out", type=Path, help="write a markdown report here")
    args = parser.parse_args(argv)
    groups = [g.split("+") for g in (args.features or DEFAULT_GROUPS)]
    modules = [m for m in args.module_features.split(",") if m]
    known = set(feature_names())
    for g in [*groups, modules]:
        for name in g:
            if name not in known:
                parser.error(f"unknown feature {name!r}; known: {', '.join(sorted(known))}")
    workers = [int(w) for w in args.workers.split(",")]
    segment = SegmentConfig()

    index = select_tracks(args.data, args.max_tracks)
    print(describe_machine(), flush=True)
    audio, wall = bench_decode(index, segment)
    print(
        f"decode+resample+segment only: {audio:.0f} s audio in {wall:.2f} s = {audio / wall:.0f} x realtime"
    )
    mfcc_ms = bench_mfcc_batch(segment)
    print(f"MFCC module, 10 segments, 1 thread: {mfcc_ms:.1f} ms (median)")
    module_rows: list[dict] = []
    if modules:
        segs = real_segments(index, segment, args.module_segments)
        for threads in [int(t) for t in args.module_threads.split(",")]:
            for r in bench_modules(modules, segs, segment, threads):
                module_rows.append(r)
                print(
                    f"module {r['feature']:<18} threads={threads}: {r['ms']:.1f} ms/segment median "
                    f"(best {r['best_ms']:.1f}; CPU {r['cpu_ms']:.1f}) = {r['realtime']:.0f} x realtime "
                    f"(best {r['best_realtime']:.0f}) on {r['segments']} segments, load {r['load']}",
                    flush=True,
                )
    pool_start = None
    if max(workers) > 1:
        pool_start = bench_pool_start(args.data, max(workers), segment)
        print(
            f"first build with {max(workers)} workers (2 tracks, starts the fork server): {pool_start:.2f} s"
        )
    rows = []
    for g in groups:
        for w in workers:
            r = bench_build(index, g, w, segment)
            rows.append(r)
            print(
                f"{r['group']:<22} workers={w}: {r['audio_s']:.0f} s audio in {r['wall_s']:.2f} s "
                f"= {r['throughput']:.0f} x realtime; {r['per_cpu']:.0f} audio-s per CPU-s  "
                f"({r['rows']} rows, {r['mb']:.0f} MB, load {r['load']:.1f})",
                flush=True,
            )

    if args.out:
        cmd = "python " + " ".join(shlex.quote(a) for a in [sys.argv[0], *(argv or sys.argv[1:])])
        lines = [
            "# Feature extraction throughput",
            "",
            f"- Machine: {describe_machine()}",
            f"- Command: `{cmd}`",
            f"- Data: `{args.data}` ({rows[0]['tracks'] if rows else '?'} tracks, {audio:.0f} s of audio)",
            f"- Segments: {segment.to_dict()}",
            "- Each run builds the store(s) from scratch into a fresh temporary cache (`build_stores`): "
            "decode, resample to 16 kHz, segment, extract, write parts, consolidate. Runs with workers > 1 "
            "start their worker processes from a fork server that is already running (it imports torch "
            "once per Python session); the one-off cost of starting it is given below the table.",
            "- Throughput = seconds of audio / wall-clock seconds (higher is better). `CPU` is the CPU time "
            "of this process plus, with workers > 1, the workers' CPU time on the tracks (their start-up is "
            "not counted): audio s / CPU s is the throughput of one fully available core, which other jobs "
            "on the machine disturb much less than the wall-clock figure. `load` is the 1-minute load "
            "average just before the run: with load near or above the core count, the cores are shared with "
            "other jobs and the wall-clock figures (the workers=2 ones above all) are pessimistic.",
            "",
            "| features | workers | tracks | rows | audio (s) | wall (s) | throughput (audio s / wall s) "
            "| CPU (s) | audio s / CPU s | store (MB) | load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['group']} | {r['workers']} | {r['tracks']} | {r['rows']} | {r['audio_s']:.0f} | "
                f"{r['wall_s']:.2f} | {r['throughput']:.0f} | {r['cpu_s']:.2f} | {r['per_cpu']:.0f} | "
                f"{r['mb']:.0f} | {r['load']:.1f} |"
            )
        lines += [
            "",
            *(
                [
                    f"- Starting the fork server (first multi-worker build in a session, 2 tracks): "
                    f"{pool_start:.2f} s."
                ]
                if pool_start is not None
                else []
            ),
            f"- Decoding alone (load_audio + split_segments, 1 process): {audio / wall:.0f} x realtime "
            f"({wall:.2f} s for {audio:.0f} s).",
            f"- MFCC module alone: {mfcc_ms:.1f} ms for a batch of 10 segments (30 s of audio), one torch thread.",
            "",
        ]
        if module_rows:
            lines += [
                "## Feature modules alone, on the same real segments",
                "",
                f"`extract(config, segments)` on the first {module_rows[0]['segments']} segments of the tracks "
                "above, models loaded beforehand; the features alternate repetition by repetition (5 each). "
                "x real time = segment length / wall time per segment. `load`: 1-minute load average "
                "before/after.",
                "",
                "| feature | torch threads | ms/segment (median) | ms/segment (best) | CPU ms/segment "
                "| x real time (median) | x real time (best) | load |",
                "|---|---:|---:|---:|---:|---:|---:|---|",
                *(
                    f"| {r['feature']} | {r['threads']} | {r['ms']:.1f} | {r['best_ms']:.1f} | {r['cpu_ms']:.1f} "
                    f"| {r['realtime']:.0f} | {r['best_realtime']:.0f} | {r['load']} |"
                    for r in module_rows
                ),
                "",
            ]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
