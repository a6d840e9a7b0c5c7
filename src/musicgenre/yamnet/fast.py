"""The fast inference path of YAMNet's network, on CPU: channels-last, convs with folded BN, GEMM pointwise.

Same weights and arithmetic as :class:`~musicgenre.yamnet.network.YAMNetCNN` (float32), arranged for speed:

- activations stay channels-last (NHWC) from the first conv to the pooling, so no layout conversions;
- the 13 pointwise (1x1) convs, ~95 % of the multiply-adds, are one ``addmm`` each on the
  ``(pixels, channels)`` matrix, with the bias in the GEMM and an in-place ReLU;
- the 3x3 first conv and the depthwise convs run as channels-last convolutions (oneDNN), with TensorFlow's
  asymmetric 'SAME' padding done by an explicit pad only where the stride is 2.

It is deterministic (the same input gives bit-identical output on every call). In float32 it differs from
the plain path only by summation order (tests bound it).

``dtype=torch.bfloat16`` runs the convolutions with bfloat16 weights and activations (float32 accumulation
in oneDNN); the pooling, the embedding and the classifier stay float32. On CPUs with native bfloat16 matrix
units (Intel AMX, AVX512-BF16) this is about twice as fast. Its embeddings stay within cosine 0.998 of the
float32 ones (measured min 0.9986 over the 60 patches of a real 30 s clip; tests check real music), which
is closer to float than the TFLite interpreter's own int8 kernels come (min 0.9982 on the same patches). :func:`resolve_precision` picks it automatically only where the CPU has such units.
"""

from __future__ import annotations

import os
from functools import lru_cache

import torch
from torch import Tensor, nn

from musicgenre.yamnet.network import YAMNetCNN, same_padding

#: ``"auto"``: bfloat16 where the CPU has native bfloat16 matrix units, else float32.
PRECISIONS = ("auto", "float32", "bfloat16")
PRECISION_ENV_VAR = "MUSICGENRE_YAMNET_PRECISION"
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
#: Patches per network call: small float32 batches stay in cache; bfloat16 GEMMs want bigger ones
#: (measured in benchmarks/bench_yamnet.py).
DEFAULT_CHUNKS = {"float32": 32, "bfloat16": 64}


@lru_cache(maxsize=1)
def native_bfloat16() -> bool:
    """True when the CPU has bfloat16 matrix or dot-product units (AMX-BF16 or AVX512-BF16; Linux only)."""
    from musicgenre.device import cpu_bf16_flags

    return cpu_bf16_flags()


def resolve_precision(precision: str | None = "auto") -> str:
    """``"float32"`` or ``"bfloat16"``: ``precision``, else ``$MUSICGENRE_YAMNET_PRECISION``, else auto."""
    precision = precision or "auto"
    if precision == "auto":
        precision = os.environ.get(PRECISION_ENV_VAR, "auto") or "auto"
    if precision not in PRECISIONS:
        raise ValueError(f"YAMNet precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        return "bfloat16" if native_bfloat16() else "float32"
    return precision


class _Spatial(nn.Module):
    """A 3x3 conv (full or depthwise) + bias + ReLU on channels-last input."""

    def __init__(self, conv: nn.Conv2d, stride: int, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        weight = conv.weight.detach().to(dtype).contiguous(memory_format=torch.channels_last)
        self.weight = nn.Parameter(weight, requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach().to(dtype), requires_grad=False)
        self.stride = stride
        self.groups = conv.groups
        self.padding = 1 if stride == 1 else 0

    def forward(self, x: Tensor) -> Tensor:
        if self.stride != 1:
            ph = same_padding(x.shape[-2], 3, self.stride)
            pw = same_padding(x.shape[-1], 3, self.stride)
            x = nn.functional.pad(x, (pw[0], pw[1], ph[0], ph[1]))
        y = nn.functional.conv2d(x, self.weight, self.bias, self.stride, self.padding, 1, self.groups)
        return torch.relu_(y)


class _Pointwise(nn.Module):
    """A 1x1 conv + bias + ReLU as one GEMM on the ``(n*h*w, c)`` view of a channels-last tensor."""

    def __init__(self, conv: nn.Conv2d, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        weight_t = conv.weight.detach().flatten(1).t().to(dtype).contiguous()
        self.weight_t = nn.Parameter(weight_t, requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach().to(dtype), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # a view when x is channels-last
        y = torch.addmm(self.bias, rows, self.weight_t).relu_()
        return y.view(n, h, w, -1).permute(0, 3, 1, 2)  # channels-last (n, c', h, w) view


class FastCNN(nn.Module):
    """Patches ``(n, 96, 64)`` -> ``(embeddings (n, 1024), logits (n, 521))``, like ``YAMNetCNN``, faster.

    ``dtype`` is the precision of the convolutions (float32 or bfloat16); the outputs are float32.
    """

    def __init__(self, cnn: YAMNetCNN, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.dtype = dtype
        layers: list[nn.Module] = []
        for module in cnn.layers:
            conv = module.conv
            if conv.kernel_size == (1, 1):
                layers.append(_Pointwise(conv, dtype))
            else:
                layers.append(_Spatial(conv, module.stride, dtype))
        self.layers = nn.Sequential(*layers)
        self.dense_weight_t = nn.Parameter(cnn.dense.weight.detach().t().contiguous(), requires_grad=False)
        self.dense_bias = nn.Parameter(cnn.dense.bias.detach().clone(), requires_grad=False)
        self.eval()

    def forward(self, patches: Tensor) -> tuple[Tensor, Tensor]:
        x = patches.unsqueeze(1) if patches.dim() == 3 else patches
        x = x.to(self.dtype).contiguous(memory_format=torch.channels_last)
        x = self.layers(x)
        embeddings = x.float().mean(dim=(-2, -1))
        return embeddings, torch.addmm(self.dense_bias, embeddings, self.dense_weight_t)
