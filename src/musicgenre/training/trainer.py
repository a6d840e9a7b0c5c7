"""Train one model on cached features: seeded, resumable, best epoch by validation accuracy.

``train_model`` takes plain arrays (``{input: (n_rows, *shape)}``, e.g. the feature store's memmaps), the
per-row labels and a :class:`~musicgenre.splits.Split` of row indices, and writes into ``out_dir``:

* ``model.ckpt``: the best epoch's weights as a :class:`~musicgenre.checkpoint.Checkpoint`, with the
  training rows' normalisation statistics, the labels, the feature and segment configs and the history;
* ``history.json``: per-epoch ``train_loss``, ``train_acc``, ``valid_loss``, ``valid_acc``, ``lr``,
  ``epoch_time`` (rewritten after every epoch, so it can be watched);
* ``training_curves.png``: loss and accuracy, train and valid, best epoch marked;
* ``state.pt``: the resume state, rewritten atomically after every epoch, deleted when training ends;
* ``result.json``: written last; its presence means "finished". Calling ``train_model`` again with the
  same arguments returns the saved :class:`TrainResult` without training.

An interrupted run (crash, Ctrl-C, killed job) restarts from its last finished epoch when ``train_model``
is called again with the same ``out_dir``, and ends with the same weights and history as an uninterrupted
run (see :mod:`musicgenre.training.seed`). A different model, config, split or data shape in an existing
``out_dir`` is refused rather than mixed.

The optimiser and schedule are explained in :data:`TRAINING_RATIONALE` (quoted by the study report).
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from musicgenre import __version__
from musicgenre.audio.segment import SegmentConfig
from musicgenre.checkpoint import Checkpoint, save_checkpoint
from musicgenre.errors import MusicGenreError
from musicgenre.features.registry import FeatureConfig
from musicgenre.fileio import atomic_path, json_default, write_json
from musicgenre.splits import Split
from musicgenre.training.data import batch_rows, check_inputs, iter_batches, load_batch
from musicgenre.training.inference import predict_logits
from musicgenre.training.normalisation import compute_all_normalisation
from musicgenre.training.seed import epoch_generators, training_context

CHECKPOINT_NAME = "model.ckpt"
HISTORY_NAME = "history.json"
CURVES_NAME = "training_curves.png"
STATE_NAME = "state.pt"
RESULT_NAME = "result.json"
HISTORY_KEYS = ("train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "epoch_time")

TRAINING_RATIONALE = """\
Every gradient-trained model uses the same recipe: AdamW (learning rate 1e-3, weight decay 0.05 on weights
but not on biases or batch-norm parameters, betas 0.9/0.999), batch size 64, cross-entropy, gradient norm
clipped at 5, 30 epochs, and a per-step schedule of one epoch of linear warm-up followed by cosine decay
to 1% of the peak learning rate. The checkpoint keeps the epoch with the best validation accuracy (ties:
lower validation loss). Why this recipe: Adam-type optimisers train the LSTMs, CNNs and the multi-input
model well at one shared learning rate, so all rows of the study compare architectures rather than
per-model tuning; decoupled weight decay (AdamW) is the regulariser that behaves the same whatever the
gradient scale of each model. The warm-up protects batch-norm statistics and Adam's second-moment
estimates during the first steps. Cosine decay spends the early epochs at a high learning rate and
anneals smoothly, so the last epochs are stable and validation accuracy plateaus instead of jumping
between epochs; selecting the best epoch on such a curve is less of a lottery. We preferred it to
OneCycle, whose long warm-up (30% of training) and momentum cycling were designed for SGD at very high
peak rates and would add a second knob (the peak rate) to tune per model. The linear probe is not
trained by gradient descent: scikit-learn's logistic regression (lbfgs) on standardised mean+std-pooled
embeddings, with C chosen on the validation set from {0.001, 0.01, 0.1, 1, 10}. Normalisation statistics
(per MFCC coefficient, mel band or embedding dimension; one global mean/std for the waveform) come from
the training rows only. Runs are seeded and bit-reproducible on a CPU for a given thread count."""


class TrainingError(MusicGenreError):
    """Training cannot start or continue (inconsistent inputs, an out_dir holding another run, NaN loss)."""


@dataclass
class TrainConfig:
    """How to train. See :data:`TRAINING_RATIONALE` for why these defaults.

    Attributes:
        epochs: passes over the training rows.
        batch_size: training batch size (a last batch of one row is merged into the previous one).
        optimizer: ``"adamw"`` or ``"sgd"`` (Nesterov momentum 0.9).
        lr: peak learning rate.
        weight_decay: decoupled weight decay, applied to weight matrices/kernels only.
        schedule: ``"cosine"`` (linear warm-up then cosine decay to ``min_lr_ratio * lr``), ``"onecycle"``
            (warm-up over 30% of the steps from ``lr/25``, cosine decay to ``lr/1e4``) or ``"constant"``
            (after the warm-up).
        warmup_epochs: length of the linear warm-up, in epochs (may be fractional; 0: none).
        min_lr_ratio: final learning rate of the cosine schedule, relative to ``lr``.
        label_smoothing: cross-entropy label smoothing.
        grad_clip: clip the global gradient norm to this (None: no clipping).
        seed: seeds initialisation, shuffling and dropout.
        num_threads: torch CPU threads during training (None: leave torch's setting).
        eval_batch_size: batch size for validation passes.
        probe_c_grid: inverse regularisation strengths tried by the ``probe`` (sklearn) trainer.
        probe_max_iter: lbfgs iterations for the probe.
    """

    epochs: int = 30
    batch_size: int = 64
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.05
    schedule: str = "cosine"
    warmup_epochs: float = 1.0
    min_lr_ratio: float = 0.01
    label_smoothing: float = 0.0
    grad_clip: float | None = 5.0
    seed: int = 0
    num_threads: int | None = None
    eval_batch_size: int = 256
    probe_c_grid: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    probe_max_iter: int = 2000

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"batch_size must be at least 2 (batch norm), got {self.batch_size}")
        if self.optimizer not in ("adamw", "sgd"):
            raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {self.optimizer!r}")
        if self.schedule not in ("cosine", "onecycle", "constant"):
            raise ValueError(f"schedule must be 'cosine', 'onecycle' or 'constant', got {self.schedule!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        self.probe_c_grid = tuple(float(c) for c in self.probe_c_grid)

    def to_dict(self) -> dict[str, Any]:
        """Plain-dict form (JSON, checkpoints)."""
        d = asdict(self)
        d["probe_c_grid"] = list(self.probe_c_grid)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (configs written by newer versions)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def default_train_config(model_name: str) -> TrainConfig:
    """The default :class:`TrainConfig` of ``model_name`` (currently one recipe for every model)."""
    from musicgenre.models.registry import get_model_spec

    get_model_spec(model_name)  # unknown names fail here, with the list of known ones
    return TrainConfig()


@dataclass
class TrainResult:
    """What a finished training run produced (also stored as ``result.json``).

    ``best_epoch`` is 1-based. ``best_valid_acc`` is NaN without validation rows. ``train_seconds`` is the
    wall time spent training and validating, summed over resumed sessions. For the ``probe`` the
    "epoch" is the single fit, and the C grid is in ``history['c_grid']`` and friends.
    """

    checkpoint_path: Path
    history: dict[str, list[float]]
    best_epoch: int
    best_valid_acc: float
    train_seconds: float
    n_params: int
    model_name: str = ""
    out_dir: Path | None = None
    resumed_from_epoch: int = 0
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON form; paths relative to ``out_dir``; NaN written as null."""
        return {
            "checkpoint": Path(self.checkpoint_path).name,
            "history": _json_history(self.history),
            "best_epoch": self.best_epoch,
            "best_valid_acc": _json_float(self.best_valid_acc),
            "train_seconds": self.train_seconds,
            "n_params": self.n_params,
            "model_name": self.model_name,
            "resumed_from_epoch": self.resumed_from_epoch,
            "meta": self.meta,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], out_dir: Path) -> TrainResult:
        """Inverse of :meth:`to_dict` for a run stored in ``out_dir``."""
        return cls(
            checkpoint_path=Path(out_dir) / d["checkpoint"],
            history={k: [math.nan if v is None else v for v in vals] for k, vals in d["history"].items()},
            best_epoch=int(d["best_epoch"]),
            best_valid_acc=math.nan if d["best_valid_acc"] is None else float(d["best_valid_acc"]),
            train_seconds=float(d["train_seconds"]),
            n_params=int(d["n_params"]),
            model_name=d.get("model_name", ""),
            out_dir=Path(out_dir),
            resumed_from_epoch=int(d.get("resumed_from_epoch", 0)),
            meta=dict(d.get("meta", {})),
        )


