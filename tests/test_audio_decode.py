"""The shared decoders (audio/decode.py): mono mixdown and resampling; libmpg123's notes on stderr."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from musicgenre.audio.decode import audio_info, resample, to_mono
from musicgenre.audio.stream import AudioStream
from musicgenre.errors import AudioError
from test_audio_io import _tone


def test_to_mono_and_resample() -> None:
    x = np.array([[1.0, 0.0], [0.5, 0.5]], dtype=np.float32)
    np.testing.assert_array_equal(to_mono(x), [0.5, 0.5])
    assert to_mono(x[:, 0]) is not None and to_mono(x[:, 0]).ndim == 1
    tone = _tone(440.0, 1.0, 48000)
    out = resample(tone, 48000, 16000)
    assert out.dtype == np.float32 and out.shape == (16000,)
    same = resample(tone.astype(np.float64), 48000, 48000)
    assert same.dtype == np.float32 and np.array_equal(same, tone)


@pytest.mark.parametrize("channels", [2, 3, 6, 7, 8, 11])
def test_to_mono_is_bit_identical_to_the_mean(channels: int) -> None:
    """The column-by-column downmix gives exactly numpy's mean over the channels (its summation order)."""
    x = np.random.default_rng(channels).standard_normal((40_001, channels)).astype(np.float32)
    out = to_mono(x)
    assert out.dtype == np.float32 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, x.mean(axis=1, dtype=np.float32))
    assert not np.shares_memory(out, x)


# ------------------------------------------------------------------- issue 9, item 13: libmpg123's notes
def _not_mp3(tmp_path: Path) -> Path:
    """A text file named .mp3: libmpg123 prints "Note: Illegal Audio-MPEG-Header" while probing it."""
    path = tmp_path / "text.mp3"
    path.write_bytes(b"hello, this is not an mp3\n" * 50)
    return path


def test_libmpg123_notes_do_not_reach_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    bad = _not_mp3(tmp_path)
    good = tmp_path / "good.mp3"
    sf.write(good, _tone(440.0, 1.0, 16000), 16000)
    for _ in range(2):
        with pytest.raises(AudioError, match=r"text\.mp3"):
            audio_info(bad)
        with AudioStream(good, 16000) as stream:
            assert sum(b.shape[0] for b in stream.blocks()) > 0
    err = capfd.readouterr().err
    assert "Illegal Audio-MPEG-Header" not in err and "resync" not in err, err


def test_quiet_mpg123_keeps_other_output_and_restores_fd2(capfd: pytest.CaptureFixture[str]) -> None:
    from musicgenre.audio.decode import quiet_mpg123

    before = os.fstat(2)
    with quiet_mpg123():
        os.write(2, b"Note: Illegal Audio-MPEG-Header 0x00000000 at offset 1246.\nsomething else\n")
        os.write(2, b"Note: Trying to resync...\n[src/libmpg123/parse.c:1] error: x\npartial")
    assert capfd.readouterr().err == "something else\npartial"
    with pytest.raises(RuntimeError, match="boom"), quiet_mpg123():
        os.write(2, b"kept\n")
        raise RuntimeError("boom")
    os.write(2, b"after\n")
    assert capfd.readouterr().err == "kept\nafter\n"
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)


def test_quiet_mpg123_is_safe_with_threads(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """validate opens files in threads: each redirection is whole, and fd 2 is the real one afterwards."""
    bad = _not_mp3(tmp_path)
    before = os.fstat(2)
    failures: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for _ in range(10):
                with pytest.raises(AudioError):
                    audio_info(bad)
                os.write(2, f"thread {i}\n".encode())
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    err = capfd.readouterr().err
    assert "Illegal Audio-MPEG-Header" not in err
    assert sorted(err.splitlines()) == sorted(f"thread {i}" for i in range(6) for _ in range(10))
    after = os.fstat(2)
    assert (after.st_dev, after.st_ino) == (before.st_dev, before.st_ino)
