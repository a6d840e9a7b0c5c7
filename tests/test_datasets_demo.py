"""The synthetic demo dataset: layout, determinism, cheap re-runs, and that its genres are learnable."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from musicgenre.datasets import scan_dataset
from musicgenre.datasets.demo import MANIFEST_NAME, make_demo_dataset
from musicgenre.datasets.gtzan import GTZAN_GENRES
from musicgenre.datasets.validate import validate_dataset


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.glob("*/*.au"))}


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo"
    return make_demo_dataset(out, tracks_per_genre=2, clip_seconds=3.0, seed=7, progress=False)


def test_layout_and_format(small_demo: Path) -> None:
    index = scan_dataset(small_demo)
    assert index.genres == list(GTZAN_GENRES)
    assert [t.track_id for t in index.tracks[:2]] == ["blues.00000", "blues.00001"]
    assert len(index) == 20
    for t in index.tracks:
        info = sf.info(str(t.path))
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("AU", "PCM_16", 22050, 1)
        assert info.frames == 3 * 22050
        assert t.path.name == f"{t.genre}.{t.track_id.split('.')[1]}.au"
    readme = (small_demo / "README.txt").read_text()
    assert "synthetic" in readme.lower() and "NOT REAL MUSIC" in readme
    assert "seed:              7" in readme and "22050 Hz" in readme
    assert oct((small_demo / "blues" / "blues.00000.au").stat().st_mode & 0o777) != oct(0o600)


def test_same_seed_byte_identical_other_seed_differs(small_demo: Path, tmp_path: Path) -> None:
    again = make_demo_dataset(
        tmp_path / "again", tracks_per_genre=2, clip_seconds=3.0, seed=7, progress=False
    )
    assert _files(again) == _files(small_demo)
    other = make_demo_dataset(
        tmp_path / "other", tracks_per_genre=1, clip_seconds=3.0, seed=8, progress=False
    )
    a, b = _files(small_demo), _files(other)
    assert len(b) == 10
    assert all(a[name] != data for name, data in b.items())


def test_tracks_within_a_genre_differ(small_demo: Path) -> None:
    for g in GTZAN_GENRES:
        x0, _ = sf.read(small_demo / g / f"{g}.00000.au")
        x1, _ = sf.read(small_demo / g / f"{g}.00001.au")
        assert not np.allclose(x0, x1)
        for x in (x0, x1):
            assert 0.01 < np.sqrt(np.mean(x**2)) < 0.5  # audible, not clipped flat
            assert np.max(np.abs(x)) < 1.0


def test_rerun_skips_and_repairs(tmp_path: Path) -> None:
    out = make_demo_dataset(tmp_path / "d", tracks_per_genre=2, clip_seconds=2.0, seed=1, progress=False)
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*/*.au")}
    original = _files(out)
    make_demo_dataset(out, tracks_per_genre=2, clip_seconds=2.0, seed=1, progress=False)
    assert {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in out.glob("*/*.au")} == before  # untouched
    # a damaged file is rendered again
    victim = out / "jazz" / "jazz.00001.au"
    victim.write_bytes(b"garbage")
    (out / "rock" / "rock.00000.au").unlink()
    make_demo_dataset(out, tracks_per_genre=2, clip_seconds=2.0, seed=1, progress=False)
    assert _files(out) == original
    # fewer tracks: the demo files of the earlier run that are no longer part of it are removed
    make_demo_dataset(out, tracks_per_genre=1, clip_seconds=2.0, seed=1, progress=False)
    assert sorted(_files(out)) == sorted(f"{g}/{g}.00000.au" for g in GTZAN_GENRES)
    # and a track does not depend on how many tracks are generated
    assert _files(out) == {k: v for k, v in original.items() if k.endswith(".00000.au")}
    assert (out / MANIFEST_NAME).is_file()
    assert not [p for p in out.rglob("*.tmp")]


def test_demo_dataset_validates_clean(small_demo: Path) -> None:
    report = validate_dataset(small_demo, progress=False)
    assert report.ok and report.n_usable == 20
    assert [p.kind for p in report.problems] == ["outside-genre"]  # README.txt, info only


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_demo_dataset(tmp_path, tracks_per_genre=0, progress=False)
    with pytest.raises(ValueError):
        make_demo_dataset(tmp_path, clip_seconds=0, progress=False)


def _track_features(x: np.ndarray, sr: int) -> np.ndarray:
    """Mean and std over frames of a few spectral statistics (numpy only)."""
    n, hop = 1024, 512
    frames = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    mag = np.abs(np.fft.rfft(frames, axis=1)) + 1e-10
    f = np.fft.rfftfreq(n, 1.0 / sr)
    p = mag / mag.sum(axis=1, keepdims=True)
    centroid = (p * f).sum(axis=1)
    bandwidth = np.sqrt((p * (f - centroid[:, None]) ** 2).sum(axis=1))
    rolloff = f[np.argmax(np.cumsum(p, axis=1) >= 0.85, axis=1)]
    flatness = np.exp(np.log(mag).mean(axis=1)) / mag.mean(axis=1)
    loudness = np.log(np.sqrt((frames**2).mean(axis=1)) + 1e-6)
    low = np.log(mag[:, f < 200].sum(axis=1) / mag.sum(axis=1) + 1e-6)
    flux = np.log(np.maximum(np.diff(np.log(mag), axis=0), 0).mean(axis=1) + 1e-6)
    stats = [centroid / 1000, bandwidth / 1000, rolloff / 1000, flatness, loudness, low]
    return np.array([s.mean() for s in stats] + [s.std() for s in stats] + [flux.mean(), flux.std()])


def test_genres_are_separable_but_not_trivially(tmp_path: Path) -> None:
    out = make_demo_dataset(tmp_path / "sep", tracks_per_genre=8, clip_seconds=4.0, seed=3, progress=False)
    X, y = [], []
    for t in scan_dataset(out).tracks:
        x, sr = sf.read(t.path, dtype="float32")
        X.append(_track_features(x, sr))
        y.append(t.genre)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    scores = cross_val_score(
        clf, np.array(X), np.array(y), cv=StratifiedKFold(4, shuffle=True, random_state=0)
    )
    acc = float(scores.mean())
    # chance is 0.10 (this measured 0.55 when written); per-track variation (tempo, key, instruments, EQ,
    # noise, borrowed elements) keeps a 14-feature linear model well short of perfect
    assert 0.35 <= acc < 0.98, acc
