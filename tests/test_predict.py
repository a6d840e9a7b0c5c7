"""``musicgenre predict`` and ``musicgenre.load``: formats, outputs, bad input, exit codes, the Python API.

The checkpoints are built here: a ``cnn1d`` on MFCCs trained for a few seconds to tell two synthetic
"genres" apart (a harmonic ``tone`` and ``noise``), so that the tests can check the labels and not only
that something ran; and a randomly initialised ``cnn1d`` on ``yamnet_embedding`` with the shared TFLite
weights.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from click.testing import CliRunner

import musicgenre
from musicgenre.audio.segment import SegmentConfig
from musicgenre.checkpoint import FORMAT_VERSION, Checkpoint, save_checkpoint
from musicgenre.cli import main
from musicgenre.errors import AudioError, CheckpointError
from musicgenre.features.registry import extract_many, make_config
from musicgenre.models.registry import build_model
from musicgenre.predict import GenreClassifier, PredictionResult
from musicgenre.predict.output import csv_header
from musicgenre.predict.results import RECORD_KEYS
from test_audio_stream import make_signal, write_audio

LABELS = ["noise", "tone"]
SR = 16000


# ---------------------------------------------------------------------------------------------- fixtures
def tone(seconds: float, sr: int = SR, channels: int = 1, seed: int = 0) -> np.ndarray:
    return make_signal(seconds, sr, channels, seed)


def noise(seconds: float, sr: int = SR, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed + 100)
    x = (rng.standard_normal(int(round(seconds * sr))) * 0.2).astype(np.float32)
    return x if channels == 1 else np.stack([x] * channels, axis=1)


def _normalisation(name: str, cfg, feats: np.ndarray) -> dict[str, torch.Tensor]:
    from musicgenre.training.normalisation import compute_normalisation

    return compute_normalisation(feats, cfg.channel_axis)


def _apply(feats: np.ndarray, stats: dict) -> np.ndarray:
    from musicgenre.training.normalisation import apply_normalisation

    return np.asarray(apply_normalisation(feats, stats), dtype=np.float32)


@pytest.fixture(scope="module")
def mfcc_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cnn1d`` on MFCCs, trained briefly on 3 s segments of tone (label 1) and noise (label 0)."""
    return train_tone_noise_checkpoint(tmp_path_factory.mktemp("ckpt") / "model.ckpt")


def train_tone_noise_checkpoint(dest: Path) -> Path:
    """Train the tiny tone-vs-noise ``cnn1d`` on MFCCs (a few seconds) and save it to ``dest``."""
    segs, labels = [], []
    for seed in range(6):
        segs += [tone(3.0, seed=seed), noise(3.0, seed=seed), 0.05 * tone(3.0, seed=seed + 50)]
        labels += [1, 0, 1]
    return train_mfcc_checkpoint(dest, np.stack(segs), labels, LABELS)


def train_mfcc_checkpoint(dest: Path, x: np.ndarray, labels: list[int], names: list[str]) -> Path:
    """Train a tiny ``cnn1d`` on the MFCCs of 3 s segments ``x`` at 16 kHz with label indices ``labels``
    into genres ``names`` (25 full-batch steps), and save it to ``dest``."""
    torch.manual_seed(0)
    segment = SegmentConfig(sample_rate=SR, segment_seconds=3.0)
    cfg = make_config("mfcc")
    feats = extract_many([cfg], x, SR)[cfg.key()]
    stats = _normalisation("mfcc", cfg, feats)
    xn = torch.from_numpy(_apply(feats, stats))
    y = torch.tensor(labels)
    shape = tuple(cfg.shape(segment))
    options = {"widths": (16, 16), "hidden": 16}
    model = build_model("cnn1d", {"mfcc": shape}, len(names), **options)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is faster, and immune to a busy machine
    try:
        for _ in range(25):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model({"mfcc": xn}), y)
            loss.backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    model.eval()
    ckpt = Checkpoint(
        model_name="cnn1d",
        model_options=options,
        inputs={"mfcc": cfg.to_dict()},
        input_shapes={"mfcc": shape},
        segment=segment.to_dict(),
        labels=list(names),
        normalisation={"mfcc": stats},
        state_dict=model.state_dict(),
        meta={"note": "test checkpoint"},
    )
    return save_checkpoint(ckpt, dest)


@pytest.fixture(scope="module")
def clf(mfcc_ckpt: Path) -> GenreClassifier:
    return musicgenre.load(str(mfcc_ckpt))


