"""Load YAMNet's weights from Google's int8 TFLite file with a flatbuffer reader (no TFLite runtime).

``yamnet_int8.tflite`` holds the whole Keras model, frontend included, as one graph. Batch norm is already
folded into each conv's kernel and a float bias. Kernels are int8 with a scale per tensor or per output
channel (``real = scale * (q - zero_point)``); the first conv and two depthwise kernels are float32.

This module walks the graph, dequantizes every kernel and maps it to its layer by the op order *and* by the
tensor names (``yamnet_frames/layer7/pointwise_conv/...``), checks each op's stride, padding and fused ReLU
against the architecture, and checks the frontend constants (Hann window, DFT matrices, mel matrix, log
offset) against :mod:`musicgenre.yamnet.frontend`. Every constant float/int8 tensor of the file must be used
exactly once, or loading fails.

It also keeps the raw int8 kernels of the ops that the TFLite runtime executes as *dynamic-range
quantized* (hybrid) kernels, for :mod:`musicgenre.yamnet.emulation`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from musicgenre.errors import WeightsNotFoundError
from musicgenre.yamnet import frontend as F
from musicgenre.yamnet import params as P
from musicgenre.yamnet.network import ConvWeights, FusedWeights, conv_shapes

KIND = "tflite-int8"

_NP_TYPES = {0: np.float32, 1: np.float16, 2: np.int32, 3: np.uint8, 4: np.int64, 9: np.int8}


@dataclass(frozen=True)
class QuantizedKernel:
    """An int8 kernel as stored (in PyTorch layout) with its scale(s): ``real = q * scale``."""

    q: np.ndarray  # int8
    scale: np.ndarray  # (1,) or (out,) float32


@dataclass(frozen=True)
class TFLiteYamnet:
    """Everything read from the file: fused float weights plus what the runtime's hybrid kernels use."""

    weights: FusedWeights
    #: int8 kernels fed directly to CONV_2D / FULLY_CONNECTED (dynamic-range quantized ops), by layer name
    #: (``"layer2/pointwise_conv"``, ``"dense"``, ``"frontend/dft_real"``, ``"frontend/dft_imag"``,
    #: ``"frontend/mel"``).
    hybrid: dict[str, QuantizedKernel] = field(default_factory=dict)
    #: Frontend constants as stored: ``window`` (400,), ``log_offset`` (64,).
    frontend: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class _Tensor:
    index: int
    name: str
    type: int
    shape: tuple[int, ...]
    data: np.ndarray | None  # constant data, None for activations
    scale: np.ndarray | None
    zero_point: np.ndarray | None
    quantized_dimension: int


@dataclass
class _Op:
    index: int
    name: str
    inputs: list[int]
    outputs: list[int]
    options: object


class _Graph:
    """The tensors and ops of subgraph 0, read with the ``tflite`` flatbuffer package."""

    def __init__(self, data: bytes, path: Path) -> None:
        import tflite

        try:
            model = tflite.Model.GetRootAs(data, 0)
            if model.SubgraphsLength() < 1:
                raise ValueError("no subgraph")
            graph = model.Subgraphs(0)
        except Exception as exc:
            raise WeightsNotFoundError(f"{path}: not a readable TFLite flatbuffer ({exc})") from None
        self.path = path
        self.tensors: list[_Tensor] = []
        for i in range(graph.TensorsLength()):
            t = graph.Tensors(i)
            shape = tuple(int(s) for s in t.ShapeAsNumpy()) if t.ShapeLength() else ()
            buf = model.Buffers(t.Buffer())
            data_arr = None
            if buf is not None and buf.DataLength() > 0:
                dtype = _NP_TYPES.get(t.Type())
                if dtype is not None:
                    data_arr = np.frombuffer(buf.DataAsNumpy().tobytes(), dtype=dtype).reshape(shape)
            q = t.Quantization()
            scale = q.ScaleAsNumpy().astype(np.float32) if q is not None and q.ScaleLength() else None
            zp = q.ZeroPointAsNumpy().astype(np.int64) if q is not None and q.ZeroPointLength() else None
            qdim = int(q.QuantizedDimension()) if q is not None else 0
            self.tensors.append(
                _Tensor(i, t.Name().decode(), int(t.Type()), shape, data_arr, scale, zp, qdim)
            )
        names = {v: k for k, v in vars(tflite.BuiltinOperator).items() if not k.startswith("_")}
        self.ops: list[_Op] = []
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = model.OperatorCodes(op.OpcodeIndex())
            opcode = max(int(code.BuiltinCode()), int(code.DeprecatedBuiltinCode()))
            name = names.get(opcode, str(opcode))
            options = _options(tflite, name, op)
            ins = [int(op.Inputs(j)) for j in range(op.InputsLength())]
            outs = [int(op.Outputs(j)) for j in range(op.OutputsLength())]
            self.ops.append(_Op(i, name, ins, outs, options))
        self.producer = {o: op for op in self.ops for o in op.outputs}
        self.used: Counter[int] = Counter()

    def weight_tensors(self) -> set[int]:
        """Indices of constant float/int8 tensors: the ones that must all be used exactly once."""
        return {t.index for t in self.tensors if t.data is not None and t.type in (0, 1, 9)}

    def take(self, index: int) -> _Tensor:
        """The constant behind tensor ``index`` (following a DEQUANTIZE op), counted as used."""
        t = self.tensors[index]
        if t.data is None:
            op = self.producer.get(index)
            if op is None or op.name != "DEQUANTIZE":
                raise WeightsNotFoundError(f"{self.path}: tensor {t.name!r} is not a constant")
            t = self.tensors[op.inputs[0]]
            if t.data is None:
                raise WeightsNotFoundError(f"{self.path}: DEQUANTIZE input {t.name!r} is not a constant")
        self.used[t.index] += 1
        return t


