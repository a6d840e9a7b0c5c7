"""The model registry: name -> builder, plus which inputs each model accepts.

Every model is an ``nn.Module`` whose ``forward(inputs)`` takes a dict ``{input_name: tensor (B, *shape)}``
and returns logits ``(B, n_classes)`` (softmax is applied by the loss and at prediction time). Input shapes
come from the feature configs, never from hard-coded numbers.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

#: builder(input_shapes, n_classes, **options) -> nn.Module
ModelBuilder = Callable[..., nn.Module]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model kind.

    Attributes:
        name: registry key, used on the CLI (``--model``).
        builder: ``builder(input_shapes: dict[str, tuple[int, ...]], n_classes: int, **options)``.
        description: one line for ``--help``.
        min_inputs / max_inputs: how many inputs the model takes (combined models take several).
        input_ndim: accepted per-item ranks (e.g. {1} for waveform, {2} for (time, features)); None = any.
        trainer: "torch" (gradient descent) or "sklearn" (fitted, then stored as torch weights).
    """

    name: str
    builder: ModelBuilder
    description: str
    min_inputs: int = 1
    max_inputs: int = 1
    input_ndim: frozenset[int] | None = None
    trainer: str = "torch"


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(
    name: str,
    *,
    description: str,
    input_ndim: frozenset[int] | None = None,
    min_inputs: int = 1,
    max_inputs: int = 1,
    trainer: str = "torch",
) -> Callable[[ModelBuilder], ModelBuilder]:
    """Decorator: register the decorated ``builder(input_shapes, n_classes, **options)`` as model ``name``.

    :func:`build_model` checks the input count and ranks against these before calling the builder, so
    builders get valid shapes. The built-in models register themselves when :mod:`musicgenre.models`
    imports their modules.
    """

    def decorate(builder: ModelBuilder) -> ModelBuilder:
        _REGISTRY[name] = ModelSpec(name, builder, description, min_inputs, max_inputs, input_ndim, trainer)
        return builder

    return decorate


def model_names() -> list[str]:
    """Names of all registered models, for CLI choices."""
    return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    """Look a model up by name; the error lists the known ones."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}") from None


def build_model(
    name: str, input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any
) -> nn.Module:
    """Build model ``name`` for the given inputs, after checking the input count, each input's rank and
    that no axis is empty (the one place these are checked)."""
    spec = get_model_spec(name)
    n = len(input_shapes)
    if not spec.min_inputs <= n <= spec.max_inputs:
        raise ValueError(
            f"model {name!r} takes {spec.min_inputs}..{spec.max_inputs} inputs, got {n}: {list(input_shapes)}"
        )
    shapes = {inp: tuple(int(s) for s in shape) for inp, shape in input_shapes.items()}
    for inp, shape in shapes.items():
        if spec.input_ndim is not None and len(shape) not in spec.input_ndim:
            raise ValueError(
                f"model {name!r} does not accept input {inp!r} of shape {shape} "
                f"(rank {len(shape)}; accepted ranks {sorted(spec.input_ndim)})"
            )
        if any(s <= 0 for s in shape):
            raise ValueError(f"model {name!r}: input {inp!r} has an empty axis: {shape}")
    return spec.builder(shapes, n_classes, **options)
