"""Dataset validation: every kind of broken file, and the real gtzan-mini."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.datasets.validate import validate_dataset
from musicgenre.errors import DatasetError

SR = 22050


def _tone(seconds: float = 1.0, sr: int = SR, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t)
    return x if channels == 1 else np.stack([x, 0.5 * x], axis=1)


def _au(path: Path, x: np.ndarray, sr: int = SR) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x, sr, format="AU", subtype="PCM_16")
    return path


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    _au(root / "blues" / "blues.00000.au", _tone())  # good
    _au(root / "blues" / "blues.00001.au", np.zeros(SR))  # silent: usable, warning
    (root / "blues" / "notes.txt").write_text("liner notes")  # not audio: ignored, warning
    (root / "blues" / "blues.00002.au").write_text("this is a text file renamed to .au\n" * 20)  # unreadable
    _au(root / "classical" / "classical.00000.au", _tone())  # good
    full = _au(root / "classical" / "classical.00001.au", _tone(2.0)).read_bytes()
    (root / "classical" / "classical.00001.au").write_bytes(full[: len(full) // 2])  # truncated
    (root / "classical" / "classical.00002.au").write_bytes(b"")  # zero-length
    root.joinpath("country").mkdir()
    sf.write(
        root / "country" / "country.00000.wav", _tone(1.0, 48000, 2), 48000, subtype="PCM_16"
    )  # stereo 48k
    bad = _tone(0.5).astype(np.float32)
    bad[100] = np.nan
    sf.write(root / "country" / "country.00001.wav", bad, SR, subtype="FLOAT")  # NaN samples
    (root / "disco").mkdir()  # empty genre folder
    (root / "README.txt").write_text("about this dataset")  # outside genre folders: info
    return root


def test_validate_messy_tree(messy: Path) -> None:
    report = validate_dataset(messy, progress=False)
    by_path = {p.path.relative_to(messy).as_posix(): p for p in report.problems}
    kinds = {k: sorted(p.relative_to(messy).as_posix() for p in v) for k, v in report.kinds().items()}

    assert kinds["unreadable"] == ["blues/blues.00002.au"]
    assert kinds["zero-length"] == ["classical/classical.00002.au"]
    assert kinds["non-finite"] == ["country/country.00001.wav"]
    assert kinds["silent"] == ["blues/blues.00001.au"]
    assert kinds["not-audio"] == ["blues/notes.txt"]
    assert kinds["truncated"] == ["classical/classical.00001.au"]
    assert kinds["empty-genre"] == ["disco"]
    assert kinds["outside-genre"] == ["README.txt"]
    assert kinds["sample-rate"] == ["country/country.00000.wav"]
    assert kinds["channels"] == ["country/country.00000.wav"]

    for rel in ("blues/blues.00002.au", "classical/classical.00002.au", "country/country.00001.wav"):
        assert by_path[rel].severity == "error"
    assert by_path["blues/blues.00001.au"].severity == "warning"
    assert by_path["blues/notes.txt"].severity == "warning"
    assert by_path["disco"].severity == "warning"
    assert by_path["README.txt"].severity == "info"
    assert all(p.severity == "info" for p in report.problems if p.kind in ("sample-rate", "channels"))

    # A truncated file is an error when the loader refuses it, a warning when it decodes what is there;
    # either way the report's usable set agrees with the severity.
    trunc = by_path["classical/classical.00001.au"]
    usable_paths = {t.path.relative_to(messy).as_posix() for t in report.usable_tracks}
    assert ("classical/classical.00001.au" in usable_paths) == (trunc.severity == "warning")
    assert "2.00 s" in trunc.problem or "promises" in trunc.problem

    assert {"blues/blues.00000.au", "blues/blues.00001.au", "classical/classical.00000.au"} <= usable_paths
    assert "country/country.00000.wav" in usable_paths  # stereo 48 kHz is fine
    assert report.usable["blues"] == 2 and report.usable["country"] == 1 and report.usable["disco"] == 0
    assert report.genres == ["blues", "classical", "country", "disco"]
    assert report.n_files == 8
    # country has 1 usable track (< 2): too few to split by track; disco is empty (its own warning)
    assert kinds["few-tracks"] == (["classical", "country"] if trunc.severity == "error" else ["country"])
    assert report.ok
    assert report.sample_rates[48000] == 1 and report.channels[2] == 1
    expected = 1.0 + 1.0 + 1.0 + 1.0 + (1.0 if trunc.severity == "warning" else 0.0)
    assert report.total_duration == pytest.approx(expected, abs=0.01)

    text = report.format()
    assert "ERROR" in text and "blues/blues.00002.au" in text and "Result: OK" in text
    d = json.loads(json.dumps(report.to_dict()))
    assert d["ok"] is True and d["n_usable"] == report.n_usable
    assert d["counts"]["error"] == len(report.errors)
    assert {p["kind"] for p in d["problems"]} >= {"unreadable", "zero-length", "silent"}


def test_validate_single_worker_matches(messy: Path) -> None:
    a = validate_dataset(messy, progress=False, workers=1)
    b = validate_dataset(messy, progress=False, workers=2)
    assert a.to_dict() == b.to_dict()


def test_nothing_usable_is_not_ok(tmp_path: Path) -> None:
    root = tmp_path / "data"
    (root / "rock").mkdir(parents=True)
    (root / "rock" / "rock.00000.au").write_bytes(b"")
    (root / "rock" / "rock.00001.wav").write_text("nope")
    report = validate_dataset(root, progress=False)
    assert not report.ok and report.n_usable == 0
    assert "FAILED" in report.format()


def test_a_single_genre_is_not_ok(tmp_path: Path) -> None:
    """Issue 9, item 13: usable tracks in one genre only leave nothing to classify; validate said OK."""
    root = tmp_path / "data"
    _au(root / "rock" / "rock.00000.au", _tone())
    _au(root / "rock" / "rock.00001.au", _tone())
    (root / "jazz").mkdir()  # an empty second genre does not help
    report = validate_dataset(root, progress=False)
    assert report.n_usable == 2 and not report.ok
    assert report.usable_genres == ["rock"]
    [single] = [p for p in report.errors if p.kind == "single-genre"]
    assert single.path == root and "only one genre (rock)" in single.problem
    assert "nothing to classify" in single.problem
    text = report.format()
    assert "Result: FAILED (only one genre (rock) has usable tracks: nothing to classify)" in text
    assert "Result: OK" not in text
    assert report.to_dict()["ok"] is False
    _au(root / "jazz" / "jazz.00000.au", _tone())
    report = validate_dataset(root, progress=False)
    assert report.ok and "single-genre" not in report.kinds() and report.to_dict()["failure"] is None


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no such directory"):
        validate_dataset(tmp_path / "absent", progress=False)


def test_validate_real_gtzan_mini(gtzan_mini: Path) -> None:
    report = validate_dataset(gtzan_mini, progress=False)
    assert report.ok
    assert report.n_files == 100 and report.n_usable == 100
    assert report.genres == sorted(report.genres) and len(report.genres) == 10
    assert set(report.usable.values()) == {10}
    assert report.problems == []  # the 15-20 s clips have consistent headers: not truncated
    assert report.sample_rates == {22050: 100} and report.channels == {1: 100}
    # ids 00000-00006 are the full ~30 s clips (70 files), 00007-00009 the first 15-20 s (30 files)
    assert 70 * 29.9 + 30 * 15.0 < report.total_duration < 70 * 30.5 + 30 * 20.0
