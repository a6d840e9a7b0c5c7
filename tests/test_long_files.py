"""Long files (issue 9, case 10): ``features`` and ``validate`` decode only the clip that is used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import musicgenre.audio.io as audio_io
from musicgenre.audio.segment import SegmentConfig
from musicgenre.datasets.index import scan_dataset
from musicgenre.datasets.validate import validate_dataset
from musicgenre.features import make_config
from musicgenre.store import build_stores

SR = 8000
LONG = 120.0  # seconds
SEG = SegmentConfig(sample_rate=SR, clip_seconds=3.0, segment_seconds=1.0)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Frames decoded by every ``load_audio`` call (in this process: ``workers=1``)."""
    frames: list[int] = []

    class Counting(audio_io.BlockReader):
        def blocks(self):
            for block in super().blocks():
                frames.append(block.shape[0])
                yield block

    monkeypatch.setattr(audio_io, "BlockReader", Counting)
    return frames


@pytest.fixture
def long_tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    t = np.arange(int(LONG * SR)) / SR
    for genre, f in (("blues", 300.0), ("rock", 700.0)):
        (root / genre).mkdir(parents=True)
        sf.write(root / genre / f"{genre}.long.wav", 0.3 * np.sin(2 * np.pi * f * t), SR, subtype="PCM_16")
    return root


def test_features_decode_only_the_clip(long_tree: Path, tmp_path: Path, decoded: list[int]) -> None:
    stores = build_stores(scan_dataset(long_tree), [make_config("mfcc")], SEG, cache_root=tmp_path / "c",
                          workers=1, progress=False)  # fmt: skip
    (store,) = stores.values()
    assert len(store) == 2 * 3  # three 1 s segments per file
    assert sum(decoded) <= 2 * 5 * SR, f"decoded {sum(decoded) / SR:.0f} s of audio for two 3 s clips"
    np.testing.assert_allclose(store.manifest.duration, LONG)  # the file's length, from its header


def test_validate_decodes_only_the_clip(long_tree: Path, decoded: list[int]) -> None:
    report = validate_dataset(long_tree, progress=False, workers=1, clip_seconds=3.0, min_tracks_per_genre=1)
    assert report.n_usable == 2 and report.total_duration == pytest.approx(2 * LONG)
    assert sum(decoded) <= 2 * 5 * SR
