"""Emulation of the TFLite interpreter's dynamic-range quantized kernels, to explain the reference error.

Why this exists: the reference outputs in ``tflite_reference_outputs.npz`` were produced by the TFLite
interpreter with its default XNNPACK delegate. In ``yamnet_int8.tflite`` the DFT (two FULLY_CONNECTED ops
with int8 cos/sin matrices), the mel filterbank (an int8 FULLY_CONNECTED), the 13 pointwise convs and the
dense classifier have int8 weights and float inputs, so the runtime runs them as *dynamic-range quantized*
("hybrid", XNNPACK ``qd8``) kernels: at every call it quantizes the float input to int8 on the fly,
asymmetrically (a scale and zero point from the min and max, range widened to include 0) once per row of a
FULLY_CONNECTED input and once per pixel of a 1x1 CONV_2D input (XNNPACK runs a 1x1 conv as a matrix
multiply over pixels), multiplies in integers and rescales to float. The depthwise convs dequantize their
kernels and run in float.

The first effect is large in the frontend: the magnitude spectrum of one frame is quantized with 255 levels
over ``[0, max]``, so every bin below ``max / 510`` becomes exactly 0 and its mel band ``log(0 + 0.001)``.
For tonal input (a sine, a chirp, a sustained note) the float and TFLite log-mels then differ by up to ~6
in quiet bands, while the float model is the one Google trained (Keras, float32).

:class:`TFLiteLogMel` / :func:`tflite_log_mel` and :func:`tflite_network` reproduce those kernels in float64 torch (integer
products are exact), using the int8 kernels read by :func:`~musicgenre.yamnet.tflite_weights.read_tflite`.
They match the reference log-mel to ~7e-7, and each network layer (fed the interpreter's input to that layer)
to ~5e-6. End to end, the embedding still differs slightly (cosine 0.9991-1.0): a float difference of 1e-7
(summation order) can move a value across an int8 rounding boundary, and the step is carried through 13
requantized layers. The interpreter itself is not stable in this sense: run on this machine, it differs from
the stored reference embedding by up to 0.06 on the white-noise case. So the float-vs-TFLite differences are
explained by activation quantization alone. This module is for verification; the runtime model is float.
``load_model(..., frontend="tflite")`` swaps :class:`TFLiteLogMel` in for the float log-mel, to reproduce
the interpreter's log-mel (and so its embeddings to cosine >= 0.999) end to end.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from musicgenre.yamnet import frontend as F
from musicgenre.yamnet import params as P
from musicgenre.yamnet.network import FusedConv, YAMNetCNN
from musicgenre.yamnet.tflite_weights import QuantizedKernel, TFLiteYamnet


def quantize_qd8(x: Tensor, nonbatch_dims: int) -> tuple[Tensor, Tensor]:
    """XNNPACK's dynamic asymmetric int8 quantization of ``x`` (float32), one set of params per batch entry.

    The last ``nonbatch_dims`` axes share one scale and zero point. Returns ``(q - zero_point, scale)``
    as float64 and float32, so that ``x ~= (q - zero_point) * scale``.
    """
    dims = tuple(range(x.dim() - nonbatch_dims, x.dim()))
    x = x.float()
    lo = torch.clamp(x.amin(dim=dims, keepdim=True), max=0.0)
    hi = torch.clamp(x.amax(dim=dims, keepdim=True), min=0.0)
    same = lo == hi
    inv_scale = torch.where(
        same, torch.ones_like(lo), 255.0 / torch.where(same, torch.ones_like(lo), hi - lo)
    )
    rmin, rmax = lo * inv_scale, hi * inv_scale
    zp = torch.where((-128.0 + rmin) + (127.0 + rmax) > 0, -128.0 - rmin, 127.0 - rmax)
    zp = torch.round(torch.clamp(zp, -128.0, 127.0))  # round half to even, like lrintf
    q = torch.clamp(torch.round(x * inv_scale) + zp, -128.0, 127.0)
    return (q - zp).double(), (1.0 / inv_scale).float()


def _hybrid_matmul(x: Tensor, kernel: QuantizedKernel) -> Tensor:
    """FULLY_CONNECTED with int8 weights ``(out, in)``: rows of ``x`` ``(..., in)`` quantized one by one."""
    q, s = quantize_qd8(x, 1)
    w = torch.from_numpy(kernel.q.astype(np.float64))
    acc = torch.matmul(q, w.T).float()
    return acc * (s * torch.from_numpy(kernel.scale.reshape(-1)))


def int8_frontend_kernels() -> dict[str, QuantizedKernel]:
    """The frontend's int8 kernels as the TFLite converter makes them (symmetric, scale = max|w| / 127).

    Their int8 values equal the ones stored in ``yamnet_int8.tflite`` (a test checks it; the mel scale differs
    by 2e-6 relative, as TensorFlow builds the mel matrix in float32), so the TFLite log-mel can be computed
    whatever weights the network uses.
    """
    n = np.arange(P.FFT_LENGTH)
    k = np.arange(P.NUM_SPECTROGRAM_BINS)[:, None]
    exact = {
        "frontend/dft_real": np.cos(2 * np.pi * k * n / P.FFT_LENGTH),
        "frontend/dft_imag": np.sin(2 * np.pi * k * n / P.FFT_LENGTH),
        "frontend/mel": F.linear_to_mel_weight_matrix().T.astype(np.float64),
    }
    out = {}
    for key, w in exact.items():
        scale = np.float32(np.abs(w).max() / 127.0)
        out[key] = QuantizedKernel(np.round(w / scale).astype(np.int8), np.array([scale], np.float32))
    return out


class TFLiteLogMel(torch.nn.Module):
    """Waveform ``(..., n)`` -> the log-mel ``(..., frames, 64)`` that the TFLite interpreter computes.

    A drop-in for :class:`~musicgenre.yamnet.frontend.LogMelSpectrogram` (no padding) that reproduces the
    int8 DFT and mel kernels with on-the-fly activation quantization (see the module docstring). For
    verification and for reproducing TFLite outputs; slower than the float frontend (float64 matmuls).
    """

    def __init__(
        self, kernels: dict[str, QuantizedKernel] | None = None, window: np.ndarray | None = None
    ) -> None:
        super().__init__()
        self.kernels = dict(kernels or int8_frontend_kernels())
        self.window_np = F.periodic_hann() if window is None else np.asarray(window, np.float32)

    def forward(self, waveform: Tensor) -> Tensor:
        window = torch.from_numpy(self.window_np)
        frames = F.frame(waveform.float(), P.STFT_WINDOW_SAMPLES, P.STFT_HOP_SAMPLES) * window
        half = (P.FFT_LENGTH - P.STFT_WINDOW_SAMPLES) // 2  # the graph centres the window in the FFT frame
        frames = torch.nn.functional.pad(frames, (half, P.FFT_LENGTH - P.STFT_WINDOW_SAMPLES - half))
        real = _hybrid_matmul(frames, self.kernels["frontend/dft_real"])
        imag = _hybrid_matmul(frames, self.kernels["frontend/dft_imag"])
        magnitude = torch.sqrt(real * real + imag * imag)
        return torch.log(_hybrid_matmul(magnitude, self.kernels["frontend/mel"]) + P.LOG_OFFSET)


def tflite_log_mel(waveform: Tensor, model: TFLiteYamnet) -> Tensor:
    """The TFLite graph's log-mel of an (already padded) waveform ``(..., n)``, with the file's own kernels."""
    kernels = {k: v for k, v in model.hybrid.items() if k.startswith("frontend/")}
    return TFLiteLogMel(kernels, model.frontend["window"])(waveform)


def _hybrid_pointwise(x: Tensor, module: FusedConv, kernel: QuantizedKernel) -> Tensor:
    """1x1 CONV_2D with int8 weights on ``(n, C, H, W)``: the ``C`` values of each pixel share one scale."""
    q, s = quantize_qd8(x.permute(0, 2, 3, 1), 1)
    w = torch.from_numpy(kernel.q.astype(np.float64)).flatten(1)  # (out, in)
    acc = torch.einsum("oc,nhwc->nohw", w, q).float()
    scale = s.permute(0, 3, 1, 2) * torch.from_numpy(kernel.scale.reshape(-1)).view(1, -1, 1, 1)
    return torch.relu(acc * scale + module.conv.bias.view(1, -1, 1, 1))


@torch.no_grad()
def tflite_network(patches: Tensor, cnn: YAMNetCNN, model: TFLiteYamnet) -> tuple[Tensor, Tensor]:
    """``(n, 96, 64)`` -> ``(embeddings, logits)`` with the hybrid ops quantizing their inputs as TFLite does.

    ``cnn`` must hold ``model.weights``; its float convs run the non-hybrid layers.
    """
    from musicgenre.yamnet.network import conv_shapes

    x = patches.unsqueeze(1).float()
    for module, (name, *_rest) in zip(cnn.layers, conv_shapes(), strict=True):
        kernel = model.hybrid.get(name)
        x = module(x) if kernel is None else _hybrid_pointwise(x, module, kernel)
    embeddings = x.mean(dim=(-2, -1))
    logits = _hybrid_matmul(embeddings, model.hybrid["dense"]) + cnn.dense.bias
    return embeddings, logits
