"""YAMNet embedding throughput: our PyTorch model against the TFLite interpreter on ``yamnet_int8.tflite``.

Both run in this process on the same audio, interleaved repetition by repetition, with the same thread
count (``torch.set_num_threads(T)`` and ``Interpreter(num_threads=T)``):

- ``ours, segments``: ``model.infer`` on the 10 three-second segments of a real 30 s GTZAN clip (the study's
  use: each segment padded to 54,000 samples -> 6 patches; 60 patches), waveform to embeddings and scores,
  frontend included. Also the plain eager path (``fast=False``) for comparison.
- ``ours, network only``: the fast network on the 60 precomputed log-mel patches.
- ``TFLite``: ``ai_edge_litert`` (default XNNPACK delegate) on the same 60 windows of 15,600 samples, one
  ``invoke`` per patch (its frontend included, as the model file contains it).

Figures: ms per patch, patches per second, multiples of real time with 0.48 s of audio per patch (the patch
hop, as in the issue's "0.5 ms per patch, about 970x real time"), and the throughput ratio ours / TFLite.
Wall-clock and CPU-time (``time.process_time``) medians are given with the best wall-clock time: when other
jobs share the cores, the best time is the stable figure. The load average before and after each block is printed.

Also checked: the cosine similarity between our embeddings and the interpreter's for these 60 real-music
windows (the interpreter's embedding tensor is read with ``experimental_preserve_all_tensors``).

    python benchmarks/bench_yamnet.py                       # 1 and 2 threads
    python benchmarks/bench_yamnet.py --verify-only         # the verification table only
    python benchmarks/bench_yamnet.py --threads 1 --repeats 15 --out benchmarks/results/yamnet-run.md

Needs the reference extra (``pip install 'musicgenre[reference]'``) for the interpreter.

Caveat: timing the interpreter in the same process, right after torch, slows it down: torch's OpenMP worker
threads keep spinning after each call and take the cores from it. ``bench_yamnet_isolated.py`` times every
run in a process of its own (and every backend); prefer its figures. Here our model is pinned to the torch
backend (``backend="torch"``), as before backends existed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from machine_info import describe_machine
from musicgenre.audio import SegmentConfig, load_audio, split_segments
from musicgenre.settings import shared_dir
from musicgenre.yamnet import params as P
from musicgenre.yamnet.fast import DEFAULT_CHUNKS, native_bfloat16
from musicgenre.yamnet.frontend import pad_waveform
from musicgenre.yamnet.model import get_model

EMBEDDING_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"


def interpreter(path: Path, threads: int, preserve: bool = False):
    from ai_edge_litert.interpreter import Interpreter

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = Interpreter(str(path), num_threads=threads, experimental_preserve_all_tensors=preserve)
    it.allocate_tensors()
    return it


def windows_of(segments: np.ndarray) -> np.ndarray:
    """The 15,600-sample window of every patch of every (padded) segment: ``(n_patches, 15600)``."""
    padded = pad_waveform(segments)
    n = 1 + (padded.shape[1] - P.MIN_SAMPLES) // P.PATCH_HOP_SAMPLES
    idx = np.arange(n)[:, None] * P.PATCH_HOP_SAMPLES + np.arange(P.MIN_SAMPLES)[None]
    return np.ascontiguousarray(padded[:, idx].reshape(-1, P.MIN_SAMPLES))


def timed(fn, repeats: int, log: list[tuple[float, float]]) -> None:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn()
    log.append((time.perf_counter() - wall0, time.process_time() - cpu0))


def bench(
    threads: int, repeats: int, segments: np.ndarray, tflite_path: Path, weights: str | None
) -> list[dict]:
    torch.set_num_threads(threads)
    model = get_model(weights, precision="float32", backend="torch")
    windows = windows_of(segments)
    n_patches = windows.shape[0]
    with torch.inference_mode():
        patches = model.frontend(torch.from_numpy(segments))[1].reshape(-1, P.PATCH_FRAMES, P.PATCH_BANDS)
        patches = patches.contiguous()
    assert patches.shape[0] == n_patches
    it = interpreter(tflite_path, threads)
    inp = it.get_input_details()[0]["index"]
    out = it.get_output_details()[0]["index"]

    def run_tflite() -> None:
        for w in windows:
            it.set_tensor(inp, w[None])
            it.invoke()
            it.get_tensor(out)

    def network_only(m) -> Callable[[], None]:
        net, chunk = m.fast_cnn(), DEFAULT_CHUNKS[m.precision]

        def run() -> None:
            with torch.inference_mode():
                for start in range(0, n_patches, chunk):
                    net(patches[start : start + chunk])

        return run

    runs = {
        "ours, segments (fast path, float32)": lambda: model.infer(segments),
        "ours, segments (plain eager, float32)": lambda: model.infer(segments, fast=False),
        "ours, network only (fast, float32)": network_only(model),
    }
    if native_bfloat16():
        bf16 = get_model(weights, precision="bfloat16", backend="torch")
        runs["ours, segments (fast path, bfloat16)"] = lambda: bf16.infer(segments)
        runs["ours, network only (fast, bfloat16)"] = network_only(bf16)
    runs["TFLite interpreter"] = run_tflite
    for fn in runs.values():  # warm-up
        fn()
    logs: dict[str, list[tuple[float, float]]] = {k: [] for k in runs}
    load0 = os.getloadavg()[0]
    for _ in range(repeats):
        for name, fn in runs.items():
            timed(fn, 1, logs[name])
    load1 = os.getloadavg()[0]
    rows = []
    for name, log in logs.items():
        wall = statistics.median(w for w, _ in log) / n_patches
        cpu = statistics.median(c for _, c in log) / n_patches
        best = min(w for w, _ in log) / n_patches  # interference only ever adds time
        rows.append(
            {"threads": threads, "name": name, "wall": wall, "cpu": cpu, "best": best, "load": (load0, load1)}
        )
    ref = next(r for r in rows if r["name"] == "TFLite interpreter")
    for r in rows:
        r["ratio_wall"] = ref["wall"] / r["wall"]
        r["ratio_best"] = ref["best"] / r["best"]
    return rows


def agreement(
    segments: np.ndarray, tflite_path: Path, weights: str | None, precision: str
) -> tuple[float, float, int]:
    """(min, median) cosine of our embeddings vs the interpreter's on the windows, and top-1 agreements."""
    model = get_model(weights, precision=precision, backend="torch")
    out = model.infer(segments)
    ours = out.embeddings.reshape(-1, P.EMBEDDING_SIZE).numpy()
    our_top = out.scores.reshape(-1, P.NUM_CLASSES).numpy().argmax(1)
    it = interpreter(tflite_path, 1, preserve=True)
    inp = it.get_input_details()[0]["index"]
    out_idx = it.get_output_details()[0]["index"]
    emb_idx = next(d["index"] for d in it.get_tensor_details() if d["name"] == EMBEDDING_TENSOR)
    theirs, their_top = [], []
    for w in windows_of(segments):
        it.set_tensor(inp, w[None])
        it.invoke()
        theirs.append(it.get_tensor(emb_idx)[0].copy())
        their_top.append(int(it.get_tensor(out_idx)[0].argmax()))
    t = np.stack(theirs)
    cos = (ours * t).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(t, axis=1))
    return float(cos.min()), float(np.median(cos)), int((our_top == np.array(their_top)).sum())


