"""``musicgenre download musicnn``: fetch the ``musicnn`` wheel, check it, extract its checkpoints.

The wheel comes from the package index through ``python -m pip download`` (so the user's index settings,
proxies and mirrors apply), or from ``wheel=`` (a path or an http(s)/``file://`` URL, for offline mirrors
and tests). Its SHA-256 is checked before anything is extracted. The checkpoint folders (``MSD_musicnn/``,
``MTT_musicnn/``) and the licence are extracted to a temporary folder beside the destination, which is then
renamed into place, so an interrupted download never leaves a half folder under the final name.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

from musicgenre import settings
from musicgenre.datasets.download import _check_member_name, temporary_directory
from musicgenre.download import DownloadError, download_file, file_digest
from musicgenre.errors import WeightsNotFoundError
from musicgenre.musicnn.weights import (
    CACHE_NAME,
    MODELS,
    OFFICIAL_SHA1,
    WHEEL_REQUIREMENT,
    WHEEL_SHA256,
    folder_sha1,
)

#: What is kept of the wheel: the checkpoint folders and the licence (ISC: the notice travels with the weights).
PACKAGE_DIR = "musicnn"
LICENCE_SUFFIX = ".dist-info/LICENSE.md"


def pip_download(requirement: str, dest: Path) -> Path:
    """``python -m pip download REQUIREMENT --no-deps`` into ``dest``; returns the wheel it saved."""
    cmd = [sys.executable, "-m", "pip", "download", requirement, "--no-deps"]
    cmd += ["--no-binary", ":none:", "-d", str(dest)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise DownloadError(
            f"cannot run pip ({exc}); download {requirement} yourself and pass --url"
        ) from None
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
        raise DownloadError(f"`{' '.join(cmd[2:])}` failed (exit {proc.returncode}):\n{tail}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise DownloadError(
            f"`pip download {requirement}` saved no wheel in {dest}: {sorted(dest.iterdir())}"
        )
    return wheels[0]


def _members(wheel: Path, zf: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The wheel's members to keep, with their path inside the weights folder."""
    out = []
    for info in zf.infolist():
        _check_member_name(wheel, info.filename)
        p = PurePosixPath(info.filename)
        if info.is_dir() or p.name == ".meta":  # the graph definition is not needed
            continue
        if len(p.parts) >= 3 and p.parts[0] == PACKAGE_DIR and p.parts[1] in MODELS:
            out.append((info, PurePosixPath(*p.parts[1:])))
        elif info.filename.endswith(LICENCE_SUFFIX) and len(p.parts) == 2:
            out.append((info, PurePosixPath("LICENSE.md")))
    found = {rel.parts[0] for _, rel in out}
    missing = [m for m in MODELS if m not in found]
    if missing:
        raise DownloadError(f"{wheel}: no {', '.join(f'{PACKAGE_DIR}/{m}/' for m in missing)} in the wheel")
    return out


def extract_weights(wheel: Path, dest: Path) -> Path:
    """Extract the checkpoint folders of ``wheel`` to ``dest``, atomically (temporary folder, then rename)."""
    try:
        zf = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DownloadError(f"{wheel}: not a wheel (zip) file ({exc})") from None
    with zf, temporary_directory(dest.parent, f".{dest.name}.") as tmp:
        staged = tmp / dest.name
        for info, rel in _members(wheel, zf):
            target = staged / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out)
        old = tmp / "previous"
        if dest.exists():
            dest.rename(old)  # moved aside, deleted with the temporary folder
        try:
            staged.rename(dest)
        except OSError:
            if old.exists():
                old.rename(dest)
            raise
    return dest


def _holds_official(dest: Path) -> bool:
    try:
        return dest.is_dir() and folder_sha1(dest) == OFFICIAL_SHA1
    except WeightsNotFoundError:
        return False


def download_musicnn(
    dest: str | Path | None = None,
    *,
    wheel: str | Path | None = None,
    sha256: str | None = WHEEL_SHA256,
    requirement: str = WHEEL_REQUIREMENT,
    force: bool = False,
) -> Path:
    """Fetch the musicnn wheel, check its SHA-256, and extract its weights to ``dest``; returns ``dest``.

    ``dest`` defaults to ``<settings.weights_dir()>/musicnn``. ``wheel`` is a local wheel file or a URL
    (http(s) or ``file://``) to use instead of ``pip download``; ``sha256=None`` skips the check. When
    ``dest`` already holds the official weights (and no other wheel is asked for), nothing is fetched
    unless ``force``.

    Raises:
        DownloadError: pip or the download failed, the checksum differs, or the wheel lacks the checkpoints.
    """
    dest = Path(dest) if dest is not None else settings.weights_dir() / CACHE_NAME
    if not force and wheel is None and sha256 == WHEEL_SHA256 and _holds_official(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with temporary_directory(dest.parent, f".{dest.name}-wheel.") as tmp:
        if wheel is None:
            path = pip_download(requirement, tmp)
        elif "://" in str(wheel):
            path = download_file(str(wheel), tmp / "musicnn.whl")
        else:
            path = Path(wheel)
            if not path.is_file():
                raise DownloadError(f"{path}: no such wheel file")
        if sha256 is not None:
            got = file_digest(path, "sha256")
            if got != sha256.lower():
                raise DownloadError(
                    f"{path}: sha256 checksum mismatch: expected {sha256}, got {got} (not the musicnn "
                    "wheel this toolkit was verified with; nothing was extracted)"
                )
        return extract_weights(path, dest)
