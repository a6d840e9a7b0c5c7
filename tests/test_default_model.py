"""The bundled default model: how it is chosen, its low_confidence threshold, and every way to use it.

The bundled checkpoint is the committed ``src/musicgenre/bundled/model.ckpt``: these tests fail (never
skip) when it is missing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

import musicgenre
from musicgenre import default_model as dm
from musicgenre.audio.io import load_audio
from musicgenre.bundled import BUNDLED_DIR, default_checkpoint
from musicgenre.checkpoint import load_checkpoint, save_checkpoint
from musicgenre.cli import main
from musicgenre.cli.predict import model_and_paths
from musicgenre.errors import MusicGenreError
from musicgenre.evaluation.compare import UNSEEN, Comparison
from musicgenre.evaluation.stats import Interval
from musicgenre.predict.classifier import LOW_CONFIDENCE, GenreClassifier

FLOOR = "zeroshot_yamnet"


def run_cli(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


# ------------------------------------------------------------------------------------------- selection
def iv(est: float, low: float, high: float, n: int = 100) -> Interval:
    return Interval(est, low, high, n, 0.95, "test")


def cand(key: str, acc: float, diff: tuple[float, float, float] | None) -> dm.Candidate:
    vs = None if diff is None else Comparison(key, FLOOR, UNSEEN, iv(*diff))
    return dm.Candidate(key, iv(acc, acc - 0.05, acc + 0.05), vs)


def test_best_distinguishable_row_is_chosen() -> None:
    cands = [cand(FLOOR, 0.59, None), cand("anchored_yamnet", 0.66, (0.07, 0.01, 0.13)),
             cand("probe_embedding", 0.60, (0.01, -0.05, 0.07))]  # fmt: skip
    sel = dm.choose(cands, FLOOR)
    assert sel.chosen == sel.best == "anchored_yamnet"
    assert [c.key for c in sel.candidates] == ["anchored_yamnet", "probe_embedding", FLOOR]


def test_indistinguishable_best_falls_back_to_zero_shot() -> None:
    cands = [cand(FLOOR, 0.59, None), cand("anchored_yamnet", 0.66, (0.07, -0.01, 0.15))]
    sel = dm.choose(cands, FLOOR)
    assert sel.best == "anchored_yamnet" and sel.chosen == FLOOR
    assert "Apache-2.0" in sel.reason and "not distinguishable" in sel.reason
    table = dm.candidate_table(sel)
    assert f"**{FLOOR}** (chosen)" in table and "| no |" in table


def test_row_option_forces_a_row_and_unknown_rows_are_refused() -> None:
    cands = [cand(FLOOR, 0.59, None), cand("anchored_yamnet", 0.66, (0.07, 0.01, 0.13))]
    assert dm.choose(cands, FLOOR, forced=FLOOR).chosen == FLOOR
    with pytest.raises(MusicGenreError, match="--row nope"):
        dm.choose(cands, FLOOR, forced="nope")
    with pytest.raises(MusicGenreError, match="no candidate rows"):
        dm.choose([], FLOOR)


def test_among_ties_with_the_best_a_yamnet_only_row_is_preferred() -> None:
    from dataclasses import replace

    best = replace(
        cand("ensemble_zeroshot_musicnn", 0.72, (0.14, 0.06, 0.21)),
        inputs=("yamnet_embedding", "musicnn_msd"),
    )
    tie = replace(cand("ensemble_zeroshot_anchored", 0.71, (0.13, 0.06, 0.19)), inputs=("yamnet_embedding",),
                  vs_best=Comparison("ensemble_zeroshot_musicnn", "x", UNSEEN, iv(0.01, -0.03, 0.05)))  # fmt: skip
    sel = dm.choose([best, tie, cand(FLOOR, 0.59, None)], FLOOR)
    assert sel.best == best.key and sel.chosen == tie.key and "separate download" in sel.reason
    worse = replace(tie, vs_best=Comparison("ensemble_zeroshot_musicnn", "x", UNSEEN, iv(0.05, 0.01, 0.09)))
    assert dm.choose([best, worse, cand(FLOOR, 0.59, None)], FLOOR).chosen == best.key


def test_floor_on_top_is_chosen() -> None:
    sel = dm.choose([cand("probe_embedding", 0.5, (-0.1, -0.2, 0.0)), cand(FLOOR, 0.6, None)], FLOOR)
    assert sel.chosen == FLOOR == sel.best


GENRES = ["blues", "rock"]


def _write_preds(path: Path, rows: list[tuple[str, str, str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["track_id,true,predicted,correct,n_segments,p_blues,p_rock"]
    for tid, true, pred, conf in rows:
        p = {pred: conf, next(g for g in GENRES if g != pred): 1 - conf}
        lines.append(f"{tid},{true},{pred},{true == pred},1,{p['blues']},{p['rock']}")
    path.write_text("\n".join(lines) + "\n")


def _study(root: Path, right: dict[str, object], seen: list[str]) -> Path:
    """A two-fold study folder: rows with test and held-out predictions; ``right[key](i)`` says whether
    the row gets held-out track i right (blues.00100..139 are 0..39, rock.00100..139 are 40..79)."""
    test_ids = [f"{g}.{i:05d}" for g in GENRES for i in range(10)]
    held_ids = [f"{g}.{i:05d}" for g in GENRES for i in range(100, 140)]
    for key, is_right in right.items():
        for fold in (1, 2):
            half = test_ids[fold - 1 :: 2]
            _write_preds(root / key / f"fold-{fold}" / "predictions.csv",
                         [(t, t.split(".")[0], t.split(".")[0], 0.9) for t in half])  # fmt: skip
            rows = []
            for i, t in enumerate(held_ids):
                true = t.split(".")[0]
                wrong = GENRES[1 - GENRES.index(true)]
                rows.append((t, true, true if is_right(i) else wrong, 0.6 + 0.001 * i))  # type: ignore[operator]
            held = root / key / dm.EVAL_NAME / f"fold-{fold}"
            _write_preds(held / "predictions.csv", rows)
            (held / "artists.json").write_text(json.dumps({"seen_tracks": seen}))
    return root


def test_selection_on_a_study_folder(tmp_path: Path) -> None:
    right = {
        FLOOR: lambda i: i < 40,  # every blues, no rock
        "anchored_yamnet": lambda i: True,
        "probe_embedding": lambda i: i % 2 == 1 or i in (2, 4, 6, 8),  # a little better, mixed
    }
    study = _study(tmp_path, right, seen=["blues.00100", "rock.00100"])
    (tmp_path / "cnn_embedding" / "fold-1").mkdir(parents=True)  # still training: left out
    keys = [FLOOR, "anchored_yamnet", "probe_embedding", "cnn_embedding"]
    rows = dm.find_rows(study, keys)
    assert [r[0] for r in rows] == [FLOOR, "anchored_yamnet", "probe_embedding"]
    cands, _ = dm.candidates_from(rows, FLOOR)
    by_key = {c.key: c for c in cands}
    assert by_key["anchored_yamnet"].unseen.n == 78  # 80 held-out tracks, 2 by seen artists
    assert by_key["anchored_yamnet"].distinguishable is True
    assert by_key["probe_embedding"].distinguishable is False
    assert dm.choose(cands, FLOOR).chosen == "anchored_yamnet"
    # Without the clear winner, the best (probe) cannot be told from the floor: the floor is chosen.
    rows = dm.find_rows(study, [FLOOR, "probe_embedding"])
    cands, _ = dm.candidates_from(rows, FLOOR)
    assert dm.choose(cands, FLOOR).chosen == FLOOR
    dec = dm.unseen_decisions(study / FLOOR / dm.EVAL_NAME)
    assert dec.n == 2 * 78 and "blues.00100" not in set(dec.track_ids.tolist())
    assert dec.labels == ("blues", "rock")


# ------------------------------------------------------------------------------------------- threshold
def test_threshold_is_where_accuracy_below_falls_under_a_half() -> None:
    conf = np.arange(40) / 40 + 0.01  # 0.01 ... 0.985
    correct = np.ones(40, dtype=bool)
    correct[:12] = False  # the 12 least confident are wrong, then all right
    # Below t = conf[23] there are 23 decisions, 11 right: 0.478 < 0.5; below conf[24]: 12/24 = 0.5.
    t = dm.low_confidence_threshold(conf, correct)
    assert t == pytest.approx(conf[23])
    band = dm.band_accuracy(conf, correct, t)
    assert band["n_low"] == 23 and band["accuracy_low"] < 0.5 and band["accuracy_rest"] == 1.0
    assert dm.low_confidence_threshold(conf, np.ones(40, dtype=bool)) is None
    assert dm.low_confidence_threshold(conf[:8], correct[:8]) is None  # fewer than MIN_BELOW
    assert dm.low_confidence_threshold(conf[:8], correct[:8], min_count=3) == pytest.approx(conf[7])


def test_checkpoint_threshold_reaches_the_classifier(tmp_path: Path) -> None:
    ckpt = load_checkpoint(default_checkpoint())
    ckpt.meta = {k: v for k, v in ckpt.meta.items() if k != "low_confidence"}
    plain = save_checkpoint(ckpt, tmp_path / "model.ckpt")
    assert GenreClassifier.from_checkpoint(plain).low_confidence == LOW_CONFIDENCE
    ckpt.meta["low_confidence"] = 0.42
    save_checkpoint(ckpt, plain)
    assert GenreClassifier.from_checkpoint(plain).low_confidence == 0.42
    assert GenreClassifier.from_checkpoint(plain, low_confidence=0.1).low_confidence == 0.1


# ------------------------------------------------------------------------------------- bundled model
@pytest.fixture(scope="module")
def bundled() -> GenreClassifier:
    return musicgenre.load()


@pytest.fixture(scope="module")
def clip(gtzan_mini: Path) -> Path:
    return gtzan_mini / "metal" / "metal.00000.au"


@pytest.fixture(scope="module")
def short_clip(clip: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 4 s of a real clip (fast to label)."""
    samples = load_audio(clip, 16000)[: 4 * 16000]
    path = tmp_path_factory.mktemp("clips") / "metal-4s.wav"
    sf.write(path, samples, 16000)
    return path


