"""One timed YAMNet run in a process of its own; driven by ``bench_yamnet_isolated.py``, prints one JSON line.

    python benchmarks/yamnet_worker.py DATA_DIR RUN THREADS REPEATS

``RUN`` is one of:

- ``litert``: Google's LiteRT interpreter (``ai_edge_litert``, default options) on ``yamnet_int8.tflite``,
  one ``invoke`` per 15,600-sample window, as users run it. Needs only numpy and ai_edge_litert, so it runs
  in the throwaway reference venv (``scripts/litert_venv.sh``).
- ``ours:BACKEND:PRECISION:STAGE``: our model; ``STAGE`` ``pipeline`` is ``model.infer`` on the segments
  (waveform to embeddings, frontend included), ``network`` the backend's network on the precomputed patches.
  ``ours:onnxruntime:float32:network`` runs the ONNX export of the float32 network with ONNX Runtime.
- ``same:PRECISION``: the old same-process way: our pipeline (torch backend) and the interpreter in this one
  process, interleaved (needs torch, musicgenre and ai_edge_litert together: ``scripts/reference_venv.sh``).

``DATA_DIR`` holds ``segments.npy``, ``windows.npy`` and ``patches.npy`` written by the driver; ``ours`` runs
also write their last embeddings and top-1 classes there, for the agreement figures.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

TFLITE = "models/yamnet/yamnet_int8.tflite"


def litert_runner(data: Path, threads: int) -> Callable[[], None]:
    from ai_edge_litert.interpreter import Interpreter

    windows = np.load(data / "windows.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = Interpreter(str(Path(os.environ["MUSICGENRE_SHARED"]) / TFLITE), num_threads=threads)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]

    def run() -> None:
        for w in windows:
            it.set_tensor(inp, w[None])
            it.invoke()
            it.get_tensor(out)

    return run


def ours_runner(data: Path, threads: int, backend: str, precision: str, stage: str) -> Callable[[], tuple]:
    import torch

    torch.set_num_threads(threads)
    from musicgenre.yamnet.fast import DEFAULT_CHUNKS
    from musicgenre.yamnet.model import get_model

    weights = Path(os.environ["MUSICGENRE_SHARED"]) / TFLITE
    if backend == "onnxruntime":
        return onnxruntime_runner(data, threads, get_model(weights, precision="float32", backend="torch"))
    model = get_model(weights, precision=precision, backend=backend)
    if stage == "pipeline":
        segments = np.load(data / "segments.npy")

        def pipeline() -> tuple:
            out = model.infer(segments)
            return out.embeddings.reshape(-1, 1024).numpy(), out.scores.reshape(-1, 521).numpy().argmax(1)

        return pipeline
    patches = torch.from_numpy(np.load(data / "patches.npy"))
    net, chunk = model.fast_cnn(), DEFAULT_CHUNKS[precision]

    def network() -> tuple:
        with torch.inference_mode():
            parts = [net(patches[i : i + chunk]) for i in range(0, patches.shape[0], chunk)]
        emb = torch.cat([e for e, _ in parts]).numpy()
        return emb, torch.cat([lg for _, lg in parts]).numpy().argmax(1)

    return network


def onnxruntime_runner(data: Path, threads: int, model) -> Callable[[], tuple]:
    import onnxruntime as ort
    import torch

    path = data / "yamnet-network.onnx"
    if not path.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model.cnn,
                (torch.zeros(2, 96, 64),),
                str(path),
                input_names=["patches"],
                output_names=["embeddings", "logits"],
                dynamic_axes={k: {0: "n"} for k in ("patches", "embeddings", "logits")},
                dynamo=False,
            )
    options = ort.SessionOptions()
    options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    patches = np.load(data / "patches.npy")

    def run() -> tuple:
        emb, logits = session.run(None, {"patches": patches})
        return emb, logits.argmax(1)

    return run


def time_runs(
    fns: dict[str, Callable], repeats: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Warm up, then ``repeats`` interleaved timed calls of each function: wall seconds per call, and the
    process's CPU seconds per call (all its threads: above the wall time, more than one core worked)."""
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    cpu: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0, c0 = time.perf_counter(), time.process_time()
            fn()
            times[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    return times, cpu


def main() -> int:
    data, run, threads, repeats = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    load0 = os.getloadavg()[0]
    if run == "litert":
        times, cpu = time_runs({run: litert_runner(data, threads)}, repeats)
    elif run.startswith("same:"):
        precision = run.split(":")[1]
        fns = {
            f"same:ours:torch:{precision}:pipeline": ours_runner(
                data, threads, "torch", precision, "pipeline"
            ),
            "same:litert": litert_runner(data, threads),
        }
        times, cpu = time_runs(fns, repeats)
    else:
        _, backend, precision, stage = run.split(":")
        fn = ours_runner(data, threads, backend, precision, stage)
        times, cpu = time_runs({run: fn}, repeats)
        emb, top1 = fn()
        tag = run.replace(":", "_")
        np.save(data / f"emb_{tag}_{threads}.npy", emb)
        np.save(data / f"top1_{tag}_{threads}.npy", top1)
    print(json.dumps({"threads": threads, "times": times, "cpu": cpu, "load": [load0, os.getloadavg()[0]]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
