"""YAMNet backends (torch, OpenVINO) x precisions against the float32 torch reference, and their cache keys.

Agreement criterion (issue 12): embedding cosine >= 0.998 against the plain float32 network on the 8
reference cases and on 60 real gtzan-mini patches, with the same top-1 class. OpenVINO tests are skipped
where the optional ``openvino`` package is missing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre import openvino_runtime
from musicgenre.audio.io import load_audio
from musicgenre.audio.segment import SegmentConfig, split_segments
from musicgenre.features import yamnet as yamnet_features
from musicgenre.yamnet import backends, openvino_backend
from musicgenre.yamnet.fast import FastCNN, native_bfloat16
from musicgenre.yamnet.model import YAMNet, get_model

pytestmark = pytest.mark.usefixtures("one_torch_thread")

needs_openvino = pytest.mark.skipif(not openvino_backend.available(), reason="openvino is not installed")
PRECISIONS = ["float32", "bfloat16"] if native_bfloat16() else ["float32"]
SETTINGS = [
    pytest.param(b, p, marks=[needs_openvino] if b == "openvino" else [])
    for b in ("torch", "openvino")
    for p in PRECISIONS
]


@pytest.fixture(scope="module")
def tflite_path(yamnet_dir: Path) -> Path:
    return yamnet_dir / "yamnet_int8.tflite"


@pytest.fixture(scope="module")
def reference_cases(yamnet_dir: Path) -> np.ndarray:
    """The 8 waveforms of the interpreter's reference outputs (synthetic and real), ``(8, n)``."""
    with np.load(yamnet_dir / "tflite_reference_outputs.npz") as z:
        return np.stack([z[k] for k in z.files if k.endswith("/waveform")]).astype(np.float32)


@pytest.fixture(scope="module")
def real_segments(gtzan_mini: Path) -> np.ndarray:
    """10 real 3 s segments (the first segment of the first track of each genre): 60 patches."""
    genres = sorted(p.name for p in gtzan_mini.iterdir() if p.is_dir())[:10]
    rows = []
    for g in genres:
        clip = sorted((gtzan_mini / g).glob("*.au"))[0]
        rows.append(split_segments(load_audio(clip, 16000), SegmentConfig()).samples[0])
    return np.stack(rows).astype(np.float32)


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a.reshape(-1, 1024), b.reshape(-1, 1024), dim=1)


@pytest.mark.parametrize(("backend", "precision"), SETTINGS)
@pytest.mark.parametrize("inputs", ["reference_cases", "real_segments"])
def test_backend_agrees_with_float32_reference(
    backend: str, precision: str, inputs: str, tflite_path: Path, request: pytest.FixtureRequest
) -> None:
    waves = request.getfixturevalue(inputs)
    reference = get_model(tflite_path, precision="float32", backend="torch").infer(waves, fast=False)
    model = get_model(tflite_path, precision=precision, backend=backend)
    assert model.backend == backend and model.precision == precision
    out = model.infer(waves)
    cos = _cosines(out.embeddings, reference.embeddings)
    assert out.embeddings.shape == reference.embeddings.shape and torch.isfinite(out.embeddings).all()
    assert cos.min() >= (0.99999 if precision == "float32" else 0.998)
    flat_out, flat_ref = out.scores.reshape(-1, 521), reference.scores.reshape(-1, 521)
    assert torch.equal(flat_out.argmax(1), flat_ref.argmax(1))
    torch.testing.assert_close(out.log_mel, reference.log_mel, rtol=0, atol=0)  # the frontend is torch's


@needs_openvino
def test_openvino_model_is_deterministic_and_batch_independent(tflite_path: Path, real_segments) -> None:
    model = get_model(tflite_path, precision="float32", backend="openvino")
    assert not isinstance(model.fast_cnn(), FastCNN)
    a, b = model.infer(real_segments), model.infer(real_segments)
    assert torch.equal(a.embeddings, b.embeddings)
    single = model.infer(real_segments[2:3])
    assert _cosines(single.embeddings[0], a.embeddings[2]).min() >= 0.99999


def test_get_model_is_cached_per_backend(tflite_path: Path) -> None:
    m = get_model(tflite_path, precision="float32", backend="torch")
    assert isinstance(m, YAMNet) and m.backend == "torch" and isinstance(m.fast_cnn(), FastCNN)
    assert get_model(tflite_path, precision="float32", backend="torch") is m
    if openvino_backend.available():
        assert get_model(tflite_path, precision="float32", backend="openvino") is not m


def test_backend_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backends.BACKEND_ENV_VAR, raising=False)
    auto = "openvino" if openvino_backend.available() else "torch"
    assert backends.resolve_backend("auto") == backends.resolve_backend(None) == auto
    assert backends.resolve_backend("torch") == "torch"
    monkeypatch.setenv(backends.BACKEND_ENV_VAR, "torch")
    assert backends.resolve_backend("auto") == "torch"
    with pytest.raises(ValueError, match="backend must be one of"):
        backends.resolve_backend("onnx")
    monkeypatch.delenv(backends.BACKEND_ENV_VAR)
    monkeypatch.setattr(openvino_runtime, "available", lambda: False)
    assert backends.resolve_backend("auto") == "torch"  # falls back when the package is missing
    with pytest.raises(ImportError, match="openvino"):
        backends.resolve_backend("openvino")