def _options(tflite, name: str, op) -> object:
    cls = {
        "CONV_2D": tflite.Conv2DOptions,
        "DEPTHWISE_CONV_2D": tflite.DepthwiseConv2DOptions,
        "FULLY_CONNECTED": tflite.FullyConnectedOptions,
    }.get(name)
    table = op.BuiltinOptions()
    if cls is None or table is None:
        return None
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    return opts


def dequantize(t: _Tensor) -> np.ndarray:
    """``scale * (q - zero_point)`` with per-tensor or per-axis scales; float tensors pass through."""
    assert t.data is not None
    if t.type in (0, 1):
        return t.data.astype(np.float32)
    if t.scale is None:
        raise ValueError(f"int8 tensor {t.name!r} has no quantization scale")
    q = t.data.astype(np.float32)
    zp = np.zeros(1, np.float32) if t.zero_point is None else t.zero_point.astype(np.float32)
    if t.scale.size == 1:
        return ((q - zp.reshape(-1)[0]) * t.scale[0]).astype(np.float32)
    shape = [1] * q.ndim
    shape[t.quantized_dimension] = -1
    zp = zp.reshape(shape) if zp.size > 1 else zp.reshape(-1)[0]
    return ((q - zp) * t.scale.reshape(shape)).astype(np.float32)


def _quantized_kernel(t: _Tensor, to_torch) -> QuantizedKernel | None:
    if t.type != 9 or t.scale is None:
        return None
    if t.zero_point is not None and np.any(t.zero_point != 0):
        return None  # hybrid kernels need symmetric weights; only the float path is available then
    return QuantizedKernel(to_torch(t.data), t.scale.astype(np.float32))


def _conv_to_torch(a: np.ndarray) -> np.ndarray:
    """CONV_2D kernel ``(out, kh, kw, in)`` -> ``(out, in, kh, kw)``."""
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def _depthwise_to_torch(a: np.ndarray) -> np.ndarray:
    """DEPTHWISE_CONV_2D kernel ``(1, kh, kw, channels)`` -> ``(channels, 1, kh, kw)``."""
    return np.ascontiguousarray(a.transpose(3, 0, 1, 2))


