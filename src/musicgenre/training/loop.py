"""The epoch loop of gradient training, as functions of the model, the config and the arrays: no file I/O.

:func:`fit_epochs` trains epochs ``state.epoch + 1 .. config.epochs`` (a fresh :class:`LoopState` starts at
epoch 0; a resumed one where it stopped), keeps the best epoch's weights and calls ``after_epoch`` after
every epoch; saving the resume state and the history is the caller's business
(:class:`~musicgenre.training.run_folder.RunFolder`). Shuffling and dropout are seeded per epoch
(:func:`~musicgenre.training.seed.epoch_generators`), so a resumed loop continues exactly as an
uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from musicgenre.device import autocast, cpu_state_dict, grad_scaler, to_device
from musicgenre.training.augment import apply_augment, augment_generators
from musicgenre.training.data import batch_rows, iter_batches
from musicgenre.training.inference import predict_logits
from musicgenre.training.result import TrainingError
from musicgenre.training.seed import epoch_generators

if TYPE_CHECKING:
    from musicgenre.training.augment import Augment
    from musicgenre.training.trainer import TrainConfig

HISTORY_KEYS = ("train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "epoch_time")


@dataclass
class EpochData:
    """What the loop reads: ``{input: (n_rows, *shape)}`` arrays, per-row labels, the training and
    validation row indices, and the normalisation statistics (from the training rows)."""

    inputs: Mapping[str, np.ndarray]
    labels: np.ndarray
    train_rows: np.ndarray
    valid_rows: np.ndarray
    normalisation: Mapping[str, Mapping[str, torch.Tensor]]


@dataclass
class BestEpoch:
    """The best epoch so far (1-based; 0: none yet), its validation accuracy and loss, and its weights."""

    epoch: int = 0
    acc: float = -math.inf
    loss: float = math.inf
    state: dict[str, torch.Tensor] | None = None


def _empty_history() -> dict[str, list[float]]:
    return {k: [] for k in HISTORY_KEYS}


@dataclass
class LoopState:
    """Where the loop stands: finished epochs, per-epoch history, best epoch, seconds spent so far."""

    epoch: int = 0
    history: dict[str, list[float]] = field(default_factory=_empty_history)
    best: BestEpoch = field(default_factory=BestEpoch)
    train_seconds: float = 0.0


@dataclass
class EpochStats:
    """One training epoch: mean loss and accuracy over its batches, and the learning rate of its last step."""

    loss: float
    acc: float
    lr: float


AfterEpoch = Callable[[LoopState, bool], None]


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
    """AdamW (or SGD) with weight decay on weight matrices/kernels only, not biases or norm parameters.

    A model with a ``param_groups(weight_decay)`` method (a fine-tuned backbone) gives its own groups; a
    group's ``lr_scale`` multiplies the scheduled learning rate.

    For weights on the CPU, AdamW takes its multi-tensor (``foreach``) step, which gives the per-tensor
    loop's weights bit for bit in fewer Python calls, and in a bfloat16 run (``config.precision``) the
    fused step (one kernel per tensor, 3-5x faster; equal to the others up to float32 rounding, so it is
    kept for runs whose numbers already differ from float32 ones).
    """
    if hasattr(model, "param_groups"):
        groups = model.param_groups(config.weight_decay)
    else:
        decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
        groups = [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ]
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=0.9, nesterov=True)
    if not all(p.device.type == "cpu" for g in groups for p in g["params"]):
        return torch.optim.AdamW(groups, lr=config.lr)
    if config.precision == "bfloat16":
        try:
            return torch.optim.AdamW(groups, lr=config.lr, fused=True)
        except (
            RuntimeError,
            ValueError,
        ):  # no fused CPU AdamW in this torch (before 2.4): the multi-tensor one
            pass
    return torch.optim.AdamW(groups, lr=config.lr, foreach=True)


# ------------------------------------------------------------------------------------------------ helpers
def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (for the probe: its Linear layer)."""
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def state_dict_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s weights (and buffers), wherever the model lives."""
    return cpu_state_dict(model)


def evaluate_rows(
    model: nn.Module,
    data: EpochData,
    rows: np.ndarray,
    batch_size: int,
    device: torch.device | None = None,
    precision: str = "float32",
) -> tuple[float, float]:
    """Mean loss (without label smoothing) and accuracy of ``model`` on ``rows``; NaNs for no rows.

    ``precision``: ``"bfloat16"`` runs the forward passes on the CPU under bfloat16 autocast (as training
    with that precision does)."""
    if len(rows) == 0:
        return math.nan, math.nan
    logits = predict_logits(
        model, data.inputs, rows, data.normalisation, batch_size=batch_size, device=device,
        precision=precision,
    )  # fmt: skip
    y = torch.from_numpy(data.labels[rows])
    loss = float(nn.functional.cross_entropy(torch.from_numpy(logits), y))
    acc = float((logits.argmax(1) == data.labels[rows]).mean())
    return loss, acc


def fit_history(
    train_loss: float, train_acc: float, valid_loss: float, valid_acc: float, seconds: float
) -> dict[str, list[float]]:
    """The history of a model fitted in one step (the probe, the zero-shot model): one "epoch" of
    ``seconds``, with no learning rate."""
    return {
        "train_loss": [train_loss],
        "train_acc": [train_acc],
        "valid_loss": [valid_loss],
        "valid_acc": [valid_acc],
        "lr": [math.nan],
        "epoch_time": [seconds],
    }


def improves(best: BestEpoch, valid_loss: float, valid_acc: float, has_valid: bool) -> bool:
    """Higher validation accuracy, ties broken by lower loss; without validation rows every epoch does."""
    if not has_valid:
        return True
    return valid_acc > best.acc or (valid_acc == best.acc and valid_loss < best.loss)


def epoch_line(name: str, epoch: int, epochs: int, h: Mapping[str, list[float]], best: bool) -> str:
    """The one-line summary of epoch ``epoch`` (1-based) printed with ``progress``."""
    valid = (
        f"valid loss {h['valid_loss'][-1]:.4f} acc {h['valid_acc'][-1]:.3f}"
        if math.isfinite(h["valid_acc"][-1])
        else "no validation rows"
    )
    return (
        f"{name} epoch {epoch:>2}/{epochs}: train loss {h['train_loss'][-1]:.4f} acc {h['train_acc'][-1]:.3f}"
        f" | {valid}{' *' if best else '  '} | lr {h['lr'][-1]:.2e} | {h['epoch_time'][-1]:.1f} s"
    )


# ------------------------------------------------------------------------------------------------ the loop
def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: nn.Module,
    data: EpochData,
    config: TrainConfig,
    epoch: int,
    *,
    name: str = "model",
    progress: bool = False,
    device: torch.device | None = None,
) -> EpochStats:
    """One pass over the training rows, shuffled by ``(config.seed, epoch)``; ``epoch`` is 0-based.

    On a ``device`` other than the CPU each batch is moved there after it is read (and augmented, on the
    CPU, so that the draws do not depend on the device), and the forward pass runs under
    :func:`~musicgenre.device.autocast` (with a gradient scaler for float16). On the CPU (``None``) the
    steps are exactly those of earlier versions, unless ``config.precision`` is ``"bfloat16"``: then the
    forward pass runs under CPU bfloat16 autocast and the loss is taken on float32 logits (``"auto"``
    must have been resolved by the caller, see :func:`~musicgenre.device.resolve_precision`; unresolved
    it trains in float32).
    """
    device = device if device is not None else torch.device("cpu")
    on_cpu = device.type == "cpu"
    cpu_bf16 = on_cpu and config.precision == "bfloat16"
    scaler = None if on_cpu else grad_scaler(device)
    rng = epoch_generators(config.seed, epoch)
    batches = batch_rows(data.train_rows, config.batch_size, rng)
    aug = config.augment
    aug_rng, aug_gen = augment_generators(config.seed, epoch)
    steps_per_epoch = len(batches)  # the same every epoch: shuffling does not change the batch sizes
    total_steps = steps_per_epoch * config.epochs
    model.train()
    sum_loss, n_correct, n_seen = 0.0, 0, 0
    step = epoch * steps_per_epoch
    lr = config.lr
    bar = tqdm(
        total=len(batches),
        desc=f"{name} {epoch + 1}/{config.epochs}",
        unit="batch",
        leave=False,
        disable=not progress,
        file=sys.stderr,
    )
    for i, (x, y) in enumerate(iter_batches(data.inputs, batches, data.normalisation, data.labels)):
        assert y is not None
        lr = lr_at(step, total_steps, steps_per_epoch, config)
        for group in optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        optimizer.zero_grad(set_to_none=True)
        if cpu_bf16:
            logits, loss, y = _device_step(model, loss_fn, x, y, device, aug, aug_rng, aug_gen, "bfloat16")
        elif on_cpu:
            if aug.active:
                mixed = apply_augment(x, y, aug, aug_rng, aug_gen)
                logits = model(mixed.inputs)
                loss = mixed.loss(loss_fn, logits, y)
            else:
                logits = model(x)
                loss = loss_fn(logits, y)
        else:
            logits, loss, y = _device_step(model, loss_fn, x, y, device, aug, aug_rng, aug_gen)
        if hasattr(model, "penalty"):  # e.g. L2-SP toward a pretrained anchor
            loss = loss + model.penalty()
        if not torch.isfinite(loss):
            raise TrainingError(
                f"{name}: the training loss became {float(loss)} at epoch {epoch + 1}, "
                f"batch {i + 1}; try a lower learning rate (--lr) or check the features for NaNs"
            )
        if scaler is not None:
            scaler.scale(loss).backward()
            if config.grad_clip:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if config.grad_clip:
                nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
        step += 1
        sum_loss += float(loss.detach()) * len(y)
        n_correct += int((logits.detach().argmax(1) == y).sum())
        n_seen += len(y)
        bar.update(1)
        if i % 10 == 0:
            bar.set_postfix(loss=f"{sum_loss / n_seen:.3f}", acc=f"{n_correct / n_seen:.3f}")
    bar.close()
    return EpochStats(sum_loss / n_seen, n_correct / n_seen, lr)


def _device_step(
    model: nn.Module,
    loss_fn: nn.Module,
    x: Mapping[str, torch.Tensor],
    y: torch.Tensor,
    device: torch.device,
    aug: Augment,
    aug_rng: np.random.Generator,
    aug_gen: torch.Generator,
    precision: str = "float32",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The forward pass of one batch on ``device`` (augmented on the CPU first) under
    :func:`~musicgenre.device.autocast`: ``(logits, loss, y)``, the logits and the loss in float32."""
    mixed = None
    if aug.active:
        mixed = apply_augment(x, y, aug, aug_rng, aug_gen)
        x = mixed.inputs
        if mixed.partner is not None:
            mixed = dataclasses.replace(mixed, partner=mixed.partner.to(device))
    y = y.to(device, non_blocking=True)
    with autocast(device, precision):
        logits = model(to_device(x, device))
    logits = logits.float()
    loss = mixed.loss(loss_fn, logits, y) if mixed is not None else loss_fn(logits, y)
    return logits, loss, y


