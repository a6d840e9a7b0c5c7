"""Pretrained weights as values: one resolution order for every model family, and the resolved "bundle".

A :class:`WeightsFamily` (e.g. :data:`musicgenre.yamnet.weights.YAMNET`) says where one model's weights may
be found. :meth:`WeightsFamily.resolve` walks the places in the same order for every family; the first hit
wins:

1. an explicit path (``--yamnet-weights PATH`` on the CLI, ``weights=`` in the API);
2. the family's environment variable (e.g. ``MUSICGENRE_YAMNET_WEIGHTS``), read when resolving;
3. the cached official download ``<weights_dir>/<cache_name>`` (``settings.weights_dir()``, i.e.
   ``~/.cache/musicgenre/weights`` unless ``MUSICGENRE_CACHE`` says otherwise), verified by its git blob id;
4. the copy in the shared folder, ``<shared>/<shared_relpath>``;
5. a download of the official file into the weights folder (temporary name, verified, then renamed);
6. otherwise :class:`~musicgenre.errors.WeightsNotFoundError`, saying what to download, from where, and
   which flag or variable points at it.

The result is a :class:`PretrainedBundle`, after torchaudio's pipeline bundles: a frozen value naming the
family, the file, its format (``kind``), where it was found (``origin``) and its content (git blob id);
``bundle.get_model()`` loads the model. Resolve once, at the edge (CLI, ``GenreClassifier``), and pass the
bundle along; nothing in the package writes the environment.

With ``identity=`` (``"<kind>:<git blob id>"``, what a checkpoint or feature store was made with), an
explicit path or the environment variable must hold exactly those weights, else
:class:`~musicgenre.errors.WeightsMismatchError`; of the cached and shared files the first that holds them
wins, and the download only happens when the official file is the one wanted.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from musicgenre import settings
from musicgenre.errors import WeightsMismatchError, WeightsNotFoundError
from musicgenre.fileio import atomic_path

#: Where a bundle was found, in resolution order.
ORIGINS = ("argument", "environment", "cache", "shared", "download")


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


def weights_sha1(path: str | Path) -> str:
    """Git blob id of a weights file, cached per (path, size, mtime) within the process."""
    st = Path(path).stat()
    return _cached_sha1(str(path), st.st_size, st.st_mtime_ns)


def download_verified(
    url: str, dest: Path, sha1: str | None, *, timeout: float = 60.0, advice: str = ""
) -> Path:
    """Download ``url`` to ``dest``, renamed into place only once its git blob id matches ``sha1``.

    :func:`musicgenre.download.download_file` fetches it to a temporary name beside ``dest``, so a failed or
    interrupted download never leaves a bad file behind. ``file://`` URLs work (tests use them); ``sha1=None``
    skips the check. Raises :class:`WeightsNotFoundError` (ending with ``advice``) on network errors, an
    empty file or a checksum mismatch.
    """
    print(f"musicgenre: downloading {url} to {dest} (once)", file=sys.stderr, flush=True)
    from musicgenre.download import DownloadError, download_file  # here: urllib and ssl cost imports

    with atomic_path(dest, suffix=".unverified") as part:
        try:
            download_file(url, part, timeout=timeout)
        except DownloadError as exc:
            raise WeightsNotFoundError(f"cannot download {exc}. {advice}".rstrip()) from None
        if part.stat().st_size == 0:
            raise WeightsNotFoundError(f"downloaded an empty file from {url}")
        if sha1 is not None:
            got = file_git_blob_sha1(part)
            if got != sha1:
                raise WeightsNotFoundError(
                    f"checksum mismatch for {url}: git blob sha1 {got}, expected {sha1}; file discarded"
                )
    return dest


@dataclass(frozen=True)
class WeightsFormat:
    """One file format of a family: told by the suffix or, failing that, by magic bytes at an offset."""

    kind: str  # e.g. "keras-float"
    suffixes: tuple[str, ...]  # lower case, with the dot
    magic: bytes
    magic_offset: int = 0


@dataclass(frozen=True)
class WeightsFamily:
    """Where one model family's weights may be found, and how its model is loaded from a bundle."""

    name: str  # "yamnet": also names the CLI flag --<name>-weights
    title: str  # "YAMNet", for messages
    env_var: str
    formats: tuple[WeightsFormat, ...]
    url: str  # the official file
    sha1: str  # its git blob id
    cache_name: str  # its name in settings.weights_dir()
    publisher: str  # "Google", for messages
    shared_relpath: str  # a file in settings.shared_dir() that works too
    shared_note: str  # says what that file is, for messages
    loader: str  # "module:function" called as function(bundle, **options)

    # ---------------------------------------------------------------------------------------- places
    def cache_path(self) -> Path:
        return settings.weights_dir() / self.cache_name

    def shared_path(self) -> Path:
        return settings.shared_dir() / self.shared_relpath

    @property
    def official_identity(self) -> str:
        """Identity of the official download."""
        return f"{self.kind_of(Path(self.cache_name))}:{self.sha1}"

    # Hooks a family whose weights are a folder (musicnn's checkpoints) overrides; files are the default.
    def is_weights(self, path: Path) -> bool:
        """True when ``path`` is where weights of this family could be (a file, here)."""
        return path.is_file()

    def content_sha1(self, path: Path) -> str:
        """The content id of the weights at ``path`` (a file's git blob id, here)."""
        return weights_sha1(path)

    def fetch(self, dest: Path) -> Path:
        """Download the official weights to ``dest`` (resolution step 5)."""
        return download_verified(self.url, dest, self.sha1, advice=self.not_found_message())

    def kind_of(self, path: str | Path) -> str:
        """The format's ``kind``, from the suffix or the file's magic bytes."""
        path = Path(path)
        for fmt in self.formats:
            if path.suffix.lower() in fmt.suffixes:
                return fmt.kind
        try:
            with path.open("rb") as f:
                head = f.read(max(len(fmt.magic) + fmt.magic_offset for fmt in self.formats))
        except OSError as exc:
            raise WeightsNotFoundError(f"{path}: cannot read weights ({exc.strerror or exc})") from None
        for fmt in self.formats:
            if head[fmt.magic_offset : fmt.magic_offset + len(fmt.magic)] == fmt.magic:
                return fmt.kind
        kinds = " nor ".join(f"{fmt.kind} ({'/'.join(fmt.suffixes)})" for fmt in self.formats)
        raise WeightsNotFoundError(f"{path}: not {self.title} weights: neither {kinds}")

    def bundle(self, path: str | Path, origin: str = "argument") -> PretrainedBundle:
        """The bundle of an existing weights file."""
        p = Path(path).expanduser()
        if not self.is_weights(p):
            raise WeightsNotFoundError(f"{p}: no such weights file. {self.not_found_message()}")
        return PretrainedBundle(self, p, self.kind_of(p), origin)

    # ---------------------------------------------------------------------------------------- resolution
    def resolve(
        self,
        explicit: str | Path | PretrainedBundle | None = None,
        *,
        identity: str | None = None,
        download: bool = True,
    ) -> PretrainedBundle:
        """The weights to use, in the order of the module docstring; see there for ``identity``.

        ``download=False`` stops before the network step.
        """
        if isinstance(explicit, PretrainedBundle):
            if explicit.family.name != self.name:
                raise ValueError(
                    f"{explicit.describe()} are {explicit.family.title} weights, not {self.title}"
                )
            return self._check(explicit, identity)
        if explicit is not None and str(explicit) != "":
            return self._check(self.bundle(explicit, "argument"), identity)
        env = os.environ.get(self.env_var)
        if env:
            p = Path(env).expanduser()
            if not self.is_weights(p):
                raise WeightsNotFoundError(
                    f"{self.env_var}={env}: no such weights file. {self.not_found_message()}"
                )
            return self._check(PretrainedBundle(self, p, self.kind_of(p), "environment"), identity)
        found: list[PretrainedBundle] = []
        cached = self.cache_path()
        if self.is_weights(cached):
            sha1 = self.content_sha1(cached)
            if sha1 != self.sha1:
                raise WeightsNotFoundError(
                    f"{cached}: not {self.publisher}'s {self.cache_name} (git blob sha1 {sha1}, expected "
                    f"{self.sha1}); delete it to download it again, or point {self.env_var} elsewhere"
                )
            found.append(PretrainedBundle(self, cached, self.kind_of(cached), "cache", sha1))
        shared = self.shared_path()
        if self.is_weights(shared):
            found.append(PretrainedBundle(self, shared, self.kind_of(shared), "shared"))
        for bundle in found:
            if identity is None or bundle.identity == identity:
                return bundle
        if download and identity in (None, self.official_identity):
            path = self.fetch(cached)
            return PretrainedBundle(self, path, self.kind_of(path), "download", self.sha1)
        if found:
            raise WeightsMismatchError(self._mismatch(identity, found))
        raise WeightsNotFoundError(self._mismatch(identity, []) if identity else self.not_found_message())

    def _check(self, bundle: PretrainedBundle, identity: str | None) -> PretrainedBundle:
        if identity is not None and bundle.identity != identity:
            raise WeightsMismatchError(self._mismatch(identity, [bundle]))
        return bundle

    def _mismatch(self, identity: str | None, found: list[PretrainedBundle]) -> str:
        there = "; ".join(f"{b.describe()} holds {b.identity}" for b in found) or "none were found"
        return (
            f"{self.title} weights {identity} are needed (the model or features were made with them), but "
            f"{there}. Pass the weights file they were made with: --{self.name}-weights PATH "
            f"(weights=PATH in Python) or {self.env_var}=PATH"
        )

    def not_found_message(self) -> str:
        """What to do when no weights are available."""
        return (
            f"{self.title} weights not found. Download {self.publisher}'s weights {self.url} (git blob sha1 "
            f"{self.sha1}) and either put it at {self.cache_path()}, pass --weights PATH (--{self.name}-weights "
            f"PATH on features, train, study and predict; weights=PATH in Python), or set {self.env_var}=PATH. "
            f"{self.shared_note} works too, and is picked up from {self.shared_path()}."
        )