def read_tflite(path: str | Path) -> TFLiteYamnet:
    """Read ``yamnet_int8.tflite`` (or a float TFLite export of the same graph) into runtime weights."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsNotFoundError(f"{path}: cannot read TFLite weights ({exc.strerror or exc})") from None
    if data[4:8] != b"TFL3":
        raise WeightsNotFoundError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        g = _Graph(data, path)
    except WeightsNotFoundError:
        raise
    except Exception as exc:  # a damaged flatbuffer fails anywhere in the reader
        raise WeightsNotFoundError(f"{path}: damaged TFLite file ({type(exc).__name__}: {exc})") from None
    hybrid: dict[str, QuantizedKernel] = {}

    # --- the 27 convs, in graph order ---
    conv_ops = [op for op in g.ops if op.name in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    expected = conv_shapes()
    if len(conv_ops) != len(expected):
        raise WeightsNotFoundError(
            f"{path}: expected {len(expected)} conv ops for YAMNet, found {len(conv_ops)}; not a YAMNet file?"
        )
    convs: list[ConvWeights] = []
    for op, (name, wshape, stride, groups) in zip(conv_ops, expected, strict=True):
        depthwise = op.name == "DEPTHWISE_CONV_2D"
        if depthwise != name.endswith("depthwise_conv"):
            raise WeightsNotFoundError(f"{path}: op {op.index} is {op.name}, expected {name}")
        kernel = g.take(op.inputs[1])
        bias = g.take(op.inputs[2])
        for t in (kernel, bias):
            if f"/{name}/" not in f"/{t.name}/":
                raise WeightsNotFoundError(f"{path}: tensor {t.name!r} feeds {name}")
        opts = op.options
        if (
            opts.Padding() != 0  # SAME
            or opts.StrideH() != stride
            or opts.StrideW() != stride
            or opts.FusedActivationFunction() != 1  # RELU
        ):
            raise WeightsNotFoundError(f"{path}: {name} has unexpected padding, stride or activation")
        to_torch = _depthwise_to_torch if depthwise else _conv_to_torch
        w = to_torch(dequantize(kernel))
        if w.shape != wshape:
            raise WeightsNotFoundError(f"{path}: {name} kernel has shape {w.shape}, expected {wshape}")
        if kernel.index == op.inputs[1]:  # int8 kernel fed straight into the conv: a hybrid op at run time
            qk = _quantized_kernel(kernel, to_torch)
            if qk is not None:
                hybrid[name] = qk
        convs.append(ConvWeights(name, w, dequantize(bias).reshape(-1), stride, groups))

    # --- fully connected ops: real DFT, imaginary DFT, mel matrix (+ log offset as bias), dense ---
    fc_ops = [op for op in g.ops if op.name == "FULLY_CONNECTED"]
    if len(fc_ops) != 4:
        raise WeightsNotFoundError(f"{path}: expected 4 FULLY_CONNECTED ops, found {len(fc_ops)}")
    dft_real_op, dft_imag_op, mel_op, dense_op = fc_ops
    frontend: dict[str, np.ndarray] = {}

    n = np.arange(P.FFT_LENGTH)
    k = np.arange(P.NUM_SPECTROGRAM_BINS)[:, None]
    for key, op, exact in (
        ("frontend/dft_real", dft_real_op, np.cos(2 * np.pi * k * n / P.FFT_LENGTH)),
        ("frontend/dft_imag", dft_imag_op, np.sin(2 * np.pi * k * n / P.FFT_LENGTH)),
    ):
        t = g.take(op.inputs[1])
        _check_close(path, t, dequantize(t), exact)
        qk = _quantized_kernel(t, np.ascontiguousarray)
        if qk is not None:
            hybrid[key] = qk
    mel_t = g.take(mel_op.inputs[1])
    _check_close(path, mel_t, dequantize(mel_t), F.linear_to_mel_weight_matrix().T)
    qk = _quantized_kernel(mel_t, np.ascontiguousarray)
    if qk is not None:
        hybrid["frontend/mel"] = qk
    offset = dequantize(g.take(mel_op.inputs[2]))
    if not np.allclose(offset, P.LOG_OFFSET, rtol=0, atol=1e-9):
        raise WeightsNotFoundError(f"{path}: the log offset is {offset.ravel()[:3]}, expected {P.LOG_OFFSET}")
    frontend["log_offset"] = offset

    # --- the Hann window: the constant operand of the MUL that follows the framing ---
    windows = [
        g.tensors[i]
        for op in g.ops
        if op.name == "MUL"
        for i in op.inputs
        if g.tensors[i].data is not None and g.tensors[i].shape[-1:] == (P.STFT_WINDOW_SAMPLES,)
    ]
    if len(windows) != 1:
        raise WeightsNotFoundError(f"{path}: expected one window constant, found {len(windows)}")
    window = dequantize(g.take(windows[0].index)).reshape(-1)
    if np.abs(window - F.periodic_hann()).max() > 1e-6:
        raise WeightsNotFoundError(f"{path}: the window is not a periodic Hann window")
    frontend["window"] = window

    dense_w_t = g.take(dense_op.inputs[1])
    dense_b_t = g.take(dense_op.inputs[2])
    dense_w = dequantize(dense_w_t)
    qk = _quantized_kernel(dense_w_t, np.ascontiguousarray)
    if qk is not None:
        hybrid["dense"] = qk

    # --- every weight tensor used exactly once ---
    twice = sorted(g.tensors[i].name for i, c in g.used.items() if c != 1)
    unused = sorted(g.tensors[i].name for i in g.weight_tensors() - set(g.used))
    if twice or unused:
        raise WeightsNotFoundError(
            f"{path}: weight tensors not used exactly once: used twice {twice}, unused {unused}"
        )

    weights = FusedWeights(
        convs=tuple(convs),
        dense_weight=dense_w,
        dense_bias=dequantize(dense_b_t).reshape(-1),
        kind=KIND,
        source=str(path),
        notes={"weight_tensors": len(g.weight_tensors()), "hybrid_ops": sorted(hybrid)},
    )
    weights.validate()
    return TFLiteYamnet(weights=weights, hybrid=hybrid, frontend=frontend)


def _check_close(path: Path, t: _Tensor, value: np.ndarray, exact: np.ndarray) -> None:
    """A frontend constant must equal ours within half a quantization step (or 1e-6 for float)."""
    if value.shape != exact.shape:
        raise WeightsNotFoundError(f"{path}: {t.name!r} has shape {value.shape}, expected {exact.shape}")
    tol = float(t.scale.max()) / 2 + 1e-6 if (t.type == 9 and t.scale is not None) else 1e-6
    err = float(np.abs(value - exact).max())
    if err > tol:
        raise WeightsNotFoundError(f"{path}: {t.name!r} differs from YAMNet's frontend by {err:.3g}")


def load_tflite_weights(path: str | Path) -> FusedWeights:
    """Fused float weights from a YAMNet TFLite file (the int8 kernels dequantized)."""
    return read_tflite(path).weights
