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


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry."""
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_builtin() -> None:
    import musicgenre.models.builtin  # noqa: F401


def model_names() -> list[str]:
    """Names of all registered models, for CLI choices."""
    _ensure_builtin()
    return sorted(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    """Look a model up by name; the error lists the known ones."""
    _ensure_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown model {name!r}; known models: {', '.join(sorted(_REGISTRY))}") from None


def build_model(
    name: str, input_shapes: Mapping[str, tuple[int, ...]], n_classes: int, **options: Any
) -> nn.Module:
    """Build model ``name`` for the given inputs; checks the input count and ranks first."""
    spec = get_model_spec(name)
    n = len(input_shapes)
    if not spec.min_inputs <= n <= spec.max_inputs:
        raise ValueError(
            f"model {name!r} takes {spec.min_inputs}..{spec.max_inputs} inputs, got {n}: {list(input_shapes)}"
        )
    if spec.input_ndim is not None:
        for inp, shape in input_shapes.items():
            if len(shape) not in spec.input_ndim:
                raise ValueError(
                    f"model {name!r} does not accept input {inp!r} of shape {tuple(shape)} "
                    f"(rank {len(shape)}; accepted ranks {sorted(spec.input_ndim)})"
                )
    return spec.builder(dict(input_shapes), n_classes, **options)
