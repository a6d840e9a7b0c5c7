"""The shared checks (audio/check.py), and that training, prediction and validation agree on them."""

from __future__ import annotations

from pathlib import Path

import soundfile as sf

from musicgenre.audio.check import declared_frames, is_audio_path
from test_datasets_validate import SR, _au, _tone


def test_is_audio_path() -> None:
    for name in ["a.wav", "b.AU", "c.Flac", "d.mp3", "e.ogg", "f.m4a", "g.aiff"]:
        assert is_audio_path(name), name
    for name in ["a.txt", "b", "c.npz", "d.wav.bak"]:
        assert not is_audio_path(name), name


def test_declared_frames_reads_headers(tmp_path: Path) -> None:
    au = _au(tmp_path / "a.au", _tone(1.0))
    assert declared_frames(au) == SR
    wav = tmp_path / "a.wav"
    sf.write(wav, _tone(0.5, 16000, 2), 16000, subtype="PCM_16")
    assert declared_frames(wav) == 8000
    # cut in half: the header still declares the full length (libsndfile itself reports what is there)
    au.write_bytes(au.read_bytes()[: 24 + SR])
    assert declared_frames(au) == SR
    assert declared_frames(tmp_path / "missing.au") is None