def fit_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    data: EpochData,
    config: TrainConfig,
    state: LoopState,
    *,
    name: str = "model",
    progress: bool = False,
    after_epoch: AfterEpoch | None = None,
    device: torch.device | None = None,
) -> LoopState:
    """Train from ``state`` to ``config.epochs``, updating ``state`` in place after every epoch.

    After each epoch the history gets one value per :data:`HISTORY_KEYS`, ``state.best`` moves to this
    epoch if :func:`improves` says so (with a copy of the weights), and ``after_epoch(state, improved)`` is
    called (an exception there stops the loop; ``state`` is then complete up to that epoch). Returns
    ``state``. ``model`` must already be on ``device`` (``None``: the CPU); see :func:`train_epoch`.
    """
    loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
    has_valid = len(data.valid_rows) > 0
    for epoch in range(state.epoch, config.epochs):
        t0 = time.perf_counter()
        stats = train_epoch(
            model, optimizer, loss_fn, data, config, epoch, name=name, progress=progress, device=device
        )
        valid_loss, valid_acc = evaluate_rows(
            model, data, data.valid_rows, config.eval_batch_size, device=device, precision=config.precision
        )
        epoch_time = time.perf_counter() - t0
        state.train_seconds += epoch_time
        values = (stats.loss, stats.acc, valid_loss, valid_acc, stats.lr, epoch_time)
        for k, v in zip(HISTORY_KEYS, values, strict=True):
            state.history[k].append(float(v))
        state.epoch = epoch + 1
        improved = improves(state.best, valid_loss, valid_acc, has_valid)
        if improved:
            state.best = BestEpoch(epoch + 1, valid_acc, valid_loss, state_dict_copy(model))
        if progress:
            tqdm.write(epoch_line(name, epoch + 1, config.epochs, state.history, improved), file=sys.stderr)
        if after_epoch is not None:
            after_epoch(state, improved)
    return state
