"""Where torch work runs: ``--device auto|cpu|cuda|mps``.

:func:`resolve_device` turns a name into a :class:`torch.device` (``auto``: CUDA, then MPS, then the CPU;
``cuda`` or ``mps`` where there is none is a one-line :class:`~musicgenre.errors.MusicGenreError`).

The device reaches the feature extractors through :func:`use_device` / :func:`current_device`, a context
variable, so that the registry's ``extract(config, segments, sample_rate)`` contract stays as it is and the
device never enters a feature config (the feature cache key): a cache made on a GPU is the cache of a CPU
run. The CLI sets it once per command (:func:`musicgenre.cli.common.runtime_options`); the feature store's
worker processes get it through their initializer. Outside such a scope the current device is the CPU, so
library callers get today's behaviour unless they ask.

Training, evaluation and prediction take an explicit ``device`` argument (``None``: :func:`current_device`).
On CUDA, training and inference run under :func:`autocast` (bfloat16 where the GPU has it, else float16
with a :func:`grad_scaler`). On the CPU nothing changes unless a training precision other than float32 is
asked for (``TrainConfig.precision``, ``--precision``; :func:`resolve_precision`): the default float32 CPU
runs stay bit-identical to earlier ones. ``bfloat16`` runs the forward passes of training and validation
under ``torch.autocast("cpu", dtype=torch.bfloat16)`` (loss, gradients, the optimizer step and the weights
stay float32); ``auto`` does so only for the model kinds of :data:`AUTO_BF16_MODELS` and only on a CPU with
native bfloat16 instructions (:func:`cpu_has_native_bf16`), and is float32 elsewhere.
Checkpoints hold CPU tensors (:func:`cpu_state_dict`) and load with ``map_location="cpu"``, so they do not
depend on the device they were made on.

torch is imported inside the functions, so that ``musicgenre --help`` does not import it.

The CUDA and MPS paths are tested only through their plumbing (availability monkeypatched, on the CPU):
they have not been run on GPU hardware here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from musicgenre.errors import MusicGenreError

if TYPE_CHECKING:
    import torch

#: The values of ``--device``.
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")

#: The values of ``--precision`` (``TrainConfig.precision``): the CPU training precision.
PRECISION_CHOICES = ("float32", "bfloat16", "auto")

#: Model kinds whose CPU training ``auto`` runs in bfloat16: measured faster under bfloat16 autocast on
#: a CPU with native bfloat16 (AMD EPYC, avx512_bf16, training at 1 thread: cnn2d 2.5x, cnn1d 1.4x, bilstm
#: 1.5-1.8x, combined 1.8-2.5x, waveform_cnn 4x; at 2 threads the small cnn1d/bilstm rows gain little or
#: nothing, the others 2-3.4x; see benchmarks/results/training.md).
AUTO_BF16_MODELS = frozenset({"cnn2d", "cnn1d", "bilstm", "combined", "waveform_cnn"})

#: /proc/cpuinfo flags of native bfloat16 arithmetic (AVX-512 BF16, AMX).
_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})

_CURRENT: ContextVar[str] = ContextVar("musicgenre_device", default="cpu")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The :class:`torch.device` of ``name``: ``auto`` (or ``None``) picks CUDA, then MPS, then the CPU;
    ``cpu``, ``cuda``, ``cuda:N`` and ``mps`` are checked for availability."""
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    text = (name or "auto").strip().lower()
    kind = text.split(":", 1)[0]
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise MusicGenreError(
                f"--device {text}: CUDA is not available here (torch {torch.__version__}, "
                f"built for CUDA {torch.version.cuda or 'none'}); use --device auto or cpu"
            )
        return torch.device(text)
    if kind == "mps":
        if not _mps_available():
            raise MusicGenreError(
                "--device mps: Apple's MPS backend is not available here; use --device auto or cpu"
            )
        return torch.device("mps")
    raise MusicGenreError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")


def current_device() -> torch.device:
    """The device set by the innermost :func:`use_device` (the CPU outside any)."""
    return resolve_device(_CURRENT.get())


