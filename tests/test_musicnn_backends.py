"""musicnn's OpenVINO backend against the torch network (the reference), and how the backend is chosen.

Agreement (float32 both): taggram within 1e-5 absolute; max_pool, mean_pool and penultimate within 1e-5 of
their largest magnitude; the log-mel is the same tensor (the frontend is torch's on both backends).
OpenVINO tests are skipped where the optional ``openvino`` package is missing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre import openvino_runtime
from musicgenre.audio.io import load_audio
from musicgenre.audio.segment import SegmentConfig, split_segments
from musicgenre.musicnn import model as musicnn_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")
needs_openvino = pytest.mark.skipif(not openvino_runtime.available(), reason="openvino is not installed")


@pytest.fixture(scope="module")
def segments(gtzan_mini: Path) -> np.ndarray:
    """6 real 3 s segments: the second segment of the first track of 6 genres."""
    genres = sorted(p.name for p in gtzan_mini.iterdir() if p.is_dir())[:6]
    rows = [
        split_segments(load_audio(sorted((gtzan_mini / g).glob("*.au"))[0], 16000), SegmentConfig()).samples[
            1
        ]
        for g in genres
    ]
    return np.stack(rows).astype(np.float32)


@needs_openvino
@pytest.mark.parametrize("which", ["MSD", "MTT"])
def test_openvino_agrees_with_torch(musicnn_weights, segments: np.ndarray, which: str) -> None:
    model = musicnn_model.get_model(musicnn_weights, model=which, backend="openvino")
    assert model.backend == "openvino" and model.fast_network() is not None
    reference = model.infer(segments, fast=False)
    out = model.infer(segments, batch_size=4)  # 4 + 2: an uneven last batch
    torch.testing.assert_close(out.log_mel, reference.log_mel, rtol=0, atol=0)
    assert torch.isfinite(out.taggram).all() and out.taggram.shape == (6, 50)
    assert float((out.taggram - reference.taggram).abs().max()) <= 1e-5
    for name in ("max_pool", "mean_pool", "penultimate"):
        got, ref = getattr(out, name), getattr(reference, name)
        assert got.shape == ref.shape
        assert float((got - ref).abs().max()) <= 1e-5 * float(ref.abs().max()), name
    torch.testing.assert_close(model.infer(segments[2:3]).max_pool, out.max_pool[2:3], rtol=0, atol=0)


def test_backend_choice_and_cache(musicnn_weights, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(musicnn_model.BACKEND_ENV_VAR, raising=False)
    auto = "openvino" if openvino_runtime.available() else "torch"
    assert musicnn_model.resolve_backend("auto") == auto
    torch_model = musicnn_model.get_model(musicnn_weights, backend="torch")
    assert torch_model.backend == "torch" and torch_model.fast_network() is None
    assert musicnn_model.get_model(musicnn_weights, backend="torch") is torch_model
    monkeypatch.setenv(musicnn_model.BACKEND_ENV_VAR, "torch")
    assert musicnn_model.get_model(musicnn_weights) is torch_model
    with pytest.raises(ValueError, match="musicnn backend must be one of"):
        musicnn_model.resolve_backend("onnx")
    monkeypatch.delenv(musicnn_model.BACKEND_ENV_VAR)
    monkeypatch.setattr(openvino_runtime, "available", lambda: False)
    assert musicnn_model.resolve_backend("auto") == "torch"  # falls back when the package is missing
    with pytest.raises(ImportError, match="musicnn backend 'openvino' needs the openvino package"):
        musicnn_model.resolve_backend("openvino")


def test_converted_musicnn_weights_are_reused(musicnn_weights, tmp_path: Path, monkeypatch) -> None:
    """The arrays read from the TensorFlow checkpoint are kept by content id, and a later load skips the
    checkpoint reader; a damaged kept file is read from the checkpoint again."""
    from musicgenre import pretrained

    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    first = musicnn_model.load_network(musicnn_weights.path, "MSD", "torch", bundle=musicnn_weights)
    path = pretrained.converted_path(musicnn_weights, "musicnn", musicnn_model.CONVERTED_VERSION, "MSD")
    assert path.is_file() and str(tmp_path) in str(path)

    def refuse(*_args: object) -> None:
        raise AssertionError("read the checkpoint again")

    real = musicnn_model.read_checkpoint
    monkeypatch.setattr(musicnn_model, "read_checkpoint", refuse)
    again = musicnn_model.load_network(musicnn_weights.path, "MSD", "torch", bundle=musicnn_weights)
    for (name, a), (name2, b) in zip(first.state_dict().items(), again.state_dict().items(), strict=True):
        assert name == name2 and torch.equal(a, b), name
    path.write_bytes(b"damaged")
    monkeypatch.setattr(musicnn_model, "read_checkpoint", real)
    third = musicnn_model.load_network(musicnn_weights.path, "MSD", "torch", bundle=musicnn_weights)
    assert torch.equal(third.network.k0, first.network.k0)


def test_feature_key_holds_the_resolved_backend(musicnn_weights, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch keeps the key from before backends existed; another runtime gets a store of its own."""
    import hashlib
    import json

    from musicgenre.features.musicnn import MusicnnMsdConfig

    monkeypatch.delenv(musicnn_model.BACKEND_ENV_VAR, raising=False)
    torch_cfg = MusicnnMsdConfig(weights=str(musicnn_weights.path), backend="torch")
    legacy = {k: v for k, v in torch_cfg.to_dict().items() if k != "backend"}
    digest = hashlib.sha1(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:10]
    assert torch_cfg.key() == f"musicnn_msd-{digest}"
    monkeypatch.setenv(musicnn_model.BACKEND_ENV_VAR, "torch")
    assert MusicnnMsdConfig(weights=str(musicnn_weights.path)).key() == torch_cfg.key()
    if openvino_runtime.available():
        monkeypatch.delenv(musicnn_model.BACKEND_ENV_VAR)
        ov_cfg = MusicnnMsdConfig(weights=str(musicnn_weights.path), backend="openvino")
        assert ov_cfg.key() != torch_cfg.key()
        assert MusicnnMsdConfig(weights=str(musicnn_weights.path)).key() == ov_cfg.key()
