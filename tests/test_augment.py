"""Training-time augmentation: what each one changes, determinism under a seed, and its place in a run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre.training.augment import Augment, apply_augment, augment_generators, parse_augment


def _batch() -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return (
        {
            "mfcc": torch.randn(8, 94, 20, generator=g),
            "waveform": torch.randn(8, 48000, generator=g),
            "musicnn_msd": torch.randn(8, 1506, generator=g),
        },
        torch.arange(8) % 3,
    )


def test_parse_augment() -> None:
    aug = parse_augment("mixup=0.2, time-masks=2,feature-masks=1,mask-fraction=0.2,gain=6")
    assert aug == Augment(mixup_alpha=0.2, time_masks=2, feature_masks=1, mask_fraction=0.2, gain_db=6.0)
    assert not Augment().active and aug.active
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        parse_augment("cutmix=1")
    with pytest.raises(ValueError, match="needs a number"):
        parse_augment("mixup=lots")
    with pytest.raises(ValueError, match="mask_fraction"):
        Augment(mask_fraction=0.0)


def test_same_seed_same_draws_other_epoch_other_draws() -> None:
    x, y = _batch()
    aug = Augment(mixup_alpha=0.4, time_masks=2, feature_masks=2, gain_db=6.0)
    a = apply_augment(x, y, aug, *augment_generators(7, 3))
    b = apply_augment(x, y, aug, *augment_generators(7, 3))
    c = apply_augment(x, y, aug, *augment_generators(7, 4))
    for n in x:
        torch.testing.assert_close(a.inputs[n], b.inputs[n], rtol=0, atol=0)
        assert not torch.equal(a.inputs[n], c.inputs[n])
    assert a.lam == b.lam and torch.equal(a.partner, b.partner)


def test_masks_zero_bands_of_sequences_only() -> None:
    x, y = _batch()
    out = apply_augment(x, y, Augment(time_masks=2, mask_fraction=0.2), *augment_generators(0, 0)).inputs
    zero_frames = (out["mfcc"] == 0).all(dim=2)  # whole time frames set to 0
    assert zero_frames.any() and zero_frames.sum(1).max() <= 2 * int(94 * 0.2)
    kept = ~zero_frames
    torch.testing.assert_close(out["mfcc"][kept], x["mfcc"][kept])
    assert torch.equal(out["waveform"], x["waveform"]) and torch.equal(out["musicnn_msd"], x["musicnn_msd"])
    out = apply_augment(x, y, Augment(feature_masks=1, mask_fraction=0.5), *augment_generators(0, 0)).inputs
    assert (out["mfcc"] == 0).all(dim=1).any()  # whole coefficients set to 0


def test_gain_scales_each_waveform_within_the_range() -> None:
    x, y = _batch()
    out = apply_augment(x, y, Augment(gain_db=6.0), *augment_generators(0, 0)).inputs
    ratio = out["waveform"][:, :100] / x["waveform"][:, :100]
    per_item = ratio[:, 0]
    torch.testing.assert_close(ratio, per_item[:, None].expand_as(ratio))
    assert float(per_item.min()) >= 10 ** (-6 / 20) - 1e-6 and float(per_item.max()) <= 10 ** (6 / 20) + 1e-6
    assert torch.equal(out["mfcc"], x["mfcc"]) and torch.equal(out["musicnn_msd"], x["musicnn_msd"])


def test_mixup_mixes_inputs_and_loss_alike() -> None:
    x, y = _batch()
    m = apply_augment(x, y, Augment(mixup_alpha=0.4), *augment_generators(1, 0))
    assert 0 < m.lam < 1 and m.partner is not None and m.perm is not None
    assert sorted(m.perm.tolist()) == list(range(8)) and torch.equal(m.partner, y[m.perm])
    for n in x:
        torch.testing.assert_close(m.inputs[n], m.lam * x[n] + (1 - m.lam) * x[n][m.perm])
    logits = torch.randn(8, 3)
    loss_fn = torch.nn.CrossEntropyLoss()
    want = m.lam * loss_fn(logits, y) + (1 - m.lam) * loss_fn(logits, m.partner)
    torch.testing.assert_close(m.loss(loss_fn, logits, y), want)


def test_an_augmented_run_is_reproducible_and_recorded(tmp_path: Path) -> None:
    from musicgenre.audio.segment import SegmentConfig
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.features import make_config
    from musicgenre.splits import Split
    from musicgenre.training import train_model
    from musicgenre.training.trainer import TrainConfig

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 94, 20)).astype(np.float32)
    labels = np.arange(40) % 2
    x[labels == 1, :, 0] += 1.0
    split = Split("t", "track", np.arange(30), np.arange(30, 35), np.arange(35, 40))

    def run(out: str, aug: Augment) -> dict:
        cfg = TrainConfig(epochs=2, batch_size=8, seed=3, augment=aug)
        res = train_model(
            "cnn2d", {"mfcc": x}, labels, split, label_names=["a", "b"],
            feature_configs={"mfcc": make_config("mfcc")}, segment_config=SegmentConfig(), config=cfg,
            out_dir=tmp_path / out, progress=False,
        )  # fmt: skip
        return load_checkpoint(res.checkpoint_path).state_dict

    aug = Augment(mixup_alpha=0.2, time_masks=2, feature_masks=2)
    a, b, plain = run("a", aug), run("b", aug), run("plain", Augment())
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0)
    assert any(not torch.equal(a[k], plain[k]) for k in a if a[k].is_floating_point())
    meta = load_checkpoint(tmp_path / "a" / "model.ckpt").meta
    assert meta["train_config"]["augment"]["mixup_alpha"] == 0.2


def test_fingerprint_names_augmentation_only_when_on() -> None:
    from musicgenre.rerun import training_fingerprint
    from musicgenre.training.trainer import TrainConfig

    assert "augment" not in training_fingerprint(TrainConfig())  # as before augmentation existed
    on = TrainConfig(augment=Augment(mixup_alpha=0.3))
    assert training_fingerprint(on)["augment"]["mixup_alpha"] == 0.3
    assert TrainConfig.from_dict(on.to_dict()).augment == Augment(mixup_alpha=0.3)
