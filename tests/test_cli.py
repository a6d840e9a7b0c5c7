"""The command line: help on every verb, one-line errors with the file named, exit codes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from musicgenre.cli import main

VERBS = [
    "validate", "features", "train", "evaluate", "study", "demo", "download", "predict", "yamnet", "serve",
    "model-info",
]  # fmt: skip


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_has_help_with_defaults(runner: CliRunner, verb: str) -> None:
    res = runner.invoke(main, [verb, "--help"])
    assert res.exit_code == 0, res.output
    assert "Usage:" in res.output
    if verb in ("train", "study", "features"):
        assert "[default:" in res.output


def test_train_choices_come_from_the_registries(runner: CliRunner) -> None:
    out = runner.invoke(main, ["train", "--help"]).output
    for name in ("cnn2d", "bilstm", "waveform_cnn", "combined", "mfcc", "yamnet_embedding", "kfold"):
        assert name in out


def test_missing_directory_is_one_line_error(runner: CliRunner, tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    res = runner.invoke(main, ["features", str(missing), "-f", "mfcc", "--quiet"])
    assert res.exit_code == 2
    assert str(missing) in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1


def test_unknown_feature_is_rejected_with_choices(runner: CliRunner, tmp_path: Path) -> None:
    res = runner.invoke(main, ["features", str(tmp_path), "-f", "chroma"])
    assert res.exit_code == 2 and "mfcc" in res.output


def test_validate_exit_code_and_report(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "data" / "rock"
    good.mkdir(parents=True)
    sf.write(good / "rock.00000.wav", (0.1 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000)
    (good / "rock.00001.au").write_bytes(b"this is not audio")
    # A second genre: usable tracks in one genre only are an error (nothing to classify; issue 9, item 13).
    other = tmp_path / "data" / "jazz"
    other.mkdir()
    sf.write(other / "jazz.00000.wav", (0.1 * np.sin(np.arange(16000) / 7)).astype(np.float32), 16000)
    res = runner.invoke(main, ["validate", str(tmp_path / "data"), "--quiet"])
    assert res.exit_code == 0, res.output  # one usable file is enough
    assert "rock.00001.au" in res.output
    (good / "rock.00000.wav").unlink()
    res = runner.invoke(main, ["validate", str(tmp_path / "data"), "--quiet"])
    assert res.exit_code != 0
    assert "only one genre (jazz) has usable tracks: nothing to classify" in res.output


def test_study_list(runner: CliRunner) -> None:
    res = runner.invoke(main, ["study", "--list", "."])
    assert res.exit_code == 0
    assert "Combined (No Spectrograms)" in res.output and "0.81" in res.output


class _Stop(Exception):
    """Raised in place of the splits, to stop train/study once the features are prepared."""


def test_skipped_files_are_listed_also_when_the_features_are_cached(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 9, item 13: train did not repeat which files were skipped once the features were cached."""
    import musicgenre.experiment
    import musicgenre.study

    data = tmp_path / "data"
    for genre, step in (("rock", 5), ("jazz", 7)):
        (data / genre).mkdir(parents=True)
        for i in range(2):
            x = (0.1 * np.sin(np.arange(3 * 16000) / (step + i))).astype(np.float32)
            sf.write(data / genre / f"{genre}.0000{i}.wav", x, 16000)
    (data / "rock" / "rock.00002.wav").write_bytes(b"RIFF, but not really a wav file" * 10)
    common = ["--cache-dir", str(tmp_path / "cache"), "--workers", "1", "--quiet", "--clip-seconds", "3"]
    line = f"skipped {data / 'rock' / 'rock.00002.wav'}: "
    for attempt in ("built", "reused"):
        res = runner.invoke(main, ["features", str(data), "-f", "mfcc", *common])
        assert res.exit_code == 0, (attempt, res.output)
        assert "rock.00002.wav: not a readable audio file" in res.output, (attempt, res.output)

    def stop(*args: object, **kwargs: object) -> None:
        raise _Stop

    monkeypatch.setattr(musicgenre.experiment, "protocol_splits", stop)
    monkeypatch.setattr(musicgenre.study, "protocol_splits", stop)
    for verb in (["train", "-i", "mfcc"], ["study", "--inputs", "mfcc", "--models", "cnn2d"]):
        res = runner.invoke(main, [*verb, str(data), *common, "-o", str(tmp_path / verb[0])])
        assert "_Stop" in res.output, (verb, res.output)  # stopped after the features, before training
        assert line in res.output, (verb, res.output)


def test_help_imports_neither_torch_nor_fastapi() -> None:
    """``musicgenre --help`` and ``serve --help`` stay fast: the heavy imports happen inside the commands."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from musicgenre.cli import main\n"
        "for args in (['--help'], ['serve', '--help']):\n"
        "    assert CliRunner().invoke(main, args).exit_code == 0\n"
        "heavy = sorted(m for m in ('torch', 'fastapi', 'uvicorn', 'starlette') if m in sys.modules)\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == ""


def test_serve_without_a_bundled_model_names_the_make_target(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import musicgenre.bundled

    monkeypatch.setattr(musicgenre.bundled, "BUNDLED_DIR", tmp_path)
    res = runner.invoke(main, ["serve"])
    assert res.exit_code != 0
    assert "make default-model" in res.output and "--model PATH" in res.output
    assert "Traceback" not in res.output


def test_serve_warns_when_bound_to_every_interface(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    import uvicorn

    serve_cli = sys.modules["musicgenre.cli.serve"]  # the module (``musicgenre.cli.serve`` is the command)

    class Fake:
        model_id = "fake:model"
        labels = ("a", "b")

    ran = {}
    monkeypatch.setattr(serve_cli, "load_model", lambda model: Fake())
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(kw))
    res = runner.invoke(main, ["serve", "--model", "x.ckpt", "--host", "0.0.0.0", "--port", "8123"])
    assert res.exit_code == 0, res.output
    assert "warning: listening on 0.0.0.0" in res.stderr
    assert ran == {"host": "0.0.0.0", "port": 8123, "log_level": "info"}
    res = runner.invoke(main, ["serve", "--model", "x.ckpt"])
    assert "warning" not in res.stderr and ran["host"] == "127.0.0.1"
