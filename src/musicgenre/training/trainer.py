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
run (see :mod:`musicgenre.training.seed`); an unreadable ``state.pt`` is reported on stderr and that run
starts over. A different model, config, split or data shape in an existing ``out_dir`` is refused rather
than mixed.

This module checks the inputs and runs the pieces: the epoch loop (:mod:`musicgenre.training.loop`), the
run folder (:mod:`musicgenre.training.run_folder`) and the probe's fit (:mod:`musicgenre.training.probe_fit`).
The optimiser and schedule are explained in the study report's "Training choices"
(:data:`musicgenre.report.render.TRAINING_RATIONALE`).
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from musicgenre import __version__
from musicgenre.audio.segment import SegmentConfig
from musicgenre.checkpoint import Checkpoint
from musicgenre.device import check_precision, cpu_state_dict, device_or_current, resolve_precision
from musicgenre.features.registry import FeatureConfig
from musicgenre.fileio import json_default
from musicgenre.models.probe import LinearProbe
from musicgenre.splits import Split
from musicgenre.training.augment import Augment
from musicgenre.training.data import check_inputs
from musicgenre.training.loop import (
    HISTORY_KEYS,
    EpochData,
    LoopState,
    count_parameters,
    fit_epochs,
    lr_at,
    make_optimizer,
    state_dict_copy,
)
from musicgenre.training.normalisation import compute_all_normalisation
from musicgenre.training.probe_fit import fit_probe
from musicgenre.training.result import TrainingError, TrainResult, json_float
from musicgenre.training.run_folder import (
    CHECKPOINT_NAME,
    CURVES_NAME,
    HISTORY_NAME,
    RESULT_NAME,
    STATE_NAME,
    ResumeState,
    RunFolder,
    RunIdentity,
)
from musicgenre.training.seed import training_context

__all__ = [
    "CHECKPOINT_NAME",
    "CURVES_NAME",
    "HISTORY_KEYS",
    "HISTORY_NAME",
    "RESULT_NAME",
    "STATE_NAME",
    "EpochCallback",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "count_parameters",
    "default_train_config",
    "load_train_result",
    "lr_at",
    "make_optimizer",
    "train_model",
]


@dataclass
class TrainConfig:
    """How to train. See :data:`musicgenre.report.render.TRAINING_RATIONALE` for why these defaults.

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
        augment: training-time augmentation (:class:`~musicgenre.training.augment.Augment`; off by
            default), for gradient-trained models.
        precision: CPU training precision of gradient-trained models: ``"float32"`` (default; the
            steps of earlier versions), ``"bfloat16"`` (the forward passes of training and validation
            under bfloat16 autocast; loss, optimizer step and weights stay float32) or ``"auto"``
            (bfloat16 for the model kinds and CPUs where it measured faster; resolved by
            :func:`~musicgenre.device.resolve_precision` before the run's identity is taken). Enters the
            run's identity only when it is not float32.
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
    augment: Augment = field(default_factory=Augment)
    precision: str = "float32"

    def __post_init__(self) -> None:
        if isinstance(self.augment, Mapping):
            self.augment = Augment(**self.augment)
        check_precision(self.precision)
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


EpochCallback = Callable[[int, dict[str, list[float]]], None]


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
    folder: RunFolder


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
    if config.precision == "auto":  # the run's identity holds the precision it actually trains in
        config = replace(config, precision=resolve_precision(config.precision, model_name))
    identity = RunIdentity(
        model_name, options, {n: feature_configs[n].to_dict() for n in names}, shapes,
        segment_config.to_dict(), list(label_names), config, n_rows, sides["train"], sides["valid"], lab,
    )  # fmt: skip
    return _Prepared(
        model_name, spec, inputs, labels.astype(np.int64), split, list(label_names), dict(feature_configs),
        segment_config, shapes, options, config, RunFolder(out_dir, identity.fingerprint()),
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
    device: str | torch.device | None = None,
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
        device: where gradient-trained models train (``auto``, ``cpu``, ``cuda``, ``mps``; ``None``:
            :func:`~musicgenre.device.current_device`, the CPU unless the CLI's ``--device`` set it). Not
            part of the run's identity: the checkpoint holds CPU tensors either way. On CUDA the steps
            run in mixed precision, so the weights differ from a CPU run's. The one-step fits (probe,
            zero-shot, anchored, ensemble) run on the CPU.

    Without validation rows (e.g. k-fold without an inner validation split) the *last* epoch is kept,
    ``valid_loss``/``valid_acc`` are NaN and ``best_valid_acc`` is NaN: with a cosine-annealed learning
    rate the final weights are the natural choice, and nothing else is honest without held-out data.
    """
    config = config or default_train_config(model_name)
    prep = _prepare(
        model_name, inputs, labels, split, label_names, feature_configs, segment_config, config,
        Path(out_dir), model_options,
    )  # fmt: skip
    prep.folder.make()
    finished = prep.folder.load_finished()
    if finished is not None:
        return finished
    with training_context(config.seed, config.num_threads):
        if prep.spec.trainer == "sklearn":
            return _train_sklearn(prep, meta, progress)
        if prep.spec.trainer == "zeroshot":
            return _fit_zeroshot(prep, meta)
        if prep.spec.trainer == "anchored":
            return _fit_anchored(prep, meta, progress)
        if prep.spec.trainer == "ensemble":
            return _fit_ensemble(prep, meta)
        return _train_torch(prep, meta, progress, on_epoch_end, device_or_current(device))  # torch, finetune


