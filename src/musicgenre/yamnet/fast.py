"""The fast inference path of YAMNet's network, on CPU: channels-last, convs with folded BN, GEMM pointwise.

Same weights and arithmetic as :class:`~musicgenre.yamnet.network.YAMNetCNN` (float32), arranged for speed:

- activations stay channels-last (NHWC) from the first conv to the pooling, so no layout conversions;
- the 13 pointwise (1x1) convs, ~95 % of the multiply-adds, are one ``addmm`` each on the
  ``(pixels, channels)`` matrix, with the bias in the GEMM and an in-place ReLU;
- the 3x3 first conv and the depthwise convs run as channels-last convolutions (oneDNN), with TensorFlow's
  asymmetric 'SAME' padding done by an explicit pad only where the stride is 2.

It is deterministic (the same input gives bit-identical output on every call) and differs from the plain
path only by float summation order (tests bound it).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from musicgenre.yamnet.network import YAMNetCNN, same_padding


class _Spatial(nn.Module):
    """A 3x3 conv (full or depthwise) + bias + ReLU on channels-last input."""

    def __init__(self, conv: nn.Conv2d, stride: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(
            conv.weight.detach().clone().contiguous(memory_format=torch.channels_last), requires_grad=False
        )
        self.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=False)
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

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.weight_t = nn.Parameter(conv.weight.detach().flatten(1).t().contiguous(), requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        rows = x.permute(0, 2, 3, 1).reshape(n * h * w, c)  # a view when x is channels-last
        y = torch.addmm(self.bias, rows, self.weight_t).relu_()
        return y.view(n, h, w, -1).permute(0, 3, 1, 2)  # channels-last (n, c', h, w) view


class FastCNN(nn.Module):
    """Patches ``(n, 96, 64)`` -> ``(embeddings (n, 1024), logits (n, 521))``, like ``YAMNetCNN``, faster."""

    def __init__(self, cnn: YAMNetCNN) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for module in cnn.layers:
            conv = module.conv
            if conv.kernel_size == (1, 1):
                layers.append(_Pointwise(conv))
            else:
                layers.append(_Spatial(conv, module.stride))
        self.layers = nn.Sequential(*layers)
        self.dense_weight_t = nn.Parameter(cnn.dense.weight.detach().t().contiguous(), requires_grad=False)
        self.dense_bias = nn.Parameter(cnn.dense.bias.detach().clone(), requires_grad=False)
        self.eval()

    def forward(self, patches: Tensor) -> tuple[Tensor, Tensor]:
        x = patches.unsqueeze(1) if patches.dim() == 3 else patches
        x = x.contiguous(memory_format=torch.channels_last)
        x = self.layers(x)
        embeddings = x.mean(dim=(-2, -1))
        return embeddings, torch.addmm(self.dense_bias, embeddings, self.dense_weight_t)
