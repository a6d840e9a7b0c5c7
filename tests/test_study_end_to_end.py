"""End to end on a tiny synthetic set: features -> splits -> training -> evaluation -> report, and resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from musicgenre.audio.segment import SegmentConfig
from musicgenre.datasets.demo import make_demo_dataset
from musicgenre.specs import HeldOut, ProtocolSpec, Runtime, TrainSpec
from musicgenre.study import STUDY_ROWS, run_study, select_rows


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 genres x 4 synthetic tracks of 6 s (two 3 s segments each)."""
    return make_demo_dataset(
        tmp_path_factory.mktemp("demo") / "data", tracks_per_genre=4, clip_seconds=6.0, progress=False
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One feature cache for the module: extraction is tested elsewhere."""
    return tmp_path_factory.mktemp("cache")


def _runtime(cache: Path) -> Runtime:
    return Runtime(cache_dir=cache, workers=1, progress=False)


def _run(data: Path, out: Path, cache: Path, protocol: str = "track", rows: str = "cnn_mfcc,lstm_mfcc",
         k: int = 5, eval_data: Path | None = None):  # fmt: skip
    return run_study(
        data, out, rows=select_rows(rows, None), protocol=ProtocolSpec(protocol, seed=0, k=k),
        train=TrainSpec(epochs=2, seed=0), segment=SegmentConfig(clip_seconds=6.0), runtime=_runtime(cache),
        heldout=HeldOut(eval_data) if eval_data is not None else None,
    )  # fmt: skip


def test_study_writes_the_report_and_resumes_without_retraining(
    tiny_demo: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "study"
    report = _run(tiny_demo, out, cache, rows="cnn_mfcc,lstm_mfcc,waveform_cnn")
    assert [r.key for r in report.rows] == ["cnn_mfcc", "lstm_mfcc", "waveform_cnn"]
    for r in report.rows:
        s = r.summary
        assert 0.0 <= s.segment_accuracy <= 1.0 and 0.0 <= s.track_accuracy <= 1.0
        assert s.n_params > 0 and 1 <= s.best_epoch <= 2
        run = Path(r.run_dir)
        for name in (
            "model.ckpt",
            "history.json",
            "training_curves.png",
            "confusion_matrix.png",
            "split.json",
        ):
            assert (run / name).exists(), name
        sides = json.loads((run / "split.json").read_text())["tracks"]
        assert not set(sides["train"]) & set(sides["test"])
        assert not set(sides["valid"]) & set(sides["test"])
    for name in ("results.md", "results.csv", "results.json", "report.md", "report.html"):
        assert (out / name).exists(), name
    for name in ("accuracy_comparison.png", "validation_curves.png", "four_inputs.png"):
        assert (out / "figures" / name).stat().st_size > 1000, name
    text = (out / "report.md").read_text()
    assert "Caveats" in text and "Sturm" in text and "| CNN MFCC | mfcc | 0.75 |" in text
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "<table>" in html
    assert "LEAKY" not in (out / "results.md").read_text()

    # A re-run reuses every finished model: training must not be called again.
    import musicgenre.training.trainer as trainer

    def boom(*a, **k):
        raise AssertionError("finished model was retrained")

    monkeypatch.setattr(trainer, "train_model", boom)
    again = _run(tiny_demo, out, cache, rows="cnn_mfcc,lstm_mfcc,waveform_cnn")
    assert [r.summary.track_accuracy for r in again.rows] == [r.summary.track_accuracy for r in report.rows]


def test_leaky_segment_protocol_is_labelled_in_every_output(
    tiny_demo: Path, cache: Path, tmp_path: Path
) -> None:
    out = tmp_path / "leaky"
    report = _run(tiny_demo, out, cache, protocol="segment", rows="cnn_mfcc")
    assert report.rows[0].summary.leaky is True
    assert "LEAKY" in (out / "report.md").read_text().splitlines()[0]
    assert "LEAKY" in (out / "report.html").read_text()
    split = json.loads((out / "cnn_mfcc" / "split.json").read_text())
    assert split["leaky"] is True
    assert set(split["tracks"]["train"]) & set(split["tracks"]["test"])  # it really does leak


def test_kfold_reports_mean_and_std(tiny_demo: Path, cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "kfold"
    report = _run(tiny_demo, out, cache, protocol="kfold", rows="cnn_mfcc", k=3)
    row = report.rows[0].summary
    assert row.folds == 3 and row.track_accuracy_std is not None
    assert row.n_test_tracks == 40  # every track is tested exactly once
    assert sorted(p.name for p in (out / "cnn_mfcc").glob("fold-*")) == ["fold-1", "fold-2", "fold-3"]
    assert "±" in report.markdown_table
    # One confusion matrix pools the test tracks of every fold: each of the 40 tracks exactly once.
    from musicgenre.report import pooled_confusion

    cm, n_folds = pooled_confusion(
        out / "cnn_mfcc", sorted(p.name for p in tiny_demo.iterdir() if p.is_dir())
    )
    assert n_folds == 3 and cm.sum() == 40 and (cm.sum(axis=1) == 4).all()
    assert "cnn_mfcc/confusion_matrix_all_folds.png" in (out / "report.md").read_text()
    assert (out / "cnn_mfcc" / "confusion_matrix_all_folds.png").stat().st_size > 1000


def test_held_out_evaluation_uses_only_the_checkpoint(tiny_demo: Path, cache: Path, tmp_path: Path) -> None:
    held = make_demo_dataset(tmp_path / "held", tracks_per_genre=3, clip_seconds=3.0, seed=7, progress=False)
    out = tmp_path / "study"
    report = _run(tiny_demo, out, cache, rows="cnn_mfcc", eval_data=held)
    acc = report.rows[0].heldout.track_accuracy
    assert 0.0 <= acc <= 1.0
    metrics = json.loads((out / "cnn_mfcc" / "eval-held" / "evaluation.json").read_text())
    assert metrics["n_test_tracks"] == 30 and metrics["track_accuracy"] == acc
    # Each 3 s held-out clip is padded to the 6 s clip length; its all-padding second segment is dropped.
    assert metrics["n_test_segments"] == 30 and metrics["max_padding"] == 0.5


def test_held_out_evaluation_can_keep_the_padding(tiny_demo: Path, cache: Path, tmp_path: Path) -> None:
    from musicgenre.experiment import evaluate_run

    held = make_demo_dataset(tmp_path / "held", tracks_per_genre=2, clip_seconds=3.0, seed=7, progress=False)
    out = tmp_path / "study"
    _run(tiny_demo, out, cache, rows="cnn_mfcc")
    kept = evaluate_run(out / "cnn_mfcc", data_dir=held, runtime=_runtime(cache), eval_max_padding=None)
    assert kept.n_test_tracks == 20 and kept.n_test_segments == 40 and kept.max_padding is None


def test_select_rows() -> None:
    assert [r.key for r in select_rows("cnn2d", None)] == ["cnn_mfcc", "cnn_spectrogram"]
    assert {r.key for r in select_rows(None, "mfcc,waveform")} == {"cnn_mfcc", "lstm_mfcc", "waveform_cnn"}
    # the study's 7, ours 3, the zero-shot floor, the anchored head, an augmented row, a fine-tuned row, 3 musicnn rows, 5 ensembles
    assert len(select_rows(None, None)) == len(STUDY_ROWS) == 22
    with pytest.raises(Exception, match="unknown study row"):
        select_rows("resnet", None)
    study_rows = [r for r in STUDY_ROWS if r.study_accuracy is not None]
    assert np.isclose(
        sum(r.study_accuracy for r in study_rows), 0.75 + 0.32 + 0.81 + 0.59 + 0.60 + 0.77 + 0.81
    )


def test_held_out_scores_split_by_seen_and_unseen_artist(
    tiny_demo: Path, cache: Path, tmp_path: Path
) -> None:
    held = make_demo_dataset(tmp_path / "held", tracks_per_genre=3, clip_seconds=3.0, seed=7, progress=False)
    artists = tmp_path / "artists.csv"  # track g.0000i is by artist "g i", in both datasets
    ids = sorted({p.stem for d in (tiny_demo, held) for p in d.rglob("*.au")})
    artists.write_text("track_id,artist\n" + "".join(f"{t},{t.replace('.', ' ')}\n" for t in ids))
    out = tmp_path / "study"
    report = run_study(
        tiny_demo, out, rows=select_rows("cnn_mfcc,zeroshot_yamnet", None),
        protocol=ProtocolSpec("track", seed=0, artists=artists), train=TrainSpec(epochs=2, seed=0),
        segment=SegmentConfig(clip_seconds=6.0), runtime=_runtime(cache), heldout=HeldOut(held),
    )  # fmt: skip
    sides = json.loads((out / "cnn_mfcc" / "split.json").read_text())["tracks"]
    trained = set(sides["train"]) | set(sides["valid"])
    seen_file = json.loads((out / "cnn_mfcc" / "eval-held" / "artists.json").read_text())
    held_ids = sorted(p.stem for p in held.rglob("*.au"))
    assert seen_file["seen_tracks"] == [t for t in held_ids if t in trained]
    assert seen_file["unseen_tracks"] == [t for t in held_ids if t not in trained]
    row = report.rows[0].to_row()
    assert row["n_unseen"] == len(seen_file["unseen_tracks"]) and row["n_seen"] == len(
        seen_file["seen_tracks"]
    )
    assert row["unseen_accuracy_low"] <= row["unseen_accuracy"] <= row["unseen_accuracy_high"]
    text = (out / "report.md").read_text()
    assert "Unseen-artist acc. [95% CI]" in text and "figures/unseen_accuracy.png" in text
    assert "## How sure are these numbers" in text and "Zero-shot floor" in text
    assert "figures/track_accuracy_ci.png" in text and (out / "figures" / "track_accuracy_ci.png").is_file()
    assert (out / "figures" / "unseen_accuracy.png").stat().st_size > 1000
