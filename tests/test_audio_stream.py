"""Block decoding (audio/stream.py): every format, bad files, bounded memory, in-memory arrays.

Audio files are generated here (soundfile for wav/au/aiff/flac/ogg/mp3, PyAV for m4a). Helpers in this
module are also used by ``test_predict.py`` and ``test_audio_check.py``.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.audio.io import load_audio
from musicgenre.audio.stream import AudioStream, array_blocks, to_mono_array
from musicgenre.errors import AudioError
from musicgenre.predict.windows import SignalStats, sliding_windows

SOUNDFILE_FORMATS = ("wav", "au", "aiff", "flac", "ogg", "mp3")


# ---------------------------------------------------------------------------------------------- helpers
def make_signal(seconds: float, sr: int, channels: int = 1, seed: int = 0) -> np.ndarray:
    """A music-like test signal: a few partials with vibrato, a noise 'drum' every 0.5 s; float32 in
    [-0.5, 0.5], shape (frames,) or (frames, channels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    f0 = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    x = sum(0.15 / k * np.sin(2 * np.pi * k * f0 * t + 0.3 * np.sin(2 * np.pi * 5 * t)) for k in (1, 2, 3, 5))
    beat = (np.mod(t, 0.5) < 0.03) * rng.standard_normal(t.size) * 0.2
    x = (x + beat).astype(np.float32)
    if channels == 1:
        return x
    return np.stack([x * (1.0 - 0.2 * c) for c in range(channels)], axis=1)


def write_audio(path: Path, x: np.ndarray, sr: int) -> Path:
    """Write ``x`` ((frames,) or (frames, channels)) to ``path``; the format follows the extension."""
    path = Path(path)
    if path.suffix.lower() in (".m4a", ".aac"):
        import av

        x2 = x[:, None] if x.ndim == 1 else x
        layout = "mono" if x2.shape[1] == 1 else "stereo"
        with av.open(str(path), "w") as container:
            stream = container.add_stream("aac", rate=sr, layout=layout)
            planar = np.ascontiguousarray(x2.T.astype(np.float32))
            for i in range(0, planar.shape[1], 1024):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(planar[:, i : i + 1024]), format="fltp", layout=layout
                )
                frame.sample_rate = sr
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path
    sf.write(str(path), x, sr)
    return path


def decode_all(path: Path, sr: int = 16000, block_seconds: float = 60.0) -> tuple[np.ndarray, AudioStream]:
    with AudioStream(path, sr, block_seconds=block_seconds) as stream:
        x = np.concatenate(list(stream.blocks()))
    return x, stream


def problem_of(path: Path) -> str:
    with pytest.raises(AudioError) as err:
        decode_all(path)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)
    return err.value.problem


# ---------------------------------------------------------------------------------------------- formats
@pytest.mark.parametrize("ext", [*SOUNDFILE_FORMATS, "m4a"])
@pytest.mark.parametrize(("sr", "channels"), [(44100, 2), (22050, 1)])
def test_every_format_streams_like_load_audio(tmp_path: Path, ext: str, sr: int, channels: int) -> None:
    x = make_signal(2.5, sr, channels)
    path = write_audio(tmp_path / f"a.{ext}", x, sr)
    # Small blocks, so that several blocks and the resampler's carry-over are exercised.
    y, stream = decode_all(path, 16000, block_seconds=0.7)
    assert stream.info.sample_rate == sr and stream.info.channels == channels
    ref = load_audio(path, 16000)
    assert y.dtype == np.float32
    assert abs(y.shape[0] - ref.shape[0]) <= 1
    n = min(y.shape[0], ref.shape[0])
    np.testing.assert_allclose(y[:n], ref[:n], atol=1e-5)
    # mp3 and aac add encoder delay/padding; the length is still about right.
    assert abs(y.shape[0] / 16000 - 2.5) < (0.1 if ext in ("mp3", "m4a", "ogg") else 1e-3)


def test_streaming_matches_one_shot_resampling_exactly(tmp_path: Path) -> None:
    x = make_signal(5.0, 44100, 2)
    path = write_audio(tmp_path / "a.wav", x, 44100)
    one_block, _ = decode_all(path, 16000, block_seconds=100.0)
    many_blocks, _ = decode_all(path, 16000, block_seconds=0.37)
    np.testing.assert_array_equal(one_block, many_blocks)
    np.testing.assert_array_equal(one_block, load_audio(path, 16000))


def _write_long(path: Path, minutes: int, sr: int = 8000) -> Path:
    chunk = make_signal(60.0, sr)
    with sf.SoundFile(str(path), "w", samplerate=sr, channels=1, subtype="PCM_16") as f:
        for _ in range(minutes):  # written a minute at a time
            f.write(chunk)
    return path


