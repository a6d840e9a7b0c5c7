"""YAMNet throughput, ours (every backend) against Google's LiteRT interpreter, each run in its own process.

Why separate processes: torch's OpenMP worker threads keep spinning for a while after each parallel call,
so an interpreter timed right after torch in the same process loses cores to them and looks slower than it
is. Here every run is a fresh ``benchmarks/yamnet_worker.py`` process that times only itself; the processes
alternate round by round, so slow phases of a shared machine hit every run alike. The old same-process
figure is measured too (``same:*`` rows), for contrast.

Data: the first track of every gtzan-mini genre (``--tracks`` per genre), cut into the study's 3 s segments
(each padded to 54,000 samples: 6 patches). The interpreter gets the 15,600-sample window of each of those
patches, one ``invoke`` each; ours gets the segments (``pipeline``: waveform to embeddings, frontend
included) or the patches (``network``).

Agreement: every ``ours`` run's embeddings against the plain float32 torch network on the same patches
(cosine median/min, top-1 agreement), and on the 8 reference cases of ``tflite_reference_outputs.npz``.

    bash scripts/litert_venv.sh                     # the interpreter, in /tmp/litert-ref (once)
    bash scripts/reference_venv.sh                  # torch + the interpreter, for the same-process rows (once)
    python benchmarks/bench_yamnet_isolated.py --out benchmarks/results/yamnet-isolated.md
    python benchmarks/bench_yamnet_isolated.py --pin --runs litert,ours:openvino:bfloat16 --out ...

``--pin`` runs each process under ``taskset`` on as many cores as it has threads (cores 0..threads-1), so
that a run cannot use more cores than its thread count, whatever threads it starts (OpenVINO's asynchronous
requests run the network in their own thread while ours computes the next log-mel). Each row also gives the
process's CPU time per patch: above the wall time, more than one core worked.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "yamnet_worker.py"
HOP_SECONDS = 0.48  # audio per patch (the patch hop), as in the "x real time"


def prepare(data: Path, tracks_per_genre: int) -> tuple[int, int, float]:
    """Write segments, windows, patches and the float32 reference to ``data``: (segments, patches, seconds)."""
    import torch

    torch.set_num_threads(1)
    from musicgenre.audio import SegmentConfig, load_audio, split_segments
    from musicgenre.settings import shared_dir
    from musicgenre.yamnet import params as P
    from musicgenre.yamnet.frontend import pad_waveform
    from musicgenre.yamnet.model import get_model

    root = shared_dir() / "data" / "gtzan-mini"
    clips = [
        c
        for g in sorted(p for p in root.iterdir() if p.is_dir())
        for c in sorted(g.glob("*.au"))[:tracks_per_genre]
    ]
    segments = np.concatenate([split_segments(load_audio(c, 16000), SegmentConfig()).samples for c in clips])
    segments = segments.astype(np.float32)
    padded = pad_waveform(segments)
    n = 1 + (padded.shape[1] - P.MIN_SAMPLES) // P.PATCH_HOP_SAMPLES
    idx = np.arange(n)[:, None] * P.PATCH_HOP_SAMPLES + np.arange(P.MIN_SAMPLES)[None]
    windows = np.ascontiguousarray(padded[:, idx].reshape(-1, P.MIN_SAMPLES))
    model = get_model(
        shared_dir() / "models" / "yamnet" / "yamnet_int8.tflite", precision="float32", backend="torch"
    )
    ref = model.infer(segments, fast=False)
    with torch.inference_mode():
        patches = model.frontend(torch.from_numpy(segments))[1].reshape(-1, 96, 64).contiguous().numpy()
    np.save(data / "segments.npy", segments)
    np.save(data / "windows.npy", windows)
    np.save(data / "patches.npy", patches)
    np.save(data / "ref_emb.npy", ref.embeddings.reshape(-1, 1024).numpy())
    np.save(data / "ref_top1.npy", ref.scores.reshape(-1, 521).numpy().argmax(1))
    return segments.shape[0], windows.shape[0], segments.shape[0] * segments.shape[1] / 16000


def reference_case_agreement(backend: str, precision: str) -> tuple[float, int]:
    """(min cosine, top-1 agreements of 8) of a backend against the float32 torch network on the 8 cases."""
    import torch

    from musicgenre.settings import shared_dir
    from musicgenre.yamnet.model import get_model

    path = shared_dir() / "models" / "yamnet"
    with np.load(path / "tflite_reference_outputs.npz") as z:
        waves = np.stack([z[k] for k in z.files if k.endswith("/waveform")]).astype(np.float32)
    ref = get_model(path / "yamnet_int8.tflite", precision="float32", backend="torch").infer(
        waves, fast=False
    )
    out = get_model(path / "yamnet_int8.tflite", precision=precision, backend=backend).infer(waves)
    a, b = out.embeddings.reshape(-1, 1024), ref.embeddings.reshape(-1, 1024)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1)
    top = (out.scores.reshape(-1, 521).argmax(1) == ref.scores.reshape(-1, 521).argmax(1)).sum()
    return float(cos.min()), int(top)


def run_worker(python: str, data: Path, run: str, threads: int, repeats: int, pin: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": str(threads)}
    cmd = [python, str(WORKER), str(data), run, str(threads), str(repeats)]
    if pin:
        cmd = ["taskset", "-c", ",".join(str(i) for i in range(threads)), *cmd]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def available(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, action="append", help="Thread counts (default: 1 and 2).")
    parser.add_argument("--rounds", type=int, default=3, help="Processes per run, alternating (default 3).")
    parser.add_argument("--repeats", type=int, default=5, help="Timed passes per process (default 5).")
    parser.add_argument("--tracks", type=int, default=1, help="gtzan-mini tracks per genre (default 1).")
    parser.add_argument(
        "--litert-python", default="/tmp/litert-ref/bin/python", help="Python with ai_edge_litert."
    )
    parser.add_argument(
        "--same-python",
        default="/tmp/musicgenre-reference/bin/python",
        help="Python with torch + ai_edge_litert.",
    )
    parser.add_argument(
        "--pin", action="store_true", help="Restrict each process to `threads` cores (taskset)."
    )
    parser.add_argument(
        "--runs", default=None, help="Comma-separated run-name prefixes to keep (default: every run)."
    )
    parser.add_argument("--out", type=Path, default=None, help="Also write the markdown report here.")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from machine_info import describe_machine
    from musicgenre.yamnet.fast import native_bfloat16

    precisions = ["float32", "bfloat16"] if native_bfloat16() else ["float32"]
    backends = ["torch"] + (["openvino"] if available("openvino") else [])
    runs = [("litert", args.litert_python)]
    for backend in backends:
        for precision in precisions:
            for stage in ("pipeline", "network"):
                runs.append((f"ours:{backend}:{precision}:{stage}", sys.executable))
    if available("onnxruntime"):
        runs.append(("ours:onnxruntime:float32:network", sys.executable))
    same = Path(args.same_python).exists()
    if same:
        runs.append((f"same:{precisions[-1]}", args.same_python))
    if args.runs:
        keep = tuple(args.runs.split(","))
        runs = [r for r in runs if r[0] == "litert" or r[0].startswith(keep)]

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        n_seg, n_patch, seconds = prepare(data, args.tracks)
        results: dict[tuple[int, str], list[float]] = {}
        cpus: dict[tuple[int, str], list[float]] = {}
        loads: dict[tuple[int, str], list[float]] = {}
        for threads in args.threads or [1, 2]:
            for _ in range(args.rounds):
                for run, python in runs:
                    out = run_worker(python, data, run, threads, args.repeats, args.pin)
                    for name, times in out["times"].items():
                        results.setdefault((threads, name), []).extend(times)
                        cpus.setdefault((threads, name), []).extend(out["cpu"][name])
                        loads.setdefault((threads, name), []).extend(out["load"])
                    print(threads, run, out["load"], flush=True)
        ref_emb, ref_top = np.load(data / "ref_emb.npy"), np.load(data / "ref_top1.npy")
        agree = {}
        for run, _ in runs:
            if run.startswith("ours:"):
                tag, t = run.replace(":", "_"), (args.threads or [1, 2])[0]
                emb, top = np.load(data / f"emb_{tag}_{t}.npy"), np.load(data / f"top1_{tag}_{t}.npy")
                cos = (emb * ref_emb).sum(1) / (np.linalg.norm(emb, axis=1) * np.linalg.norm(ref_emb, axis=1))
                _, backend, precision, _ = run.split(":")
                cases = reference_case_agreement(backend, precision) if backend != "onnxruntime" else None
                agree[run] = (float(np.median(cos)), float(cos.min()), int((top == ref_top).sum()), cases)

    lines = [
        "# YAMNet throughput: ours against the LiteRT interpreter, each in its own process",
        "",
        f"- Machine: {describe_machine()}",
        f"- Command: `python {' '.join(shlex.quote(a) for a in sys.argv)}`",
        f"- Audio: {n_seg} segments of 3 s from {args.tracks} gtzan-mini track(s) per genre ({seconds:.0f} s), "
        f"{n_patch} patches; x real time counts {HOP_SECONDS} s of audio per patch.",
        f"- {args.rounds} processes per run, alternating, {args.repeats} timed passes each after 2 warm-up passes: "
        "median and best (minimum) wall-clock ms per patch over all passes. ratio = the interpreter's time "
        "(separate process) / this run's time, from the medians (> 1: faster than the interpreter).",
        "- `same:*` rows: the interpreter and our torch pipeline timed in one process, interleaved (the old way).",
        "- load: 1-minute load average, min-max over the run's processes (2 cores).",
        "- CPU ms/patch: the process's CPU time (all its threads), median over the passes."
        + (
            " Every process ran under `taskset` on cores 0..threads-1 (`--pin`)."
            if args.pin
            else " Processes were not pinned (`--pin`): a run may use more cores than its thread count."
        ),
        "",
        "| threads | run | ms/patch (median) | ms/patch (best) | CPU ms/patch | x real time (median) | "
        "ratio (median) | ratio (best) | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for threads in args.threads or [1, 2]:
        lit = results[(threads, "litert")]
        lit_med, lit_best = statistics.median(lit) / n_patch, min(lit) / n_patch
        for (t, name), times in results.items():
            if t != threads:
                continue
            med, best = statistics.median(times) / n_patch, min(times) / n_patch
            cpu = statistics.median(cpus[(t, name)]) / n_patch
            ld = loads[(t, name)]
            lines.append(
                f"| {t} | {name} | {med * 1e3:.3f} | {best * 1e3:.3f} | {cpu * 1e3:.3f} | {HOP_SECONDS / med:.0f} | "
                f"{lit_med / med:.2f} | {lit_best / best:.2f} | {min(ld):.1f}-{max(ld):.1f} |"
            )
    lines += [
        "",
        "Agreement with the plain float32 torch network (embedding cosine; top-1 AudioSet class):",
        "",
        "| run | real patches: cosine median | min | top-1 same | 8 reference cases: cosine min | top-1 same |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for run, (med, mn, top, cases) in agree.items():
        c = f"{cases[0]:.5f} | {cases[1]}/8" if cases else "– | –"
        lines.append(f"| {run} | {med:.5f} | {mn:.5f} | {top}/{n_patch} | {c} |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
