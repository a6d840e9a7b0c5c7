"""Cold ``musicgenre predict CKPT song.mp3`` in fresh processes, two source trees alternating.

The inputs are those of ``bench_predict.py``: a 3-minute stereo 44.1 kHz mp3 made from gtzan-mini
(``make_mp3``) and a random ``cnn1d`` on ``yamnet_embedding`` (``make_random_checkpoint``). ``--before`` is
an unpacked older ``src`` (``git archive REV src | tar -x -C DIR``); ``after`` is this checkout's ``src``.
Prints wall and CPU seconds (user + system of the child) and the 1-minute load average of each run.

    python benchmarks/cold_predict.py --ckpt /tmp/cold/model.ckpt --audio /tmp/cold/song.mp3 \\
        --before /tmp/cold/before/src --runs 5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

CODE = "import sys; from musicgenre.cli import main; sys.argv[0] = 'musicgenre'; main()"


def run_once(src: str, ckpt: str, audio: str) -> tuple[float, float, float]:
    """``(wall s, cpu s, load1)`` of one fresh ``musicgenre predict`` process."""
    env = {**os.environ, "PYTHONPATH": src}
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", CODE, "predict", ckpt, audio], env=env, capture_output=True)
    wall = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        raise SystemExit(p.stderr.decode())
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return wall, cpu, os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--audio", required=True)
    ap.add_argument("--before", default=None, help="an older src folder to compare with")
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    trees = {"after": str(Path(__file__).resolve().parents[1] / "src")}
    if args.before:
        trees = {"before": args.before, **trees}
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    for i in range(args.runs):
        for name, src in trees.items():
            wall, cpu, load = run_once(src, args.ckpt, args.audio)
            results[name].append((wall, cpu, load))
            print(f"{name:6s} run {i + 1}: wall {wall:.2f} s, cpu {cpu:.2f} s, load1 {load:.2f}", flush=True)
    for name, rows in results.items():
        walls, cpus, loads = zip(*rows, strict=True)
        print(
            f"{name}: wall median {statistics.median(walls):.2f} s (min {min(walls):.2f}), "
            f"cpu median {statistics.median(cpus):.2f} s (min {min(cpus):.2f}), "
            f"load1 {min(loads):.1f}-{max(loads):.1f}"
        )


if __name__ == "__main__":
    main()
