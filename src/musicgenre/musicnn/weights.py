"""Where musicnn's weights come from (:data:`MUSICNN`, a :class:`~musicgenre.pretrained.WeightsFamily`).

musicnn's published weights (Pons & Serra, ISC licence) are TensorFlow checkpoints inside the ``musicnn``
wheel on PyPI, which cannot be a dependency (it pins ``tensorflow`` and ``numpy<1.17``).
``musicgenre download musicnn`` (:func:`musicgenre.musicnn.download.download_musicnn`) fetches the wheel,
checks its SHA-256 and extracts ``MSD_musicnn/`` and ``MTT_musicnn/`` into ``<weights_dir>/musicnn/``.

The weights are a *folder* holding ``MSD_musicnn/`` and ``MTT_musicnn/`` (each ``.index`` +
``.data-00000-of-00001``; the wheel's own ``musicnn/`` package folder qualifies too). Resolution is that of
every family (:meth:`~musicgenre.pretrained.WeightsFamily.resolve`): ``--musicnn-weights DIR`` (``weights=``
in Python), ``MUSICGENRE_MUSICNN_WEIGHTS``, the cached download (checked against the official content id),
``<shared>/models/musicnn``; there is no implicit download: a missing folder is an error that says to run
``musicgenre download musicnn``. The content id (``sha1``) of a folder is the SHA-1 of the sorted lines
``<git blob id> <relative path>`` of its four checkpoint files, so it names the weights whatever the path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from musicgenre.errors import WeightsNotFoundError
from musicgenre.pretrained import PretrainedBundle, WeightsFamily, WeightsFormat, weights_sha1

ENV_VAR = "MUSICGENRE_MUSICNN_WEIGHTS"
WHEEL_REQUIREMENT = "musicnn==0.1.0"
WHEEL_NAME = "musicnn-0.1.0-py3-none-any.whl"
#: SHA-256 of musicnn-0.1.0-py3-none-any.whl on PyPI.
WHEEL_SHA256 = "f38a4890c648c1ddbb141c5d96d2b0a8cfcd36746002d896989f7b88beb65cfa"
#: The checkpoints ported (one folder each), and the files of each that hold the weights.
MODELS = ("MSD_musicnn", "MTT_musicnn")
CHECKPOINT_FILES = (".index", ".data-00000-of-00001")
#: Content id (see the module docstring) of the folder the official wheel extracts to.
OFFICIAL_SHA1 = "0bc6f6193cdc89675fd089d762e159f24f3a4bb1"
KIND = "tf-checkpoint"
CACHE_NAME = "musicnn"
SHARED_RELPATH = "models/musicnn"


def checkpoint_files(folder: Path) -> list[Path]:
    """The four checkpoint files of a weights folder, in a fixed order."""
    return [folder / model / name for model in MODELS for name in CHECKPOINT_FILES]


@lru_cache(maxsize=16)
def _folder_sha1(folder: str, stamp: tuple[tuple[int, int], ...]) -> str:
    lines = [
        f"{weights_sha1(p)} {p.relative_to(folder).as_posix()}\n" for p in checkpoint_files(Path(folder))
    ]
    return hashlib.sha1("".join(lines).encode()).hexdigest()


def folder_sha1(folder: str | Path) -> str:
    """Content id of a weights folder, cached per (path, sizes, mtimes) within the process."""
    folder = Path(folder)
    files = checkpoint_files(folder)
    missing = [str(p.relative_to(folder)) for p in files if not p.is_file()]
    if missing:
        raise WeightsNotFoundError(
            f"{folder}: not musicnn weights: missing {', '.join(missing)}. {MUSICNN.not_found_message()}"
        )
    stamp = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    return _folder_sha1(str(folder), stamp)


@dataclass(frozen=True)
class FolderWeightsFamily(WeightsFamily):
    """A family whose weights are a folder of checkpoints, fetched by a command rather than a URL."""

    fetch_command: str = ""  # what to run to get the weights, for messages

    def is_weights(self, path: Path) -> bool:
        return path.is_dir()

    def content_sha1(self, path: Path) -> str:
        return folder_sha1(path)

    def fetch(self, dest: Path) -> Path:
        raise WeightsNotFoundError(self.not_found_message())

    @property
    def official_identity(self) -> str:
        return f"{KIND}:{self.sha1}"

    def kind_of(self, path: str | Path) -> str:
        path = Path(path)
        if not all(p.is_file() for p in checkpoint_files(path)):
            folders = " and ".join(f"{m}/" for m in MODELS)
            raise WeightsNotFoundError(
                f"{path}: not {self.title} weights (needs {folders} with {' and '.join(CHECKPOINT_FILES)})"
            )
        return KIND

    def bundle(self, path: str | Path, origin: str = "argument") -> PretrainedBundle:
        p = Path(path).expanduser()
        if not p.is_dir():
            raise WeightsNotFoundError(f"{p}: no such folder. {self.not_found_message()}")
        return PretrainedBundle(self, p, self.kind_of(p), origin)

    def not_found_message(self) -> str:
        return (
            f"{self.title} weights not found. Run `{self.fetch_command}` (it fetches the {self.publisher} wheel "
            f"{WHEEL_REQUIREMENT} from the package index and extracts its checkpoints to {self.cache_path()}), "
            f"or point --{self.name}-weights DIR (weights=DIR in Python) or {self.env_var}=DIR at a folder "
            f"holding {' and '.join(f'{m}/' for m in MODELS)}. {self.shared_note} works too, and is picked up "
            f"from {self.shared_path()}."
        )


MUSICNN = FolderWeightsFamily(
    name="musicnn",
    title="musicnn",
    env_var=ENV_VAR,
    formats=(WeightsFormat(KIND, (), b""),),
    url=f"pip download {WHEEL_REQUIREMENT}",
    sha1=OFFICIAL_SHA1,
    cache_name=CACHE_NAME,
    publisher="musicnn (Pons & Serra, ISC licence)",
    shared_relpath=SHARED_RELPATH,
    shared_note="A copy of the extracted folder",
    loader="musicgenre.musicnn.model:get_model",
    fetch_command="musicgenre download musicnn",
)


def resolve_weights(
    path: str | Path | PretrainedBundle | None = None, *, identity: str | None = None
) -> PretrainedBundle:
    """musicnn's weights: ``MUSICNN.resolve`` (see :meth:`musicgenre.pretrained.WeightsFamily.resolve`)."""
    return MUSICNN.resolve(path, identity=identity)
