"""NaN and huge values (issue 9, case 7): caught when a file is read or its features are computed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from musicgenre.audio.segment import SegmentConfig
from musicgenre.datasets.index import scan_dataset
from musicgenre.datasets.validate import validate_dataset
from musicgenre.features import extract_many, make_config
from musicgenre.store import build_stores

SR = 8000
SEG = SegmentConfig(sample_rate=SR, clip_seconds=2.0, segment_seconds=1.0)


def _tree(root: Path, huge: bool) -> Path:
    t = np.arange(2 * SR) / SR
    for genre, f in (("blues", 300.0), ("rock", 500.0)):
        (root / genre).mkdir(parents=True)
        for i in range(2):
            x = (0.3 * np.sin(2 * np.pi * (f + 50 * i) * t)).astype(np.float32)
            sf.write(root / genre / f"{genre}.{i}.wav", x, SR, subtype="FLOAT")
    if huge:  # finite, but 1e18: its features overflow to NaN
        sf.write(
            root / "rock" / "rock.9.wav", (np.sin(t * 900) * 1e18).astype(np.float32), SR, subtype="FLOAT"
        )
    return root


def test_huge_samples_are_an_error_in_validate_and_features(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data", huge=True)
    bad = root / "rock" / "rock.9.wav"
    report = validate_dataset(root, progress=False)
    (problem,) = [p for p in report.problems if p.path == bad]
    assert (
        problem.severity == "error"
        and problem.kind == "out-of-range"
        and "beyond full scale" in problem.problem
    )
    stores = build_stores(scan_dataset(root), [make_config("mfcc")], SEG, cache_root=tmp_path / "c", workers=1,
                          progress=False)  # fmt: skip
    (store,) = stores.values()
    assert np.isfinite(np.asarray(store.features)).all()
    assert [e[0] for e in store.errors] == ["rock/rock.9.wav"] and "beyond full scale" in store.errors[0][1]


def nan_for_rock_1(configs, segments, sample_rate):
    out = extract_many(configs, segments, sample_rate)
    if np.abs(segments).max() > 0 and np.allclose(segments[0][:4], _ROCK_1[:4]):
        out = {k: np.full_like(v, np.nan) for k, v in out.items()}
    return out


_ROCK_1 = (0.3 * np.sin(2 * np.pi * 550.0 * np.arange(2 * SR) / SR)).astype(np.float32)


def test_non_finite_features_are_rejected_naming_the_file(tmp_path: Path) -> None:
    root = _tree(tmp_path / "data", huge=False)
    stores = build_stores(scan_dataset(root), [make_config("mfcc")], SEG, cache_root=tmp_path / "c", workers=1,
                          progress=False, extract=nan_for_rock_1)  # fmt: skip
    (store,) = stores.values()
    assert np.isfinite(np.asarray(store.features)).all()
    assert [e[0] for e in store.errors] == ["rock/rock.1.wav"]
    assert "feature mfcc is not finite" in store.errors[0][1]
