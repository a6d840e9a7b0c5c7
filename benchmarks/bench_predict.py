"""Prediction speed and memory: ``musicgenre predict`` with the YAMNet-embedding CNN (``cnn1d`` on
``yamnet_embedding``).

Measures, on generated inputs made from real GTZAN audio (``<shared>/data/gtzan-mini``):

- a 3-minute stereo 44.1 kHz mp3: wall-clock time cold (a fresh ``musicgenre predict`` process, imports
  and model loading included) and warm (the classifier loaded once in-process, after one warm-up call);
- a 1-hour stereo 44.1 kHz mp3: peak resident memory (``ru_maxrss`` of a fresh process), beside the same
  figure for the 3-minute file, and the time;
- a folder of 100 files (10 excerpts per genre from ``<shared>/data/gtzan-excerpts``): throughput
  in-process (warm) and through the CLI (cold, one process for the whole folder).

The checkpoint is ``--checkpoint`` if given, else the newest ``runs/**/model.ckpt`` of ``cnn1d`` on
``yamnet_embedding``, else a randomly initialised ``cnn1d`` on ``yamnet_embedding`` (same architecture
and feature pipeline, so the same timing; the report says which).

    python benchmarks/bench_predict.py --out benchmarks/results/predict.md
    python benchmarks/bench_predict.py --checkpoint runs/cnn1d-yamnet_embedding-track/model.ckpt --skip-hour
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

from machine_info import describe_machine
from musicgenre.settings import shared_dir

REPO = Path(__file__).resolve().parents[1]
SOUNDFILE_VERSION = f", soundfile {sf.__version__} (libsndfile {sf.__libsndfile_version__})"
GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


# ---------------------------------------------------------------------------------------------- machine
# ---------------------------------------------------------------------------------------------- inputs
def music(seconds: float, sr: int = 44100) -> np.ndarray:
    """Real GTZAN music (the full 30 s clips of gtzan-mini, one genre after another), as stereo float32
    ``(frames, 2)`` at ``sr``: left is the clip, right a slightly delayed and quieter copy."""
    root = shared_dir() / "data" / "gtzan-mini"
    parts, total, i = [], 0, 0
    while total < seconds * sr:
        x, file_sr = sf.read(str(root / GENRES[i % 10] / f"{GENRES[i % 10]}.00000.au"), dtype="float32")
        y = soxr.resample(x, file_sr, sr, quality="HQ").astype(np.float32)
        parts.append(y)
        total += y.shape[0]
        i += 1
    mono = np.concatenate(parts)[: int(seconds * sr)]
    right = 0.8 * np.concatenate([np.zeros(200, np.float32), mono[:-200]])
    return np.stack([mono, right], axis=1)


def make_mp3(path: Path, seconds: float, repeats: int = 1) -> Path:
    """Write ``seconds`` of :func:`music` ``repeats`` times (in chunks) as a 44.1 kHz stereo mp3."""
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    x = music(seconds)
    tmp = path.with_suffix(".part.mp3")
    with sf.SoundFile(str(tmp), "w", samplerate=44100, channels=2, format="MP3") as f:
        for _ in range(repeats):
            f.write(x)
    tmp.rename(path)
    return path


def excerpt_files(n_per_genre: int = 10) -> list[Path]:
    root = shared_dir() / "data" / "gtzan-excerpts"
    return [p for g in GENRES for p in sorted((root / g).glob("*.au"))[:n_per_genre]]


# ---------------------------------------------------------------------------------------------- checkpoint
def find_or_make_checkpoint(given: Path | None, work: Path) -> tuple[Path, str]:
    """The checkpoint to time, and a sentence saying what it is."""
    from musicgenre.checkpoint import load_checkpoint

    if given is not None:
        ck = load_checkpoint(given)
        what = ck.meta.get("note") or f"trained on {ck.meta.get('dataset', '?')}"
        return given, f"`{given}` ({ck.model_name} on {'+'.join(ck.inputs)}; {what})"
    candidates = sorted((REPO / "runs").glob("**/model.ckpt"), key=lambda p: p.stat().st_mtime, reverse=True)
    for p in candidates:
        try:
            ck = load_checkpoint(p)
        except Exception:
            continue
        if ck.model_name == "cnn1d" and list(ck.inputs) == ["yamnet_embedding"]:
            rel = p.relative_to(REPO)
            return p, f"`{rel}` (cnn1d on yamnet_embedding, trained on {ck.meta.get('dataset', '?')})"
    path = work / "random-cnn1d-yamnet_embedding.ckpt"
    if not path.exists():
        make_random_checkpoint(path)
    return path, (
        "a randomly initialised cnn1d on yamnet_embedding (no trained checkpoint was found; the architecture "
        "and feature pipeline are those of a trained one, so the timing is the same)"
    )


def make_random_checkpoint(path: Path) -> Path:
    from musicgenre.audio.segment import SegmentConfig
    from musicgenre.checkpoint import Checkpoint, save_checkpoint
    from musicgenre.features.registry import make_config
    from musicgenre.models.registry import build_model

    torch.manual_seed(0)
    segment = SegmentConfig()
    cfg = make_config("yamnet_embedding")
    shape = tuple(cfg.shape(segment))
    model = build_model("cnn1d", {"yamnet_embedding": shape}, len(GENRES))
    channels = shape[-1] if cfg.channel_axis is not None else 1
    stats = {"mean": torch.zeros(channels), "std": torch.ones(channels)}
    ckpt = Checkpoint(
        model_name="cnn1d",
        model_options={},
        inputs={"yamnet_embedding": cfg.to_dict()},
        input_shapes={"yamnet_embedding": shape},
        segment=segment.to_dict(),
        labels=list(GENRES),
        normalisation={"yamnet_embedding": stats},
        state_dict=model.state_dict(),
        meta={"note": "randomly initialised, for benchmarks only"},
    )
    return save_checkpoint(ckpt, path)


# ---------------------------------------------------------------------------------------------- measurements
def run_cli(args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    exe = Path(sys.executable).parent / "musicgenre"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "musicgenre.cli"])]
    start = time.perf_counter()
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"musicgenre {' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return seconds, proc


_RSS_SCRIPT = """
import json, resource, sys, time
import musicgenre
clf = musicgenre.load(sys.argv[1])
after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
r = clf.predict(sys.argv[2])
seconds = time.perf_counter() - start
print(json.dumps({"maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "after_load_kb": after_load,
                  "seconds": seconds, "duration": r.duration, "n_windows": r.n_windows, "top": r.top_genre}))
