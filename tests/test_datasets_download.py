"""Checksummed download, safe extraction and the GTZAN install, all offline (file:// URLs)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.datasets.download import ArchiveError, DownloadError, download_file, extract_archive
from musicgenre.datasets.gtzan import (
    GTZAN_GENRES,
    GTZAN_MD5,
    GTZAN_URLS,
    MARKER_NAME,
    download_gtzan,
    is_gtzan_complete,
)
from musicgenre.datasets.index import scan_dataset


def _au_bytes(seed: int, seconds: float = 0.1) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    sf.write(buf, 0.1 * rng.standard_normal(int(22050 * seconds)), 22050, format="AU", subtype="PCM_16")
    return buf.getvalue()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _gtzan_like_tarball(
    path: Path, genres: tuple[str, ...] = ("blues", "jazz", "rock"), per_genre: int = 2
) -> str:
    """A small ``genres.tar.gz`` with GTZAN's inner layout; returns its md5."""
    with tarfile.open(path, "w:gz") as tar:
        for gi, g in enumerate(genres):
            for i in range(per_genre):
                _add_bytes(tar, f"genres/{g}/{g}.{i:05d}.au", _au_bytes(100 * gi + i))
        _add_bytes(tar, "genres/bl.mf", b"genres/blues/blues.00000.au\tblues\n")  # Marsyas collection file
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_pinned_gtzan_source() -> None:
    assert GTZAN_URLS[0] == "http://opihi.cs.uvic.ca/sound/genres.tar.gz"
    assert all(u.endswith("/genres.tar.gz") for u in GTZAN_URLS)
    assert re.fullmatch(r"[0-9a-f]{32}", GTZAN_MD5)
    assert GTZAN_GENRES == (
        "blues",
        "classical",
        "country",
        "disco",
        "hiphop",
        "jazz",
        "metal",
        "pop",
        "reggae",
        "rock",
    )


def test_download_file_verifies_and_skips(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello world" * 1000)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "out" / "file.bin"
    assert download_file(src.as_uri(), dest, md5=md5, sha256=sha, progress=False) == dest
    assert dest.read_bytes() == src.read_bytes()
    # already present with the right checksum: not fetched again (the source may even be gone)
    src.unlink()
    assert download_file(src.as_uri(), dest, md5=md5, progress=False) == dest
    assert sorted(p.name for p in dest.parent.iterdir()) == ["file.bin"]


def test_download_file_bad_checksum_leaves_nothing(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"some bytes")
    actual = hashlib.md5(b"some bytes").hexdigest()
    dest = tmp_path / "out" / "file.bin"
    with pytest.raises(DownloadError) as err:
        download_file(src.as_uri(), dest, md5="0" * 32, progress=False)
    msg = str(err.value)
    assert "md5 checksum mismatch" in msg and f"expected {'0' * 32}" in msg and f"got {actual}" in msg
    assert src.as_uri() in msg
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # the temporary .part file is gone too


def test_download_file_bad_checksum_keeps_previous_file(tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"new content")
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"old content")
    with pytest.raises(DownloadError, match="sha256 checksum mismatch"):
        download_file(src.as_uri(), dest, sha256="f" * 64, progress=False)
    assert dest.read_bytes() == b"old content"


def test_download_file_unreachable_url(tmp_path: Path) -> None:
    missing = (tmp_path / "missing.tar.gz").as_uri()
    with pytest.raises(DownloadError, match=re.escape(missing)):
        download_file(missing, tmp_path / "x.tar.gz", progress=False)
    assert not (tmp_path / "x.tar.gz").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_download_gtzan_from_file_url(tmp_path: Path) -> None:
    tarball = tmp_path / "mirror" / "genres.tar.gz"
    tarball.parent.mkdir()
    md5 = _gtzan_like_tarball(tarball)
    root = tmp_path / "project"
    music = download_gtzan(root, url=tarball.as_uri(), md5=md5, progress=False)
    assert music == root / "data" / "music"
    index = scan_dataset(music)
    assert index.genres == ["blues", "jazz", "rock"]
    assert [t.track_id for t in index.tracks][:2] == ["blues.00000", "blues.00001"]
    assert len(index) == 6 and not index.skipped  # the .mf collection file is not installed
    marker = json.loads((music / MARKER_NAME).read_text())
    assert marker["md5"] == md5 and marker["total"] == 6
    assert not (root / "data" / "genres.tar.gz").exists()  # archive removed after install
    assert [p.name for p in (root / "data").iterdir()] == ["music"]  # no temporary folders left
    assert is_gtzan_complete(music)

    # complete: a second call does not download (the mirror can be gone)
    moved = tarball.with_name("elsewhere.tar.gz")
    tarball.rename(moved)
    assert download_gtzan(root, url=tarball.as_uri(), md5=md5, progress=False) == music

    # a missing file makes the install incomplete: the next call downloads and restores it
    victim = music / "jazz" / "jazz.00001.au"
    original = victim.read_bytes()
    victim.unlink()
    assert not is_gtzan_complete(music)
    with pytest.raises(DownloadError):
        download_gtzan(root, url=tarball.as_uri(), md5=md5, progress=False)
    moved.rename(tarball)
    download_gtzan(root, url=tarball.as_uri(), md5=md5, progress=False, keep_archive=True)
    assert victim.read_bytes() == original
    assert (root / "data" / "genres.tar.gz").is_file()