def device_or_current(device: str | torch.device | None) -> torch.device:
    """``device`` resolved, or :func:`current_device` when it is ``None``."""
    return current_device() if device is None else resolve_device(device)


@contextlib.contextmanager
def use_device(name: str | torch.device) -> Iterator[torch.device]:
    """Run the block with ``name`` (checked and resolved here, once) as :func:`current_device`."""
    device = resolve_device(name)
    token = _CURRENT.set(str(device))
    try:
        yield device
    finally:
        _CURRENT.reset(token)


def current_device_name() -> str:
    """The name held by the context (for handing it to worker processes)."""
    return _CURRENT.get()


def set_current_device(name: str) -> None:
    """Set the current device for the rest of this process (feature-store worker initializers)."""
    _CURRENT.set(name)


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """The mixed-precision dtype on ``device``: CUDA bfloat16 where supported, else float16; ``None``
    (full float32) elsewhere."""
    import torch

    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, precision: str = "float32") -> contextlib.AbstractContextManager[Any]:
    """``torch.autocast`` on CUDA (:func:`amp_dtype`); on the CPU bfloat16 autocast when ``precision`` is
    ``"bfloat16"`` (a resolved precision, see :func:`resolve_precision`); a no-op elsewhere."""
    import torch

    if device.type == "cpu" and precision == "bfloat16":
        return torch.autocast(device_type="cpu", dtype=torch.bfloat16)
    dtype = amp_dtype(device)
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def check_precision(precision: str) -> str:
    """``precision`` if it is one of :data:`PRECISION_CHOICES`, else ``ValueError``."""
    if precision not in PRECISION_CHOICES:
        raise ValueError(f"precision must be one of {', '.join(PRECISION_CHOICES)}; got {precision!r}")
    return precision


def _cpu_flags() -> frozenset[str]:
    try:
        text = open("/proc/cpuinfo", encoding="utf-8", errors="replace").read()  # noqa: SIM115
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_bf16_flags() -> bool:
    """Whether ``/proc/cpuinfo``'s flags show native bfloat16 units (AVX-512 BF16 or AMX-BF16); False where
    there is no ``/proc/cpuinfo``. The one reader of those flags (YAMNet's precision uses it too)."""
    return bool(_cpu_flags() & _BF16_FLAGS)


def cpu_has_native_bf16() -> bool:
    """Whether this CPU has native bfloat16 arithmetic (:func:`cpu_bf16_flags`) and torch has oneDNN to
    use it. Elsewhere bfloat16 is emulated and slower, so ``auto`` stays float32."""
    import torch

    return bool(torch.backends.mkldnn.is_available()) and cpu_bf16_flags()


def resolve_precision(precision: str, model_name: str | None = None) -> str:
    """The concrete CPU training precision (``"float32"`` or ``"bfloat16"``) of a ``TrainConfig.precision``.

    ``auto``: bfloat16 for the model kinds of :data:`AUTO_BF16_MODELS` on a CPU with native bfloat16
    (:func:`cpu_has_native_bf16`), float32 otherwise. It applies to CPU training; on CUDA the existing
    mixed precision (:func:`amp_dtype`) is used whatever it says.
    """
    check_precision(precision)
    if precision != "auto":
        return precision
    if model_name in AUTO_BF16_MODELS and cpu_has_native_bf16():
        return "bfloat16"
    return "float32"


def grad_scaler(device: torch.device) -> Any:
    """A ``torch.amp.GradScaler`` where training runs in float16 (CUDA without bfloat16), else ``None``."""
    import torch

    if amp_dtype(device) is not torch.float16:
        return None
    return torch.amp.GradScaler(device.type)


def to_device(tensors: Mapping[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Every tensor of ``tensors`` on ``device`` (the same objects on the CPU)."""
    if device.type == "cpu":
        return dict(tensors)
    return {k: v.to(device, non_blocking=True) for k, v in tensors.items()}


def cpu_state_dict(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s weights and buffers (what checkpoints and resume states hold),
    contiguous whatever the memory format the model trained in."""
    import torch

    return {
        k: v.detach().to("cpu", copy=True, memory_format=torch.contiguous_format)
        for k, v in model.state_dict().items()
    }