"""


def peak_rss(ckpt: Path, audio: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_SCRIPT, str(ckpt), str(audio)], capture_output=True, text=True, check=True
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, default=None, help="checkpoint to time")
    ap.add_argument("--work", type=Path, default=REPO / "runs" / "bench-predict", help="generated inputs")
    ap.add_argument("--repeats", type=int, default=5, help="timed repeats (warm); cold uses 3")
    ap.add_argument("--skip-hour", action="store_true", help="skip the 1-hour file")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown report here")
    args = ap.parse_args()

    import musicgenre

    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    ckpt, ckpt_note = find_or_make_checkpoint(args.checkpoint, work)
    load_start = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    lines: list[str] = []

    def say(text: str = "") -> None:
        print(text, flush=True)
        lines.append(text)

    t = time.perf_counter()
    mp3 = make_mp3(work / "three-minutes-stereo-44k.mp3", 180.0)
    print(f"[inputs] 3-min mp3 ready ({time.perf_counter() - t:.1f} s)", file=sys.stderr)

    # ---- cold: a fresh process per run, imports and model loading included
    cold = []
    for _ in range(3):
        seconds, proc = run_cli(["predict", str(ckpt), str(mp3), "--format", "json", "--quiet"])
        cold.append(seconds)
    rec = json.loads(proc.stdout)[0]

    # ---- warm: loaded once
    t = time.perf_counter()
    clf = musicgenre.load(ckpt)
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    clf.predict(mp3)
    first_s = time.perf_counter() - t
    warm = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        result = clf.predict(mp3)
        warm.append(time.perf_counter() - t)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    warm1 = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        clf.predict(mp3)
        warm1.append(time.perf_counter() - t)
    torch.set_num_threads(threads)
    # Where the warm time goes: decoding + resampling alone.
    from musicgenre.audio.stream import AudioStream

    t = time.perf_counter()
    with AudioStream(mp3, clf.sample_rate) as stream:
        for _ in stream.blocks():
            pass
    decode_s = time.perf_counter() - t

    say("# Prediction benchmark")
    say()
    say(f"Machine: {describe_machine(SOUNDFILE_VERSION)}. Load average at the start: {load_start}.")
    say()
    say(f"Model: {ckpt_note}; model id `{clf.model_id}`.")
    say()
    say("Command: `python benchmarks/bench_predict.py" + (f" --checkpoint {args.checkpoint}" if args.checkpoint else "")
        + (" --skip-hour" if args.skip_hour else "") + (f" --out {args.out}" if args.out else "") + "`")  # fmt: skip
    say()
    say("## A 3-minute stereo 44.1 kHz mp3 (real GTZAN music, 6 clips back to back)")
    say()
    say("| measurement | seconds |")
    say("|---|---:|")
    say(f"| cold: `musicgenre predict CKPT song.mp3` in a fresh process (median of 3; min {min(cold):.2f}) "
        f"| {statistics.median(cold):.2f} |")  # fmt: skip
    say(f"| warm: `clf.predict('song.mp3')`, classifier loaded once (median of {args.repeats}; "
        f"min {min(warm):.3f}) | **{statistics.median(warm):.3f}** |")  # fmt: skip
    say(f"| warm with one torch thread (`torch.set_num_threads(1)`; median of {args.repeats}) "
        f"| {statistics.median(warm1):.3f} |")  # fmt: skip
    say(f"| of which decoding + resampling to {clf.sample_rate} Hz | {decode_s:.3f} |")
    say(f"| first call after loading (YAMNet weights loaded lazily) | {first_s:.3f} |")
    say(f"| `musicgenre.load(CKPT)` in-process | {load_s:.3f} |")
    say()
    say(f"{result.n_windows} windows of {result.window_seconds:g} s; {result.duration:.1f} s of audio; "
        f"{result.duration / statistics.median(warm):.0f}x real time warm. Target: under 1 s warm "
        f"({'met' if statistics.median(warm) < 1.0 else 'NOT met'}). CLI result: {rec['top_genre']} "
        f"({rec['confidence']:.2f}). For comparison, the published AST model needs about 14 s per "
        f"3-minute file on a CPU.")  # fmt: skip
    say()

    # ---- memory: 3 minutes vs 1 hour, fresh processes
    say("## Peak memory (resident set, `ru_maxrss` of a fresh process)")
    say()
    say("| input | peak RSS after loading | peak RSS after predicting | predict time |")
    say("|---|---:|---:|---:|")
    short = peak_rss(ckpt, mp3)
    say(f"| 3-minute stereo 44.1 kHz mp3 | {short['after_load_kb'] / 1024:.0f} MB | "
        f"{short['maxrss_kb'] / 1024:.0f} MB | {short['seconds']:.2f} s |")  # fmt: skip
    if not args.skip_hour:
        t = time.perf_counter()
        hour = make_mp3(work / "one-hour-stereo-44k.mp3", 180.0, repeats=20)
        print(f"[inputs] 1-hour mp3 ready ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
        long = peak_rss(ckpt, hour)
        say(f"| 1-hour stereo 44.1 kHz mp3 ({hour.stat().st_size / 1e6:.0f} MB file, {long['n_windows']} "
            f"windows) | {long['after_load_kb'] / 1024:.0f} MB | **{long['maxrss_kb'] / 1024:.0f} MB** | "
            f"{long['seconds']:.1f} s |")  # fmt: skip
        whole = long["duration"] * 44100 * 2 * 4 / 2**20
        say()
        say(f"The 1-hour file is decoded in 60 s blocks: its peak is {long['maxrss_kb'] / 1024:.0f} MB against "
            f"{short['maxrss_kb'] / 1024:.0f} MB for 3 minutes (+{(long['maxrss_kb'] - short['maxrss_kb']) / 1024:.0f} MB); "
            f"decoding it whole would take {whole:.0f} MB for the float32 stereo samples alone.")  # fmt: skip
    say()

    # ---- folder of 100 files
    files = excerpt_files(10)
    say(f"## A folder of {len(files)} files (10 real GTZAN excerpts of 2-3 s per genre, gtzan-excerpts)")
    say()
    t = time.perf_counter()
    items = list(clf.predict_many(files))
    warm_folder = time.perf_counter() - t
    audio = sum(it.duration for it in items if it.ok)
    cli_s, _ = run_cli(["predict", str(ckpt), *map(str, files), "--format", "csv", "--quiet"])
    say("| measurement | seconds | files/s |")
    say("|---|---:|---:|")
    say(
        f"| warm, in-process `clf.predict_many(files)` | {warm_folder:.2f} | {len(files) / warm_folder:.0f} |"
    )
    say(f"| cold, `musicgenre predict CKPT <100 files> --format csv` (one process) | {cli_s:.2f} | "
        f"{len(files) / cli_s:.0f} |")  # fmt: skip
    say()
    say(f"{sum(it.ok for it in items)} of {len(files)} labelled; {audio:.0f} s of audio in all.")
    say()
    say(f"Load average at the end (1 / 5 / 15 min): {' / '.join(f'{v:.1f}' for v in os.getloadavg())}. Other "
        "processes sharing the 2 cores slow torch's 2-thread kernels down a lot (threads wait for each other), "
        "so figures taken on a busy machine are upper bounds.")  # fmt: skip
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")
        print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