def verification(weights: str | None) -> list[str]:
    """Per reference case: our figures against the interpreter's stored outputs (markdown lines)."""
    from musicgenre.yamnet import emulation
    from musicgenre.yamnet.tflite_weights import read_tflite

    path = shared_dir() / "models" / "yamnet"
    with np.load(path / "tflite_reference_outputs.npz") as z:
        ref = {k: z[k] for k in z.files}
    cases = sorted({k.split("/")[0] for k in ref}, key=lambda c: list(ref).index(f"{c}/waveform"))
    model = get_model(weights, backend="torch")
    tfl = read_tflite(path / "yamnet_int8.tflite")

    def stack(what: str) -> np.ndarray:
        return np.stack([ref[f"{c}/{what}"] for c in cases])

    def cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))

    wave, ref_mel, ref_emb, ref_sc = stack("waveform"), stack("log_mel"), stack("embedding"), stack("scores")
    with torch.inference_mode():
        full = model.infer(wave)
        tfl_front = get_model(weights, frontend="tflite", backend="torch").infer(wave)
        net_emb, net_logits = model.cnn(torch.from_numpy(ref_mel))
        emu_mel = emulation.tflite_log_mel(torch.from_numpy(wave), tfl)
        emu_emb, emu_logits = emulation.tflite_network(emu_mel, model.cnn, tfl)
    runs = {
        "float pipeline": (full.log_mel.numpy(), full.embeddings[:, 0].numpy(), full.scores[:, 0].numpy()),
        "float network on the reference log-mel": (None, net_emb.numpy(), torch.sigmoid(net_logits).numpy()),
        'model with frontend="tflite"': (
            tfl_front.log_mel.numpy(),
            tfl_front.embeddings[:, 0].numpy(),
            tfl_front.scores[:, 0].numpy(),
        ),
        "int8 kernels emulated": (emu_mel.numpy(), emu_emb.numpy(), torch.sigmoid(emu_logits).numpy()),
    }
    lines = [
        f"Weights `{weights}`; reference `{path / 'tflite_reference_outputs.npz'}` (TFLite interpreter, XNNPACK).",
        "",
        "| run | case | log-mel max abs err | embedding cosine | scores max abs diff | top-1 same |",
        "|---|---|---:|---:|---:|:---:|",
    ]
    for run, (mel, emb, sc) in runs.items():
        c = cos(emb, ref_emb)
        for i, case in enumerate(cases):
            mel_err = "-" if mel is None else f"{np.abs(mel[i] - ref_mel[i]).max():.2g}"
            same = "yes" if sc[i].argmax() == ref_sc[i].argmax() else "no"
            lines.append(
                f"| {run} | {case} | {mel_err} | {c[i]:.5f} | {np.abs(sc[i] - ref_sc[i]).max():.4f} | {same} |"
            )
        mel_all = "-" if mel is None else f"**{np.abs(mel - ref_mel).max():.2g}**"
        top = int((sc.argmax(1) == ref_sc.argmax(1)).sum())
        lines.append(
            f"| {run} | **all 8** | {mel_all} | **min {c.min():.5f}** | **{np.abs(sc - ref_sc).max():.4f}** | "
            f"**{top}/8** |"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, action="append", help="Thread counts (default: 1 and 2).")
    parser.add_argument("--repeats", type=int, default=9, help="Interleaved repetitions (median reported).")
    parser.add_argument(
        "--clip", type=Path, default=None, help="30 s clip [default: gtzan-mini metal.00000.au]."
    )
    parser.add_argument("--weights", default=None, help="Weights for our model [default: the TFLite file].")
    parser.add_argument("--out", type=Path, default=None, help="Also write the markdown report here.")
    parser.add_argument("--verify-only", action="store_true", help="Only print the verification table.")
    args = parser.parse_args(argv)

    tflite_path = shared_dir() / "models" / "yamnet" / "yamnet_int8.tflite"
    weights = args.weights or str(tflite_path)
    if args.verify_only:
        print("\n".join(verification(weights)))
        return 0
    clip = args.clip or shared_dir() / "data" / "gtzan-mini" / "metal" / "metal.00000.au"
    segments = split_segments(load_audio(clip, 16000), SegmentConfig()).samples

    lines = [
        "# YAMNet embedding throughput: ours vs the TFLite interpreter",
        "",
        f"- Machine: {describe_machine()}",
        f"- Command: `python {' '.join(shlex.quote(a) for a in sys.argv)}`",
        f"- Audio: `{clip}`, {segments.shape[0]} segments of 3 s -> {windows_of(segments).shape[0]} patches",
        f"- Our weights: `{weights}` (dequantized; network in float32, and in bfloat16 where the CPU has "
        f"native bfloat16 units: {native_bfloat16()}); interpreter: `{tflite_path}` (ai-edge-litert, XNNPACK)",
        f"- {args.repeats} interleaved repetitions: median and best (minimum) wall-clock time per patch, and "
        "the median CPU time of the process (all threads). The best time is the one other jobs on the machine "
        "disturb least; patches/s and x real time are from it (x real time counts 0.48 s of audio per "
        "patch). ratio = TFLite time / our time (> 1: we are faster). `load` = 1-min load average before/after.",
        "",
        "| threads | run | wall ms/patch (median) | CPU ms/patch (median) | wall ms/patch (best) | patches/s | "
        "x real time | ratio (median) | ratio (best) | load |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for threads in args.threads or [1, 2]:
        for r in bench(threads, args.repeats, segments, tflite_path, weights):
            lines.append(
                f"| {r['threads']} | {r['name']} | {r['wall'] * 1e3:.2f} | {r['cpu'] * 1e3:.2f} | "
                f"{r['best'] * 1e3:.2f} | {1 / r['best']:.0f} | {P.PATCH_HOP_SAMPLES / P.SAMPLE_RATE / r['best']:.0f} | "
                f"{r['ratio_wall']:.2f} | {r['ratio_best']:.2f} | {r['load'][0]:.1f}/{r['load'][1]:.1f} |"
            )
            print(lines[-1], flush=True)
    n = windows_of(segments).shape[0]
    lines.append("")
    for precision in ["float32", "bfloat16"] if native_bfloat16() else ["float32"]:
        cmin, cmed, top = agreement(segments, tflite_path, weights, precision)
        lines.append(
            f"- Agreement on these {n} real-music patches, ours ({precision}) vs the interpreter (int8 hybrid): "
            f"embedding cosine min {cmin:.5f}, median {cmed:.5f}; same top-1 class in {top} of {n}."
        )
    if native_bfloat16():
        with torch.inference_mode():
            f32 = (
                get_model(weights, precision="float32", backend="torch")
                .infer(segments)
                .embeddings.reshape(-1, 1024)
            )
            b16 = (
                get_model(weights, precision="bfloat16", backend="torch")
                .infer(segments)
                .embeddings.reshape(-1, 1024)
            )
        c = torch.nn.functional.cosine_similarity(f32, b16, dim=1)
        lines.append(
            f"- Ours bfloat16 vs ours float32 on the same patches: embedding cosine min {c.min():.5f}, "
            f"median {c.median():.5f}."
        )
    lines += ["", "## Verification against the interpreter's reference outputs", "", *verification(weights)]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