def test_feature_key_holds_the_resolved_backend(tflite_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backends.BACKEND_ENV_VAR, raising=False)
    cfg = yamnet_features.YamnetEmbeddingConfig
    torch_cfg = cfg(weights=str(tflite_path), precision="float32", backend="torch")
    # torch keeps the key from before backends existed (existing stores stay valid)
    legacy = {k: v for k, v in torch_cfg.to_dict().items() if k != "backend"}
    digest = hashlib.sha1(json.dumps(legacy, sort_keys=True).encode()).hexdigest()[:10]
    assert torch_cfg.key() == f"yamnet_embedding-{digest}"
    monkeypatch.setenv(backends.BACKEND_ENV_VAR, "torch")
    assert cfg(weights=str(tflite_path), precision="float32").key() == torch_cfg.key()
    if openvino_backend.available():
        ov_cfg = cfg(weights=str(tflite_path), precision="float32", backend="openvino")
        assert ov_cfg.key() != torch_cfg.key()
        monkeypatch.delenv(backends.BACKEND_ENV_VAR)
        assert cfg(weights=str(tflite_path), precision="float32").key() == ov_cfg.key()
        logmel = yamnet_features.YamnetLogMelConfig
        assert (
            logmel(weights=str(tflite_path), backend="openvino").key()
            != logmel(weights=str(tflite_path), backend="torch").key()
        )


@needs_openvino
def test_joint_extraction_runs_once_per_backend(tflite_path: Path, real_segments) -> None:
    cfgs = [
        yamnet_features.YamnetEmbeddingConfig(weights=str(tflite_path), precision="float32", backend=b)
        for b in ("torch", "openvino")
    ]
    a, b = yamnet_features.extract_joint(cfgs, real_segments[:2], 16000)
    assert a.shape == b.shape == (2, 6, 1024)
    assert _cosines(torch.from_numpy(a), torch.from_numpy(b)).min() >= 0.99999


@needs_openvino
def test_openvino_frontend_on_one_thread_restores_the_thread_count(tflite_path: Path, real_segments) -> None:
    model = get_model(tflite_path, precision="float32", backend="openvino")
    torch.set_num_threads(2)
    try:
        two = model.infer(real_segments[:2])
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)
    one = model.infer(real_segments[:2])
    torch.testing.assert_close(two.log_mel, one.log_mel, rtol=0, atol=0)
    assert _cosines(two.embeddings, one.embeddings).min() >= 0.99999


@needs_openvino
@pytest.mark.parametrize("threads", [1, 2])
def test_pipelined_network_equals_chunk_by_chunk(tflite_path: Path, real_segments, threads: int) -> None:
    """The asynchronous path of ``infer`` gives each chunk exactly the synchronous call's outputs, in order."""
    model = get_model(tflite_path, precision="float32", backend="openvino")
    net = model.fast_cnn()
    assert isinstance(net, openvino_backend.OpenVINOCNN)
    _, patches = model.frontend(torch.from_numpy(real_segments))
    chunks = list(patches.reshape(-1, 96, 64).split(7))  # uneven: the last chunk is shorter
    torch.set_num_threads(threads)
    try:
        produced: list[int] = []

        def lazily():
            for i, c in enumerate(chunks):
                produced.append(i)
                yield c

        piped = list(net.pipelined(lazily()))
        by_hand = [net(c) for c in chunks]
    finally:
        torch.set_num_threads(1)
    assert produced == list(range(len(chunks))) and len(piped) == len(chunks)
    for (e, lg), (e2, lg2), c in zip(piped, by_hand, chunks, strict=True):
        assert e.shape == (c.shape[0], 1024) and lg.shape == (c.shape[0], 521)
        torch.testing.assert_close(e, e2, rtol=0, atol=0)
        torch.testing.assert_close(lg, lg2, rtol=0, atol=0)


@needs_openvino
def test_abandoned_pipelined_iteration_leaves_the_network_usable(tflite_path: Path, real_segments) -> None:
    model = get_model(tflite_path, precision="float32", backend="openvino")
    net = model.fast_cnn()
    _, patches = model.frontend(torch.from_numpy(real_segments[:4]))
    flat = patches.reshape(-1, 96, 64)
    iterator = net.pipelined(iter(flat.split(4)))
    first = next(iterator)
    iterator.close()  # the consumer stops early: the requests in flight are waited for
    again = next(net.pipelined(iter(flat.split(4))))
    torch.testing.assert_close(first[0], again[0], rtol=0, atol=0)
    with pytest.raises(ZeroDivisionError):  # an error in the producer reaches the caller
        list(net.pipelined(c / 0 if i == 1 else c for i, c in enumerate([flat[:4], 1])))
    torch.testing.assert_close(net(flat[:4])[0], first[0], rtol=0, atol=0)
    torch.testing.assert_close(next(net.pipelined(iter([flat[:4]])))[0], first[0], rtol=0, atol=0)


@needs_openvino
def test_infer_pipelines_many_chunks_in_order(tflite_path: Path, real_segments) -> None:
    """Through ``YAMNet.infer`` on two threads, with many small chunks in flight: every segment gets its own
    embeddings and log-mel, as computed chunk by chunk."""
    model = get_model(tflite_path, precision="float32", backend="openvino")
    waves = real_segments[:6]
    torch.set_num_threads(2)
    try:
        out = model.infer(waves, chunk=4)  # 1 segment (6 patches) per block, chunks of 4 and 2: 12 chunks
        net = model.fast_cnn()
        log_mel, patches = model.frontend(torch.from_numpy(waves))
        by_hand = torch.cat([net(p.reshape(-1, 96, 64))[0] for p in patches]).view(6, 6, -1)
    finally:
        torch.set_num_threads(1)
    torch.testing.assert_close(out.log_mel, log_mel.contiguous(), rtol=0, atol=0)
    torch.testing.assert_close(out.embeddings, by_hand, rtol=1e-5, atol=1e-5)
    assert _cosines(out.embeddings[1:], out.embeddings[:-1]).max() < 0.999  # distinct segments: order matters