@pytest.fixture(scope="module")
def songs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A small library: tone and noise files in several formats, rates and channel counts."""
    root = tmp_path_factory.mktemp("library")
    (root / "rock").mkdir()
    return {
        "tone.wav": write_audio(root / "tone.wav", tone(7.0, 44100, 2), 44100),
        "noise.flac": write_audio(root / "noise.flac", noise(6.5, 22050), 22050),
        "tone.mp3": write_audio(root / "rock" / "tone.mp3", tone(4.0, 44100, 2, seed=3), 44100),
    }


def run_cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


# ---------------------------------------------------------------------------------------------- Python API
def test_python_api(clf: GenreClassifier, songs: dict[str, Path]) -> None:
    r = clf.predict(songs["tone.wav"])
    assert isinstance(r, PredictionResult)
    assert r.top_genre == "tone" and r.confidence > 0.5
    assert set(r.probabilities) == set(LABELS)
    assert sum(r.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
    assert r.duration == pytest.approx(7.0, abs=1e-3)
    # 3 s windows, back to back, plus one aligned with the end for the last second.
    assert r.n_windows == 3 and r.windows_used == 3
    np.testing.assert_allclose(r.window_times, [0.0, 3.0, 4.0])
    assert r.window_probabilities.shape == (3, 2)
    np.testing.assert_allclose(r.window_probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert r.flags == () and r.sample_rate == 44100 and r.channels == 2
    assert r.top_k(1) == [("tone", r.confidence)]
    assert re.fullmatch(r"cnn1d:mfcc@[0-9a-f]{12}", r.model_id)
    assert clf.predict(songs["noise.flac"]).top_genre == "noise"
    assert clf.predict(songs["tone.mp3"]).top_genre == "tone"


def test_predict_array_matches_predict(clf: GenreClassifier, tmp_path: Path) -> None:
    x = tone(5.0, 22050, 2, seed=7)
    path = tmp_path / "x.wav"
    sf.write(str(path), x, 22050, subtype="FLOAT")
    from_file = clf.predict(path)
    from_array = clf.predict_array(x, 22050)
    assert from_array.path is None and from_array.top_genre == "tone"
    np.testing.assert_allclose(from_array.window_probabilities, from_file.window_probabilities, atol=1e-5)
    # (channels, frames) and integer samples are accepted too.
    assert clf.predict_array(x.T, 22050).top_genre == "tone"
    assert clf.predict_array((x * 32767).astype(np.int16), 22050).top_genre == "tone"
    with pytest.raises(AudioError, match="NaN"):
        clf.predict_array(np.full(1000, np.nan, np.float32), 16000)


def test_same_numbers_as_the_training_pipeline(
    clf: GenreClassifier, gtzan_mini: Path, gtzan_excerpts: Path
) -> None:
    """On real GTZAN files, window probabilities equal those of the training/evaluation path
    (load_audio -> split_segments -> features -> predict_proba with the checkpoint's normalisation)."""
    from musicgenre.audio import load_audio, split_segments
    from musicgenre.training.inference import predict_proba

    segment = SegmentConfig(clip_seconds=None)
    for path in (gtzan_excerpts / "jazz" / "jazz.00010.au", gtzan_mini / "metal" / "metal.00000.au"):
        segs = split_segments(load_audio(path, SR), segment)
        cfg = clf.feature_configs["mfcc"]
        feats = extract_many([cfg], segs.samples, SR)[cfg.key()]
        expected = predict_proba(clf.checkpoint, {"mfcc": feats})
        got = clf.predict(path)
        n = min(len(expected), got.n_windows)
        if got.n_windows > 1:  # the last window differs by design: end-aligned here, padded in training
            n -= 1
        np.testing.assert_allclose(got.window_probabilities[:n], expected[:n], atol=1e-5)
        np.testing.assert_allclose(got.window_times[:n], np.arange(n) * 3.0)


def test_short_file_is_padded(clf: GenreClassifier) -> None:
    r = clf.predict_array(tone(1.2, 8000), 8000)
    assert r.n_windows == 1 and r.padded and "padded" in r.flags
    assert r.duration == pytest.approx(1.2, abs=1e-3)


def test_silence_is_flagged_not_an_error(clf: GenreClassifier) -> None:
    r = clf.predict_array(np.zeros(5 * SR, np.float32), SR)
    assert r.silent and r.top_genre is None and r.confidence == 0.0
    assert r.probabilities == {"noise": 0.5, "tone": 0.5}
    assert r.top_k(3) == []
    # Silent windows of a file with music are left out of the aggregate.
    x = np.concatenate([np.zeros(6 * SR, np.float32), tone(3.0)])
    r = clf.predict_array(x, SR)
    assert not r.silent and r.top_genre == "tone"
    assert r.n_windows == 3 and r.windows_used == 1
    assert r.window_silent.tolist() == [True, True, False]


def test_hop_and_vote(clf: GenreClassifier) -> None:
    x = tone(9.0)
    r = clf.predict_array(x, SR, hop_seconds=1.5, aggregate="vote")
    np.testing.assert_allclose(r.window_times, [0, 1.5, 3, 4.5, 6])
    assert r.aggregate == "vote" and r.hop_seconds == 1.5
    assert r.confidence == pytest.approx(1.0, abs=1e-5) and r.top_genre == "tone"
    hopped = GenreClassifier.from_checkpoint(clf.checkpoint_path, hop_seconds=4.0)
    assert hopped.predict_array(x, SR).window_times.tolist() == [0.0, 4.0, 6.0]


def test_long_file(clf: GenreClassifier, tmp_path: Path) -> None:
    """A 3.5-minute file: 70 windows, decoded in 60 s blocks."""
    path = tmp_path / "long.ogg"
    with sf.SoundFile(str(path), "w", samplerate=8000, channels=1) as f:
        for i in range(7):
            f.write(tone(30.0, 8000, seed=i))
    r = clf.predict(path)
    assert r.n_windows == 70 and r.duration == pytest.approx(210.0, abs=0.01)
    assert r.top_genre == "tone"


# ---------------------------------------------------------------------------------------------- checkpoints
def test_bad_checkpoints(tmp_path: Path, mfcc_ckpt: Path) -> None:
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        musicgenre.load(str(tmp_path / "missing.ckpt"))
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable"):
        musicgenre.load(str(text))
    payload = torch.load(mfcc_ckpt, weights_only=True)
    payload["format_version"] = FORMAT_VERSION + 1
    old = tmp_path / "future.ckpt"
    torch.save(payload, old)
    with pytest.raises(CheckpointError, match="not supported"):
        musicgenre.load(str(old))
    payload["format_version"] = FORMAT_VERSION
    payload["state_dict"] = {k: v[..., :1] if v.ndim else v for k, v in payload["state_dict"].items()}
    torch.save(payload, tmp_path / "broken.ckpt")
    with pytest.raises(CheckpointError, match="weights do not fit"):
        musicgenre.load(str(tmp_path / "broken.ckpt"))
    # A run folder holding model.ckpt works too.
    assert musicgenre.load(str(mfcc_ckpt.parent)).labels == tuple(LABELS)


# ---------------------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("ext", ["wav", "au", "aiff", "flac", "ogg", "mp3", "m4a"])
def test_cli_every_format(mfcc_ckpt: Path, tmp_path: Path, ext: str) -> None:
    path = write_audio(tmp_path / f"song.{ext}", tone(4.0, 44100, 2, seed=2), 44100)
    code, out, err = run_cli("predict", mfcc_ckpt, path, "--format", "json")
    assert code == 0, err
    (rec,) = json.loads(out)
    assert rec["top_genre"] == "tone" and rec["error"] is None
    assert rec["duration"] == pytest.approx(4.0, abs=0.1)


def test_cli_table_folder_and_progress(mfcc_ckpt: Path, songs: dict[str, Path]) -> None:
    folder = songs["tone.wav"].parent
    code, out, err = run_cli("predict", mfcc_ckpt, folder)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["file", "genre", "conf", "top"]
    body = "\n".join(lines[2:])
    for name in ("tone.wav", "noise.flac", "tone.mp3"):
        assert name in body
    assert "3 of 3 labelled with cnn1d:mfcc@" in err


def test_cli_json_schema(mfcc_ckpt: Path, songs: dict[str, Path]) -> None:
    code, out, _ = run_cli("predict", mfcc_ckpt, songs["tone.wav"], songs["noise.flac"], "-f", "json")
    assert code == 0
    records = json.loads(out)
    assert len(records) == 2
    for rec in records:
        assert set(rec) == {*RECORD_KEYS, "top_k", "probabilities"}
        assert set(rec["probabilities"]) == set(LABELS)
        assert sum(rec["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert rec["top_k"][0] == {"genre": rec["top_genre"], "probability": rec["confidence"]}
        assert len(rec["top_k"]) == 2  # --top-k defaults to 3, capped by the 2 labels
        assert isinstance(rec["duration"], float) and rec["n_windows"] >= 1 and rec["windows_used"] >= 1
        assert re.fullmatch(r"cnn1d:mfcc@[0-9a-f]{12}", rec["model_id"])
        assert rec["flags"] == [] and rec["error"] is None and rec["aggregate"] == "mean"
    assert [r["top_genre"] for r in records] == ["tone", "noise"]


def test_cli_json_windows(mfcc_ckpt: Path, songs: dict[str, Path]) -> None:
    """``--windows`` adds each window's start, top genre, probability and silent flag (serve's records)."""
    code, out, _ = run_cli("predict", mfcc_ckpt, songs["tone.wav"], "-f", "json", "--windows")
    assert code == 0
    (rec,) = json.loads(out)
    assert set(rec) == {*RECORD_KEYS, "top_k", "probabilities", "windows"}
    assert len(rec["windows"]) == rec["n_windows"] == 3  # 7 s in 3 s windows
    assert [w["start"] for w in rec["windows"]] == [0.0, 3.0, 4.0]  # the last window ends at the end
    for w in rec["windows"]:
        assert set(w) == {"start", "top_genre", "probability", "silent"}
        assert w["top_genre"] in LABELS and 0.5 <= w["probability"] <= 1.0 and w["silent"] is False
    assert rec["windows"][0]["top_genre"] == "tone"


def test_cli_csv_schema_top_k_and_out(mfcc_ckpt: Path, songs: dict[str, Path], tmp_path: Path) -> None:
    out_file = tmp_path / "sub" / "labels.csv"
    code, out, _ = run_cli("predict", mfcc_ckpt, *songs.values(), "--top-k", "1", "--out", out_file)
    assert code == 0
    assert "wrote 3 records to" in out and "file" in out  # the table still goes to the terminal
    rows = list(csv.DictReader(io.StringIO(out_file.read_text())))
    assert list(rows[0]) == csv_header(LABELS, 1)
    assert len(rows) == 3
    for row in rows:
        assert row["top1_genre"] == row["top_genre"] and row["error"] == ""
        assert float(row["prob_noise"]) + float(row["prob_tone"]) == pytest.approx(1.0, abs=1e-5)
        assert float(row["confidence"]) == pytest.approx(float(row[f"prob_{row['top_genre']}"]))
    # --format csv to stdout
    code, out, _ = run_cli("predict", mfcc_ckpt, songs["tone.wav"], "--format", "csv", "--top-k", "2")
    assert code == 0 and out.splitlines()[0].split(",") == csv_header(LABELS, 2)


def test_cli_out_needs_a_format(mfcc_ckpt: Path, songs: dict[str, Path], tmp_path: Path) -> None:
    code, _, err = run_cli("predict", mfcc_ckpt, songs["tone.wav"], "--out", tmp_path / "x.txt")
    assert code == 2 and "--out" in err


def test_cli_timeline(mfcc_ckpt: Path, songs: dict[str, Path], tmp_path: Path) -> None:
    png = tmp_path / "timeline.png"
    code, out, _ = run_cli("predict", mfcc_ckpt, songs["tone.wav"], "--timeline", png, "--hop", "1")
    assert code == 0 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"timeline: {png}" in out
    code, _, _ = run_cli("predict", mfcc_ckpt, songs["tone.wav"], songs["noise.flac"], "--timeline", png)
    assert code == 0
    assert (tmp_path / "timeline-tone.png").exists() and (tmp_path / "timeline-noise.png").exists()


def test_cli_bad_inputs_are_listed_and_the_rest_labelled(mfcc_ckpt: Path, tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    write_audio(lib / "good.wav", tone(3.5), SR)
    (lib / "notes.mp3").write_text("a text file, renamed\n" * 40)
    (lib / "empty.wav").write_bytes(b"")
    full = write_audio(tmp_path / "full.flac", tone(4.0), SR).read_bytes()
    (lib / "cut.flac").write_bytes(full[: len(full) // 2])
    bad = tone(3.0)
    bad[100] = np.inf
    sf.write(str(lib / "nan.wav"), bad, SR, subtype="FLOAT")
    odd = tmp_path / "song.xyz"
    odd.write_bytes(b"\x00" * 64)
    nothing = tmp_path / "no-audio-here"
    nothing.mkdir()
    (nothing / "readme.txt").write_text("hi")
    missing = tmp_path / "missing.wav"

    code, out, err = run_cli("predict", mfcc_ckpt, lib, odd, nothing, missing, "-f", "json")
    assert code == 1
    assert "Traceback" not in out + err
    records = {Path(r["path"]).name: r for r in json.loads(out)}
    assert records["good.wav"]["top_genre"] == "tone" and records["good.wav"]["error"] is None
    expected = {
        "notes.mp3": "not a valid MP3 file",
        "empty.wav": "zero-length file",
        "cut.flac": "corrupt or truncated",
        "nan.wav": "NaN or infinite",
        "song.xyz": "unsupported format .xyz",
        "no-audio-here": "no audio files",
        "missing.wav": "no such file or directory",
    }
    for name, problem in expected.items():
        assert problem in records[name]["error"], records[name]
        assert records[name]["top_genre"] is None
        # stderr: one line naming the file and the problem
        (line,) = [ln for ln in err.splitlines() if name in ln]
        assert problem in line
    assert "7 files failed:" in err


def test_cli_all_good_exit_zero_and_silence(mfcc_ckpt: Path, tmp_path: Path) -> None:
    silent = write_audio(tmp_path / "silence.wav", np.zeros(4 * SR, np.float32), SR)
    code, out, err = run_cli("predict", mfcc_ckpt, silent)
    assert code == 0, err
    assert "silent" in out
    code, out, _ = run_cli("predict", mfcc_ckpt, silent, "-f", "json")
    (rec,) = json.loads(out)
    assert rec["flags"] == ["silent"] and rec["top_genre"] is None and rec["error"] is None


def test_cli_bad_checkpoint_is_one_line(tmp_path: Path, songs: dict[str, Path]) -> None:
    code, _, err = run_cli("predict", tmp_path / "nope.ckpt", songs["tone.wav"])
    assert code == 2
    assert err.strip().count("\n") == 0 and "no such checkpoint file" in err and "Traceback" not in err


def test_cli_debug_shows_tracebacks(
    mfcc_ckpt: Path, songs: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(self, *args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(GenreClassifier, "predict", boom)
    code, _, err = run_cli("predict", mfcc_ckpt, songs["tone.wav"])
    assert code == 1 and "RuntimeError: boom" in err and "Traceback" not in err
    code, _, err = run_cli("--debug", "predict", mfcc_ckpt, songs["tone.wav"])
    assert code == 2 and "Traceback" in err
    code, _, err = run_cli("predict", "--debug", mfcc_ckpt, songs["tone.wav"])
    assert code == 2 and "Traceback" in err


def test_cli_help_shows_defaults() -> None:
    code, out, _ = run_cli("predict", "--help")
    assert code == 0
    for text in (
        "--format",
        "--top-k",
        "--timeline",
        "--hop",
        "--aggregate",
        "--yamnet-weights",
        "[default: table]",
    ):
        assert text in out


# ---------------------------------------------------------------------------------------------- YAMNet
def test_yamnet_embedding_model(tmp_path: Path, yamnet_dir: Path) -> None:
    """A cnn1d on yamnet_embedding (random weights) runs end to end with the shared TFLite weights."""
    torch.manual_seed(0)
    segment = SegmentConfig()
    cfg = make_config("yamnet_embedding")
    shape = tuple(cfg.shape(segment))
    model = build_model("cnn1d", {"yamnet_embedding": shape}, 10)
    labels = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
    feats = np.random.default_rng(0).standard_normal((8, *shape)).astype(np.float32)
    ckpt = Checkpoint(
        model_name="cnn1d",
        model_options={},
        inputs={"yamnet_embedding": cfg.to_dict()},
        input_shapes={"yamnet_embedding": shape},
        segment=segment.to_dict(),
        labels=labels,
        normalisation={"yamnet_embedding": _normalisation("yamnet_embedding", cfg, feats)},
        state_dict=model.state_dict(),
    )
    path = save_checkpoint(ckpt, tmp_path / "yamnet.ckpt")
    song = write_audio(tmp_path / "song.mp3", tone(4.0, 44100, 2), 44100)
    weights = yamnet_dir / "yamnet_int8.tflite"
    code, out, err = run_cli("predict", path, song, "-f", "json", "--yamnet-weights", weights)
    assert code == 0, err
    (rec,) = json.loads(out)
    assert rec["top_genre"] in labels and rec["n_windows"] == 2
    assert rec["model_id"].startswith("cnn1d:yamnet_embedding@")
    r = musicgenre.load(str(path)).predict(song)
    assert r.probabilities == pytest.approx(rec["probabilities"], abs=1e-5)
