"""Decoding (audio/io.py): formats, downmix, resampling, partial reads and every failure mode."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.audio import audio_info, load_audio
from musicgenre.audio.decode import BlockReader
from musicgenre.errors import AudioError, MusicGenreError

SR = 22050


def _tone(freq: float, seconds: float, sr: int, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * sr)) / sr)).astype(np.float32)


def _peak_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[np.argmax(spec)])


def _amplitude_at(x: np.ndarray, sr: int, freq: float) -> float:
    """Amplitude of the sinusoid at ``freq`` (x holds a whole number of its periods)."""
    t = np.arange(x.size) / sr
    return float(2 * np.abs(np.mean(x * np.exp(-2j * np.pi * freq * t))))


# (extension, soundfile subtype, lossy)
FORMATS = [
    ("wav", "PCM_16", False),
    ("wav", "FLOAT", False),
    ("flac", "PCM_16", False),
    ("au", "PCM_16", False),
    ("aiff", "PCM_16", False),
    ("ogg", "VORBIS", True),
    ("mp3", "MPEG_LAYER_III", True),
]


@pytest.mark.parametrize(("ext", "subtype", "lossy"), FORMATS, ids=[f"{e}-{s}" for e, s, _ in FORMATS])
def test_formats_decode_to_mono_float32(tmp_path: Path, ext: str, subtype: str, lossy: bool) -> None:
    x = _tone(440.0, 1.0, SR)
    path = tmp_path / f"tone.{ext.upper() if ext == 'au' else ext}"  # extensions are case-insensitive
    sf.write(path, x, SR, subtype=subtype)

    info = audio_info(path)
    assert (info.sample_rate, info.channels) == (SR, 1)
    assert info.duration == pytest.approx(1.0, abs=0.05)

    y = load_audio(path, None)  # native rate
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.size == pytest.approx(SR, rel=0.05)
    assert _peak_hz(y, SR) == pytest.approx(440.0, abs=5)
    if lossy:
        assert np.abs(y).max() == pytest.approx(0.5, abs=0.08)
    else:
        assert y.size == SR
        atol = 0 if subtype == "FLOAT" else 1 / 32768
        np.testing.assert_allclose(y, x, rtol=0, atol=atol)

    z = load_audio(path)  # default: 16 kHz
    assert z.dtype == np.float32 and z.ndim == 1
    assert z.size == pytest.approx(16000, rel=0.05)
    assert _peak_hz(z, 16000) == pytest.approx(440.0, abs=5)


def test_stereo_48k_is_downmixed_and_resampled(tmp_path: Path) -> None:
    left = _tone(440.0, 2.0, 48000, amp=0.6)
    right = _tone(1000.0, 2.0, 48000, amp=0.2)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, right], axis=1), 48000, subtype="FLOAT")
    assert audio_info(path).channels == 2

    y = load_audio(path, 16000)
    assert y.dtype == np.float32 and y.shape == (32000,)
    mid = y[4000:28000]  # away from the resampler's edges; whole periods of both tones
    # The channels are averaged: 440 Hz at 0.6/2, 1000 Hz at 0.2/2.
    assert _amplitude_at(mid, 16000, 440.0) == pytest.approx(0.3, abs=0.005)
    assert _amplitude_at(mid, 16000, 1000.0) == pytest.approx(0.1, abs=0.005)

    # Opposite channels cancel (an average, not the first channel or a sum).
    sf.write(path, np.stack([left, -left], axis=1), 48000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path, None), np.zeros(96000, dtype=np.float32))


def test_partial_read(tmp_path: Path) -> None:
    x = np.random.default_rng(0).uniform(-0.5, 0.5, SR * 2).astype(np.float32)
    path = tmp_path / "noise.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    part = load_audio(path, None, offset=0.5, duration=0.25)
    start = round(0.5 * SR)
    np.testing.assert_array_equal(part, x[start : start + round(0.25 * SR)])
    np.testing.assert_array_equal(load_audio(path, None, offset=1.5), x[round(1.5 * SR) :])
    with pytest.raises(AudioError, match="no audio samples in the requested range"):
        load_audio(path, None, offset=5.0)


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg", "m4a"])
def test_duration_decodes_only_the_start(tmp_path: Path, ext: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """``duration`` gives the full decode cut to length, and the decoder is not asked for more."""
    x = np.random.default_rng(0).uniform(-0.5, 0.5, 4 * SR).astype(np.float32)
    path = tmp_path / f"noise.{ext}"
    if ext == "m4a":
        _write_m4a(path, x, SR)
    else:
        sf.write(path, x, SR)
    full = load_audio(path, None)
    n = round(1.5 * SR)

    pulled: list[int] = []
    for name in ("_sf_blocks", "_av_blocks"):
        real = getattr(BlockReader, name)

        def spy(self, real=real):
            for block in real(self):
                pulled.append(block.shape[0])
                yield block

        monkeypatch.setattr(BlockReader, name, spy)
    part = load_audio(path, None, duration=1.5)
    np.testing.assert_array_equal(part, full[:n])
    assert n <= sum(pulled) <= n + (4096 if ext == "m4a" else 0)  # PyAV decodes whole codec frames

    z = load_audio(path, 16000, duration=1.5)
    assert z.dtype == np.float32 and z.shape == (round(1.5 * 16000),)


def test_real_gtzan_clip(gtzan_mini: Path) -> None:
    path = gtzan_mini / "blues" / "blues.00000.au"
    info = audio_info(path)
    assert (info.sample_rate, info.channels, info.format) == (22050, 1, "AU")
    assert info.duration == pytest.approx(30.0, abs=0.1)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.size == pytest.approx(info.duration * 16000, abs=2)
    assert 0.01 < np.abs(y).max() <= 1.0


# --- failures ---------------------------------------------------------------------------------------------


def _expect_error(path: Path, match: str) -> AudioError:
    with pytest.raises(AudioError, match=match) as info:
        load_audio(path)
    err = info.value
    assert isinstance(err, MusicGenreError)
    assert err.path == path and str(err).startswith(str(path))
    return err


def test_missing_file_and_directory(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.wav", "no such file")
    with pytest.raises(AudioError, match="no such file"):
        audio_info(tmp_path / "nope.wav")
    (tmp_path / "dir.wav").mkdir()
    _expect_error(tmp_path / "dir.wav", "is a directory")


@pytest.mark.parametrize("ext", ["wav", "au", "flac", "mp3", "ogg"])
def test_zero_length_file(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"empty.{ext}"
    path.write_bytes(b"")
    _expect_error(path, "zero-length file")


@pytest.mark.parametrize("ext", ["wav", "au", "snd", "flac", "mp3", "ogg", "aiff"])
def test_non_audio_file(tmp_path: Path, ext: str) -> None:
    # e.g. an HTML error page saved under an audio name by a failed download
    path = tmp_path / f"page.{ext}"
    path.write_bytes(b"<html><body>404 Not Found</body></html>\n" * 50)
    _expect_error(path, "not a readable audio file")


def test_header_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "header.wav"
    sf.write(path, np.zeros(0, dtype=np.float32), SR, subtype="PCM_16")
    _expect_error(path, "contains no audio samples")


@pytest.mark.parametrize(("ext", "subtype"), [("wav", "PCM_16"), ("au", "PCM_16"), ("aiff", "PCM_16")])
def test_truncated_pcm_file(tmp_path: Path, ext: str, subtype: str) -> None:
    full = tmp_path / f"full.{ext}"
    sf.write(full, _tone(440.0, 1.0, SR), SR, subtype=subtype)
    data = full.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])  # an interrupted download or copy
    _expect_error(cut, "truncated file")
    with pytest.raises(AudioError, match="truncated file"):
        audio_info(cut)
    assert load_audio(full).size == 16000  # the complete file is fine


def test_truncated_flac(tmp_path: Path) -> None:
    full = tmp_path / "full.flac"
    sf.write(full, np.random.default_rng(0).uniform(-0.5, 0.5, SR).astype(np.float32), SR, subtype="PCM_16")
    data = full.read_bytes()
    cut = tmp_path / "cut.flac"
    cut.write_bytes(data[: len(data) // 2])
    _expect_error(cut, "cannot decode audio data")


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_samples(tmp_path: Path, bad: float) -> None:
    x = _tone(440.0, 0.5, SR)
    x[1000] = bad
    path = tmp_path / "bad.wav"
    sf.write(path, x, SR, subtype="FLOAT")
    _expect_error(path, "NaN or infinite")


# --- FFmpeg formats (optional PyAV) -----------------------------------------------------------------------


def _write_m4a(path: Path, x: np.ndarray, sr: int) -> None:
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=sr)
        stream.layout = "mono"
        for i in range(0, x.size, 1024):
            frame = av.AudioFrame.from_ndarray(x[None, i : i + 1024], format="fltp", layout="mono")
            frame.sample_rate = sr
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def test_m4a_through_pyav(tmp_path: Path) -> None:
    path = tmp_path / "tone.m4a"
    _write_m4a(path, _tone(440.0, 1.0, 44100), 44100)
    info = audio_info(path)
    assert info.sample_rate == 44100 and info.duration == pytest.approx(1.0, abs=0.1)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert y.size == pytest.approx(16000, rel=0.1)
    assert _peak_hz(y, 16000) == pytest.approx(440.0, abs=5)
    bad = tmp_path / "bad.m4a"
    bad.write_bytes(b"\x00\x00\x00\x18ftypM4A " + b"garbage" * 20)
    _expect_error(bad, "not a readable audio file|has no audio stream|cannot decode")


def test_m4a_without_pyav_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.m4a"
    path.write_bytes(b"\x00" * 100)
    monkeypatch.setitem(sys.modules, "av", None)  # import av -> ImportError
    err = _expect_error(path, "FFmpeg decoder")
    assert "pip install" in str(err)
