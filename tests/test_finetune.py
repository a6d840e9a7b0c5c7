"""The fine-tuned YAMNet: its start equals YAMNet, freezing, a training run and predict on a real clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from musicgenre.audio.segment import SegmentConfig
from musicgenre.features.yamnet_activations import modules_of_layers
from musicgenre.models import build_model
from musicgenre.models.finetune import FinetunedYAMNet
from musicgenre.models.zeroshot import YAMNET_GENRE_CLASSES
from musicgenre.splits import Split

GENRES = sorted(YAMNET_GENRE_CLASSES)


def _logmel_config(yamnet_dir: Path, name: str = "yamnet_logmel"):
    from musicgenre.features import make_config
    from musicgenre.features.pretrained import with_weights
    from musicgenre.yamnet.weights import resolve_weights

    return with_weights({name: make_config(name)}, resolve_weights(yamnet_dir / "yamnet_int8.tflite"))


def _real_segments(gtzan_mini: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` real 3 s segments at 16 kHz, one per genre in turn, and their labels."""
    from musicgenre.audio.io import load_audio

    segs, labels = [], []
    for i in range(n):
        genre = GENRES[i % 10]
        path = sorted((gtzan_mini / genre).iterdir())[i // 10]
        segs.append(load_audio(path, 16000, offset=3.0, duration=3.0)[:48000])
        labels.append(i % 10)
    return np.stack(segs).astype(np.float32), np.array(labels)


def test_layer_module_count() -> None:
    from musicgenre.features.yamnet_activations import boundary_shape

    assert modules_of_layers(0) == 0 and modules_of_layers(1) == 1 and modules_of_layers(14) == 27
    assert boundary_shape(12) == (512, 6, 4) and boundary_shape(13) == (1024, 3, 2)
    model = build_model("finetune_yamnet", {"yamnet_logmel": (336, 64)}, 10, freeze_layers=12)
    trainable = [m for m in model.cnn.layers if any(p.requires_grad for p in m.parameters())]
    assert len(trainable) == 27 - modules_of_layers(12) == 4


def test_starts_as_yamnet_and_trains_only_the_unfrozen_layers(gtzan_mini: Path, yamnet_dir: Path) -> None:
    from musicgenre.features.registry import extract_many
    from musicgenre.training.finetune_fit import init_finetune
    from musicgenre.yamnet.weights import load_weights

    cfg = _logmel_config(yamnet_dir)["yamnet_logmel"]
    segs, labels = _real_segments(gtzan_mini, 4)
    logmel = extract_many([cfg], segs, 16000)[cfg.key()]
    model = build_model("finetune_yamnet", {"yamnet_logmel": logmel.shape[1:]}, 10)
    assert isinstance(model, FinetunedYAMNet)
    options: dict = {}
    init_finetune(model, cfg, GENRES, options)
    fused = load_weights(yamnet_dir / "yamnet_int8.tflite")
    # The head is YAMNet's AudioSet rows of the genres' classes.
    rows = [c[0] for c in options["classes"]]
    np.testing.assert_array_equal(model.head.weight.detach().numpy(), fused.dense_weight[rows])
    # The embedding equals YAMNet's own (float network, same log-mel), averaged over the patches.
    from musicgenre.yamnet.frontend import patches_from_log_mel
    from musicgenre.yamnet.network import YAMNetCNN

    ref = YAMNetCNN(fused)
    x = torch.from_numpy(logmel)
    with torch.no_grad():
        want = ref(patches_from_log_mel(x).reshape(-1, 96, 64))[0].view(4, -1, 1024).mean(1)
        got = model.embed(x)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # Backward reaches the head and the unfrozen layers only.
    model.train()
    loss = (
        torch.nn.functional.cross_entropy(model({"yamnet_logmel": x}), torch.from_numpy(labels))
        + model.penalty()
    )
    loss.backward()
    layers = list(model.cnn.layers)
    assert all(p.grad is None for m in layers[: model.n_frozen] for p in m.parameters())
    assert all(
        p.grad is not None and torch.isfinite(p.grad).all()
        for m in layers[model.n_frozen :]
        for p in m.parameters()
    )
    assert model.head.weight.grad is not None
    assert float(model.penalty().detach()) == 0.0  # at the anchor
    # The cached activations after the frozen layers give the same embedding as running them.
    acfg = _logmel_config(yamnet_dir, "yamnet_activations")["yamnet_activations"]
    acts = extract_many([acfg], segs, 16000)[acfg.key()]
    assert acts.shape == (4, 6, 512, 6, 4)
    cached = build_model("finetune_yamnet", {"yamnet_activations": acts.shape[1:]}, 10)
    init_finetune(cached, acfg, GENRES, {})
    with torch.no_grad():
        torch.testing.assert_close(cached.embed(torch.from_numpy(acts)), want, atol=1e-5, rtol=1e-5)


def test_a_run_trains_checkpoints_and_predicts(tmp_path: Path, gtzan_mini: Path, yamnet_dir: Path) -> None:
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.features.registry import extract_many
    from musicgenre.predict import GenreClassifier
    from musicgenre.training import train_model
    from musicgenre.training.trainer import TrainConfig

    cfgs = _logmel_config(yamnet_dir, "yamnet_activations")
    cfg = cfgs["yamnet_activations"]
    segs, labels = _real_segments(gtzan_mini, 12)
    acts = extract_many([cfg], segs, 16000)[cfg.key()]
    split = Split("t", "track", np.arange(8), np.arange(8, 12), np.arange(0))
    res = train_model(
        "finetune_yamnet", {"yamnet_activations": acts}, labels, split, label_names=GENRES, feature_configs=cfgs,
        segment_config=SegmentConfig(), config=TrainConfig(epochs=2, batch_size=4, lr=1e-3), out_dir=tmp_path / "ft",
        progress=False,
    )  # fmt: skip
    ckpt = load_checkpoint(res.checkpoint_path)
    assert ckpt.normalisation == {} and ckpt.model_options["classes"]
    assert np.isfinite(res.history["train_loss"]).all() and len(res.history["train_loss"]) == 2
    clf = GenreClassifier.from_checkpoint(res.checkpoint_path)
    path = sorted((gtzan_mini / "jazz").iterdir())[0]
    out = clf.predict(path)
    assert out.top_genre in GENRES and abs(sum(out.probabilities.values()) - 1) < 1e-5
