"""The shared checks (audio/check.py), and that training, prediction and validation agree on them."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf

from musicgenre.audio.check import declared_frames, is_audio_path, ogg_has_end
from musicgenre.audio.io import load_audio
from musicgenre.datasets.validate import validate_dataset
from musicgenre.errors import AudioError
from test_audio_stream import decode_all, make_signal, problem_of, write_audio
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


# --- one check for training, prediction and validation ---------------------------------------------------


@pytest.mark.parametrize("ext", ["wav", "au", "aiff", "mp3", "ogg"])
def test_truncated_file_is_refused_everywhere_with_one_message(tmp_path: Path, ext: str) -> None:
    """A file cut in half (an interrupted download): training's ``load_audio``, prediction's ``AudioStream``
    and ``validate_dataset`` all refuse it, with the same message. (Before the shared check, ``load_audio``
    decoded what was left of an mp3 or ogg, and validation only warned about the mp3 and missed the ogg.)"""
    full = write_audio(tmp_path / f"full.{ext}", make_signal(4.0, 22050, 2), 22050)
    data = full.read_bytes()
    root = tmp_path / "data"
    cut = root / "rock" / f"rock.00000.{ext}"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(data[: len(data) // 2])

    with pytest.raises(AudioError) as err:
        load_audio(cut)
    problem = err.value.problem
    assert problem.startswith("truncated file"), problem
    assert str(err.value) == f"{cut}: {problem}"
    assert problem_of(cut) == problem  # AudioStream
    report = validate_dataset(root, progress=False)
    assert [(p.severity, p.kind, p.problem) for p in report.problems if p.path == cut] == [
        ("error", "truncated", problem)
    ]
    assert report.n_usable == 0

    load_audio(full)  # the complete file is fine


def test_declared_frames_aiff_and_ogg_end(tmp_path: Path) -> None:
    aiff = tmp_path / "a.aiff"
    sf.write(aiff, _tone(0.5), SR, subtype="PCM_16")
    assert declared_frames(aiff) == SR // 2
    aiff.write_bytes(aiff.read_bytes()[:1000])  # the COMM chunk still declares the full length
    assert declared_frames(aiff) == SR // 2
    ogg = write_audio(tmp_path / "a.ogg", make_signal(2.0, SR), SR)
    assert ogg_has_end(ogg)
    ogg.write_bytes(ogg.read_bytes()[:-100])
    assert not ogg_has_end(ogg)


def test_slightly_short_mp3_is_accepted_everywhere_and_validation_warns(tmp_path: Path) -> None:
    """Compressed lengths are estimates, so a shortfall within the tolerance is accepted by training and
    prediction alike; validation keeps the file and warns, in the same words as the error would use."""
    data = write_audio(tmp_path / "full.mp3", make_signal(4.0, 22050, 2), 22050).read_bytes()
    root = tmp_path / "data"
    cut = root / "rock" / "rock.00000.mp3"
    cut.parent.mkdir(parents=True)
    cut.write_bytes(data[: int(len(data) * 0.97)])

    x = load_audio(cut, 16000)
    y, stream = decode_all(cut)
    assert abs(x.shape[0] - y.shape[0]) <= 1
    assert 3.5 < stream.duration < 3.99
    report = validate_dataset(root, progress=False)
    assert report.n_usable == 1
    ((severity, kind, problem),) = [(p.severity, p.kind, p.problem) for p in report.problems if p.path == cut]
    assert (severity, kind) == ("warning", "truncated")
    assert problem.startswith("truncated file: the file declares 4.00 s of audio, only 3.")
