"""Anchored heads, ensembles, the multi-input probe and the combined model's dense branch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre.audio.segment import SegmentConfig
from musicgenre.models import build_model, get_model_spec
from musicgenre.models.anchored import AnchoredHead, anchor_rows
from musicgenre.models.zeroshot import YAMNET_GENRE_CLASSES
from musicgenre.splits import Split

GENRES = sorted(YAMNET_GENRE_CLASSES)


def _embedding_configs(yamnet_dir: Path) -> dict:
    from musicgenre.features import make_config
    from musicgenre.features.pretrained import with_weights
    from musicgenre.yamnet.weights import resolve_weights

    return with_weights(
        {"yamnet_embedding": make_config("yamnet_embedding", precision="float32")},
        resolve_weights(yamnet_dir / "yamnet_int8.tflite"),
    )


def _toy_embeddings(n: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative (post-ReLU-like) embeddings with a class-dependent bump, ten classes."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    emb = np.abs(rng.standard_normal((n, 6, 1024))).astype(np.float32) * 0.3
    for i, y in enumerate(labels):
        emb[i, :, y * 50 : y * 50 + 20] += 1.0
    return emb, labels


SPLIT = Split("t", "track", np.arange(0, 40), np.arange(40, 50), np.arange(50, 60))


def _train(name: str, inputs: dict, labels: np.ndarray, cfgs: dict, out: Path, **options):
    from musicgenre.training import train_model

    return train_model(
        name, inputs, labels, SPLIT, label_names=GENRES, feature_configs=cfgs, segment_config=SegmentConfig(),
        out_dir=out, progress=False, model_options=options or None,
    )  # fmt: skip


# ------------------------------------------------------------------------------------------ anchored head
def test_anchor_rows_are_the_mean_of_the_mapped_rows() -> None:
    w = torch.arange(12.0).reshape(4, 3)
    b = torch.tensor([0.0, 1.0, 2.0, 3.0])
    aw, ab = anchor_rows(w, b, [[2], [0, 1]])
    torch.testing.assert_close(aw, torch.stack([w[2], (w[0] + w[1]) / 2]))
    torch.testing.assert_close(ab, torch.tensor([2.0, 0.5]))
    head = AnchoredHead("e", 3, 2)
    head.set_anchor(aw, ab)
    x = torch.rand(5, 7, 3)
    torch.testing.assert_close(head({"e": x}), x.mean(1) @ aw.T + ab)


def test_anchored_head_starts_at_the_audioset_rows_and_stays_near_them(tmp_path: Path, yamnet_dir: Path):
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.training.zeroshot_fit import zeroshot_options
    from musicgenre.yamnet.tagging import load_class_names
    from musicgenre.yamnet.weights import load_weights

    fused = load_weights(yamnet_dir / "yamnet_int8.tflite")
    names = load_class_names(yamnet_dir / "yamnet_class_map.csv")
    opts = zeroshot_options(GENRES)
    head = build_model("anchored_yamnet", {"yamnet_embedding": (6, 1024)}, 10, **opts)
    head.set_anchor(*anchor_rows(fused.dense_weight, fused.dense_bias, opts["classes"]))
    for g, genre in enumerate(GENRES):  # before training: exactly the AudioSet row of the genre's class
        row = names.index(YAMNET_GENRE_CLASSES[genre][0])
        np.testing.assert_array_equal(head.linear.weight[g].detach().numpy(), fused.dense_weight[row])
        assert float(head.linear.bias[g].detach()) == pytest.approx(float(fused.dense_bias[row]))

    emb, labels = _toy_embeddings()
    cfgs = _embedding_configs(yamnet_dir)
    res = _train("anchored_yamnet", {"yamnet_embedding": emb}, labels, cfgs, tmp_path / "a")
    ckpt = load_checkpoint(res.checkpoint_path)
    assert ckpt.normalisation == {} and get_model_spec("anchored_yamnet").trainer == "anchored"
    anchor = ckpt.state_dict["anchor_weight"].numpy()
    rows = [names.index(YAMNET_GENRE_CLASSES[g][0]) for g in GENRES]
    np.testing.assert_array_equal(anchor, fused.dense_weight[rows])
    lam = ckpt.model_options["l2sp"]
    assert lam in (1e-4, 1e-3, 1e-2, 1e-1, 1.0) and res.history["l2sp_lam"]
    moved = np.abs(ckpt.state_dict["linear.weight"].numpy() - anchor).max()
    assert 0 < moved < 50  # trained, but pulled toward the anchor
    assert res.best_valid_acc == pytest.approx(1.0)  # the toy classes are separable
    # Deterministic: the same fit again gives the same weights.
    again = load_checkpoint(
        _train("anchored_yamnet", {"yamnet_embedding": emb}, labels, cfgs, tmp_path / "b").checkpoint_path
    )
    torch.testing.assert_close(again.state_dict["linear.weight"], ckpt.state_dict["linear.weight"])


def test_l2sp_strength_decides_how_far_the_head_moves() -> None:
    from musicgenre.training.anchored_fit import fit_l2sp

    g = torch.Generator().manual_seed(0)
    x = torch.rand(50, 8, generator=g, dtype=torch.float64)
    y = torch.arange(50) % 3
    w0, b0 = torch.zeros(3, 8), torch.zeros(3)
    far = [float((fit_l2sp(x, y, w0, b0, lam)[0] - w0.double()).norm()) for lam in (1e-3, 1e-1, 10.0)]
    assert far[0] > far[1] > far[2] > 0
    w, b = fit_l2sp(x, y, w0, b0, 0.1)  # the optimum: the objective's gradient vanishes there
    w.requires_grad_(True)
    b.requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(x @ w.T + b, y) + 0.05 * (w.pow(2).sum() + b.pow(2).sum())
    loss.backward()
    assert float(w.grad.abs().max()) < 1e-5 and float(b.grad.abs().max()) < 1e-5


# ---------------------------------------------------------------------------------------------- ensemble
def test_best_temperature_recovers_an_overconfident_model() -> None:
    from musicgenre.training.ensemble_fit import best_temperature

    rng = np.random.default_rng(0)
    true_logits = rng.standard_normal((4000, 5))
    p = np.exp(true_logits) / np.exp(true_logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(5, p=row) for row in p])
    assert best_temperature(3.0 * true_logits, labels) == pytest.approx(3.0, rel=0.1)


def test_ensemble_averages_calibrated_members_and_round_trips(tmp_path: Path, yamnet_dir: Path) -> None:
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.training.inference import predict_proba

    emb, labels = _toy_embeddings()
    cfgs = _embedding_configs(yamnet_dir)
    inputs = {"yamnet_embedding": emb}
    zs = _train("zeroshot_yamnet", inputs, labels, cfgs, tmp_path / "zs")
    probe = _train("probe", inputs, labels, cfgs, tmp_path / "probe")
    ens = _train("ensemble", inputs, labels, cfgs, tmp_path / "ens",
                 member_dirs=[str(tmp_path / "zs"), str(tmp_path / "probe")])  # fmt: skip
    ckpt = load_checkpoint(ens.checkpoint_path)
    assert [m["model"] for m in ckpt.model_options["members"]] == ["zeroshot_yamnet", "probe"]
    assert "member_dirs" not in ckpt.model_options and ckpt.normalisation == {}
    temps = ckpt.state_dict["temperature"].numpy()
    assert np.all((temps >= 0.05) & (temps <= 20.0))
    rows = np.arange(60)
    members = [predict_proba(r.checkpoint_path, inputs, rows) for r in (zs, probe)]
    members_logits = [np.log(np.clip(p, 1e-30, 1)) for p in members]
    want = np.mean(
        [np.exp(z / t - np.log(np.exp(z / t).sum(1, keepdims=True))) for z, t in zip(members_logits, temps, strict=True)],
        axis=0,
    )  # fmt: skip
    got = predict_proba(ens.checkpoint_path, inputs, rows)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert np.isfinite(got).all()
    # Self-contained: the members' folders can go.
    import shutil

    shutil.rmtree(tmp_path / "zs")
    shutil.rmtree(tmp_path / "probe")
    np.testing.assert_allclose(predict_proba(ens.checkpoint_path, inputs, rows), got, atol=1e-6)


def test_ensemble_needs_finished_members(tmp_path: Path, yamnet_dir: Path) -> None:
    from musicgenre.training.result import TrainingError

    emb, labels = _toy_embeddings()
    with pytest.raises(TrainingError, match=r"has no model\.ckpt"):
        _train("ensemble", {"yamnet_embedding": emb}, labels, _embedding_configs(yamnet_dir), tmp_path / "e",
               member_dirs=[str(tmp_path / "x"), str(tmp_path / "y")])  # fmt: skip


def test_study_rows_run_an_ensembles_members_first() -> None:
    from musicgenre.study import STUDY_ROWS, select_rows

    keys = [r.key for r in select_rows("ensemble_zeroshot_anchored", None)]
    assert keys == ["zeroshot_yamnet", "anchored_yamnet", "ensemble_zeroshot_anchored"]
    by_key = {r.key: r for r in STUDY_ROWS}
    assert by_key["ensemble_lstm_musicnn"].inputs == ("yamnet_embedding", "musicnn_msd")
    for r in STUDY_ROWS:
        if r.members:  # members come earlier in the grid
            assert all([x.key for x in STUDY_ROWS].index(m) < STUDY_ROWS.index(r) for m in r.members)


# ----------------------------------------------------------------------- probe and combined on vectors
def test_probe_on_a_sequence_and_a_vector_reproduces_sklearn() -> None:
    from musicgenre.models.probe import LinearProbe, fit_logistic_probe, pool_numpy

    rng = np.random.default_rng(1)
    seq = rng.standard_normal((80, 5, 6)).astype(np.float32)
    vec = rng.standard_normal((80, 7)).astype(np.float32)
    y = np.arange(80) % 3
    vec[:, 0] += y
    feats = np.concatenate([pool_numpy(seq), pool_numpy(vec)], axis=1)
    assert feats.shape == (80, 12 + 7)
    fit = fit_logistic_probe(feats[:60], y[:60], feats[60:], y[60:], 3, c_grid=(0.1, 1.0))
    probe = build_model("probe", {"seq": (5, 6), "vec": (7,)}, 3)
    assert isinstance(probe, LinearProbe)
    probe.set_parameters(fit.mean, fit.scale, fit.coef, fit.intercept)
    with torch.no_grad():
        ours = torch.softmax(probe({"seq": torch.from_numpy(seq), "vec": torch.from_numpy(vec)}), 1).numpy()
    np.testing.assert_allclose(ours, fit.estimator.predict_proba(fit.scaler.transform(feats)), atol=2e-5)


def test_combined_gives_a_pooled_vector_a_dense_branch() -> None:
    model = build_model("combined", {"yamnet_embedding": (6, 1024), "musicnn_msd": (1506,)}, 10)
    kinds = [key.split("__")[1] for key, _ in model.routes]
    assert kinds == ["cnn1d", "bilstm", "dense"]
    wave = build_model("combined", {"waveform": (48000,)}, 10)
    assert [key.split("__")[1] for key, _ in wave.routes] == ["waveform_cnn"]
    x = {"yamnet_embedding": torch.randn(4, 6, 1024), "musicnn_msd": torch.randn(4, 1506)}
    out = model(x)
    assert out.shape == (4, 10) and torch.isfinite(out).all()
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
