"""Where YAMNet's weights come from: resolve, download, verify, load.

Resolution order (:func:`resolve_weights`), first hit wins:

1. an explicit path (``--weights PATH`` on the CLI, ``weights=`` in the API, the feature config's ``weights``);
2. the environment variable ``MUSICGENRE_YAMNET_WEIGHTS``;
3. the cached download ``<weights_dir>/yamnet.h5`` (``settings.weights_dir()``, i.e.
   ``~/.cache/musicgenre/weights`` unless ``MUSICGENRE_CACHE`` says otherwise), verified by its git blob id;
4. Google's int8 TFLite file in the shared folder, ``<shared>/models/yamnet/yamnet_int8.tflite``;
5. a download of ``https://storage.googleapis.com/audioset/yamnet.h5`` into the weights folder (written to a
   temporary file, verified, then renamed);
6. otherwise :class:`~musicgenre.errors.WeightsNotFoundError`, saying what to download, from where, and
   which flag or variable points at it.

The format is told by the suffix (``.h5``/``.hdf5`` Keras, ``.tflite``) or, failing that, by the file's
magic bytes.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from musicgenre import settings
from musicgenre.download import DownloadError, download_file
from musicgenre.errors import WeightsNotFoundError
from musicgenre.fileio import atomic_path
from musicgenre.yamnet.network import FusedWeights

ENV_VAR = "MUSICGENRE_YAMNET_WEIGHTS"
YAMNET_H5_URL = "https://storage.googleapis.com/audioset/yamnet.h5"
#: Git blob id of Google's yamnet.h5: ``sha1(b"blob %d\0" % len(data) + data)``.
YAMNET_H5_GIT_SHA1 = "b504399ec042e18b74c0045b8ff8a42c99f05e76"
H5_FILENAME = "yamnet.h5"
TFLITE_RELPATH = Path("models") / "yamnet" / "yamnet_int8.tflite"

KERAS = "keras-float"
TFLITE = "tflite-int8"

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass(frozen=True)
class WeightsSource:
    """A resolved weights file: its path, format (``kind``) and how it was found (``origin``)."""

    path: Path
    kind: str  # "keras-float" or "tflite-int8"
    origin: str  # "argument", "environment", "cache", "shared", "download"

    def describe(self) -> str:
        """One line for logs and the CLI."""
        return f"{self.path} ({self.kind}, from {self.origin})"


def git_blob_sha1(data: bytes) -> str:
    """Git's blob id of ``data``: ``sha1(b"blob <len>\\0" + data)``."""
    h = hashlib.sha1(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


def file_git_blob_sha1(path: str | Path) -> str:
    """:func:`git_blob_sha1` of a file, read in chunks."""
    path = Path(path)
    h = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=32)
def _cached_sha1(path: str, size: int, mtime_ns: int) -> str:
    return file_git_blob_sha1(path)


def weights_id(path: str | Path) -> str:
    """Git blob id of a weights file, cached per (path, size, mtime) within the process."""
    st = Path(path).stat()
    return _cached_sha1(str(path), st.st_size, st.st_mtime_ns)


