"""Checksummed downloads (standard library only: urllib, hashlib).

A download streams to a temporary file beside the destination, is verified, and only then renamed to its
final name, so an interrupted or corrupt download never leaves a half file under the final name.
``file://`` URLs work like any other (tests and offline mirrors use them). Datasets
(:mod:`musicgenre.datasets.download`) and model files (:mod:`musicgenre.yamnet.weights`) both use it.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from tqdm import tqdm

from musicgenre.errors import MusicGenreError
from musicgenre.fileio import atomic_path

CHUNK_SIZE = 1 << 20
USER_AGENT = "musicgenre-downloader/0.1 (+https://pypi.org/project/musicgenre)"


class DownloadError(MusicGenreError):
    """A download that failed: network error, HTTP error, or checksum mismatch."""


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
    with atomic_path(dest, suffix=".part") as tmp:
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DownloadError(f"{url}: download failed ({reason_of(exc)})") from None
        with response, open(tmp, "wb") as out:
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
                        raise DownloadError(f"{url}: download interrupted ({reason_of(exc)})") from None
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
    return dest


def reason_of(exc: BaseException) -> str:
    """A short reason for a network or HTTP failure."""
    reason = getattr(exc, "reason", None)
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    return str(reason or exc) or type(exc).__name__