def test_bundled_files_are_small_and_carry_their_threshold() -> None:
    path = default_checkpoint()
    assert path.parent == BUNDLED_DIR and path.stat().st_size < 5_000_000
    meta = load_checkpoint(path).meta
    assert 0.0 < meta["low_confidence"] < 1.0 and meta["default_model"]["study_row"]
    card = (BUNDLED_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    for text in ("unseen artists", "Apache-2.0", "make default-model", "low_confidence", "2000"):
        assert text in card


def test_missing_bundled_model_names_make_target(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import musicgenre.bundled as b

    monkeypatch.setattr(b, "BUNDLED_DIR", tmp_path)
    with pytest.raises(MusicGenreError, match="make default-model"):
        musicgenre.load()


def test_load_without_argument_labels_a_real_clip(bundled: GenreClassifier, clip: Path) -> None:
    assert bundled.checkpoint_path == default_checkpoint()
    assert bundled.low_confidence == load_checkpoint(default_checkpoint()).meta["low_confidence"]
    r = bundled.predict(clip)
    assert r.top_genre in bundled.labels and r.duration == pytest.approx(30.0, abs=0.1)
    assert len(bundled.labels) == 10


def test_predict_without_model(clip: Path, bundled: GenreClassifier) -> None:
    code, out, err = run_cli("predict", clip, "-f", "json")
    assert code == 0, err
    (rec,) = json.loads(out)
    assert rec["model_id"] == bundled.model_id and rec["error"] is None
    assert rec["top_genre"] == bundled.predict(clip).top_genre


def test_positional_and_model_forms(short_clip: Path, bundled: GenreClassifier) -> None:
    ckpt = default_checkpoint()
    for args in (("--model", ckpt, short_clip), ("-m", ckpt.parent, short_clip), (ckpt, short_clip),
                 (ckpt.parent, short_clip)):  # fmt: skip
        code, out, err = run_cli("predict", *args, "-f", "json")
        assert code == 0, (args, err)
        assert json.loads(out)[0]["model_id"] == bundled.model_id
    code, _, err = run_cli("predict", ckpt)
    assert code == 2 and "is a checkpoint, not audio" in err


def test_model_and_paths_reads_the_old_form_only_when_unambiguous(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.ckpt").write_bytes(b"x")
    music = tmp_path / "music"
    music.mkdir()
    song = tmp_path / "a.mp3"
    assert model_and_paths(None, (run, song)) == (run, (song,))
    assert model_and_paths(None, (tmp_path / "m.ckpt", song)) == (tmp_path / "m.ckpt", (song,))
    assert model_and_paths(None, (music, song)) == (None, (music, song))
    assert model_and_paths(None, (song,)) == (None, (song,))
    assert model_and_paths(run, (run, song)) == (run, (run, song))


def test_model_info(tmp_path: Path, bundled: GenreClassifier) -> None:
    code, out, err = run_cli("model-info")
    assert code == 0, err
    assert bundled.model_id in out and "blues, classical" in out and "yamnet_embedding" in out
    assert "# Model card" in out
    other = tmp_path / "other"
    save_checkpoint(load_checkpoint(default_checkpoint()), other / "model.ckpt")
    code, out, _ = run_cli("model-info", "--model", other)
    assert code == 0 and "no model card" in out


def test_serve_uses_the_bundled_model(monkeypatch: pytest.MonkeyPatch, bundled: GenreClassifier) -> None:
    import uvicorn

    apps = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: apps.append(app))
    code, _, err = run_cli("serve")
    assert code == 0 and len(apps) == 1, err
    assert bundled.model_id in err
    from musicgenre.serve.model import model_info

    info = model_info(bundled)
    assert info.model_card is not None and "# Model card" in info.model_card
