"""Training and inference speed of every model at the study's input shapes, on random data.

For each row of the study grid and each training precision (``--precisions``, default float32 and
bfloat16: the forward pass under ``torch.autocast("cpu", dtype=torch.bfloat16)``, as ``--precision
bfloat16`` trains; loss and AdamW step in float32): one training step (forward, backward, AdamW step)
repeated over ``--segments`` random segments at batch size 64, and inference (eval mode, batch 256, under
the same autocast, as the validation pass of such a run), reported in seconds per 1000 segments (the best
of ``--repeats`` runs, wall clock; CPU seconds of the process beside it). Then design ablations that justify the architectures (an unpooled spectrogram BiLSTM, a 2-D CNN
without its strided stem, the waveform CNN with ``nn.Conv1d`` layers and a Lee et al. 2017 layout with
stride-1 convolutions + max pooling), the data pipeline (memmap -> normalised batches), the linear probe's
scikit-learn fit, and an estimate of the full GTZAN grid: 10,000 segments, 80% x 80% for training
(6,400 train, 1,600 valid segments), 30 epochs, test on 2,000.

    python benchmarks/bench_training.py --threads 2 --out benchmarks/results/training.md
    python benchmarks/bench_training.py --threads 1,2 --quick          # fewer segments, no ablations
    python benchmarks/bench_training.py --precisions float32 --quick   # float32 only

Random data gives the same timing as real features (no data-dependent control flow), except for the
probe, whose lbfgs iterations depend on the data (reported as an indication).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from machine_info import describe_machine, load_average
from musicgenre.models.registry import build_model

SHAPES = {
    "waveform": (48000,),
    "yamnet_embedding": (6, 1024),
    "yamnet_logmel": (336, 64),
    "mfcc": (94, 20),
}
ALL = ("waveform", "yamnet_embedding", "yamnet_logmel", "mfcc")
#: (key, model, inputs, options): the study grid's torch rows.
GRID = [
    ("cnn_mfcc", "cnn2d", ("mfcc",), {}),
    ("cnn_spectrogram", "cnn2d", ("yamnet_logmel",), {}),
    ("cnn_embedding", "cnn1d", ("yamnet_embedding",), {}),
    ("lstm_mfcc", "bilstm", ("mfcc",), {}),
    ("lstm_spectrogram", "bilstm", ("yamnet_logmel",), {}),
    ("lstm_embedding", "bilstm", ("yamnet_embedding",), {}),
    ("combined_no_spec", "combined", ("yamnet_embedding", "mfcc"), {}),
    ("waveform_cnn", "waveform_cnn", ("waveform",), {}),
    ("combined_all", "combined", ALL, {}),
]
N_CLASSES = 10
N_TRAIN, N_VALID, N_TEST, EPOCHS = 6400, 1600, 2000, 30


# ------------------------------------------------------------------------------------------------ machine
# ------------------------------------------------------------------------------------------------ reference nets
class _ConvStrided(nn.Module):
    """``waveform_cnn``'s exact layout with ``nn.Conv1d(k, stride=k)`` layers (channels first)."""

    def __init__(
        self, frame: int = 9, front: int = 32, widths: tuple[int, ...] = (32, 64, 64, 128, 128, 256, 256)
    ):
        super().__init__()
        layers: list[nn.Module] = []
        c, k = 1, frame
        for w in (front, *widths):
            layers += [nn.Conv1d(c, w, k, stride=k, bias=False), nn.BatchNorm1d(w), nn.ReLU(inplace=True)]
            c, k = w, 3
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Dropout(0.3), nn.Linear(2 * c, 128), nn.ReLU(), nn.Linear(128, N_CLASSES)
        )

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.body(inputs["waveform"][:, None, :47997])
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=1))


class _LeeSampleCNN(nn.Module):
    """Lee et al. (2017) layout at our widths: a 3-sample strided front end, then stride-1 3-tap convs each
    followed by 3x max pooling (16000 -> 5333 -> ... -> 2 frames)."""

    def __init__(self, widths: tuple[int, ...] = (32, 32, 64, 64, 128, 128, 256, 256)):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(1, 32, 3, stride=3, bias=False), nn.BatchNorm1d(32), nn.ReLU()]
        c = 32
        for w in widths:
            layers += [
                nn.Conv1d(c, w, 3, padding=1, bias=False),
                nn.BatchNorm1d(w),
                nn.ReLU(),
                nn.MaxPool1d(3),
            ]
            c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Dropout(0.3), nn.Linear(2 * c, 128), nn.ReLU(), nn.Linear(128, N_CLASSES)
        )

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        h = self.body(inputs["waveform"][:, None, :])
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=1))


