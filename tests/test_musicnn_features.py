"""musicnn features in the registry: shapes, config identity, batching, resampling, and the CLI option."""

from __future__ import annotations

import numpy as np
import pytest

from musicgenre.audio.segment import SegmentConfig
from musicgenre.features import extract, feature_names, make_config
from musicgenre.features.musicnn import MusicnnMsdConfig, MusicnnMttConfig


def test_registered() -> None:
    assert {"musicnn_msd", "musicnn_mtt"} <= set(feature_names())
    assert MusicnnMsdConfig().shape(SegmentConfig()) == (1506,)


def test_pooled_features_match_the_network(musicnn_weights, one_torch_thread) -> None:
    from musicgenre.musicnn.model import get_model

    rng = np.random.default_rng(3)
    x = (0.2 * rng.standard_normal((3, 48000))).astype(np.float32)
    for cls, model in ((MusicnnMsdConfig, "MSD"), (MusicnnMttConfig, "MTT")):
        cfg = make_config(cls.name, weights=str(musicnn_weights.path))
        assert cfg.weights == musicnn_weights.identity  # a path is pinned to the content id
        assert str(musicnn_weights.path) not in str(cfg.to_dict())
        feats = extract(cfg, x, 16000)
        assert feats.shape == (3, 1506) and feats.dtype == np.float32
        out = get_model(musicnn_weights, model=model).infer(x[1:2])
        np.testing.assert_allclose(feats[1, :753], out.max_pool[0].numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(feats[1, 753:], out.mean_pool[0].numpy(), rtol=1e-4, atol=1e-4)
    assert make_config("musicnn_msd", weights=str(musicnn_weights.path)).key() != cfg.key()
    assert extract(cfg, np.zeros((0, 48000), np.float32), 16000).shape == (0, 1506)


def test_other_sample_rates_are_resampled(musicnn_weights, one_torch_thread) -> None:
    cfg = make_config("musicnn_msd", weights=str(musicnn_weights.path))
    t = np.arange(3 * 22050) / 22050
    x22 = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
    t16 = np.arange(3 * 16000) / 16000
    x16 = (0.3 * np.sin(2 * np.pi * 440 * t16)).astype(np.float32)[None]
    a, b = extract(cfg, x22, 22050)[0], extract(cfg, x16, 16000)[0]
    assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.999


def test_missing_weights_say_what_to_run(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from musicgenre.errors import WeightsNotFoundError

    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICGENRE_SHARED", str(tmp_path / "shared"))
    monkeypatch.delenv("MUSICGENRE_MUSICNN_WEIGHTS", raising=False)
    cfg = make_config("musicnn_mtt")
    with pytest.raises(WeightsNotFoundError, match="musicgenre download musicnn"):
        cfg.key()
