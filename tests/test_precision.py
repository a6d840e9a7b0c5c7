"""``--precision``: parsing and resolution, the run's identity, bfloat16 autocast on the CPU, float32 checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from musicgenre import device as device_mod
from musicgenre.checkpoint import load_checkpoint
from musicgenre.cli import main
from musicgenre.device import autocast, check_precision, resolve_precision
from musicgenre.rerun import training_fingerprint
from musicgenre.specs import TrainSpec
from musicgenre.training import TrainConfig
from musicgenre.training.run_folder import RunIdentity
from test_training import make_problem, run


@pytest.fixture(scope="module")
def problem() -> dict:
    return make_problem(n_tracks=18)


def _native(monkeypatch: pytest.MonkeyPatch, flags: set[str]) -> None:
    monkeypatch.setattr(device_mod, "_cpu_flags", lambda: frozenset(flags))


# ------------------------------------------------------------------------------------------- the setting
def test_precision_values_are_checked() -> None:
    for p in ("float32", "bfloat16", "auto"):
        assert check_precision(p) == p
        assert TrainConfig(precision=p).precision == p
    with pytest.raises(ValueError, match="precision"):
        TrainConfig(precision="float16")
    assert TrainConfig().precision == "float32"
    assert TrainConfig.from_dict({"epochs": 3}).precision == "float32"  # configs of earlier versions


def test_auto_is_bfloat16_only_for_measured_kinds_on_a_native_bf16_cpu(monkeypatch) -> None:
    _native(monkeypatch, {"avx512f", "avx512_bf16"})
    assert resolve_precision("auto", "cnn2d") == "bfloat16"
    assert resolve_precision("auto", "bilstm") == "bfloat16"
    assert resolve_precision("auto", "probe") == "float32"
    assert resolve_precision("auto", "finetune_yamnet") == "float32"
    assert resolve_precision("float32", "cnn2d") == "float32"
    assert resolve_precision("bfloat16", "probe") == "bfloat16"  # asked for: given
    _native(monkeypatch, {"amx_bf16"})
    assert resolve_precision("auto", "waveform_cnn") == "bfloat16"
    _native(monkeypatch, {"avx512f", "avx2"})  # bfloat16 would be emulated: slower
    assert resolve_precision("auto", "cnn2d") == "float32"


def test_the_spec_resolves_auto_per_model(monkeypatch) -> None:
    _native(monkeypatch, {"avx512_bf16"})
    spec = TrainSpec(precision="auto")
    assert spec.config_for("cnn2d").precision == "bfloat16"
    assert spec.config_for("probe").precision == "float32"  # one-step fits stay float32
    assert TrainSpec().config_for("cnn2d").precision == "float32"


def test_precision_option_on_train_and_study() -> None:
    for verb in ("train", "study"):
        out = CliRunner().invoke(main, [verb, "--help"]).output
        assert "--precision [float32|bfloat16|auto]" in " ".join(out.split())
    res = CliRunner().invoke(main, ["train", "x", "--precision", "half"])
    assert res.exit_code != 0 and "half" in res.output


# ------------------------------------------------------------------------------------------- identity
def _identity(config: TrainConfig) -> RunIdentity:
    rows = np.arange(4)
    return RunIdentity("cnn2d", {}, {}, {}, {}, ["a", "b"], config, 4, rows, rows, rows % 2)


def test_a_float32_run_keeps_its_earlier_identity() -> None:
    fp = training_fingerprint(TrainConfig())
    assert "precision" not in fp
    assert fp == training_fingerprint(TrainConfig(precision="float32"))
    bf = training_fingerprint(TrainConfig(precision="bfloat16"))
    assert bf["precision"] == "bfloat16"
    # the trainer's own identity: float32 as before the setting existed, bfloat16 another run
    before = _identity(TrainConfig())
    cfg = before.config.to_dict()
    assert cfg.pop("precision") == "float32"
    assert before.fingerprint() == _identity(TrainConfig()).fingerprint()
    assert before.fingerprint() != _identity(TrainConfig(precision="bfloat16")).fingerprint()


# ------------------------------------------------------------------------------------------- the autocast
def test_cpu_autocast_only_when_asked() -> None:
    cpu = torch.device("cpu")
    lin = torch.nn.Linear(4, 3)
    x = torch.randn(2, 4)
    with autocast(cpu):
        assert lin(x).dtype == torch.float32
    with autocast(cpu, "bfloat16"):
        assert lin(x).dtype == torch.bfloat16


def test_bfloat16_training_runs_the_forward_in_bfloat16_and_saves_float32(
    problem: dict, tmp_path: Path, monkeypatch
) -> None:
    seen: list[torch.dtype] = []
    from musicgenre.models import registry

    real = registry.build_model

    def spying(*args, **kwargs):
        model = real(*args, **kwargs)
        first = next(m for m in model.modules() if isinstance(m, torch.nn.Conv1d | torch.nn.Linear))
        first.register_forward_hook(lambda m, i, o: seen.append(o.dtype))
        return model

    cfg = TrainConfig(epochs=2, batch_size=16, lr=3e-3, num_threads=1, precision="bfloat16")
    with monkeypatch.context() as mp:
        mp.setattr(registry, "build_model", spying)
        res = run(problem, tmp_path / "bf16", config=cfg)
    assert seen and all(d == torch.bfloat16 for d in seen)  # training and validation batches alike
    ckpt = load_checkpoint(res.checkpoint_path)
    floats = [v for v in ckpt.state_dict.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float32 for v in floats)
    assert ckpt.meta["train_config"]["precision"] == "bfloat16"
    assert all(np.isfinite(res.history["train_loss"]))
    f32 = run(problem, tmp_path / "f32", config=TrainConfig(epochs=2, batch_size=16, lr=3e-3, num_threads=1))
    w = load_checkpoint(f32.checkpoint_path).state_dict
    assert any(not torch.equal(w[k], ckpt.state_dict[k]) for k in w if w[k].is_floating_point())


# ------------------------------------------------------------------------------------------- overheads
def test_batches_normalised_in_place_equal_the_reference(tmp_path: Path) -> None:
    from musicgenre.training.data import load_batch
    from musicgenre.training.normalisation import apply_normalisation, compute_normalisation

    rng = np.random.default_rng(1)
    x = (rng.standard_normal((50, 30, 7)) * 3 + 2).astype(np.float32)
    mm = np.memmap(tmp_path / "x.f32", dtype=np.float32, mode="w+", shape=x.shape)
    mm[:] = x
    rows = rng.permutation(50)[:13]
    for axis in (None, -1):
        stats = compute_normalisation(x, axis)
        want = apply_normalisation(x[np.sort(rows)], stats)  # the earlier per-batch code
        for arr in (x, mm, x.astype(np.float64)):
            got, _ = load_batch({"x": arr}, rows, {"x": stats})
            assert got["x"].dtype == torch.float32
            assert np.array_equal(got["x"].numpy(), want)
    assert np.array_equal(mm, x)  # the source is never written


def test_the_multi_tensor_adamw_step_gives_the_same_run(problem: dict, tmp_path: Path, monkeypatch) -> None:
    from musicgenre.training import loop

    cfg = TrainConfig(epochs=2, batch_size=16, lr=3e-3, num_threads=1)
    new = run(problem, tmp_path / "foreach", model="bilstm", config=cfg)
    real = torch.optim.AdamW

    def per_tensor(groups, lr, **options):
        assert options == {"foreach": True}
        return real(groups, lr=lr, foreach=False)

    monkeypatch.setattr(loop.torch.optim, "AdamW", per_tensor)
    old = run(problem, tmp_path / "loop", model="bilstm", config=cfg)
    a, b = load_checkpoint(new.checkpoint_path).state_dict, load_checkpoint(old.checkpoint_path).state_dict
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert new.history["train_loss"] == old.history["train_loss"]


def test_bfloat16_runs_take_the_fused_adamw_step() -> None:
    from musicgenre.models.registry import build_model
    from musicgenre.training.loop import make_optimizer

    model = build_model("cnn1d", {"seq": (8, 12)}, 3)
    assert make_optimizer(model, TrainConfig(precision="bfloat16")).defaults["fused"] is True
    assert make_optimizer(model, TrainConfig()).defaults["foreach"] is True


def test_bfloat16_runs_the_2d_cnn_channels_last_and_saves_contiguous_weights(
    problem: dict, tmp_path: Path, monkeypatch
) -> None:
    from musicgenre.models import registry
    from musicgenre.training import predict_proba

    layouts: list[bool] = []
    real = registry.build_model

    def spying(*args, **kwargs):
        model = real(*args, **kwargs)
        pool = next(m for m in model.modules() if isinstance(m, torch.nn.MaxPool2d))
        pool.register_forward_hook(
            lambda m, i, o: layouts.append(
                i[0].is_contiguous(memory_format=torch.channels_last) and not i[0].is_contiguous()
            )
        )
        return model

    cfg = TrainConfig(epochs=1, batch_size=16, lr=3e-3, num_threads=1, precision="bfloat16")
    with monkeypatch.context() as mp:
        mp.setattr(registry, "build_model", spying)
        res = run(problem, tmp_path / "cl", model="cnn2d", config=cfg)
    assert layouts and all(layouts)
    ckpt = load_checkpoint(res.checkpoint_path)
    assert all(v.is_contiguous() for v in ckpt.state_dict.values())
    proba = predict_proba(ckpt, {"seq": problem["inputs"]["seq"]}, problem["split"].test)
    assert np.allclose(proba.sum(1), 1.0, atol=1e-5)