#: (key, note, factory, inputs): design ablations, not part of the grid.
ABLATIONS: list[tuple[str, str, Callable[[], nn.Module], tuple[str, ...]]] = [
    ("lstm_spectrogram max_steps=0", "BiLSTM on all 336 log-mel frames (no temporal pooling)",
     lambda: build_model("bilstm", {"yamnet_logmel": SHAPES["yamnet_logmel"]}, N_CLASSES, max_steps=0),
     ("yamnet_logmel",)),
    ("lstm_mfcc hidden=128", "BiLSTM with 128 units per direction instead of 64",
     lambda: build_model("bilstm", {"mfcc": SHAPES["mfcc"]}, N_CLASSES, hidden=128), ("mfcc",)),
    ("cnn_spectrogram no stem", "2-D CNN with a full-resolution first block (max_cells=inf)",
     lambda: build_model("cnn2d", {"yamnet_logmel": SHAPES["yamnet_logmel"]}, N_CLASSES, max_cells=10**9),
     ("yamnet_logmel",)),
    ("cnn_spectrogram channels-first", "2-D CNN with channels_last=False (in float32 the default runs channels-first too)",
     lambda: build_model("cnn2d", {"yamnet_logmel": SHAPES["yamnet_logmel"]}, N_CLASSES, channels_last=False),
     ("yamnet_logmel",)),
    ("cnn_mfcc channels-first", "2-D CNN on MFCCs with channels_last=False (as above)",
     lambda: build_model("cnn2d", {"mfcc": SHAPES["mfcc"]}, N_CLASSES, channels_last=False), ("mfcc",)),
    ("waveform nn.Conv1d", "waveform_cnn's layout written with nn.Conv1d(k, stride=k)",
     _ConvStrided, ("waveform",)),
    ("waveform Lee 2017 layout", "stride-1 convs + 3x max pooling (SampleCNN), same widths",
     _LeeSampleCNN, ("waveform",)),
]  # fmt: skip


# ------------------------------------------------------------------------------------------------ timing
def _data(names: tuple[str, ...], n: int, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(n, *SHAPES[k], generator=g) for k in names}


def _autocast(precision: str) -> contextlib.AbstractContextManager:
    """What ``--precision`` runs the forward pass under on the CPU (musicgenre.device.autocast)."""
    from musicgenre.device import autocast

    return autocast(torch.device("cpu"), precision)


def time_train(
    model: nn.Module,
    names: tuple[str, ...],
    segments: int,
    repeats: int,
    batch: int = 64,
    precision: str = "float32",
):
    """Best (wall, cpu) seconds per 1000 segments of forward + backward + AdamW step."""
    from musicgenre.models.cnn2d import channels_last_weights
    from musicgenre.training.loop import make_optimizer
    from musicgenre.training.trainer import TrainConfig

    x = _data(names, batch)
    y = torch.randint(0, N_CLASSES, (batch,))
    if precision == "bfloat16":  # as training with --precision bfloat16 does
        channels_last_weights(model)
    # AdamW with the trainer's options (weight decay groups, foreach/fused step)
    opt = make_optimizer(model, TrainConfig(lr=1e-4, precision=precision))
    model.train()
    steps = max(1, segments // batch)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with _autocast(precision):
            logits = model(x)
        nn.functional.cross_entropy(logits.float(), y).backward()
        opt.step()

    step()  # warm-up (oneDNN primitive creation, allocator)
    step()
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(steps):
            step()
        n = steps * batch
        best_wall = min(best_wall, (time.perf_counter() - t0) / n * 1000)
        best_cpu = min(best_cpu, (time.process_time() - c0) / n * 1000)
    return best_wall, best_cpu


@torch.inference_mode()
def time_infer(
    model: nn.Module,
    names: tuple[str, ...],
    segments: int,
    repeats: int,
    batch: int = 256,
    precision: str = "float32",
) -> float:
    """Best wall seconds per 1000 segments in eval mode."""
    x = _data(names, batch)
    model.eval()
    with _autocast(precision):
        model(x)
    steps = max(1, segments // batch)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            with _autocast(precision):
                model(x)
        best = min(best, (time.perf_counter() - t0) / (steps * batch) * 1000)
    return best


def grid_seconds(train_per_1000: float, infer_per_1000: float) -> float:
    """Seconds for one model of the full grid: 30 epochs of 6,400 train + 1,600 valid, then 2,000 test."""
    return (
        EPOCHS * (N_TRAIN * train_per_1000 + N_VALID * infer_per_1000) / 1000 + N_TEST * infer_per_1000 / 1000
    )


def time_pipeline(repeats: int) -> float:
    """Seconds per 1000 segments to read shuffled batches of waveforms from a memmap and normalise them."""
    from musicgenre.training.data import batch_rows, iter_batches
    from musicgenre.training.normalisation import compute_normalisation

    n = 1000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wave.f32"
        mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, 48000))
        rng = np.random.default_rng(0)
        for i in range(0, n, 100):
            mm[i : i + 100] = rng.standard_normal((100, 48000), dtype=np.float32) * 0.1
        mm.flush()
        mm = np.memmap(path, dtype=np.float32, mode="r", shape=(n, 48000))
        stats = {"waveform": compute_normalisation(mm, None)}
        labels = np.zeros(n, dtype=np.int64)
        best = float("inf")
        for r in range(repeats):
            batches = batch_rows(np.arange(n), 64, np.random.default_rng(r))
            t0 = time.perf_counter()
            for _ in iter_batches({"waveform": mm}, batches, stats, labels):
                pass
            best = min(best, time.perf_counter() - t0)
        del mm
    return best


