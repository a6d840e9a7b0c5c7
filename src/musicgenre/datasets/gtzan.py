"""GTZAN specifics: where the canonical tarball lives, its checksum, and the install layout.

The GTZAN genre collection (Tzanetakis & Cook, 2002) is distributed as ``genres.tar.gz`` (about 1.2 GB),
holding ``genres/<genre>/<genre>.000NN.au`` (10 genres x 100 clips, 30 s, 22050 Hz mono 16-bit) plus a few
Marsyas ``.mf`` collection files. :func:`download_gtzan` installs the clips as
``<dest_root>/data/music/<genre>/<genre>.000NN.au``, the layout the study uses.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from musicgenre.audio.io import is_audio_path
from musicgenre.datasets.download import DownloadError, download_file, extract_archive, temporary_directory
from musicgenre.errors import DatasetError
from musicgenre.fileio import write_json

#: The ten GTZAN genres, in the collection's (alphabetical) order.
GTZAN_GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
GTZAN_TRACKS_PER_GENRE = 100

# Source of the URL and checksums: the established loaders pin the same tarball.
# - mirdata, mirdata/datasets/gtzan_genre.py, REMOTES["all"]: url "http://opihi.cs.uvic.ca/sound/genres.tar.gz",
#   md5 "5b3d6dddb579ab49814ab86dba69e7c7".
# - torchaudio, torchaudio/datasets/gtzan.py, URL and _CHECKSUMS: the same URL, sha256
#   "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6" (used there as a hash prefix).
# The original UVic host is often unreachable, so the copy of the same tarball in the Hugging Face dataset
# ``marsyas/gtzan`` (data/genres.tar.gz) is tried next. Every URL must serve the file with the md5 above.
GTZAN_URLS = (
    "http://opihi.cs.uvic.ca/sound/genres.tar.gz",
    "https://huggingface.co/datasets/marsyas/gtzan/resolve/main/data/genres.tar.gz",
)
GTZAN_MD5 = "5b3d6dddb579ab49814ab86dba69e7c7"
#: For reference (torchaudio); not enforced, the md5 above is.
GTZAN_SHA256 = "24347e0223d2ba798e0a558c4c172d9d4a19c00bb7963fe055d183dadb4ef2c6"

# GTZAN's artist index (B. L. Sturm, "An Analysis of the GTZAN Music Genre Dataset", 2012): who is on each
# clip. The copy in the repository seungheondoh/gtzan-bind, pinned to a commit; the sha256 is of the file
# as it is in <shared>/data/gtzan-metadata (56,038 bytes, 1,000 entries).
GTZAN_INDEX_URL = (
    "https://raw.githubusercontent.com/seungheondoh/gtzan-bind/3f05b847d73cc26623733369b52359975b2f1639/"
    "dataset/rhythm/marchand2015swing/GTZANindex.txt"
)
GTZAN_INDEX_SHA256 = "7bc7140f082cccd72046ec7c6e9b9c211a7491f6e7ede38fddafc63058559833"
GTZAN_INDEX_NAME = "GTZANindex.txt"

#: Written into the music folder once an install is complete.
MARKER_NAME = ".musicgenre-gtzan.json"


def gtzan_music_dir(dest_root: str | Path) -> Path:
    """Where :func:`download_gtzan` installs the clips: ``<dest_root>/data/music``."""
    return Path(dest_root) / "data" / "music"


def _count_audio(music_dir: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if not music_dir.is_dir():
        return counts
    for gdir in sorted(p for p in music_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        n = sum(1 for f in gdir.iterdir() if f.is_file() and not f.name.startswith(".") and is_audio_path(f))
        if n:
            counts[gdir.name] = n
    return counts


def is_gtzan_complete(music_dir: str | Path) -> bool:
    """True when ``music_dir`` holds a complete install.

    Complete means: the per-genre file counts recorded by :func:`download_gtzan` are all present, or,
    for a folder installed by hand (no record), all 10 genres with 100 audio files each.
    """
    music_dir = Path(music_dir)
    counts = _count_audio(music_dir)
    marker = music_dir / MARKER_NAME
    if marker.is_file():
        try:
            expected = json.loads(marker.read_text(encoding="utf-8"))["tracks_per_genre"]
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return bool(expected) and all(counts.get(g, 0) >= int(n) for g, n in expected.items())
    return all(counts.get(g, 0) >= GTZAN_TRACKS_PER_GENRE for g in GTZAN_GENRES)


def _archive_name(url: str) -> str:
    name = Path(unquote(urlparse(url).path)).name
    return name or "genres.tar.gz"


def _find_genre_parent(root: Path) -> Path:
    """The folder whose sub-folders are genres (hold audio files), searched up to 3 levels down."""
    level = [root]
    for _ in range(4):
        for d in level:
            subdirs = [p for p in sorted(d.iterdir()) if p.is_dir() and not p.name.startswith(".")]
            if any(any(is_audio_path(f) for f in s.iterdir() if f.is_file()) for s in subdirs):
                return d
        level = [p for d in level for p in sorted(d.iterdir()) if p.is_dir() and not p.name.startswith(".")]
    raise DatasetError(f"{root}: the archive holds no <genre>/<audio files> folders")


def _install(src_parent: Path, music_dir: Path) -> dict[str, int]:
    """Move ``<src_parent>/<genre>/*`` into ``<music_dir>/<genre>/``; returns audio files per genre."""
    music_dir.mkdir(parents=True, exist_ok=True)
    for gdir in sorted(p for p in src_parent.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [f for f in gdir.iterdir() if f.is_file() and is_audio_path(f)]
        if not files:
            continue
        target = music_dir / gdir.name
        if not target.exists():
            os.replace(gdir, target)  # one atomic rename per genre
            continue
        for f in files:
            os.replace(f, target / f.name)
    return _count_audio(music_dir)


def download_gtzan(
    dest_root: str | Path,
    *,
    url: str | None = None,
    md5: str | None = None,
    progress: bool = True,
    keep_archive: bool = False,
) -> Path:
    """Download GTZAN's ``genres.tar.gz``, verify it, and install it as ``<dest_root>/data/music/<genre>/*.au``.

    Nothing is downloaded when the install is already complete (see :func:`is_gtzan_complete`).

    Args:
        dest_root: project or data root; the clips go to ``<dest_root>/data/music``.
        url: download from this URL (``http(s)://`` or ``file://``) instead of the pinned ones
            (:data:`GTZAN_URLS`, tried in order).
        md5: expected md5 of the archive. Defaults to :data:`GTZAN_MD5`, also for a custom ``url`` (a
            mirror must serve the same file); pass it for a different archive.
        progress: show tqdm progress bars.
        keep_archive: keep ``<dest_root>/data/<archive>`` after installing (default: delete it).

    Returns:
        The music folder, ``<dest_root>/data/music``.

    Raises:
        DownloadError: no URL worked or the checksum differs.
        DatasetError: the archive is unsafe, corrupt, or does not hold a complete GTZAN tree.
    """
    dest_root = Path(dest_root)
    music_dir = gtzan_music_dir(dest_root)
    if is_gtzan_complete(music_dir):
        return music_dir
    urls = [url] if url else list(GTZAN_URLS)
    md5 = (md5 or GTZAN_MD5).strip().lower()
    # The pinned archive must yield all 10 genres x 100 clips; another archive (own md5) at least one clip.
    full = md5 == GTZAN_MD5
    per_genre = GTZAN_TRACKS_PER_GENRE if full else 1
    data_dir = dest_root / "data"
    errors: list[str] = []
    archive: Path | None = None
    source = urls[0]
    for u in urls:
        try:
            archive = download_file(u, data_dir / _archive_name(u), md5=md5, progress=progress)
            source = u
            break
        except DownloadError as exc:
            errors.append(str(exc))
    if archive is None:
        hint = (
            "download genres.tar.gz by other means and pass it as url='file:///path/to/genres.tar.gz'"
            if url is None
            else "check the URL"
        )
        raise DownloadError("GTZAN download failed:\n  " + "\n  ".join(errors) + f"\n({hint})")

    with temporary_directory(data_dir, prefix=".gtzan-extract-") as tmp:
        extract_archive(archive, tmp)
        counts = _install(_find_genre_parent(tmp), music_dir)

    genres_expected = GTZAN_GENRES if full else tuple(counts)
    short = [g for g in genres_expected if counts.get(g, 0) < per_genre]
    if not counts or short:
        raise DatasetError(
            f"{archive}: incomplete GTZAN archive (audio files per genre: {counts}; expected at least "
            f"{per_genre} in each of {', '.join(genres_expected) or 'the genres'})"
        )
    marker = {
        "source": source,
        "md5": md5,
        "tracks_per_genre": counts,
        "total": sum(counts.values()),
    }
    write_json(music_dir / MARKER_NAME, marker, sort_keys=True)
    if not keep_archive:
        archive.unlink(missing_ok=True)
    return music_dir


def gtzan_index_path(dest_root: str | Path) -> Path:
    """Where :func:`download_gtzan_index` puts the artist index: ``<dest_root>/data/gtzan-metadata/GTZANindex.txt``."""
    return Path(dest_root) / "data" / "gtzan-metadata" / GTZAN_INDEX_NAME


def download_gtzan_index(
    dest_root: str | Path, *, url: str | None = None, sha256: str | None = None, progress: bool = True
) -> Path:
    """Download GTZAN's artist index (read it with :func:`musicgenre.datasets.artists.read_artists`).

    ``url`` replaces :data:`GTZAN_INDEX_URL` (``http(s)://`` or ``file://``, e.g. a mirror); the file must
    still match ``sha256`` (default :data:`GTZAN_INDEX_SHA256`). Nothing is downloaded when a verified
    copy is already there. Returns the file's path (see :func:`gtzan_index_path`).

    Raises:
        DownloadError: the URL cannot be fetched or the checksum differs.
    """
    return download_file(
        url or GTZAN_INDEX_URL,
        gtzan_index_path(dest_root),
        sha256=sha256 or GTZAN_INDEX_SHA256,
        progress=progress,
    )
