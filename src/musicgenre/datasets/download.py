"""Dataset downloads: the checksummed downloader (:mod:`musicgenre.download`) and safe archive extraction."""

from __future__ import annotations

import contextlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from musicgenre.download import CHUNK_SIZE, DownloadError, download_file, file_digest, verify_file
from musicgenre.errors import DatasetError

__all__ = [
    "CHUNK_SIZE",
    "ArchiveError",
    "DownloadError",
    "download_file",
    "extract_archive",
    "file_digest",
    "temporary_directory",
    "verify_file",
]


class ArchiveError(DatasetError):
    """An archive that cannot be extracted: unknown format, corrupt, or an unsafe member path."""


def _check_member_name(archive: Path, name: str) -> None:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"{archive}: refusing to extract member with an absolute path: {name!r}")
    if ".." in p.parts:
        raise ArchiveError(f"{archive}: refusing to extract member that leaves the target folder: {name!r}")


def _is_within(base: Path, target: Path) -> bool:
    try:
        target.relative_to(base)
    except ValueError:
        return False
    return True


def _safe_tar_members(archive: Path, tar: tarfile.TarFile, dest: Path) -> list[tarfile.TarInfo]:
    members = []
    for m in tar.getmembers():
        _check_member_name(archive, m.name)
        if m.issym() or m.islnk():
            link = PurePosixPath(m.linkname)
            resolved = (dest / PurePosixPath(m.name).parent / link) if m.issym() else (dest / link)
            if link.is_absolute() or not _is_within(dest.resolve(), Path(os.path.normpath(resolved))):
                raise ArchiveError(f"{archive}: refusing to extract link that points outside: {m.name!r}")
        elif not (m.isfile() or m.isdir()):
            raise ArchiveError(f"{archive}: refusing to extract special file {m.name!r}")
        members.append(m)
    return members


def extract_archive(path: str | Path, dest: str | Path) -> Path:
    """Extract a ``.tar``/``.tar.gz``/``.tgz``/``.tar.bz2``/``.tar.xz`` or ``.zip`` archive into ``dest``.

    Every member is checked before anything is written: absolute paths, ``..`` components, links that
    point outside ``dest`` and device files are refused with :class:`ArchiveError`. Tar archives are
    extracted with the standard library's ``"data"`` filter as a second line of defence.
    Returns ``dest``.
    """
    path, dest = Path(path), Path(dest)
    if not path.is_file():
        raise ArchiveError(f"{path}: archive not found")
    dest.mkdir(parents=True, exist_ok=True)
    if zipfile.is_zipfile(path):
        try:
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    _check_member_name(path, name)
                zf.extractall(dest)
        except zipfile.BadZipFile as exc:
            raise ArchiveError(f"{path}: corrupt zip archive ({exc})") from None
        return dest
    try:
        with tarfile.open(path, mode="r:*") as tar:
            members = _safe_tar_members(path, tar, dest)
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4; members were checked above
                tar.extractall(dest, members=members)
    except tarfile.FilterError as exc:
        raise ArchiveError(f"{path}: refusing unsafe archive member ({exc})") from None
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise ArchiveError(f"{path}: cannot extract archive ({exc})") from None
    return dest


@contextlib.contextmanager
def temporary_directory(parent: Path, prefix: str):
    """A temporary folder inside ``parent`` (same file system, so its contents can be renamed into place)."""
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
