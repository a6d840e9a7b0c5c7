"""Atomic file writes and JSON: the one way the toolkit writes a file.

Every file is written to a unique temporary name beside its target (``.<name>.<random>.tmp``), then renamed
over it. So a reader sees the old file or the new one, never half of one; an interruption leaves the
target as it was; and two processes writing the same file never share a temporary name (the last rename
wins, and both copies are complete). The result has the usual permissions (``0o666`` less the umask), not
the ``0o600`` of a bare ``mkstemp``, so another user of a shared run folder can read it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

TMP_SUFFIX = ".tmp"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = TMP_SUFFIX) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` for a writer that needs a file name (``torch.save``, a memmap).

    When the block ends without an exception, the temporary file gets the usual permissions and is renamed
    over ``path``; otherwise it is removed and ``path`` is left untouched. Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_write(path: str | Path, mode: str = "w", **open_kwargs: Any) -> Iterator[IO[Any]]:
    """``open(path, mode)`` for writing, made atomic: ``path`` changes only when the block succeeds.

    ``mode`` is ``"w"`` (text, UTF-8 unless ``encoding`` is given) or ``"wb"``; ``open_kwargs`` go to
    :func:`open` (``newline=""`` for CSV).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write: mode must be 'w' or 'wb', not {mode!r}")
    if mode == "w":
        open_kwargs.setdefault("encoding", "utf-8")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as f:
        yield f


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns ``path``."""
    with atomic_write(path, "wb") as f:
        f.write(data)
    return Path(path)


def json_default(o: Any) -> Any:
    """JSON for the values the toolkit writes besides the built-ins: numpy values, paths and dataclasses."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, set | frozenset):
        return sorted(o)
    if dataclasses.is_dataclass(o) and not isinstance(o, type):
        return finite_json(dataclasses.asdict(o))
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def finite_json(obj: Any) -> Any:
    """``obj`` with NaN and infinite floats (numpy's too) replaced by None, the JSON ``null``."""
    if isinstance(obj, float | np.floating):
        return float(obj) if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return finite_json(obj.tolist())
    return obj


def dumps(obj: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``obj`` as JSON text with :func:`json_default`, ending in a newline; always valid JSON: NaN and
    infinities are written as ``null`` (:func:`finite_json`), never as the bare ``NaN`` of Python's json."""
    text = json.dumps(
        finite_json(obj), indent=indent, sort_keys=sort_keys, default=json_default, allow_nan=False
    )
    return text + "\n"


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2, sort_keys: bool = False) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (see :func:`dumps`); returns ``path``."""
    return write_text(path, dumps(obj, indent=indent, sort_keys=sort_keys))


def read_json(path: str | Path) -> Any:
    """The JSON value stored in ``path``."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
