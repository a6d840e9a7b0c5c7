"""Re-runs into an existing run folder (issue 9, case 1): reuse only the same run, else refuse or overwrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from musicgenre.audio.segment import SegmentConfig
from musicgenre.datasets.demo import make_demo_dataset
from musicgenre.experiment import run_experiment
from musicgenre.rerun import FINGERPRINT_NAME, RunFolderConflict
from musicgenre.specs import ProtocolSpec, Runtime, TrainSpec

SEGMENT = SegmentConfig(clip_seconds=6.0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_demo_dataset(
        tmp_path_factory.mktemp("demo") / "data", tracks_per_genre=4, clip_seconds=6.0, progress=False
    )


def _train(data: Path, out: Path, cache: Path, *, epochs: int, seed: int = 0, overwrite: bool = False):
    return run_experiment(
        data, "cnn2d", ["mfcc"], out, protocol=ProtocolSpec(seed=seed), train=TrainSpec(epochs=epochs, seed=seed),
        segment=SEGMENT,
        runtime=Runtime(cache_dir=cache, workers=1, progress=False, overwrite=overwrite),
    )  # fmt: skip


def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    import musicgenre.training.trainer as trainer

    def boom(*a, **k):
        raise AssertionError("a finished identical run was retrained")

    monkeypatch.setattr(trainer, "train_model", boom)


def test_rerun_with_other_settings_is_refused_then_overwritten(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_torch_thread: None
) -> None:
    out, cache = tmp_path / "run", tmp_path / "cache"
    first = _train(tiny, out, cache, epochs=1)
    assert first.epochs == 1 and (out / FINGERPRINT_NAME).exists()
    run_json = (out / "run.json").read_text()

    with pytest.raises(RunFolderConflict) as err:
        _train(tiny, out, cache, epochs=2, seed=7)
    text = str(err.value)
    assert str(out) in text and "epochs: 1 -> 2" in text and "seed: 0 -> 7" in text and "--overwrite" in text
    assert (out / "run.json").read_text() == run_json  # the folder does not contradict itself

    second = _train(tiny, out, cache, epochs=2, seed=7, overwrite=True)
    assert second.epochs == 2
    assert json.loads((out / "run.json").read_text())["seed"] == 7

    _no_training(monkeypatch)  # the same settings again: the finished run is reused
    again = _train(tiny, out, cache, epochs=2, seed=7)
    assert again.track_accuracy == second.track_accuracy and again.epochs == 2


def test_rerun_on_another_dataset_names_it(tiny: Path, tmp_path: Path, one_torch_thread: None) -> None:
    import shutil

    subset = tmp_path / "subset"
    for genre in sorted(p for p in tiny.iterdir() if p.is_dir()):
        (subset / genre.name).mkdir(parents=True)
        for f in sorted(genre.iterdir())[:3]:
            shutil.copy(f, subset / genre.name / f.name)
    out, cache = tmp_path / "run", tmp_path / "cache"
    _train(subset, out, cache, epochs=1)
    with pytest.raises(RunFolderConflict, match=r"dataset: .*subset.* -> "):
        _train(tiny, out, cache, epochs=1)