def weights_kind(path: str | Path) -> str:
    """``"keras-float"`` or ``"tflite-int8"``, from the suffix or the magic bytes."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".keras"):
        return KERAS
    if suffix == ".tflite":
        return TFLITE
    try:
        with path.open("rb") as f:
            head = f.read(8)
    except OSError as exc:
        raise WeightsNotFoundError(f"{path}: cannot read weights ({exc.strerror or exc})") from None
    if head == _HDF5_MAGIC:
        return KERAS
    if head[4:8] == b"TFL3":
        return TFLITE
    raise WeightsNotFoundError(f"{path}: neither a Keras .h5 nor a .tflite file")


def not_found_message() -> str:
    """What to do when no weights are available."""
    return (
        "YAMNet weights not found. Download Google's float weights "
        f"{YAMNET_H5_URL} (git blob sha1 {YAMNET_H5_GIT_SHA1}) and either put it at "
        f"{settings.weights_dir() / H5_FILENAME}, pass --weights PATH (weights=PATH in Python), or set "
        f"{ENV_VAR}=PATH. Google's int8 file yamnet_int8.tflite works too, and is picked up from "
        f"{settings.shared_dir() / TFLITE_RELPATH}."
    )


def download_weights(
    url: str | None = None,
    dest: str | Path | None = None,
    sha1: str | None = YAMNET_H5_GIT_SHA1,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` (default Google's yamnet.h5) to ``dest`` (default ``<weights_dir>/yamnet.h5``), verified.

    :func:`musicgenre.download.download_file` fetches it to a temporary name beside ``dest``; it is renamed
    into place only after its git blob id matches ``sha1``, so a failed or interrupted download never leaves
    a bad file behind. ``file://`` URLs work (tests use them). Raises :class:`WeightsNotFoundError` on
    network errors or a checksum mismatch.
    """
    url = url or YAMNET_H5_URL
    dest = Path(dest) if dest is not None else settings.weights_dir() / H5_FILENAME
    print(f"musicgenre: downloading {url} to {dest} (once)", file=sys.stderr, flush=True)
    with atomic_path(dest, suffix=".unverified") as part:
        try:
            download_file(url, part, timeout=timeout)
        except DownloadError as exc:
            raise WeightsNotFoundError(f"cannot download {exc}. {not_found_message()}") from None
        if part.stat().st_size == 0:
            raise WeightsNotFoundError(f"downloaded an empty file from {url}")
        if sha1 is not None:
            got = file_git_blob_sha1(part)
            if got != sha1:
                raise WeightsNotFoundError(
                    f"checksum mismatch for {url}: git blob sha1 {got}, expected {sha1}; file discarded"
                )
    return dest


def resolve_weights(path: str | Path | None = None, *, download: bool = True) -> WeightsSource:
    """Find YAMNet's weights in the order given in the module docstring.

    ``download=False`` stops before the network step (used to name caches without side effects).
    """
    if path is not None and str(path) != "":
        p = Path(path).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"{p}: no such weights file. {not_found_message()}")
        return WeightsSource(p, weights_kind(p), "argument")
    env = os.environ.get(ENV_VAR)
    if env:
        p = Path(env).expanduser()
        if not p.is_file():
            raise WeightsNotFoundError(f"{ENV_VAR}={env}: no such weights file. {not_found_message()}")
        return WeightsSource(p, weights_kind(p), "environment")
    cached = settings.weights_dir() / H5_FILENAME
    if cached.is_file():
        if weights_id(cached) != YAMNET_H5_GIT_SHA1:
            raise WeightsNotFoundError(
                f"{cached}: not Google's yamnet.h5 (git blob sha1 {weights_id(cached)}, expected "
                f"{YAMNET_H5_GIT_SHA1}); delete it to download it again, or point {ENV_VAR} elsewhere"
            )
        return WeightsSource(cached, KERAS, "cache")
    shared = settings.shared_dir() / TFLITE_RELPATH
    if shared.is_file():
        return WeightsSource(shared, TFLITE, "shared")
    if download:
        return WeightsSource(download_weights(YAMNET_H5_URL, cached, YAMNET_H5_GIT_SHA1), KERAS, "download")
    raise WeightsNotFoundError(not_found_message())


def load_weights(source: WeightsSource | str | Path | None = None) -> FusedWeights:
    """Fused runtime weights from a resolved source, a path, or (None) the default resolution."""
    if not isinstance(source, WeightsSource):
        source = resolve_weights(source)
    if source.kind == KERAS:
        from musicgenre.yamnet.keras_weights import load_keras_weights

        return load_keras_weights(source.path)
    from musicgenre.yamnet.tflite_weights import load_tflite_weights

    return load_tflite_weights(source.path)
