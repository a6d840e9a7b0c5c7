"""Checksummed downloads and safe archive extraction (standard library only: urllib, hashlib, tarfile).

A download streams to a temporary file beside the destination, is verified, and only then renamed to its
final name, so an interrupted or corrupt download never leaves a half file under the final name.
``file://`` URLs work like any other (tests and offline mirrors use them).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from musicgenre.errors import DatasetError

CHUNK_SIZE = 1 << 20
USER_AGENT = "musicgenre-downloader/0.1 (+https://pypi.org/project/musicgenre)"


class DownloadError(DatasetError):
    """A download that failed: network error, HTTP error, or checksum mismatch."""


class ArchiveError(DatasetError):
    """An archive that cannot be extracted: unknown format, corrupt, or an unsafe member path."""


def file_digest(path: str | Path, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in 1 MiB chunks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_SIZE), b""):
            h.update(chunk)
    return h.hexdigest()


def _expected(md5: str | None, sha256: str | None) -> dict[str, str]:
    out = {}
    if md5:
        out["md5"] = md5.strip().lower()
    if sha256:
        out["sha256"] = sha256.strip().lower()
    return out


def verify_file(path: str | Path, *, md5: str | None = None, sha256: str | None = None) -> bool:
    """True when ``path`` exists and matches every checksum given (and at least one is given)."""
    path = Path(path)
    expected = _expected(md5, sha256)
    if not expected or not path.is_file():
        return False
    return all(file_digest(path, algo) == value for algo, value in expected.items())


def download_file(
    url: str,
    dest: str | Path,
    *,
    md5: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` and verify its checksum(s); returns ``dest``.

    When ``dest`` already exists and matches the given checksum(s), nothing is downloaded. The data goes
    to a temporary file in ``dest``'s folder first; on any failure (network, HTTP, checksum mismatch,
    interruption) the temporary file is removed and ``dest`` is left as it was.

    Raises:
        DownloadError: the URL cannot be fetched, or the checksum differs (the message names the expected
            and the actual value).
    """
    dest = Path(dest)
    expected = _expected(md5, sha256)
    if expected and verify_file(dest, md5=md5, sha256=sha256):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    hashes = {algo: hashlib.new(algo) for algo in expected}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DownloadError(f"{url}: download failed ({_reason(exc)})") from None
        with response, os.fdopen(fd, "wb") as out:
            fd = -1
            total = response.headers.get("Content-Length") if response.headers else None
            total = int(total) if total and total.isdigit() else None
            with tqdm(
                total=total,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=dest.name,
                disable=not progress,
                leave=False,
            ) as bar:
                while True:
                    try:
                        chunk = response.read(CHUNK_SIZE)
                    except (OSError, urllib.error.URLError) as exc:
                        raise DownloadError(f"{url}: download interrupted ({_reason(exc)})") from None
                    if not chunk:
                        break
                    out.write(chunk)
                    for h in hashes.values():
                        h.update(chunk)
                    bar.update(len(chunk))
            if total is not None and out.tell() != total:
                raise DownloadError(f"{url}: download incomplete ({out.tell()} of {total} bytes)")
        for algo, want in expected.items():
            got = hashes[algo].hexdigest()
            if got != want:
                raise DownloadError(
                    f"{url}: {algo} checksum mismatch: expected {want}, got {got} "
                    "(the file is corrupt or not the expected version; it was not kept)"
                )
        os.replace(tmp, dest)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        tmp.unlink(missing_ok=True)
        raise
    return dest


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    return str(reason or exc) or type(exc).__name__


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