@dataclass(frozen=True)
class PretrainedBundle:
    """A resolved weights file of one family: what a pretrained model is made of, as a value.

    ``sha1`` (the file's git blob id) is computed when not given; ``identity`` (``"<kind>:<sha1>"``) names
    the weights whatever their path, and is what feature configs and checkpoints keep.
    """

    family: WeightsFamily = field(repr=False)
    path: Path
    kind: str
    origin: str  # one of ORIGINS
    sha1: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        if not self.sha1:
            object.__setattr__(self, "sha1", self.family.content_sha1(self.path))

    @property
    def identity(self) -> str:
        return f"{self.kind}:{self.sha1}"

    def describe(self) -> str:
        """One line for logs and the CLI."""
        return f"{self.path} ({self.kind}, from {self.origin})"

    def get_model(self, **options: Any) -> Any:
        """The family's model with these weights (process-wide, cached by the family's loader)."""
        module, _, function = self.family.loader.partition(":")
        return getattr(importlib.import_module(module), function)(self, **options)


# ------------------------------------------------------------------------------------------------ converted arrays
def converted_path(bundle: PretrainedBundle, family: str, version: int, part: str = "") -> Path:
    """Where the converted arrays of ``bundle`` are kept: ``<cache_dir>/<family>-converted/<kind>[-part]-<sha1>-v<version>.npz``.

    Named by the weights' content (``bundle.sha1``), so a changed file is converted again; ``version`` is
    bumped when a conversion changes.
    """
    name = f"{bundle.kind}{'-' + part if part else ''}-{bundle.sha1}-v{version}.npz"
    return settings.cache_dir() / f"{family}-converted" / name


def read_converted(path: Path) -> dict[str, Any] | None:
    """The arrays kept at ``path`` by :func:`write_converted`, or None when missing or unreadable."""
    import numpy as np

    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError, TypeError, EOFError):
        return None


def write_converted(path: Path, arrays: Mapping[str, Any]) -> None:
    """Keep ``arrays`` at ``path`` (temporary name, then renamed); a cache that cannot be written is skipped."""
    import numpy as np

    try:
        with atomic_path(path, suffix=".npz") as tmp:
            np.savez(tmp, **arrays)
    except (OSError, TypeError, ValueError):
        pass  # a read-only or full cache: convert again next time