EpochCallback = Callable[[int, dict[str, list[float]]], None]


# ------------------------------------------------------------------------------------------------ schedule
def lr_at(step: int, total_steps: int, steps_per_epoch: int, config: TrainConfig) -> float:
    """Learning rate of optimisation step ``step`` (0-based) of ``total_steps``; a pure function."""
    peak = config.lr
    if config.schedule == "onecycle":
        up = max(1, int(round(0.3 * total_steps)))
        start, end = peak / 25.0, peak / 1e4
        if step < up:
            return start + (peak - start) * 0.5 * (1 - math.cos(math.pi * step / up))
        p = (step - up) / max(1, total_steps - up)
        return end + (peak - end) * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))
    warm = int(round(config.warmup_epochs * steps_per_epoch))
    warm = min(warm, max(0, total_steps - 1))
    if step < warm:
        return peak * (step + 1) / warm
    if config.schedule == "constant":
        return peak
    floor = peak * config.min_lr_ratio
    p = (step - warm) / max(1, total_steps - warm - 1)
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (or SGD) with weight decay on weight matrices/kernels only, not biases or norm parameters."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=config.lr)


# ------------------------------------------------------------------------------------------------ helpers
def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (for the probe: its Linear layer)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def _json_float(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else x


def _json_history(history: Mapping[str, list[float]]) -> dict[str, list[float | None]]:
    return {k: [_json_float(float(v)) for v in vals] for k, vals in history.items()}


def _hash_array(a: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(a, dtype=np.int64).tobytes()).hexdigest()[:16]


def _fingerprint(parts: Mapping[str, Any]) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha1(blob).hexdigest()


def _state_dict_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@dataclass
class _Prepared:
    model_name: str
    spec: Any
    inputs: dict[str, np.ndarray]
    labels: np.ndarray
    split: Split
    label_names: list[str]
    feature_configs: dict[str, FeatureConfig]
    segment: SegmentConfig
    input_shapes: dict[str, tuple[int, ...]]
    model_options: dict[str, Any]
    config: TrainConfig
    out_dir: Path
    fingerprint: str


def _prepare(
    model_name: str,
    inputs: Mapping[str, np.ndarray],
    labels: np.ndarray,
    split: Split,
    label_names: list[str],
    feature_configs: Mapping[str, FeatureConfig],
    segment_config: SegmentConfig,
    config: TrainConfig,
    out_dir: Path,
    model_options: dict[str, Any] | None,
) -> _Prepared:
    from musicgenre.models.registry import get_model_spec

    spec = get_model_spec(model_name)
    if set(inputs) != set(feature_configs):
        raise TrainingError(
            f"inputs {sorted(inputs)} and feature_configs {sorted(feature_configs)} name different features"
        )
    names = list(feature_configs)  # the model's input order is the feature configs' order
    inputs = {n: inputs[n] for n in names}
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise TrainingError(f"labels must be one class index per row, got shape {labels.shape}")
    n_rows = check_inputs(inputs, len(labels))
    shapes: dict[str, tuple[int, ...]] = {}
    for n in names:
        want = tuple(int(s) for s in feature_configs[n].shape(segment_config))
        got = tuple(int(s) for s in inputs[n].shape[1:])
        if want != got:
            raise TrainingError(
                f"input {n!r}: the feature config gives items of shape {want}, the array {got}"
            )
        shapes[n] = want
    n_classes = len(label_names)
    if n_classes < 2:
        raise TrainingError(f"need at least two classes, got {label_names}")
    sides = {s: np.asarray(getattr(split, s), dtype=np.int64) for s in ("train", "valid", "test")}
    for side, rows in sides.items():
        if rows.size and (rows.min() < 0 or rows.max() >= n_rows):
            raise TrainingError(f"split {split.name!r}: {side} row indices fall outside 0..{n_rows - 1}")
    if len(sides["train"]) < 2:
        raise TrainingError(f"split {split.name!r} has {len(sides['train'])} training rows; need at least 2")
    used = np.concatenate([sides["train"], sides["valid"]])
    lab = labels[used].astype(np.int64)
    if lab.min() < 0 or lab.max() >= n_classes:
        raise TrainingError(f"labels of the train/valid rows must lie in 0..{n_classes - 1}")
    split = Split(
        split.name, split.protocol, sides["train"], sides["valid"], sides["test"], split.leaky, split.notes
    )
    options = dict(model_options or {})
    cfg = config.to_dict()
    for k in ("num_threads", "eval_batch_size"):
        cfg.pop(k)
    fp = _fingerprint(
        {
            "model": model_name,
            "options": options,
            "inputs": {n: feature_configs[n].to_dict() for n in names},
            "shapes": {n: list(s) for n, s in shapes.items()},
            "segment": segment_config.to_dict(),
            "labels": list(label_names),
            "config": cfg,
            "n_rows": n_rows,
            "train": _hash_array(sides["train"]),
            "valid": _hash_array(sides["valid"]),
            "y": _hash_array(lab),
        }
    )
    return _Prepared(
        model_name, spec, inputs, labels.astype(np.int64), split, list(label_names), dict(feature_configs),
        segment_config, shapes, options, config, Path(out_dir), fp,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------------ main API
def train_model(
    model_name: str,
    inputs: Mapping[str, np.ndarray],
    labels: np.ndarray,
    split: Split,
    *,
    label_names: list[str],
    feature_configs: Mapping[str, FeatureConfig],
    segment_config: SegmentConfig,
    config: TrainConfig | None = None,
    out_dir: str | Path,
    model_options: dict[str, Any] | None = None,
    meta: dict[str, Any] | None = None,
    progress: bool = True,
    on_epoch_end: EpochCallback | None = None,
) -> TrainResult:
    """Train ``model_name`` on ``split.train`` rows, select the best epoch on ``split.valid``, save it.

    Args:
        model_name: a registered model (``cnn2d``, ``cnn1d``, ``bilstm``, ``waveform_cnn``, ``combined``,
            ``probe``).
        inputs: ``{input_name: array (n_rows, *shape)}`` (NumPy arrays or memmaps), rows aligned; only the
            rows of ``split.train`` and ``split.valid`` are read. The model's input order is the order
            of ``feature_configs``.
        labels: ``(n_rows,)`` class indices into ``label_names``.
        split: row indices; ``split.test`` is not touched here.
        feature_configs: ``{input_name: FeatureConfig}``, same names as ``inputs``; they give the
            expected item shapes and each input's normalisation axis, and go into the checkpoint.
        segment_config: how segments were cut (stored in the checkpoint for prediction).
        config: :class:`TrainConfig` (default: :func:`default_train_config`).
        out_dir: run folder (see the module docstring for what is written there).
        model_options: keyword options for the model builder (stored in the checkpoint).
        meta: extra facts for the checkpoint's ``meta`` (dataset, protocol, ...).
        progress: tqdm bar per epoch and a one-line summary per epoch on stderr.
        on_epoch_end: called as ``on_epoch_end(epoch, history)`` (1-based) after each epoch's resume
            state is saved; an exception raised there stops training, which a later call resumes.

    Without validation rows (e.g. k-fold without an inner validation split) the *last* epoch is kept,
    ``valid_loss``/``valid_acc`` are NaN and ``best_valid_acc`` is NaN: with a cosine-annealed learning
    rate the final weights are the natural choice, and nothing else is honest without held-out data.
    """
    config = config or default_train_config(model_name)
    prep = _prepare(
        model_name, inputs, labels, split, label_names, feature_configs, segment_config, config,
        Path(out_dir), model_options,
    )  # fmt: skip
    prep.out_dir.mkdir(parents=True, exist_ok=True)
    finished = _load_finished(prep)
    if finished is not None:
        return finished
    with training_context(config.seed, config.num_threads):
        if prep.spec.trainer == "sklearn":
            return _train_sklearn(prep, meta, progress)
        return _train_torch(prep, meta, progress, on_epoch_end)


def load_train_result(out_dir: str | Path) -> TrainResult:
    """The :class:`TrainResult` of a finished run folder (raises if it has not finished)."""
    out_dir = Path(out_dir)
    path = out_dir / RESULT_NAME
    if not path.exists():
        raise TrainingError(f"{out_dir}: no {RESULT_NAME}; the run has not finished")
    return TrainResult.from_dict(json.loads(path.read_text()), out_dir)


def _load_finished(prep: _Prepared) -> TrainResult | None:
    path = prep.out_dir / RESULT_NAME
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    if d.get("fingerprint") != prep.fingerprint:
        raise TrainingError(
            f"{prep.out_dir} holds a finished run with a different model, config, split or data; "
            "use another output folder or delete this one"
        )
    result = TrainResult.from_dict(d, prep.out_dir)
    if not result.checkpoint_path.exists():
        raise TrainingError(
            f"{prep.out_dir}: {RESULT_NAME} exists but {result.checkpoint_path.name} is missing"
        )
    return result


def _split_facts(split: Split) -> dict[str, Any]:
    return {
        "split": split.name,
        "protocol": split.protocol,
        "leaky": bool(split.leaky),
        "split_sizes": {"train": len(split.train), "valid": len(split.valid), "test": len(split.test)},
    }


def _finish(
    prep: _Prepared,
    model: nn.Module,
    best_state: dict[str, torch.Tensor],
    normalisation: dict[str, dict[str, torch.Tensor]],
    history: dict[str, list[float]],
    best_epoch: int,
    best_valid_acc: float,
    train_seconds: float,
    resumed_from: int,
    meta: dict[str, Any] | None,
    extra_meta: dict[str, Any],
) -> TrainResult:
    from musicgenre.evaluation.figures import plot_training_curves

    n_params = count_parameters(model)
    facts = {
        "seed": prep.config.seed,
        "trainer": prep.spec.trainer,
        "best_epoch": best_epoch,
        "best_valid_acc": _json_float(best_valid_acc),
        "epochs": len(history.get("train_loss", [])),
        "train_seconds": train_seconds,
        "n_params": n_params,
        "train_config": prep.config.to_dict(),
        "torch_version": str(torch.__version__),
        "musicgenre_version": __version__,
        **extra_meta,
    }
    # Plain JSON types only, so that the checkpoint loads with weights_only=True (no Path, numpy scalar,
    # TorchVersion, ...); json.loads turns NaN back into a float.
    full_meta = json.loads(
        json.dumps({**_split_facts(prep.split), **(meta or {}), **facts}, default=json_default)
    )
    ckpt = Checkpoint(
        model_name=prep.model_name,
        model_options=prep.model_options,
        inputs={n: prep.feature_configs[n].to_dict() for n in prep.inputs},
        input_shapes=prep.input_shapes,
        segment=prep.segment.to_dict(),
        labels=prep.label_names,
        normalisation=normalisation,
        state_dict=best_state,
        history={k: [float(v) for v in vals] for k, vals in history.items()},
        meta=full_meta,
    )
    ckpt_path = save_checkpoint(ckpt, prep.out_dir / CHECKPOINT_NAME)
    write_json(prep.out_dir / HISTORY_NAME, _json_history(history), indent=1)
    title = f"{prep.model_name} on {'+'.join(prep.inputs)} — {prep.split.name}" + (
        " (LEAKY)" if prep.split.leaky else ""
    )
    plot_training_curves(history, prep.out_dir / CURVES_NAME, best_epoch=best_epoch, title=title)
    result = TrainResult(
        checkpoint_path=ckpt_path,
        history=history,
        best_epoch=best_epoch,
        best_valid_acc=best_valid_acc,
        train_seconds=train_seconds,
        n_params=n_params,
        model_name=prep.model_name,
        out_dir=prep.out_dir,
        resumed_from_epoch=resumed_from,
        meta={k: v for k, v in full_meta.items() if k != "train_config"},
    )
    payload = {**result.to_dict(), "fingerprint": prep.fingerprint}
    write_json(prep.out_dir / RESULT_NAME, payload, indent=1)
    state = prep.out_dir / STATE_NAME
    if state.exists():
        state.unlink()
    return result


# ------------------------------------------------------------------------------------------------ torch loop
def _evaluate_rows(
    model: nn.Module,
    prep: _Prepared,
    rows: np.ndarray,
    normalisation: Mapping[str, Mapping[str, Any]],
) -> tuple[float, float]:
    """Mean loss (without label smoothing) and accuracy of ``model`` on ``rows``; NaNs for no rows."""
    if len(rows) == 0:
        return math.nan, math.nan
    logits = predict_logits(model, prep.inputs, rows, normalisation, batch_size=prep.config.eval_batch_size)
    y = torch.from_numpy(prep.labels[rows])
    loss = float(nn.functional.cross_entropy(torch.from_numpy(logits), y))
    acc = float((logits.argmax(1) == prep.labels[rows]).mean())
    return loss, acc


def _train_torch(
    prep: _Prepared, meta: dict[str, Any] | None, progress: bool, on_epoch_end: EpochCallback | None
) -> TrainResult:
    from musicgenre.models.registry import build_model

    cfg = prep.config
    n_classes = len(prep.label_names)
    model = build_model(prep.model_name, prep.input_shapes, n_classes, **prep.model_options)
    optimizer = make_optimizer(model, cfg)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    train_rows, valid_rows = prep.split.train, prep.split.valid
    steps_per_epoch = len(batch_rows(train_rows, cfg.batch_size))
    total_steps = steps_per_epoch * cfg.epochs

    history: dict[str, list[float]] = {k: [] for k in HISTORY_KEYS}
    best = {"epoch": 0, "acc": -math.inf, "loss": math.inf, "state": None}
    start_epoch, train_seconds = 0, 0.0
    state_path = prep.out_dir / STATE_NAME
    normalisation: dict[str, dict[str, torch.Tensor]] | None = None
    if state_path.exists():
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        if state.get("fingerprint") != prep.fingerprint:
            raise TrainingError(
                f"{prep.out_dir} holds an unfinished run with a different model, config, split or data; "
                "use another output folder or delete this one"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = {k: list(v) for k, v in state["history"].items()}
        best = dict(state["best"])
        start_epoch, train_seconds = int(state["epoch"]), float(state["train_seconds"])
        normalisation = state["normalisation"]
        if progress:
            tqdm.write(f"{prep.model_name}: resuming after epoch {start_epoch}/{cfg.epochs}", file=sys.stderr)
    if normalisation is None:
        normalisation = compute_all_normalisation(prep.inputs, prep.feature_configs, train_rows)
    resumed_from = start_epoch

    for epoch in range(start_epoch, cfg.epochs):
        t0 = time.perf_counter()
        rng = epoch_generators(cfg.seed, epoch)
        batches = batch_rows(train_rows, cfg.batch_size, rng)
        model.train()
        sum_loss, n_correct, n_seen = 0.0, 0, 0
        step = epoch * steps_per_epoch
        lr = cfg.lr
        bar = tqdm(
            total=len(batches),
            desc=f"{prep.model_name} {epoch + 1}/{cfg.epochs}",
            unit="batch",
            leave=False,
            disable=not progress,
            file=sys.stderr,
        )
        for i, (x, y) in enumerate(iter_batches(prep.inputs, batches, normalisation, prep.labels)):
            assert y is not None
            lr = lr_at(step, total_steps, steps_per_epoch, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = loss_fn(logits, y)
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"{prep.model_name}: the training loss became {float(loss)} at epoch {epoch + 1}, "
                    f"batch {i + 1}; try a lower learning rate (--lr) or check the features for NaNs"
                )
            loss.backward()
            if cfg.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            step += 1
            sum_loss += float(loss.detach()) * len(y)
            n_correct += int((logits.detach().argmax(1) == y).sum())
            n_seen += len(y)
            bar.update(1)
            if i % 10 == 0:
                bar.set_postfix(loss=f"{sum_loss / n_seen:.3f}", acc=f"{n_correct / n_seen:.3f}")
        bar.close()
        valid_loss, valid_acc = _evaluate_rows(model, prep, valid_rows, normalisation)
        epoch_time = time.perf_counter() - t0
        train_seconds += epoch_time
        for k, v in zip(
            HISTORY_KEYS,
            (sum_loss / n_seen, n_correct / n_seen, valid_loss, valid_acc, lr, epoch_time),
            strict=True,
        ):
            history[k].append(float(v))
        if len(valid_rows) == 0:
            improved = True
        else:
            improved = valid_acc > best["acc"] or (valid_acc == best["acc"] and valid_loss < best["loss"])
        if improved:
            best = {
                "epoch": epoch + 1,
                "acc": valid_acc,
                "loss": valid_loss,
                "state": _state_dict_copy(model),
            }
        if progress:
            tqdm.write(
                _epoch_line(prep.model_name, epoch + 1, cfg.epochs, history, improved), file=sys.stderr
            )
        with atomic_path(state_path) as tmp:
            torch.save(
                {
                    "fingerprint": prep.fingerprint,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": history,
                    "best": best,
                    "train_seconds": train_seconds,
                    "normalisation": normalisation,
                },
                tmp,
            )
        write_json(prep.out_dir / HISTORY_NAME, _json_history(history), indent=1)
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)

    assert best["state"] is not None
    model.load_state_dict(best["state"])
    return _finish(
        prep, model, best["state"], normalisation, history, int(best["epoch"]),
        float(best["acc"]) if len(valid_rows) else math.nan, train_seconds, resumed_from, meta,
        {"best_valid_loss": _json_float(float(best["loss"]))},
    )  # fmt: skip


def _epoch_line(name: str, epoch: int, epochs: int, h: Mapping[str, list[float]], best: bool) -> str:
    valid = (
        f"valid loss {h['valid_loss'][-1]:.4f} acc {h['valid_acc'][-1]:.3f}"
        if math.isfinite(h["valid_acc"][-1])
        else "no validation rows"
    )
    return (
        f"{name} epoch {epoch:>2}/{epochs}: train loss {h['train_loss'][-1]:.4f} acc {h['train_acc'][-1]:.3f}"
        f" | {valid}{' *' if best else '  '} | lr {h['lr'][-1]:.2e} | {h['epoch_time'][-1]:.1f} s"
    )


# ------------------------------------------------------------------------------------------------ sklearn
def _pooled(prep: _Prepared, rows: np.ndarray, normalisation: Mapping[str, Any]) -> np.ndarray:
    from musicgenre.models.probe import pool_numpy

    (name,) = prep.inputs
    out = []
    for start in range(0, len(rows), 512):
        x, _ = load_batch({name: prep.inputs[name]}, rows[start : start + 512], normalisation, sort=False)
        out.append(pool_numpy(x[name].numpy()))
    width = 2 * prep.input_shapes[name][-1]
    return np.concatenate(out) if out else np.zeros((0, width))


def _train_sklearn(prep: _Prepared, meta: dict[str, Any] | None, progress: bool) -> TrainResult:
    from musicgenre.models.probe import LinearProbe, fit_logistic_probe
    from musicgenre.models.registry import build_model

    cfg = prep.config
    t0 = time.perf_counter()
    n_classes = len(prep.label_names)
    normalisation = compute_all_normalisation(prep.inputs, prep.feature_configs, prep.split.train)
    train_rows, valid_rows = prep.split.train, prep.split.valid
    if progress:
        tqdm.write(
            f"{prep.model_name}: pooling {len(train_rows) + len(valid_rows)} segments", file=sys.stderr
        )
    xt = _pooled(prep, train_rows, normalisation)
    xv = _pooled(prep, valid_rows, normalisation) if len(valid_rows) else None
    fit = fit_logistic_probe(
        xt,
        prep.labels[train_rows],
        xv,
        prep.labels[valid_rows] if len(valid_rows) else None,
        n_classes,
        c_grid=cfg.probe_c_grid,
        max_iter=cfg.probe_max_iter,
    )
    model = build_model(prep.model_name, prep.input_shapes, n_classes, **prep.model_options)
    assert isinstance(model, LinearProbe)
    model.set_parameters(fit.mean, fit.scale, fit.coef, fit.intercept)
    model.eval()
    train_loss, train_acc = _evaluate_rows(model, prep, train_rows, normalisation)
    valid_loss, valid_acc = _evaluate_rows(model, prep, valid_rows, normalisation)
    seconds = time.perf_counter() - t0
    history: dict[str, list[float]] = {
        "train_loss": [train_loss],
        "train_acc": [train_acc],
        "valid_loss": [valid_loss],
        "valid_acc": [valid_acc],
        "lr": [math.nan],
        "epoch_time": [seconds],
        "c_grid": list(fit.grid["c"]),
        "c_train_acc": list(fit.grid["train_acc"]),
        "c_valid_acc": list(fit.grid["valid_acc"]),
        "c_valid_loss": list(fit.grid["valid_loss"]),
    }
    if progress:
        grid = ", ".join(
            f"C={c:g}: {a:.3f}" for c, a in zip(fit.grid["c"], fit.grid["valid_acc"], strict=True)
        )
        tqdm.write(f"{prep.model_name}: validation accuracy by C: {grid}; chose C={fit.c:g}", file=sys.stderr)
    return _finish(
        prep, model, _state_dict_copy(model), normalisation, history, 1, valid_acc, seconds, 0, meta,
        {"probe_c": fit.c, "probe_converged": bool(all(fit.grid["converged"]))},
    )  # fmt: skip