def _traced_peak(path: Path) -> tuple[int, SignalStats, int, AudioStream]:
    tracemalloc.start()
    try:
        with AudioStream(path, 16000) as stream:  # default 60 s blocks
            stats = SignalStats()
            n_windows = sum(len(b) for b in sliding_windows(stream.blocks(), 48000, 48000, stats=stats))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, stats, n_windows, stream


def test_long_file_is_streamed_in_bounded_blocks(tmp_path: Path) -> None:
    """A 20-minute file is never held whole: blocks are at most 60 s, and peak memory does not grow with
    the length (the same as for a 2-minute file), far below the 77 MB of the whole file at 16 kHz."""
    peak_short, *_ = _traced_peak(_write_long(tmp_path / "short.wav", 2))
    peak, stats, n_windows, stream = _traced_peak(_write_long(tmp_path / "long.wav", 20))
    whole = 20 * 60 * 16000 * 4
    assert stats.n_samples == 20 * 60 * 16000
    assert n_windows == 20 * 20
    assert stream.max_block_samples <= 60 * 8000
    assert peak < 1.25 * peak_short + 1e6, f"peak {peak / 1e6:.1f} MB vs {peak_short / 1e6:.1f} MB for 2 min"
    assert peak < whole / 2, f"peak {peak / 1e6:.1f} MB; the whole file is {whole / 1e6:.0f} MB"


# ---------------------------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in problem_of(tmp_path / "nope.wav")


def test_zero_length_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.flac"
    p.write_bytes(b"")
    assert problem_of(p) == "zero-length file"


@pytest.mark.parametrize("ext", ["mp3", "wav", "flac", "ogg", "aiff", "au"])
def test_text_file_renamed_as_audio(tmp_path: Path, ext: str) -> None:
    p = tmp_path / f"notes.{ext}"
    p.write_text("these are my notes, not music\n" * 50)
    problem = problem_of(p)
    assert "not a" in problem and ("valid" in problem or "readable" in problem)


@pytest.mark.parametrize("ext", ["wav", "au", "aiff", "flac", "mp3", "ogg"])
def test_truncated_file(tmp_path: Path, ext: str) -> None:
    p = write_audio(tmp_path / f"full.{ext}", make_signal(4.0, 22050, 2), 22050)
    data = p.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    problem = problem_of(cut)
    assert any(word in problem for word in ("truncated", "corrupt", "no decodable")), problem


def test_corrupt_flac(tmp_path: Path) -> None:
    p = write_audio(tmp_path / "a.flac", make_signal(3.0, 22050), 22050)
    data = bytearray(p.read_bytes())
    rng = np.random.default_rng(1)
    data[200:-200] = rng.integers(0, 256, len(data) - 400, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))
    assert "corrupt" in problem_of(p)


def test_nan_and_inf_samples(tmp_path: Path) -> None:
    x = make_signal(2.0, 16000)
    x[20000] = np.nan
    p = tmp_path / "nan.wav"
    sf.write(str(p), x, 16000, subtype="FLOAT")
    assert "NaN or infinite" in problem_of(p)
    x[20000] = np.inf
    sf.write(str(p), x, 16000, subtype="FLOAT")
    assert "NaN or infinite" in problem_of(p)


def test_unsupported_format(tmp_path: Path) -> None:
    p = tmp_path / "song.xyz"
    p.write_bytes(b"\x00" * 100)
    problem = problem_of(p)
    assert "unsupported format .xyz" in problem and "mp3" in problem


def test_m4a_without_pyav_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    p = write_audio(tmp_path / "a.m4a", make_signal(1.0, 44100), 44100)
    import builtins

    real_import = builtins.__import__

    def no_av(name, *args, **kwargs):
        if name == "av" or name.startswith("av."):
            raise ImportError("No module named 'av'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_av)
    problem = problem_of(p)
    assert "pip install 'musicgenre[ffmpeg]'" in problem


# ---------------------------------------------------------------------------------------------- arrays
def test_array_layouts_and_dtypes() -> None:
    x = make_signal(1.0, 8000, 2)
    np.testing.assert_allclose(to_mono_array(x), x.mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(to_mono_array(x.T), x.mean(axis=1), atol=1e-7)
    ints = (x[:, 0] * 32767).astype(np.int16)
    np.testing.assert_allclose(to_mono_array(ints), x[:, 0], atol=1e-4)
    with pytest.raises(AudioError, match="no audio samples"):
        to_mono_array(np.zeros(0, np.float32))
    bad = x[:, 0].copy()
    bad[5] = np.nan
    with pytest.raises(AudioError, match="NaN"):
        to_mono_array(bad)
    y = np.concatenate(list(array_blocks(x, 8000, 16000, block_seconds=0.3)))
    assert abs(y.shape[0] - 16000) <= 1
