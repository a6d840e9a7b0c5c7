"""Odd dataset trees (issue 9, cases 4, 5 and 8): shared file names, unreadable folders, broken links."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.datasets.index import scan_dataset
from musicgenre.datasets.validate import validate_dataset
from musicgenre.errors import DatasetError

SR = 8000


def _au(path: Path, freq: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR) / SR
    sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t), SR, format="AU", subtype="PCM_16")
    return path


def test_same_file_name_in_two_genre_folders_keeps_every_file(tmp_path: Path) -> None:
    root = tmp_path / "data"
    for genre in ("blues", "rock"):
        _au(root / genre / "01.au")
        _au(root / genre / f"{genre}-only.au")
    _au(root / "rock" / "01.wav")  # the same stem twice in one folder too
    index = scan_dataset(root)
    ids = [t.track_id for t in index.tracks]
    assert len(index.tracks) == 5 and len(set(ids)) == 5 and not index.skipped
    assert {"blues.01", "rock.01.au", "rock.01.wav", "blues-only", "rock-only"} == set(ids)
    report = validate_dataset(root, progress=False, min_tracks_per_genre=1)
    assert report.n_usable == 5 and report.usable == {"blues": 2, "rock": 3}
    assert "empty-genre" not in report.kinds() and "duplicate-id" not in report.kinds()
    assert len(report.kinds()["renamed-id"]) == 3


def test_broken_links_are_reported(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _au(root / "blues" / "a.au")
    _au(root / "rock" / "b.au")
    (root / "blues" / "gone.au").symlink_to(tmp_path / "nowhere.au")
    (root / "rock" / "loop.au").symlink_to(root / "rock" / "loop.au")
    index = scan_dataset(root)
    assert len(index.tracks) == 2
    reasons = {p.name: why for p, why in index.skipped}
    assert "dangling" in reasons["gone.au"] and "loop" in reasons["loop.au"]
    report = validate_dataset(root, progress=False, min_tracks_per_genre=1)
    broken = {p.name for p in report.kinds()["broken-link"]}
    assert broken == {"gone.au", "loop.au"}
    assert all(p.severity == "warning" for p in report.problems if p.kind == "broken-link")


_SCAN = "import sys; from musicgenre.datasets.index import scan_dataset; scan_dataset(sys.argv[1])"


def test_unreadable_genre_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "data"
    _au(root / "blues" / "a.au")
    _au(root / "rock" / "b.au")
    locked = root / "rock"
    locked.chmod(0)
    try:
        cmd = [sys.executable, "-c", _SCAN, str(root)]
        if os.geteuid() == 0:  # root reads every folder: drop the capabilities that let it
            if shutil.which("setpriv") is None:
                pytest.skip("running as root without setpriv: cannot make a folder unreadable")
            cmd = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    finally:
        locked.chmod(0o755)
    assert proc.returncode != 0
    assert (
        "DatasetError" in proc.stderr
        and f"{locked}: cannot read this folder (permission denied)" in proc.stderr
    )


def _without_root_override(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a file unreadable")
    return ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--", *cmd]


def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    """Issue 9, case 13: libsndfile called it "System error."."""
    song = _au(tmp_path / "song.au")
    song.chmod(0)
    code = "import sys; from musicgenre.audio.io import load_audio; load_audio(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    cmd = _without_root_override([sys.executable, "-c", code, str(song)])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode != 0 and f"{song}: cannot read file (Permission denied)" in proc.stderr


def test_unreadable_folder_error_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same through ``os.walk``'s error, without needing privileges to drop."""
    root = tmp_path / "data"
    _au(root / "rock" / "b.au")

    def walk(top, onerror=None, **kw):
        onerror(PermissionError(13, "Permission denied", str(top)))
        return iter(())

    monkeypatch.setattr(os, "walk", walk)
    with pytest.raises(DatasetError, match=r"rock: cannot read this folder \(permission denied\)"):
        scan_dataset(root)
