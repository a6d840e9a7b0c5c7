"""Classifiers on YAMNet features keep their own weights: two in one process, checkpoints that name the
weights' content (not a path), refusal of other weights, and checkpoints written before identities."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre.audio.segment import SegmentConfig
from musicgenre.checkpoint import Checkpoint
from musicgenre.errors import WeightsMismatchError
from musicgenre.features.registry import extract, make_config
from musicgenre.models.registry import build_model
from musicgenre.predict import GenreClassifier
from musicgenre.training.data import load_batch
from musicgenre.training.inference import model_from_checkpoint
from musicgenre.yamnet.weights import ENV_VAR, YAMNET
from test_yamnet_weights import keras_layers, write_keras_h5

#: One torch thread (see conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")

SR = 16000
NAME = "yamnet_embedding"
LABELS = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


@pytest.fixture(scope="module")
def weights(yamnet_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two valid, different weights files: Google's int8 TFLite file and random Keras-layout weights."""
    h5 = tmp_path_factory.mktemp("weights") / "random.h5"
    write_keras_h5(h5, keras_layers(np.random.default_rng(0)))
    return {"tflite": yamnet_dir / "yamnet_int8.tflite", "h5": h5}


def _checkpoint(inputs: dict) -> Checkpoint:
    """A randomly initialised cnn1d on yamnet_embedding (the same model whatever the weights)."""
    torch.manual_seed(0)
    shape = tuple(make_config(NAME, precision="float32").shape(SegmentConfig(sample_rate=SR)))
    model = build_model("cnn1d", {NAME: shape}, len(LABELS))
    stats = {"mean": torch.zeros(shape[-1]), "std": torch.ones(shape[-1])}
    return Checkpoint(
        model_name="cnn1d",
        model_options={},
        inputs={NAME: inputs},
        input_shapes={NAME: shape},
        segment=SegmentConfig(sample_rate=SR).to_dict(),
        labels=LABELS,
        normalisation={NAME: stats},
        state_dict=model.state_dict(),
    )


@pytest.fixture(scope="module")
def ckpts(weights: dict[str, Path]) -> dict[str, Checkpoint]:
    return {
        k: _checkpoint(make_config(NAME, weights=str(p), precision="float32").to_dict())
        for k, p in weights.items()
    }


@pytest.fixture(scope="module")
def legacy() -> Checkpoint:
    """A checkpoint written before weights identities: ``weights: ""`` (the CLI's, with the variable set)."""
    return _checkpoint({"name": NAME, "weights": "", "precision": "float32"})


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    t = np.arange(6 * SR) / SR  # two whole 3 s windows
    return (0.3 * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def _expected(ckpt: Checkpoint, path: Path, signal: np.ndarray) -> np.ndarray:
    """Window probabilities computed by hand with the features of ``path``."""
    model = model_from_checkpoint(ckpt)
    windows = signal.reshape(2, 3 * SR)
    feats = extract(make_config(NAME, weights=str(path), precision="float32"), windows, SR)
    inputs, _ = load_batch({NAME: feats}, np.arange(2), ckpt.normalisation, sort=False)
    with torch.inference_mode():
        return torch.softmax(model(inputs).float(), dim=-1).numpy()


def test_checkpoint_names_the_weights_content_not_a_path(
    ckpts: dict[str, Checkpoint], weights: dict[str, Path]
) -> None:
    for k, ckpt in ckpts.items():
        stored = ckpt.inputs[NAME]
        assert stored["weights"] == YAMNET.bundle(weights[k]).identity
        assert str(weights[k]) not in repr(ckpt.inputs)


@pytest.mark.parametrize("stored", ["identity", "legacy"])
def test_two_classifiers_with_different_weights_in_one_process(
    stored: str,
    ckpts: dict[str, Checkpoint],
    legacy: Checkpoint,
    weights: dict[str, Path],
    signal: np.ndarray,
) -> None:
    ckpt = ckpts if stored == "identity" else dict.fromkeys(weights, legacy)
    want = {k: _expected(ckpt[k], weights[k], signal) for k in weights}
    assert not np.allclose(want["tflite"], want["h5"], atol=1e-3)
    for order in (("tflite", "h5"), ("h5", "tflite")):
        clfs = {k: GenreClassifier(ckpt[k], yamnet_weights=weights[k]) for k in order}  # both built first
        for k in reversed(order):
            assert clfs[k].feature_configs[NAME].source.path == weights[k]
            got = clfs[k].predict_array(signal, SR).window_probabilities
            np.testing.assert_allclose(got, want[k], rtol=1e-5, atol=1e-6)


def test_other_weights_are_refused(
    ckpts: dict[str, Checkpoint], weights: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    trained_on = YAMNET.bundle(weights["tflite"]).identity
    with pytest.raises(WeightsMismatchError) as err:
        GenreClassifier(ckpts["tflite"], yamnet_weights=weights["h5"])
    assert trained_on in str(err.value) and str(weights["h5"]) in str(err.value)
    monkeypatch.setenv(ENV_VAR, str(weights["h5"]))
    with pytest.raises(WeightsMismatchError, match=ENV_VAR):
        GenreClassifier(ckpts["tflite"])
    assert GenreClassifier(ckpts["h5"]).feature_configs[NAME].source.origin == "environment"


def test_checkpoint_from_another_machine(
    ckpts: dict[str, Checkpoint], weights: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same weights at another place: found by content in the shared folder, whatever the path was."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICGENRE_SHARED", str(tmp_path / "shared"))
    copy = tmp_path / "shared" / "models" / "yamnet" / "yamnet_int8.tflite"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(weights["tflite"].read_bytes())
    source = GenreClassifier(ckpts["tflite"]).feature_configs[NAME].source
    assert source.path == copy and source.origin == "shared"


def test_checkpoint_without_identity_takes_the_default(
    legacy: Checkpoint, weights: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checkpoints written before weights identities behave as they did: any weights, default as usual."""
    monkeypatch.setenv(ENV_VAR, str(weights["h5"]))
    source = GenreClassifier(legacy).feature_configs[NAME].source
    assert source.path == weights["h5"] and source.origin == "environment"
