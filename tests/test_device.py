"""``--device``: resolution, the plumbing into training, evaluation, features and prediction, checkpoints.

There is no GPU here: CUDA and MPS availability are monkeypatched to test the resolution logic, and the
device code paths are run with the CPU device (the non-CPU branch of the training step is checked to give
the CPU branch's numbers). Nothing here runs on GPU hardware.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

import musicgenre
from musicgenre import device as device_mod
from musicgenre.checkpoint import load_checkpoint
from musicgenre.cli import main
from musicgenre.device import (
    amp_dtype,
    autocast,
    cpu_state_dict,
    current_device,
    grad_scaler,
    resolve_device,
    to_device,
    use_device,
)
from musicgenre.errors import MusicGenreError
from musicgenre.features.registry import extract_many, make_config
from musicgenre.predict import GenreClassifier
from musicgenre.training import TrainConfig, predict_proba
from musicgenre.training import loop as loop_mod
from musicgenre.training import trainer as trainer_mod
from musicgenre.training.augment import Augment, augment_generators
from musicgenre.training.data import load_batch
from test_predict import LABELS, SR, noise, tone, train_tone_noise_checkpoint
from test_training import make_problem, run


def _available(monkeypatch: pytest.MonkeyPatch, *, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(device_mod, "_mps_available", lambda: mps)


# ------------------------------------------------------------------------------------------- resolution
@pytest.mark.parametrize(
    ("cuda", "mps", "want"), [(True, True, "cuda"), (False, True, "mps"), (False, False, "cpu")]
)
def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch, cuda: bool, mps: bool, want: str) -> None:
    _available(monkeypatch, cuda=cuda, mps=mps)
    assert resolve_device("auto").type == want
    assert resolve_device(None).type == want
    assert resolve_device("cpu") == torch.device("cpu")


def test_an_available_device_is_given_as_asked(monkeypatch) -> None:
    _available(monkeypatch, cuda=True, mps=True)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("CUDA:1") == torch.device("cuda:1")
    assert resolve_device("mps") == torch.device("mps")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


@pytest.mark.parametrize(("name", "words"), [("cuda", "CUDA is not available"), ("mps", "MPS backend")])
def test_an_unavailable_device_is_a_one_line_error(monkeypatch, name: str, words: str) -> None:
    _available(monkeypatch, cuda=False, mps=False)
    with pytest.raises(MusicGenreError, match=words) as info:
        resolve_device(name)
    assert "\n" not in str(info.value) and "--device auto or cpu" in str(info.value)


def test_an_unknown_device_is_refused() -> None:
    with pytest.raises(MusicGenreError, match="unknown device 'tpu'"):
        resolve_device("tpu")


def test_the_current_device_is_the_cpu_outside_a_scope(monkeypatch) -> None:
    assert current_device() == torch.device("cpu")
    _available(monkeypatch, cuda=False, mps=False)
    with use_device("auto") as dev:
        assert dev == torch.device("cpu") == current_device()
    _available(monkeypatch, cuda=True, mps=False)
    with use_device("cuda"):
        assert current_device() == torch.device("cuda")
    assert current_device() == torch.device("cpu")


def test_mixed_precision_only_on_cuda(monkeypatch) -> None:
    cpu = torch.device("cpu")
    assert amp_dtype(cpu) is None and grad_scaler(cpu) is None
    assert isinstance(autocast(cpu), contextlib.nullcontext)
    assert amp_dtype(torch.device("mps")) is None
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert amp_dtype(torch.device("cuda")) is torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert amp_dtype(torch.device("cuda")) is torch.float16


def test_state_dicts_are_detached_cpu_copies() -> None:
    model = torch.nn.Linear(3, 2)
    state = cpu_state_dict(model)
    assert all(v.device.type == "cpu" for v in state.values())
    assert state["weight"].data_ptr() != model.weight.data_ptr()
    x = {"a": torch.ones(2)}
    assert to_device(x, torch.device("cpu"))["a"] is x["a"]


# ------------------------------------------------------------------------------------------- training
@pytest.fixture(scope="module")
def problem() -> dict:
    return make_problem()


def _same(a, b) -> None:
    for key in ("train_loss", "train_acc", "valid_loss", "valid_acc", "lr"):
        assert a.history[key] == b.history[key], key
    wa, wb = load_checkpoint(a.checkpoint_path).state_dict, load_checkpoint(b.checkpoint_path).state_dict
    assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)


def test_training_on_the_cpu_device_equals_the_default(problem: dict, tmp_path: Path, monkeypatch) -> None:
    cfg = TrainConfig(epochs=2, batch_size=16, num_threads=1)
    seen: list[torch.device] = []
    fit = trainer_mod.fit_epochs

    def spy(model, *args, **kwargs):
        seen.append(kwargs["device"])
        assert next(model.parameters()).device == kwargs["device"]
        return fit(model, *args, **kwargs)

    monkeypatch.setattr(trainer_mod, "fit_epochs", spy)
    a = run(problem, tmp_path / "a", config=cfg)
    b = run(problem, tmp_path / "b", config=cfg, device="cpu")
    _available(monkeypatch, cuda=False, mps=False)
    with use_device("auto"):
        c = run(problem, tmp_path / "c", config=cfg)
    assert seen == [torch.device("cpu")] * 3
    _same(a, b)
    _same(a, c)
    state = load_checkpoint(b.checkpoint_path).state_dict
    assert all(t.device.type == "cpu" for t in state.values())


@pytest.mark.parametrize("aug", [Augment(), Augment(mixup_alpha=0.4, time_masks=1)])
def test_the_device_step_gives_the_cpu_step(problem: dict, aug: Augment) -> None:
    """The branch that moves batches to a device and runs under autocast, run with the CPU device, gives
    the same loss and logits as the plain CPU step (the plumbing is exercised; no GPU here)."""
    from musicgenre.models.registry import build_model
    from musicgenre.training.augment import apply_augment

    torch.manual_seed(0)
    model = build_model("cnn1d", {"seq": (8, 12)}, 3).eval()  # no dropout draws between the two passes
    x, y = load_batch({"seq": problem["inputs"]["seq"]}, np.arange(16), None, problem["labels"])
    assert y is not None
    loss_fn = torch.nn.CrossEntropyLoss()
    rng, gen = augment_generators(0, 0)
    logits, loss, y_dev = loop_mod._device_step(model, loss_fn, x, y, torch.device("cpu"), aug, rng, gen)
    rng, gen = augment_generators(0, 0)
    if aug.active:
        mixed = apply_augment(x, y, aug, rng, gen)
        want_logits = model(mixed.inputs)
        want_loss = mixed.loss(loss_fn, want_logits, y)
    else:
        want_logits = model(x)
        want_loss = loss_fn(want_logits, y)
    assert torch.equal(logits, want_logits) and torch.equal(loss, want_loss) and torch.equal(y_dev, y)


def test_evaluation_takes_the_device(problem: dict, tmp_path: Path) -> None:
    res = run(problem, tmp_path / "r", config=TrainConfig(epochs=1, batch_size=16, num_threads=1))
    inputs = {"seq": problem["inputs"]["seq"]}
    plain = predict_proba(res.checkpoint_path, inputs)
    assert np.array_equal(predict_proba(res.checkpoint_path, inputs, device="cpu"), plain)
    with use_device("cpu"):
        assert np.array_equal(predict_proba(res.checkpoint_path, inputs), plain)


# ------------------------------------------------------------------------------------------- features
def test_feature_configs_and_values_do_not_depend_on_the_device() -> None:
    cfg = make_config("mfcc")
    x = np.stack([tone(3.0), noise(3.0)])
    plain = extract_many([cfg], x, SR)[cfg.key()]
    key = cfg.key()
    with use_device("cpu"):
        assert cfg.key() == key
        assert np.array_equal(extract_many([cfg], x, SR)[cfg.key()], plain)


def test_feature_workers_get_the_device(monkeypatch) -> None:
    from musicgenre.store import workers

    captured: dict = {}

    class Stop(Exception):
        pass

    def fake_pool(**kwargs):
        captured.update(kwargs)
        raise Stop

    monkeypatch.setattr(workers, "ProcessPoolExecutor", fake_pool)
    monkeypatch.setattr(workers, "mp_context", lambda: None)
    token = device_mod._CURRENT.set("cuda")  # what use_device("cuda") would set on a GPU machine
    try:
        with pytest.raises(Stop):
            next(workers._run_pool([object()], 2))  # type: ignore[list-item]
    finally:
        device_mod._CURRENT.reset(token)
    assert captured["initializer"] is workers._init_worker
    assert captured["initargs"][1] == "cuda"


# ------------------------------------------------------------------------------------------- prediction
@pytest.fixture(scope="module")
def ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return train_tone_noise_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt")


def test_predict_on_the_cpu_device(ckpt: Path, tmp_path: Path) -> None:
    x = tone(7.0)
    default = GenreClassifier.from_checkpoint(ckpt)
    on_cpu = musicgenre.load(ckpt, device="cpu")
    assert default.device == on_cpu.device == torch.device("cpu")
    assert next(on_cpu.model.parameters()).device.type == "cpu"
    a, b = default.predict_array(x, SR), on_cpu.predict_array(x, SR)
    assert a.top_genre == b.top_genre == "tone"
    assert np.array_equal(a.window_probabilities, b.window_probabilities)
    wav = tmp_path / "tone.wav"
    sf.write(wav, x, SR)
    res = CliRunner().invoke(main, ["predict", str(ckpt), str(wav), "--device", "cpu", "-f", "json"])
    assert res.exit_code == 0, res.output
    assert '"tone"' in res.output and set(LABELS) <= set(res.output.replace('"', " ").split())


# ------------------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("verb", ["train", "study", "evaluate", "predict", "features"])
def test_every_command_that_runs_torch_has_the_device_option(verb: str) -> None:
    out = CliRunner().invoke(main, [verb, "--help"]).output
    assert "--device [auto|cpu|cuda|mps]" in out


def test_an_unavailable_device_on_the_command_line_is_one_line(monkeypatch, tmp_path: Path) -> None:
    _available(monkeypatch, cuda=False, mps=False)
    res = CliRunner().invoke(main, ["features", str(tmp_path), "-f", "mfcc", "--device", "cuda"])
    assert res.exit_code == 2
    assert res.output.strip().startswith("error: --device cuda: CUDA is not available here")
    assert len(res.output.strip().splitlines()) == 1
    res = CliRunner().invoke(main, ["features", str(tmp_path), "--device", "tpu"])
    assert res.exit_code == 2 and "tpu" in res.output
