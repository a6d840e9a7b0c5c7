"""``predict`` against hostile inputs (issue 9, cases 3, 7 and 8): its own inputs as outputs, huge samples,
NaN weights, symbolic link loops."""

# ruff: noqa: F811  (mfcc_ckpt is a fixture of test_predict, imported to be shared)
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from musicgenre.checkpoint import load_checkpoint, save_checkpoint
from musicgenre.errors import AudioError, CheckpointError
from musicgenre.fileio import dumps
from musicgenre.predict import GenreClassifier
from test_predict import SR, mfcc_ckpt, run_cli, tone  # noqa: F401


@pytest.fixture
def song(tmp_path: Path) -> Path:
    path = tmp_path / "song.wav"
    sf.write(path, tone(3.5), SR)
    return path


@pytest.mark.parametrize("which", ["input", "checkpoint", "timeline"])
def test_an_output_path_that_is_an_input_or_the_checkpoint_is_refused(
    mfcc_ckpt: Path,
    song: Path,
    tmp_path: Path,
    which: str,
) -> None:
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(mfcc_ckpt.read_bytes())
    before = {p: p.read_bytes() for p in (song, ckpt)}
    option = {"input": ["-o", song, "-f", "json"], "checkpoint": ["-o", ckpt, "-f", "json"]}
    args = option.get(which, ["--timeline", song])
    code, _, err = run_cli("predict", ckpt, song, *args)
    assert code == 2 and "would destroy it" in err
    assert {p: p.read_bytes() for p in before} == before


def test_a_symlink_loop_fails_alone(mfcc_ckpt: Path, song: Path, tmp_path: Path) -> None:
    loop = tmp_path / "loop.wav"
    loop.symlink_to(loop)
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "other.wav").symlink_to(folder / "other.wav")
    code, out, _ = run_cli("predict", mfcc_ckpt, loop, song, folder, "-f", "json")
    assert code == 1
    records = {Path(r["path"]).name: r for r in json.loads(out)}
    assert records["song.wav"]["top_genre"] is not None
    assert "symbolic link loop" in records["loop.wav"]["error"]
    assert "symbolic link loop" in records["other.wav"]["error"]


def test_huge_samples_are_refused_naming_the_file(mfcc_ckpt: Path, tmp_path: Path) -> None:
    huge = tmp_path / "huge.wav"
    sf.write(huge, (tone(3.5) * 1e18).astype(np.float32), SR, subtype="FLOAT")
    code, out, _ = run_cli("predict", mfcc_ckpt, huge, "-f", "json")
    assert code == 1
    (rec,) = json.loads(out)  # valid JSON
    assert rec["top_genre"] is None and "beyond full scale" in rec["error"]


def test_nan_weights_are_an_error_not_a_result(mfcc_ckpt: Path, song: Path, tmp_path: Path) -> None:
    ckpt = load_checkpoint(mfcc_ckpt)
    ckpt.state_dict = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                       for k, v in ckpt.state_dict.items()}  # fmt: skip
    bad = save_checkpoint(ckpt, tmp_path / "nan.ckpt")
    code, out, _ = run_cli("predict", bad, song, "-f", "json")
    assert code == 1 and "NaN" not in out.replace("NaN or infinite", "")
    (rec,) = json.loads(out)
    assert rec["top_genre"] is None and "non-finite probabilities" in rec["error"]


def test_json_is_always_valid() -> None:
    text = dumps({"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": np.array([np.nan, 2.0])})
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": [None, 2.0]}


# ------------------------------------------------------------------------- issue 9, item 13: predict_array
@pytest.fixture(scope="module")
def array_clf(mfcc_ckpt: Path) -> GenreClassifier:
    return GenreClassifier.from_checkpoint(mfcc_ckpt)


def test_predict_array_refuses_a_list_of_ints_rather_than_calling_it_silent(
    array_clf: GenreClassifier,
) -> None:
    values = (tone(3.5) * 32767).astype(np.int16)
    with pytest.raises(AudioError, match=r"list of integers.*dtype=np\.int16"):
        array_clf.predict_array(values.tolist(), SR)
    # The same values as an int16 array are scaled by their dtype and labelled; floats in a list are fine.
    assert "silent" not in array_clf.predict_array(values, SR).flags
    assert "silent" not in array_clf.predict_array(tone(3.5).tolist(), SR).flags


@pytest.mark.parametrize(
    ("samples", "message"),
    [
        (np.float32(0.5), r"expected samples of shape \(n,\) or \(n, channels\), got a 0-D array"),
        (np.zeros((0, 2), np.float32), r"contains no audio samples \(an empty array of shape \(0, 2\)\)"),
        (np.zeros((2, 0), np.float32), r"contains no audio samples \(an empty array of shape \(2, 0\)\)"),
        (np.zeros((2, 3, 4), np.float32), r"expected samples of shape \(n,\) or \(n, channels\), got shape"),
    ],
)
def test_predict_array_bad_shapes_are_named(
    array_clf: GenreClassifier, samples: np.ndarray, message: str
) -> None:
    with pytest.raises(AudioError, match=message):
        array_clf.predict_array(samples, SR)


@pytest.mark.parametrize("rate", [0.5, 22050.7, float("nan"), "22050", True])
def test_predict_array_non_integer_rates_are_refused_naming_the_value(
    array_clf: GenreClassifier, rate: object
) -> None:
    with pytest.raises(ValueError, match=rf"sample_rate must be a positive whole number of Hz, got {rate!r}"):
        array_clf.predict_array(tone(3.5), rate)  # type: ignore[arg-type]


def test_predict_array_rate_zero_or_negative_and_whole_floats(array_clf: GenreClassifier) -> None:
    for rate in (0, -8000):
        with pytest.raises(ValueError, match=f"sample_rate must be positive, got {rate}"):
            array_clf.predict_array(tone(3.5), rate)
    assert array_clf.predict_array(tone(3.5), float(SR)).sample_rate == SR


# --------------------------------------------------------------------- issue 9, item 13: checkpoint keys
def test_a_checkpoint_with_missing_keys_names_the_file_and_the_keys(mfcc_ckpt: Path, tmp_path: Path) -> None:
    payload = torch.load(mfcc_ckpt, weights_only=True)
    del payload["model_name"]
    one = tmp_path / "one.ckpt"
    torch.save(payload, one)
    with pytest.raises(CheckpointError, match=r"one\.ckpt: checkpoint is missing key 'model_name'"):
        load_checkpoint(one)
    del payload["labels"], payload["state_dict"]
    three = tmp_path / "three.ckpt"
    torch.save(payload, three)
    with pytest.raises(CheckpointError, match=r"missing keys 'model_name', 'labels', 'state_dict'"):
        load_checkpoint(three)
    code, _, err = run_cli("predict", one, tmp_path / "any.wav")
    assert code != 0 and str(one) in err and "'model_name'" in err
    assert err.strip() != "error: model_name"
