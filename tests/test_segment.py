"""Cutting clips into segments (audio/segment.py)."""

from __future__ import annotations

import numpy as np
import pytest

from musicgenre.audio import SegmentConfig, fit_clip, split_segments

SR = 16000


def _ramp(seconds: float, sr: int = SR) -> np.ndarray:
    """Distinct, non-zero samples so that any misplaced sample shows."""
    return (np.arange(1, int(round(seconds * sr)) + 1) / 1e6).astype(np.float32)


def test_defaults_are_the_study_setup() -> None:
    cfg = SegmentConfig()
    assert (cfg.sample_rate, cfg.clip_seconds, cfg.segment_seconds, cfg.max_padding) == (
        16000,
        30.0,
        3.0,
        None,
    )
    assert cfg.segment_samples == 48000
    assert cfg.clip_samples == 480000
    assert cfg.segments_per_clip == 10


def test_derived_sizes_round() -> None:
    cfg = SegmentConfig(sample_rate=22050, clip_seconds=10.0, segment_seconds=3.0)
    assert cfg.segment_samples == 66150 and cfg.clip_samples == 220500 and cfg.segments_per_clip == 3
    free = SegmentConfig(clip_seconds=None)
    assert free.clip_samples is None and free.segments_per_clip is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate": 0},
        {"segment_seconds": 0.0},
        {"clip_seconds": 2.0, "segment_seconds": 3.0},
        {"max_padding": 1.0},
        {"max_padding": -0.1},
    ],
)
def test_invalid_configs(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        SegmentConfig(**kwargs)


def test_dict_round_trip_and_hashable() -> None:
    cfg = SegmentConfig(sample_rate=22050, clip_seconds=None, segment_seconds=1.5, max_padding=0.5)
    assert SegmentConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.to_dict() == {
        "sample_rate": 22050,
        "clip_seconds": None,
        "segment_seconds": 1.5,
        "max_padding": 0.5,
    }
    assert len({cfg, SegmentConfig.from_dict(cfg.to_dict())}) == 1


def test_fit_clip_pads_and_cuts() -> None:
    cfg = SegmentConfig(clip_seconds=6.0)
    short = _ramp(4.0)
    clip, real = fit_clip(short, cfg)
    assert clip.dtype == np.float32 and clip.shape == (96000,) and real == 64000
    np.testing.assert_array_equal(clip[:64000], short)
    assert (clip[64000:] == 0).all()
    long = _ramp(7.0)
    clip, real = fit_clip(long, cfg)
    assert clip.shape == (96000,) and real == 96000
    np.testing.assert_array_equal(clip, long[:96000])


def test_fit_clip_free_length_rounds_up_to_whole_segments() -> None:
    cfg = SegmentConfig(clip_seconds=None)
    clip, real = fit_clip(_ramp(7.0), cfg)
    assert clip.shape == (144000,) and real == 112000
    clip, real = fit_clip(_ramp(6.0), cfg)
    assert clip.shape == (96000,) and real == 96000
    clip, real = fit_clip(np.zeros(0, dtype=np.float32), cfg)  # never fewer than one segment
    assert clip.shape == (48000,) and real == 0


def test_full_clip_gives_ten_unpadded_segments() -> None:
    x = _ramp(30.0)
    segs = split_segments(x, SegmentConfig())
    assert len(segs) == 10
    assert segs.samples.shape == (10, 48000) and segs.samples.dtype == np.float32
    assert segs.samples.flags.c_contiguous
    np.testing.assert_array_equal(segs.samples.reshape(-1), x)
    np.testing.assert_array_equal(segs.index, np.arange(10))
    assert segs.padding.dtype == np.float32 and (segs.padding == 0).all()


def test_longer_clip_is_cut_to_30_s() -> None:
    x = _ramp(31.5)
    segs = split_segments(x, SegmentConfig())
    assert len(segs) == 10 and (segs.padding == 0).all()
    np.testing.assert_array_equal(segs.samples.reshape(-1), x[:480000])


def test_short_clip_is_padded_with_silence() -> None:
    # A 17.09 s clip (like gtzan-mini's *.00001): 5 full segments, one 70% padded, 4 of pure padding.
    x = _ramp(17.09)
    segs = split_segments(x, SegmentConfig())
    assert len(segs) == 10
    np.testing.assert_allclose(segs.padding[:5], 0.0)
    assert segs.padding[5] == pytest.approx(1 - 2.09 / 3, abs=1e-6)
    np.testing.assert_allclose(segs.padding[6:], 1.0)
    assert (segs.samples[6:] == 0).all()
    real_in_5 = x.size - 5 * 48000
    np.testing.assert_array_equal(segs.samples[5, :real_in_5], x[5 * 48000 :])
    assert (segs.samples[5, real_in_5:] == 0).all()


def test_max_padding_drops_mostly_padded_segments_but_keeps_one() -> None:
    x = _ramp(7.5)
    cfg = SegmentConfig(max_padding=0.5)
    segs = split_segments(x, cfg)
    np.testing.assert_array_equal(segs.index, [0, 1, 2])  # segment 2 is exactly half padding: kept
    np.testing.assert_allclose(segs.padding, [0.0, 0.0, 0.5])
    assert segs.samples.shape == (3, 48000) and segs.samples.flags.c_contiguous
    strict = split_segments(x, SegmentConfig(max_padding=0.0))
    np.testing.assert_array_equal(strict.index, [0, 1])
    # A clip shorter than one segment still yields its first segment.
    tiny = split_segments(_ramp(0.5), SegmentConfig(max_padding=0.1))
    np.testing.assert_array_equal(tiny.index, [0])
    assert tiny.padding[0] == pytest.approx(5 / 6)


def test_free_length_clips_keep_their_segments() -> None:
    segs = split_segments(_ramp(10.0), SegmentConfig(clip_seconds=None))
    assert len(segs) == 4
    np.testing.assert_allclose(segs.padding, [0, 0, 0, 2 / 3], atol=1e-6)


def test_clip_length_not_a_multiple_of_the_segment() -> None:
    segs = split_segments(_ramp(10.0), SegmentConfig(clip_seconds=10.0))
    assert len(segs) == 3 and (segs.padding == 0).all()  # the last 1 s does not fill a segment


def test_input_dtype_and_shape() -> None:
    segs = split_segments(_ramp(3.0).astype(np.float64), SegmentConfig())
    assert segs.samples.dtype == np.float32
    with pytest.raises(ValueError, match="mono"):
        split_segments(np.zeros((48000, 2), dtype=np.float32), SegmentConfig())
    x = _ramp(30.0)
    before = x.copy()
    split_segments(x, SegmentConfig())
    np.testing.assert_array_equal(x, before)  # the input is not modified