def time_probe() -> tuple[float, float]:
    """(seconds, chosen C) of the probe's sklearn fit with the default C grid on 6,400 + 1,600 pooled rows."""
    from musicgenre.models.probe import fit_logistic_probe
    from musicgenre.training.trainer import TrainConfig

    rng = np.random.default_rng(0)
    y = rng.integers(0, N_CLASSES, N_TRAIN + N_VALID)
    centres = rng.normal(size=(N_CLASSES, 2048)) * 0.15
    x = rng.normal(size=(len(y), 2048)) + centres[y]
    cfg = TrainConfig()
    t0 = time.perf_counter()
    fit = fit_logistic_probe(
        x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], N_CLASSES,
        c_grid=cfg.probe_c_grid, max_iter=cfg.probe_max_iter,
    )  # fmt: skip
    return time.perf_counter() - t0, fit.c


def time_loop(key: str, precision: str, n_train: int = 640, n_valid: int = 160) -> tuple[float, float]:
    """(measured, model-only) seconds of one real epoch (``train_epoch`` + the validation pass of
    ``fit_epochs``) of grid row ``key`` on ``n_train`` + ``n_valid`` random in-memory rows at the study's
    shapes; model-only is what :func:`time_train` and :func:`time_infer` predict for it, so the difference
    is the loop's own overhead (batching, normalisation, learning rate, progress, accuracy)."""
    from musicgenre.training.loop import EpochData, evaluate_rows, make_optimizer, train_epoch
    from musicgenre.training.normalisation import compute_normalisation
    from musicgenre.training.trainer import TrainConfig

    _, model_name, names, opts = next(g for g in GRID if g[0] == key)
    n = n_train + n_valid
    rng = np.random.default_rng(0)
    inputs = {k: rng.standard_normal((n, *SHAPES[k]), dtype=np.float32) for k in names}
    labels = rng.integers(0, N_CLASSES, n)
    rows = np.arange(n)
    norm = {k: compute_normalisation(inputs[k], None, rows[:n_train]) for k in names}
    data = EpochData(inputs, labels, rows[:n_train], rows[n_train:], norm)
    cfg = TrainConfig(epochs=2, precision=precision)
    torch.manual_seed(0)
    model = build_model(model_name, {k: SHAPES[k] for k in names}, N_CLASSES, **opts)
    if precision == "bfloat16":
        from musicgenre.models.cnn2d import channels_last_weights

        channels_last_weights(model)
    opt = make_optimizer(model, cfg)
    loss_fn = nn.CrossEntropyLoss()
    best = float("inf")
    for epoch in range(2):  # the first epoch warms up oneDNN and the allocator
        t0 = time.perf_counter()
        train_epoch(model, opt, loss_fn, data, cfg, epoch)
        evaluate_rows(model, data, data.valid_rows, cfg.eval_batch_size, precision=precision)
        best = min(best, time.perf_counter() - t0)
    model = build_model(model_name, {k: SHAPES[k] for k in names}, N_CLASSES, **opts)
    wall, _ = time_train(model, names, n_train // 2, 2, precision=precision)
    inf = time_infer(model, names, n_valid, 2, precision=precision)
    return best, (n_train * wall + n_valid * inf) / 1000


# ------------------------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", default="2", help="comma-separated torch thread counts (default 2)")
    ap.add_argument(
        "--precisions",
        default="float32,bfloat16",
        help="comma-separated training precisions (float32, bfloat16; default both)",
    )
    ap.add_argument("--segments", type=int, default=256, help="segments per timing run (default 256)")
    ap.add_argument("--repeats", type=int, default=3, help="timing runs; the best is reported (default 3)")
    ap.add_argument(
        "--quick", action="store_true", help="128 segments, 2 repeats, no ablations, probe or loop timing"
    )
    ap.add_argument("--no-probe", action="store_true", help="skip the probe's sklearn fit")
    ap.add_argument("--out", type=Path, help="write the Markdown report here")
    args = ap.parse_args(argv)
    from musicgenre.device import AUTO_BF16_MODELS, check_precision, cpu_has_native_bf16

    threads = [int(t) for t in args.threads.split(",")]
    precisions = [check_precision(p.strip()) for p in args.precisions.split(",")]
    if "auto" in precisions:
        ap.error("--precisions takes float32 and bfloat16 (auto is bfloat16 for the grid's model kinds)")
    segments, repeats = (128, 2) if args.quick else (args.segments, args.repeats)
    load_before = load_average()
    t_start = time.perf_counter()

    rows = []
    for key, model_name, names, opts in GRID:
        row = {"key": key, "model": model_name, "inputs": "+".join(names), "t": {}}
        for th in threads:
            torch.set_num_threads(th)
            for prec in precisions:
                torch.manual_seed(0)
                model = build_model(model_name, {k: SHAPES[k] for k in names}, N_CLASSES, **opts)
                row["params"] = sum(p.numel() for p in model.parameters())
                wall, cpu = time_train(model, names, segments, repeats, precision=prec)
                inf = time_infer(model, names, 2 * segments, repeats, precision=prec)
                row["t"][th, prec] = (wall, cpu, inf)
                print(
                    f"{key:<18} {th} thr {prec:<8}: train {wall:6.2f} s/1000 (cpu {cpu:6.2f}), infer {inf:5.2f}",
                    flush=True,
                )
        rows.append(row)

    ablations = []
    if not args.quick:
        th = threads[-1]
        torch.set_num_threads(th)
        for key, note, factory, names in ABLATIONS:
            torch.manual_seed(0)
            model = factory()
            n_params = sum(p.numel() for p in model.parameters())
            n_seg = segments // 2 if "Lee" in key or "no stem" in key or "max_steps" in key else segments
            # channels-last against channels-first is measured in each precision
            for prec in precisions if "channels-first" in key else ["float32"]:
                wall, cpu = time_train(model, names, n_seg, repeats, precision=prec)
                ablations.append((key, note, n_params, prec, wall, cpu))
                print(f"{key:<32} {th} thr {prec:<8}: train {wall:6.2f} s/1000 (cpu {cpu:6.2f})", flush=True)

    torch.set_num_threads(threads[-1])
    pipe = time_pipeline(repeats)
    print(f"pipeline: {pipe:.2f} s per 1000 waveform segments", flush=True)
    loops = []
    if not args.quick:
        for key in ("cnn_mfcc", "waveform_cnn"):
            for prec in precisions:
                measured, model_only = time_loop(key, prec)
                loops.append((key, prec, measured, model_only))
                print(
                    f"loop {key} {prec}: {measured:.2f} s per epoch, model only {model_only:.2f} s",
                    flush=True,
                )
    probe = None if (args.quick or args.no_probe) else time_probe()
    if probe:
        print(f"probe fit: {probe[0]:.1f} s (C={probe[1]:g})", flush=True)
    load_after = load_average()
    elapsed = time.perf_counter() - t_start

    # ---------------------------------------------------------------- report
    cmd = "python benchmarks/bench_training.py " + " ".join(argv if argv is not None else sys.argv[1:])
    native = cpu_has_native_bf16()
    out = [
        "# Training and inference speed (bench_training.py)",
        "",
        f"- Machine: {describe_machine()}; native bfloat16 (avx512_bf16/amx_bf16): {'yes' if native else 'no'}",
        f"- Command: `{cmd.strip()}` ({elapsed:.0f} s)",
        f"- Load average (1, 5, 15 min) before: {load_before}; after: {load_after}. Other jobs shared these "
        "cores during the run; the wall-clock figures are the best of the repeats, and the process CPU "
        "time is given beside them (with N threads, uncontended wall time is about CPU time / N at best).",
        f"- Each timing: {segments} random segments at the study's shapes, batch 64 (train: forward, "
        "backward, AdamW step) or 256 (inference, eval mode); best of "
        f"{repeats} runs, in seconds per 1000 segments. bfloat16: the forward pass under "
        '`torch.autocast("cpu", dtype=torch.bfloat16)` (`--precision bfloat16`; loss, backward into '
        "float32 weights and the AdamW step as in float32).",
        "",
    ]
    totals: dict[str, float] = {}
    for th in threads:
        out += [f"## Study grid, {th} thread{'s' if th > 1 else ''}", ""]
        head, sep = "| Row | Model | Inputs | Params |", "|---|---|---|---:|"
        for what in ("Train s/1000", "CPU-s/1000", "Infer s/1000"):
            for prec in precisions:
                head += f" {what} {prec} |"
                sep += "---:|"
        if len(precisions) == 2:
            head += " Train speed-up |"
            sep += "---:|"
        for prec in precisions:
            head += f" Full grid {prec} |"
            sep += "---:|"
        out += [head, sep]
        for r in rows:
            t = {p: r["t"][th, p] for p in precisions}
            line = f"| {r['key']} | {r['model']} | {r['inputs']} | {r['params']:,} |"
            for i in range(3):
                line += "".join(f" {t[p][i]:.2f} |" for p in precisions)
            if len(precisions) == 2:
                line += f" {t[precisions[0]][0] / t[precisions[1]][0]:.2f}x |"
            for p in precisions:
                est = grid_seconds(t[p][0], t[p][2])
                line += f" {est / 60:.1f} min |"
                if th == threads[-1]:
                    totals[p] = totals.get(p, 0.0) + est
            out.append(line)
        if probe:
            cells = " — |" * (3 * len(precisions) + (len(precisions) == 2))
            fit = f" {probe[0] / 60:.1f} min (sklearn) |" * len(precisions)
            out.append(f"| probe_embedding | probe | yamnet_embedding | 20,490 |{cells}{fit}")
        out.append("")
    th_est = threads[-1]
    if probe:
        totals = {p: v + probe[0] for p, v in totals.items()}
    n_rows = len(rows) + (1 if probe else 0)
    est_text = "; ".join(f"{p}: **{v / 3600:.2f} h** ({v / 60:.0f} min)" for p, v in totals.items())
    out += [
        f"**Estimated full GTZAN grid** (10,000 segments; 6,400 train x 30 epochs + 1,600 validation per epoch "
        f"+ 2,000 test, per row; {th_est} threads; model compute only), {n_rows} rows: {est_text}. "
        f"`--precision auto` trains {', '.join(sorted(AUTO_BF16_MODELS))} in bfloat16 on a CPU with native "
        "bfloat16, i.e. every torch row of the grid: its estimate is the bfloat16 one"
        f"{'' if native else ' (not this CPU: here auto is float32)'}. Feature extraction is not included "
        "(see `features.md`); the data pipeline and the loop add the small amounts below.",
        "",
        f"- Data pipeline: reading shuffled batches of 64 waveforms (48,000 samples) from a memmap and "
        f"normalising them: {pipe:.2f} s per 1000 segments, done in a background thread while the model "
        "trains (the other inputs are 4-24x smaller).",
    ]
    for key, prec, measured, model_only in loops:
        out.append(
            f"- Real epoch of `{key}` ({prec}; `train_epoch` + the validation pass on 640 + 160 random "
            f"in-memory rows): {measured:.2f} s, against {model_only:.2f} s of model compute alone "
            f"({100 * (measured / model_only - 1):+.0f}%: the loop's overhead, and timing noise)."
        )
    if probe:
        out.append(
            f"- Linear probe: scikit-learn fit of the C grid (5 values) on 6,400 + 1,600 random pooled "
            f"2048-d rows: {probe[0]:.1f} s (chosen C={probe[1]:g}); real embeddings converge differently."
        )
    if ablations:
        out += [
            "",
            f"## Design ablations ({threads[-1]} threads; not part of the grid)",
            "",
            "Compare each with its grid row above (in the same precision).",
            "",
            "| Variant | What | Params | Precision | Train s/1000 | CPU-s/1000 |",
            "|---|---|---:|---|---:|---:|",
        ]
        for key, note, n_params, prec, wall, cpu in ablations:
            out.append(f"| {key} | {note} | {n_params:,} | {prec} | {wall:.2f} | {cpu:.2f} |")
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