def load_train_result(out_dir: str | Path) -> TrainResult:
    """The :class:`TrainResult` of a finished run folder (raises if it has not finished)."""
    return RunFolder(out_dir).load_result()


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
    folder = prep.folder
    n_params = count_parameters(model)
    facts = {
        "seed": prep.config.seed,
        "trainer": prep.spec.trainer,
        "best_epoch": best_epoch,
        "best_valid_acc": json_float(best_valid_acc),
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
    ckpt_path = folder.write_checkpoint(ckpt)
    folder.write_history(history)
    title = f"{prep.model_name} on {'+'.join(prep.inputs)} — {prep.split.name}" + (
        " (LEAKY)" if prep.split.leaky else ""
    )
    folder.write_curves(history, best_epoch, title)
    result = TrainResult(
        checkpoint_path=ckpt_path,
        history=history,
        best_epoch=best_epoch,
        best_valid_acc=best_valid_acc,
        train_seconds=train_seconds,
        n_params=n_params,
        model_name=prep.model_name,
        out_dir=folder.path,
        resumed_from_epoch=resumed_from,
        meta={k: v for k, v in full_meta.items() if k != "train_config"},
    )
    folder.write_result(result)
    return result


# ------------------------------------------------------------------------------------------------ trainers
def _build(prep: _Prepared) -> nn.Module:
    from musicgenre.models.registry import build_model

    return build_model(prep.model_name, prep.input_shapes, len(prep.label_names), **prep.model_options)


def _epoch_data(prep: _Prepared, normalisation: Mapping[str, Mapping[str, torch.Tensor]]) -> EpochData:
    return EpochData(prep.inputs, prep.labels, prep.split.train, prep.split.valid, normalisation)


def _train_torch(
    prep: _Prepared,
    meta: dict[str, Any] | None,
    progress: bool,
    on_epoch_end: EpochCallback | None,
    device: torch.device,
) -> TrainResult:
    cfg, folder = prep.config, prep.folder
    pretrained = prep.spec.trainer == "finetune"
    model = _build(prep)
    if pretrained:
        from musicgenre.training.finetune_fit import init_finetune

        (name,) = prep.inputs
        init_finetune(model, prep.feature_configs[name], prep.label_names, prep.model_options)
    model = model.to(device)
    if cfg.precision == "bfloat16" and device.type == "cpu":
        from musicgenre.models.cnn2d import channels_last_weights

        channels_last_weights(model)
    optimizer = make_optimizer(model, cfg)
    resume = folder.load_state()
    if resume is not None:
        model.load_state_dict(resume.model)
        optimizer.load_state_dict(resume.optimizer)
        state, normalisation = resume.loop, resume.normalisation
        if progress:
            tqdm.write(f"{prep.model_name}: resuming after epoch {state.epoch}/{cfg.epochs}", file=sys.stderr)
    else:
        state = LoopState()
        normalisation = (
            {}  # a pretrained backbone takes its own input as it is
            if pretrained
            else compute_all_normalisation(prep.inputs, prep.feature_configs, prep.split.train)
        )
    resumed_from = state.epoch

    def after_epoch(done: LoopState, improved: bool) -> None:
        folder.save_state(ResumeState(done, cpu_state_dict(model), optimizer.state_dict(), normalisation))
        folder.write_history(done.history)
        if on_epoch_end is not None:
            on_epoch_end(done.epoch, done.history)

    data = _epoch_data(prep, normalisation)
    fit_epochs(
        model, optimizer, data, cfg, state, name=prep.model_name, progress=progress,
        after_epoch=after_epoch, device=device,
    )  # fmt: skip
    best = state.best
    assert best.state is not None
    model.load_state_dict(best.state)
    model.cpu()
    return _finish(
        prep, model, best.state, normalisation, state.history, best.epoch,
        best.acc if len(prep.split.valid) else math.nan, state.train_seconds, resumed_from, meta,
        {"best_valid_loss": json_float(best.loss)},
    )  # fmt: skip


def _train_sklearn(prep: _Prepared, meta: dict[str, Any] | None, progress: bool) -> TrainResult:
    t0 = time.perf_counter()
    normalisation = compute_all_normalisation(prep.inputs, prep.feature_configs, prep.split.train)
    model = _build(prep)
    assert isinstance(model, LinearProbe)
    data = _epoch_data(prep, normalisation)
    outcome = fit_probe(model, data, prep.config, name=prep.model_name, progress=progress)
    seconds = time.perf_counter() - t0
    return _finish(
        prep, model, state_dict_copy(model), normalisation, outcome.history(seconds), 1, outcome.valid_acc,
        seconds, 0, meta, outcome.meta(),
    )  # fmt: skip


def _fit_zeroshot(prep: _Prepared, meta: dict[str, Any] | None) -> TrainResult:
    """No training: the mapped AudioSet classes and YAMNet's dense layer; inputs are not normalised."""
    from musicgenre.training.zeroshot_fit import load_yamnet_dense, score_zeroshot, set_genre_classes

    t0 = time.perf_counter()
    mapping_file = set_genre_classes(prep.label_names, prep.model_options)
    model = _build(prep)
    (name,) = prep.inputs
    load_yamnet_dense(model, prep.feature_configs[name])
    outcome = score_zeroshot(model, _epoch_data(prep, {}), prep.config.eval_batch_size)
    seconds = time.perf_counter() - t0
    extra = {"zeroshot_mapping_file": mapping_file}
    return _finish(
        prep, model, state_dict_copy(model), {}, outcome.history(seconds), 1, outcome.valid_acc, seconds, 0,
        meta, extra,
    )  # fmt: skip


def _fit_anchored(prep: _Prepared, meta: dict[str, Any] | None, progress: bool) -> TrainResult:
    """L2-SP fit of a head started from YAMNet's genre rows; inputs are not normalised."""
    from musicgenre.models.anchored import anchor_rows
    from musicgenre.training.anchored_fit import fit_anchored
    from musicgenre.training.zeroshot_fit import set_genre_classes, yamnet_dense

    t0 = time.perf_counter()
    mapping_file = set_genre_classes(prep.label_names, prep.model_options)
    (name,) = prep.inputs
    weight, bias = yamnet_dense(prep.feature_configs[name])
    model = _build(prep)
    model.set_anchor(*anchor_rows(weight, bias, prep.model_options["classes"]))
    outcome = fit_anchored(
        model, _epoch_data(prep, {}), batch_size=prep.config.eval_batch_size, name=prep.model_name,
        progress=progress,
    )  # fmt: skip
    prep.model_options["l2sp"] = outcome.l2sp
    seconds = time.perf_counter() - t0
    extra = {"zeroshot_mapping_file": mapping_file, "l2sp": outcome.l2sp}
    return _finish(
        prep, model, state_dict_copy(model), {}, outcome.history(seconds), 1, outcome.valid_acc, seconds, 0,
        meta, extra,
    )  # fmt: skip


def _fit_ensemble(prep: _Prepared, meta: dict[str, Any] | None) -> TrainResult:
    """Members loaded from their finished runs (``member_dirs``), each calibrated on validation."""
    from musicgenre.training.ensemble_fit import fit_ensemble, load_members, member_specs

    t0 = time.perf_counter()
    member_dirs = list(prep.model_options.pop("member_dirs", []))
    prep.model_options.pop("member_fingerprints", None)
    ckpts = load_members(member_dirs, prep.label_names)
    prep.model_options["members"] = member_specs(ckpts)
    model = _build(prep)
    outcome = fit_ensemble(model, ckpts, member_dirs, _epoch_data(prep, {}), prep.config.eval_batch_size)
    seconds = time.perf_counter() - t0
    extra = {"ensemble_members": member_dirs, "member_temperatures": outcome.temperatures}
    return _finish(
        prep, model, state_dict_copy(model), {}, outcome.history(seconds), 1, outcome.valid_acc, seconds, 0,
        meta, extra,
    )  # fmt: skip