def test_download_gtzan_bad_checksum(tmp_path: Path) -> None:
    tarball = tmp_path / "genres.tar.gz"
    md5 = _gtzan_like_tarball(tarball)
    root = tmp_path / "project"
    with pytest.raises(DownloadError, match=f"expected {'1' * 32}, got {md5}"):
        download_gtzan(root, url=tarball.as_uri(), md5="1" * 32, progress=False)
    assert not (root / "data" / "music").exists()
    assert list((root / "data").iterdir()) == []


def test_download_gtzan_default_md5_applies_to_custom_url(tmp_path: Path) -> None:
    """A mirror URL without an md5 must serve the pinned GTZAN archive."""
    tarball = tmp_path / "genres.tar.gz"
    _gtzan_like_tarball(tarball)
    with pytest.raises(DownloadError, match=f"expected {GTZAN_MD5}"):
        download_gtzan(tmp_path / "project", url=tarball.as_uri(), progress=False)


def test_is_gtzan_complete_without_marker(tmp_path: Path) -> None:
    music = tmp_path / "music"
    for g in GTZAN_GENRES:
        (music / g).mkdir(parents=True)
        for i in range(100):
            (music / g / f"{g}.{i:05d}.au").touch()
    assert is_gtzan_complete(music)
    (music / "rock" / "rock.00042.au").unlink()
    assert not is_gtzan_complete(music)


# -- extraction safety --------------------------------------------------------------------------------


def _evil_tar(path: Path, member: tarfile.TarInfo, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        _add_bytes(tar, "genres/blues/blues.00000.au", b"ok")
        if member.isfile():
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
        else:
            tar.addfile(member)
    return path


@pytest.mark.parametrize("name", ["../evil.txt", "genres/../../evil.txt", "/tmp/musicgenre-evil-abs.txt"])
def test_extract_rejects_path_traversal(tmp_path: Path, name: str) -> None:
    archive = _evil_tar(tmp_path / "evil.tar.gz", tarfile.TarInfo(name))
    dest = tmp_path / "a" / "b"
    with pytest.raises(ArchiveError, match="refusing"):
        extract_archive(archive, dest)
    assert not (tmp_path / "a" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/musicgenre-evil-abs.txt").exists()
    assert not (dest / "genres").exists()  # nothing extracted: members are checked before writing


def test_extract_rejects_links_outside(tmp_path: Path) -> None:
    link = tarfile.TarInfo("genres/blues/link.au")
    link.type = tarfile.SYMTYPE
    link.linkname = "../../../outside.txt"
    with pytest.raises(ArchiveError, match="link"):
        extract_archive(_evil_tar(tmp_path / "sym.tar.gz", link), tmp_path / "dest")
    dev = tarfile.TarInfo("genres/blues/dev")
    dev.type = tarfile.CHRTYPE
    with pytest.raises(ArchiveError, match="special file"):
        extract_archive(_evil_tar(tmp_path / "dev.tar.gz", dev), tmp_path / "dest2")


def test_extract_zip_and_rejects_zip_traversal(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    with zipfile.ZipFile(good, "w") as zf:
        zf.writestr("genres/pop/pop.00000.au", b"data")
    assert (
        extract_archive(good, tmp_path / "out") / "genres" / "pop" / "pop.00000.au"
    ).read_bytes() == b"data"
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../evil.txt", b"x")
    with pytest.raises(ArchiveError, match="leaves the target folder"):
        extract_archive(evil, tmp_path / "out2")
    assert not (tmp_path / "evil.txt").exists()


def test_extract_corrupt_archive(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not an archive at all")
    with pytest.raises(ArchiveError, match="cannot extract"):
        extract_archive(bad, tmp_path / "out")
