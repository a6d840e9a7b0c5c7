"""``evaluate --data`` on genre folders the model does not know (issue 9, case 6)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musicgenre.audio.segment import SegmentConfig
from musicgenre.errors import MusicGenreError
from musicgenre.experiment import PreparedData, _labels_for


def _data(genres_tracks: dict[str, int]) -> PreparedData:
    genres, tracks = [], []
    for g, n in genres_tracks.items():
        for i in range(n):
            genres += [g, g]  # two segments per track
            tracks += [f"{g}.{i}", f"{g}.{i}"]
    return PreparedData(
        root=Path("/data/heldout"), inputs={}, feature_configs={}, segment=SegmentConfig(),
        label_names=sorted(genres_tracks), labels=np.zeros(len(genres), dtype=np.int64),
        track_ids=np.array(tracks), genres=np.array(genres), segment_index=np.tile([0, 1], len(genres) // 2),
    )  # fmt: skip


def test_unknown_genre_folders_are_named_with_their_track_counts(capsys: pytest.CaptureFixture[str]) -> None:
    labels = _labels_for(
        _data({"blues": 2, "Blues": 3, "hip-hop": 1, "rock": 2}), ["blues", "hiphop", "rock"]
    )
    assert (labels >= 0).sum() == 8
    err = capsys.readouterr().err
    assert "warning: /data/heldout" in err and "Blues (3 tracks), hip-hop (1 track)" in err
    assert "blues, hiphop, rock" in err


def test_no_known_genre_is_an_error() -> None:
    with pytest.raises(MusicGenreError, match="none of its genres"):
        _labels_for(_data({"Blues": 2}), ["blues"])
