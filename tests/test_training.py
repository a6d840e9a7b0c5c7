"""Training: normalisation from train rows only, batching, determinism, resume, checkpoints, the probe."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from musicgenre.audio.segment import SegmentConfig
from musicgenre.checkpoint import load_checkpoint
from musicgenre.evaluation.metrics import evaluate
from musicgenre.features.registry import FeatureConfig
from musicgenre.models.probe import pool_numpy
from musicgenre.models.registry import build_model
from musicgenre.splits import Split
from musicgenre.training import (
    TrainConfig,
    TrainingError,
    apply_normalisation,
    compute_normalisation,
    model_from_checkpoint,
    normalise,
    predict_proba,
    train_model,
)
from musicgenre.training import trainer as trainer_mod
from musicgenre.training.data import batch_rows, n_batches
from musicgenre.training.trainer import lr_at

SEGMENT = SegmentConfig()
LABELS = ["a", "b", "c"]


@dataclass(frozen=True)
class TinySeq(FeatureConfig):
    """A small (time, features) test feature, normalised per feature."""

    name: ClassVar[str] = "tinyseq"
    channel_axis: ClassVar[int | None] = -1

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (8, 12)


@dataclass(frozen=True)
class TinyWave(FeatureConfig):
    """A short 'waveform', one global mean/std."""

    name: ClassVar[str] = "tinywave"
    channel_axis: ClassVar[int | None] = None

    def shape(self, segment: SegmentConfig) -> tuple[int, ...]:
        return (243,)


def make_problem(n_tracks: int = 36, per_track: int = 4, seed: int = 0) -> dict:
    """A learnable 3-class problem: class shifts a few feature channels; tracks of 4 segments."""
    rng = np.random.default_rng(seed)
    n = n_tracks * per_track
    track = np.repeat(np.arange(n_tracks), per_track)
    labels = (track % 3).astype(np.int64)
    seq = rng.normal(size=(n, 8, 12)).astype(np.float32) * 2.0 + 5.0
    seq[:, :, :3] += 3.0 * labels[:, None, None]
    wave = rng.normal(size=(n, 243)).astype(np.float32)
    wave[:, ::3] += labels[:, None] - 1.0
    rows = np.arange(n)
    split = Split(
        "tiny",
        "track",
        train=rows[track < 24],
        valid=rows[(track >= 24) & (track < 30)],
        test=rows[track >= 30],
    )
    return {
        "inputs": {"seq": seq, "wave": wave},
        "labels": labels,
        "track_ids": np.array([f"t{t:03d}" for t in track]),
        "split": split,
        "configs": {"seq": TinySeq(), "wave": TinyWave()},
    }


def run(problem: dict, out: Path, model: str = "cnn1d", names: tuple[str, ...] = ("seq",), **kw):
    cfg = kw.pop("config", None) or TrainConfig(epochs=4, batch_size=16, lr=3e-3, num_threads=1)
    return train_model(
        model,
        {n: problem["inputs"][n] for n in names},
        problem["labels"],
        kw.pop("split", problem["split"]),
        label_names=LABELS,
        feature_configs={n: problem["configs"][n] for n in names},
        segment_config=SEGMENT,
        config=cfg,
        out_dir=out,
        progress=False,
        **kw,
    )


@pytest.fixture(scope="module")
def problem() -> dict:
    return make_problem()


# ------------------------------------------------------------------------------------------ normalisation
@pytest.mark.parametrize("axis", [-1, 0, None])
def test_streaming_statistics_match_numpy(axis: int | None) -> None:
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(50, 7, 5)) * rng.uniform(0.1, 10, size=(1, 7, 5)) + 3).astype(np.float32)
    rows = rng.choice(50, size=31, replace=False)
    stats = compute_normalisation(x, axis, rows, chunk_bytes=7 * 5 * 4 * 4)  # 4 rows per chunk
    sel = x[rows].astype(np.float64)
    red = (0, 1, 2) if axis is None else tuple(a for a in (0, 1, 2) if a != (axis % 2) + 1)
    np.testing.assert_allclose(stats["mean"].numpy(), sel.mean(axis=red, keepdims=True)[0], rtol=1e-5)
    np.testing.assert_allclose(stats["std"].numpy(), sel.std(axis=red, keepdims=True)[0], rtol=1e-5)
    z = apply_normalisation(x[rows], stats)
    assert z.dtype == np.float32
    assert np.allclose(z.mean(axis=red), 0, atol=1e-4) and np.allclose(z.std(axis=red), 1, atol=1e-4)
    zt = apply_normalisation(torch.from_numpy(x[rows]), stats)
    np.testing.assert_allclose(zt.numpy(), z, rtol=1e-6, atol=1e-6)


def test_normalisation_helpers() -> None:
    x = np.ones((4, 3, 2), dtype=np.float32)
    x[:, :, 1] = 7.0  # a constant channel: centred, not divided by zero
    stats = compute_normalisation(x, -1)
    assert stats["mean"].shape == (1, 2) and np.all(np.isfinite(apply_normalisation(x, stats)))
    flat = {"mean": torch.tensor([1.0, 7.0]), "std": torch.tensor([1.0, 1.0])}  # (C,) stats also broadcast
    np.testing.assert_array_equal(apply_normalisation(x, flat), np.zeros_like(x))
    assert normalise("other", x, {"seq": stats}) is x
    x[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        compute_normalisation(x, -1)


def test_normalisation_uses_training_rows_only(problem: dict, tmp_path: Path) -> None:
    poisoned = {k: v.copy() for k, v in problem["inputs"].items()}
    poisoned["seq"][problem["split"].test] = 1e6  # outliers in the test rows (and the valid rows below)
    poisoned["seq"][problem["split"].valid[:3]] = -1e6
    res = run({**problem, "inputs": poisoned}, tmp_path / "run", config=TrainConfig(epochs=1, num_threads=1))
    stats = load_checkpoint(res.checkpoint_path).normalisation["seq"]
    expected = compute_normalisation(problem["inputs"]["seq"], -1, problem["split"].train)
    torch.testing.assert_close(stats["mean"], expected["mean"])
    torch.testing.assert_close(stats["std"], expected["std"])
    assert float(stats["mean"].abs().max()) < 20


# ------------------------------------------------------------------------------------------ batching, schedule
def test_batches_cover_every_row_once_and_never_leave_a_single_row() -> None:
    rows = np.arange(33)
    b = batch_rows(rows, 16, np.random.default_rng(0))
    assert [len(x) for x in b] == [16, 17] and n_batches(33, 16) == 2
    assert sorted(np.concatenate(b).tolist()) == rows.tolist()
    assert [len(x) for x in batch_rows(np.arange(34), 16)] == [16, 16, 2]


def test_learning_rate_schedule() -> None:
    cfg = TrainConfig(epochs=10, lr=1e-3, warmup_epochs=1.0, min_lr_ratio=0.01)
    lrs = [lr_at(s, 100, 10, cfg) for s in range(100)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)
    assert max(lrs) == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-5)
    assert all(a >= b for a, b in itertools.pairwise(lrs[9:]))
    one = [lr_at(s, 100, 10, TrainConfig(schedule="onecycle")) for s in range(100)]
    assert one[0] < one[30] and one[-1] < one[30]


# ------------------------------------------------------------------------------------------ training runs
def test_train_model_learns_and_writes_its_outputs(problem: dict, tmp_path: Path) -> None:
    res = run(problem, tmp_path / "run")
    assert res.best_valid_acc >= 0.9 and 1 <= res.best_epoch <= 4
    assert res.n_params > 0 and res.train_seconds > 0
    for name in ("model.ckpt", "history.json", "training_curves.png", "result.json"):
        assert (tmp_path / "run" / name).exists(), name
    assert not (tmp_path / "run" / "state.pt").exists()
    hist = json.loads((tmp_path / "run" / "history.json").read_text())
    assert set(hist) == {"train_loss", "train_acc", "valid_loss", "valid_acc", "lr", "epoch_time"}
    assert len(hist["valid_acc"]) == 4 and hist["valid_acc"][res.best_epoch - 1] == res.best_valid_acc
    best = max(range(4), key=lambda i: (hist["valid_acc"][i], -hist["valid_loss"][i]))
    assert res.best_epoch == best + 1
    ev = evaluate(res.checkpoint_path, problem["inputs"], problem["labels"], problem["track_ids"],
                  problem["split"].test)  # fmt: skip
    assert ev.track_accuracy >= 0.8 and ev.n_tracks == 6


def test_checkpoint_round_trip_gives_the_same_logits(problem: dict, tmp_path: Path) -> None:
    res = run(problem, tmp_path / "run", model="combined", names=("seq", "wave"),
              config=TrainConfig(epochs=1, batch_size=16, num_threads=1))  # fmt: skip
    ckpt = load_checkpoint(res.checkpoint_path)
    assert ckpt.meta["best_epoch"] == 1 and ckpt.meta["split"] == "tiny" and ckpt.labels == LABELS
    model = build_model(ckpt.model_name, ckpt.input_shapes, len(ckpt.labels), **ckpt.model_options)
    model.load_state_dict(ckpt.state_dict)
    model.eval()
    rows = problem["split"].test[:5]
    x = {
        n: torch.from_numpy(normalise(n, problem["inputs"][n][rows], ckpt.normalisation))
        for n in ("seq", "wave")
    }
    with torch.no_grad():
        direct = torch.softmax(model(x), dim=1).numpy()
    np.testing.assert_allclose(predict_proba(res.checkpoint_path, problem["inputs"], rows), direct, atol=1e-6)
    again = model_from_checkpoint(ckpt)
    with torch.no_grad():
        np.testing.assert_allclose(torch.softmax(again(x), dim=1).numpy(), direct, atol=1e-6)
    with pytest.raises(ValueError, match="missing"):
        predict_proba(ckpt, {"seq": problem["inputs"]["seq"]}, rows)


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(path).state_dict


def _same_run(a, b) -> None:
    for key in ("train_loss", "train_acc", "valid_loss", "valid_acc", "lr"):
        assert a.history[key] == b.history[key], key
    assert a.best_epoch == b.best_epoch
    wa, wb = _weights(a.checkpoint_path), _weights(b.checkpoint_path)
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_same_seed_same_history_and_weights(problem: dict, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=2, batch_size=16, num_threads=1, seed=5)
    a = run(problem, tmp_path / "a", model="bilstm", config=cfg)
    b = run(problem, tmp_path / "b", model="bilstm", config=cfg)
    _same_run(a, b)
    c = run(
        problem, tmp_path / "c", model="bilstm", config=TrainConfig(epochs=2, batch_size=16, num_threads=1)
    )
    assert c.history["train_loss"] != a.history["train_loss"]


class _Stop(Exception):
    """Raised by :func:`_stop_after_two` to interrupt a run."""


def _stop_after_two(epoch: int, history: dict) -> None:
    if epoch == 2:
        raise _Stop


def test_resume_after_an_interruption_equals_an_uninterrupted_run(problem: dict, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=4, batch_size=16, num_threads=1)
    clean = run(problem, tmp_path / "clean", model="cnn2d", config=cfg)

    with pytest.raises(_Stop):
        run(problem, tmp_path / "resumed", model="cnn2d", config=cfg, on_epoch_end=_stop_after_two)
    assert (tmp_path / "resumed" / "state.pt").exists() and not (
        tmp_path / "resumed" / "result.json"
    ).exists()
    resumed = run(problem, tmp_path / "resumed", model="cnn2d", config=cfg)
    assert resumed.resumed_from_epoch == 2 and len(resumed.history["train_loss"]) == 4
    _same_run(clean, resumed)


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_damaged_resume_state_is_reported_and_the_run_starts_over(
    problem: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    cfg = TrainConfig(epochs=3, batch_size=16, num_threads=1)
    clean = run(problem, tmp_path / "clean", config=cfg)

    with pytest.raises(_Stop):
        run(problem, tmp_path / "damaged", config=cfg, on_epoch_end=_stop_after_two)
    state = tmp_path / "damaged" / "state.pt"
    good = state.read_bytes()
    state.write_bytes(
        b"\x00garbage, not a torch file\n" * 40 if damage == "garbage" else good[: len(good) // 2]
    )
    capsys.readouterr()
    again = run(problem, tmp_path / "damaged", config=cfg)
    err = capsys.readouterr().err
    assert str(state) in err and "starting the run over" in err and "weights_only" not in err
    assert again.resumed_from_epoch == 0 and len(again.history["train_loss"]) == 3
    _same_run(clean, again)
    assert not state.exists()


def test_a_damaged_result_is_reported_and_the_run_starts_over(
    problem: dict, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = TrainConfig(epochs=1, batch_size=16, num_threads=1)
    first = run(problem, tmp_path / "run", config=cfg)
    result = tmp_path / "run" / "result.json"
    result.write_text(result.read_text()[:40])  # cut short, as by a full disk
    capsys.readouterr()
    again = run(problem, tmp_path / "run", config=cfg)
    err = capsys.readouterr().err
    assert str(result) in err and "starting the run over" in err
    assert again.history["train_loss"] == first.history["train_loss"]
    assert json.loads(result.read_text())["best_epoch"] == first.best_epoch


def test_a_readable_resume_state_of_another_run_is_refused(problem: dict, tmp_path: Path) -> None:
    cfg = TrainConfig(epochs=2, batch_size=16, num_threads=1)

    def stop(epoch: int, history: dict) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(problem, tmp_path / "run", config=cfg, on_epoch_end=stop)
    with pytest.raises(TrainingError, match="unfinished run with a different"):
        run(problem, tmp_path / "run", config=TrainConfig(epochs=3, batch_size=16, num_threads=1))
    assert (tmp_path / "run" / "state.pt").exists()


def test_finished_run_is_returned_without_retraining(problem: dict, tmp_path: Path, monkeypatch) -> None:
    cfg = TrainConfig(epochs=1, batch_size=16, num_threads=1)
    first = run(problem, tmp_path / "run", config=cfg)

    def boom(*a, **k):
        raise AssertionError("retrained")

    monkeypatch.setattr(trainer_mod, "_train_torch", boom)
    again = run(problem, tmp_path / "run", config=cfg)
    assert again.history == first.history and again.checkpoint_path == first.checkpoint_path
    with pytest.raises(TrainingError, match="different"):
        run(problem, tmp_path / "run", config=TrainConfig(epochs=2, batch_size=16, num_threads=1))


def test_without_validation_rows_the_last_epoch_is_kept(problem: dict, tmp_path: Path) -> None:
    s = problem["split"]
    split = Split("noval", "kfold", np.concatenate([s.train, s.valid]), np.array([], dtype=np.int64), s.test)
    res = run(
        problem, tmp_path / "run", split=split, config=TrainConfig(epochs=2, batch_size=16, num_threads=1)
    )
    assert res.best_epoch == 2 and math.isnan(res.best_valid_acc)
    assert all(math.isnan(v) for v in res.history["valid_acc"])
    assert json.loads((tmp_path / "run" / "history.json").read_text())["valid_acc"] == [None, None]


def test_inconsistent_inputs_are_refused(problem: dict, tmp_path: Path) -> None:
    bad = {**problem, "configs": {"seq": TinyWave()}}
    with pytest.raises(TrainingError, match="shape"):
        run(bad, tmp_path / "a")
    s = problem["split"]
    with pytest.raises(TrainingError, match="outside"):
        run(problem, tmp_path / "b", split=Split("x", "track", np.array([0, 1, 10_000]), s.valid, s.test))


def test_probe_trains_through_train_model(problem: dict, tmp_path: Path) -> None:
    res = run(problem, tmp_path / "probe", model="probe",
              config=TrainConfig(num_threads=1, probe_c_grid=(0.01, 1.0)))  # fmt: skip
    assert res.best_epoch == 1 and res.best_valid_acc >= 0.9
    assert res.history["c_grid"] == [0.01, 1.0] and len(res.history["valid_acc"]) == 1
    ckpt = load_checkpoint(res.checkpoint_path)
    assert ckpt.meta["trainer"] == "sklearn" and ckpt.meta["probe_c"] in (0.01, 1.0)
    rows = problem["split"].test
    probs = predict_proba(ckpt, problem["inputs"], rows)
    # the same pipeline by hand: checkpoint normalisation -> pooling -> the probe's standardiser and weights
    z = pool_numpy(normalise("seq", problem["inputs"]["seq"][rows], ckpt.normalisation))
    sd = ckpt.state_dict
    logits = (z - sd["feature_mean"].numpy()) / sd["feature_scale"].numpy() @ sd["linear.weight"].numpy().T
    logits += sd["linear.bias"].numpy()
    ref = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, ref / ref.sum(1, keepdims=True), atol=1e-5)
