"""Load Google's float Keras weights ``yamnet.h5`` with h5py and fold batch norm into the convs.

Layout (Keras 2 ``model.save_weights`` HDF5, as written for Google's ``yamnet.py``): one group per layer,
named like the layer (``layer1/conv``, ``layer1/conv/bn``, ``layer2/depthwise_conv``,
``layer2/depthwise_conv/bn``, ``layer2/pointwise_conv``, ..., ``layer14/pointwise_conv/bn``, ``logits``);
slashes in names become nested HDF5 groups. Each layer group lists its datasets in the attribute
``weight_names``, e.g. ``layer1/conv/kernel:0``, stored at ``<layer>/<weight name>``. The root attribute
``layer_names`` lists the layers. A file saved from a whole model has the same tree under ``model_weights``.

Shapes (Keras/TensorFlow layout): conv kernel ``(kh, kw, in, out)``; depthwise kernel ``(kh, kw, in, 1)``;
batch norm ``beta``, ``moving_mean``, ``moving_variance`` ``(channels,)`` (``center=True, scale=False``, so no
``gamma``; a ``gamma`` is folded in when present); dense ``kernel`` ``(1024, 521)`` and ``bias`` ``(521,)``.

Folding, per output channel ``c``: ``inv = gamma / sqrt(var + 1e-4)``; ``w'[c] = w[c] * inv``;
``b' = beta - mean * inv``, so that ``relu(conv(x, w') + b') == relu(bn(conv(x, w)))``.
Every dataset in the file must be used exactly once, or loading fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musicgenre.errors import WeightsNotFoundError
from musicgenre.yamnet import params as P
from musicgenre.yamnet.network import ConvWeights, FusedWeights, conv_shapes

KIND = "keras-float"
#: Names Google's Keras code gives the classifier layer (``logits`` in yamnet.h5, ``dense`` by default).
DENSE_LAYER_NAMES = ("logits", "dense")


class _H5Reader:
    """Finds a layer's weights by ``weight_names`` (or by the conventional paths) and counts their use."""

    def __init__(self, root, path: Path) -> None:
        import h5py

        self.root = root
        self.path = path
        self.all: set[str] = set()
        root.visititems(lambda name, obj: self.all.add(name) if isinstance(obj, h5py.Dataset) else None)
        self.used: dict[str, int] = {}

    def has_layer(self, layer: str) -> bool:
        return layer in self.root

    def get(self, layer: str, weight: str, required: bool = True) -> np.ndarray | None:
        """The dataset ``weight`` (``kernel``, ``beta``, ...) of ``layer``, counted as used."""
        candidates: list[str] = []
        group = self.root.get(layer)
        if group is not None and "weight_names" in group.attrs:
            for wn in group.attrs["weight_names"]:
                wn = wn.decode() if isinstance(wn, bytes) else str(wn)
                if wn.rsplit("/", 1)[-1].split(":")[0] == weight:
                    candidates.append(f"{layer}/{wn}")
        candidates += [f"{layer}/{layer}/{weight}:0", f"{layer}/{weight}:0"]
        for name in candidates:
            if name in self.all:
                self.used[name] = self.used.get(name, 0) + 1
                return np.asarray(self.root[name][()], dtype=np.float32)
        if required:
            raise WeightsNotFoundError(
                f"{self.path}: no {weight!r} weights for layer {layer!r}; not Google's yamnet.h5 layout?"
            )
        return None


def _fold(reader: _H5Reader, layer: str, kernel: np.ndarray, out_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Fold ``layer``'s batch norm into ``kernel`` (scaling along ``out_axis``); returns ``(kernel, bias)``."""
    bn = f"{layer}/bn"
    beta = reader.get(bn, "beta")
    mean = reader.get(bn, "moving_mean")
    var = reader.get(bn, "moving_variance")
    gamma = reader.get(bn, "gamma", required=False)
    assert beta is not None and mean is not None and var is not None
    inv = 1.0 / np.sqrt(var.astype(np.float64) + P.BN_EPSILON)
    if gamma is not None:
        inv = inv * gamma
    shape = [1] * kernel.ndim
    shape[out_axis] = -1
    folded = (kernel.astype(np.float64) * inv.reshape(shape)).astype(np.float32)
    bias = (beta.astype(np.float64) - mean.astype(np.float64) * inv).astype(np.float32)
    return folded, bias


def load_keras_weights(path: str | Path) -> FusedWeights:
    """Read ``yamnet.h5`` into fused float weights (batch norm folded, PyTorch layout)."""
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise WeightsNotFoundError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        root = f.get("model_weights", f)
        reader = _H5Reader(root, path)
        convs: list[ConvWeights] = []
        for name, wshape, stride, groups in conv_shapes():
            depthwise = name.endswith("depthwise_conv")
            raw = reader.get(name, "depthwise_kernel" if depthwise else "kernel")
            assert raw is not None
            out_ch, in_per_group, kh, kw = wshape
            keras_shape = (kh, kw, out_ch, 1) if depthwise else (kh, kw, in_per_group, out_ch)
            if raw.shape != keras_shape:
                raise WeightsNotFoundError(
                    f"{path}: {name} kernel has shape {raw.shape}, expected {keras_shape} for YAMNet"
                )
            # Keras (kh, kw, in, out) -> (out, in, kh, kw); depthwise (kh, kw, ch, 1) -> (ch, 1, kh, kw).
            kernel, bias = _fold(reader, name, raw, out_axis=2 if depthwise else 3)
            torch_kernel = kernel.transpose(2, 3, 0, 1) if depthwise else kernel.transpose(3, 2, 0, 1)
            convs.append(ConvWeights(name, np.ascontiguousarray(torch_kernel), bias, stride, groups))
        dense = next((n for n in DENSE_LAYER_NAMES if reader.has_layer(n)), None)
        if dense is None:
            raise WeightsNotFoundError(f"{path}: no classifier layer (looked for {list(DENSE_LAYER_NAMES)})")
        dense_kernel = reader.get(dense, "kernel")
        dense_bias = reader.get(dense, "bias")
        assert dense_kernel is not None and dense_bias is not None
        if dense_kernel.shape != (P.EMBEDDING_SIZE, P.NUM_CLASSES):
            raise WeightsNotFoundError(f"{path}: {dense} kernel has shape {dense_kernel.shape}")
        twice = sorted(n for n, c in reader.used.items() if c != 1)
        unused = sorted(reader.all - set(reader.used))
        if twice or unused:
            raise WeightsNotFoundError(
                f"{path}: datasets not used exactly once: used twice {twice}, unused {unused}"
            )
    weights = FusedWeights(
        convs=tuple(convs),
        dense_weight=np.ascontiguousarray(dense_kernel.T),
        dense_bias=dense_bias.reshape(-1),
        kind=KIND,
        source=str(path),
        notes={"datasets": len(reader.all)},
    )
    try:
        weights.validate()
    except ValueError as exc:
        raise WeightsNotFoundError(f"{path}: {exc}") from None
    return weights
