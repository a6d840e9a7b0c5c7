"""Verification against Google's model: the 8 reference cases of the TFLite interpreter (no TensorFlow).

The reference (``tflite_reference_outputs.npz``) comes from the TFLite interpreter running
``yamnet_int8.tflite`` with its default XNNPACK delegate. That runtime quantizes activations to int8 on the
fly in the DFT, the mel filterbank, the 13 pointwise convs and the classifier (dynamic-range quantized
kernels; see :mod:`musicgenre.yamnet.emulation`). So the checks are layered:

1. log-mel: our frontend *plus an emulation of those int8 kernels* reproduces the reference log-mel to
   < 1e-5 (measured max 7.2e-7) in all 8 cases: same framing, periodic Hann, DFT, mel matrix, log offset.
   Our float log-mel differs from the reference by up to 5.9 in bands the int8 kernel rounds to zero; that
   difference is the reference's quantization, and is measured here, not hidden.
2. network: our float network (dequantized TFLite weights) on the reference log-mel gives cosine >= 0.999
   (measured min 0.99929) with the reference embedding and the same top-1 class in every case; scores max
   abs diff measured 0.022, asserted <= 0.03.
3. the whole emulated pipeline from the waveform: top-1 equal, scores <= 0.03 (measured 0.019), cosine
   measured min 0.99912, asserted >= 0.998: with int8 rounding in 15 layers, a 1e-7 float difference (the
   summation order of a batched vs a single conv) can flip a rounding and move the result, so this figure
   varies slightly with batch size and CPU kernels.
4. our float pipeline from the waveform: the float frontend sees quiet bands the int8 one floors, so tonal
   cases move most (min cosine 0.960, the chirp's top-1 is a neighbour); asserted as measured, with margin.
5. our model with ``frontend="tflite"`` (the TFLite-exact log-mel, float network), from the waveform: log-mel
   < 1e-5, cosine >= 0.999 (min 0.99929), top-1 8/8, scores <= 0.03 (measured 0.022).
6. the same with the fast bfloat16 network: cosine >= 0.998 (min 0.99880), top-1 8/8, scores <= 0.1
   (measured 0.083, on the pure sine; <= 0.006 on the real-music windows).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre.yamnet import emulation
from musicgenre.yamnet.model import get_model
from musicgenre.yamnet.tflite_weights import read_tflite

#: One torch thread (see conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


CASES = [
    "zeros",
    "sine_440",
    "chirp",
    "noise",
    "clicks",
    "gtzan_metal_00001_at5s",
    "gtzan_classical_00001_at5s",
    "gtzan_hiphop_00001_at5s",
]


@pytest.fixture(scope="module")
def reference(yamnet_dir: Path) -> dict[str, np.ndarray]:
    with np.load(yamnet_dir / "tflite_reference_outputs.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def tflite(yamnet_dir: Path):
    return read_tflite(yamnet_dir / "yamnet_int8.tflite")


@pytest.fixture(scope="module")
def model(yamnet_dir: Path):
    return get_model(yamnet_dir / "yamnet_int8.tflite", precision="float32")


def _stack(reference: dict[str, np.ndarray], what: str) -> np.ndarray:
    return np.stack([reference[f"{c}/{what}"] for c in CASES])


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


def test_reference_file_has_the_eight_cases(reference: dict[str, np.ndarray]) -> None:
    for case in CASES:
        assert reference[f"{case}/waveform"].shape == (15600,)
        assert reference[f"{case}/log_mel"].shape == (96, 64)
        assert reference[f"{case}/scores"].shape == (521,)
        assert reference[f"{case}/embedding"].shape == (1024,)


def test_log_mel_matches_tflite_with_its_int8_kernels_emulated(reference, tflite) -> None:
    waveforms = torch.from_numpy(_stack(reference, "waveform"))
    got = emulation.tflite_log_mel(waveforms, tflite).numpy()
    err = np.abs(got - _stack(reference, "log_mel")).max(axis=(1, 2))
    assert err.max() < 1e-5, dict(zip(CASES, err.round(8), strict=True))


def test_float_log_mel_vs_tflite_is_stated(reference, model) -> None:
    out = model.infer(_stack(reference, "waveform"))
    assert out.log_mel.shape == (8, 96, 64)
    err = np.abs(out.log_mel.numpy() - _stack(reference, "log_mel")).max(axis=(1, 2))
    errors = dict(zip(CASES, err, strict=True))
    assert errors["zeros"] < 1e-6  # nothing to quantize
    # broadband signals: int8 rounding of the magnitudes only (measured 0.06-0.09)
    for case in ("noise", "clicks", "gtzan_metal_00001_at5s"):
        assert errors[case] < 0.15, (case, errors[case])
    # tonal signals: quiet bands floored to log(0.001) by the int8 kernel (measured up to 5.93)
    assert max(errors.values()) < 7.0


def test_network_reproduces_tflite_embeddings_and_top1(reference, model) -> None:
    with torch.inference_mode():
        emb, logits = model.cnn(torch.from_numpy(_stack(reference, "log_mel")))
    emb = emb.numpy()
    scores = torch.sigmoid(logits).numpy()
    cos = _cosine(emb, _stack(reference, "embedding"))
    assert cos.min() >= 0.999, dict(zip(CASES, cos.round(6), strict=True))
    ref_scores = _stack(reference, "scores")
    assert (scores.argmax(1) == ref_scores.argmax(1)).all()
    assert np.abs(scores - ref_scores).max() <= 0.03  # measured 0.022
    assert not np.isnan(emb).any()


def test_emulated_pipeline_reproduces_tflite(reference, tflite, model) -> None:
    with torch.inference_mode():
        log_mel = emulation.tflite_log_mel(torch.from_numpy(_stack(reference, "waveform")), tflite)
        emb, logits = emulation.tflite_network(log_mel, model.cnn, tflite)
    cos = _cosine(emb.numpy(), _stack(reference, "embedding"))
    assert cos.min() >= 0.998, dict(zip(CASES, cos.round(6), strict=True))
    scores = torch.sigmoid(logits).numpy()
    ref_scores = _stack(reference, "scores")
    assert (scores.argmax(1) == ref_scores.argmax(1)).all()
    assert np.abs(scores - ref_scores).max() <= 0.03  # measured 0.019


def test_float_pipeline_end_to_end_is_stated(reference, model) -> None:
    out = model.infer(_stack(reference, "waveform"))
    assert out.embeddings.shape == (8, 1, 1024) and out.scores.shape == (8, 1, 521)
    cos = _cosine(out.embeddings[:, 0].numpy(), _stack(reference, "embedding"))
    cosines = dict(zip(CASES, cos, strict=True))
    for case in ("zeros", "noise", "clicks", "gtzan_metal_00001_at5s"):  # broadband: measured >= 0.9993
        assert cosines[case] >= 0.998, (case, cosines[case])
    assert cos.min() >= 0.95  # tonal cases, measured min 0.960 (chirp)
    top1 = out.scores[:, 0].numpy().argmax(1) == _stack(reference, "scores").argmax(1)
    assert top1.sum() >= 7  # measured 7 of 8 (chirp: "Keyboard (musical)" vs "Synthesizer")


def test_synthesized_int8_frontend_kernels_equal_the_file(tflite) -> None:
    for key, kernel in emulation.int8_frontend_kernels().items():
        np.testing.assert_array_equal(kernel.q, tflite.hybrid[key].q)
        # TensorFlow builds the mel matrix in float32, we in float64: its max, hence scale, differs by 2e-6
        np.testing.assert_allclose(kernel.scale, tflite.hybrid[key].scale, rtol=1e-5)


def test_model_with_tflite_frontend_reproduces_tflite_end_to_end(reference, yamnet_dir: Path) -> None:
    """The float network behind the TFLite-exact log-mel: the issue's figures hold from the waveform on."""
    model = get_model(yamnet_dir / "yamnet_int8.tflite", frontend="tflite", precision="float32")
    out = model.infer(_stack(reference, "waveform"))
    assert np.abs(out.log_mel.numpy() - _stack(reference, "log_mel")).max() < 1e-5
    cos = _cosine(out.embeddings[:, 0].numpy(), _stack(reference, "embedding"))
    assert cos.min() >= 0.999, dict(zip(CASES, cos.round(6), strict=True))
    scores, ref_scores = out.scores[:, 0].numpy(), _stack(reference, "scores")
    assert (scores.argmax(1) == ref_scores.argmax(1)).all()
    assert np.abs(scores - ref_scores).max() <= 0.03  # measured 0.022


def test_bfloat16_network_with_tflite_frontend(reference, yamnet_dir: Path) -> None:
    """The fast bfloat16 network (the default on CPUs with native bfloat16 units) stays as close to the
    interpreter as the interpreter's own int8 rounding allows: cosine measured min 0.99880 (clicks), top-1
    8/8. Scores: the pure 440 Hz sine, whose few saturated classes sit on the sigmoid's steep part, moves
    most (measured 0.083; float32: 0.008); the three real-music windows stay within 0.006."""
    model = get_model(yamnet_dir / "yamnet_int8.tflite", frontend="tflite", precision="bfloat16")
    out = model.infer(_stack(reference, "waveform"))
    cos = _cosine(out.embeddings[:, 0].numpy(), _stack(reference, "embedding"))
    assert cos.min() >= 0.998, dict(zip(CASES, cos.round(6), strict=True))
    scores, ref_scores = out.scores[:, 0].numpy(), _stack(reference, "scores")
    assert (scores.argmax(1) == ref_scores.argmax(1)).all()
    assert np.abs(scores - ref_scores).max() <= 0.1
    assert np.abs(scores[-3:] - ref_scores[-3:]).max() <= 0.01  # the real GTZAN windows
