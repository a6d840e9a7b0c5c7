"""Zero-shot YAMNet: the genre mapping, the head against YAMNet's reference scores, and a run end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from musicgenre.errors import MusicGenreError
from musicgenre.models import build_model, get_model_spec
from musicgenre.models.zeroshot import YAMNET_GENRE_CLASSES, ZeroShotHead, class_indices, read_mapping

GENRES = sorted(YAMNET_GENRE_CLASSES)


def test_mapping_covers_gtzan_and_resolves_against_the_class_map(yamnet_dir: Path) -> None:
    from musicgenre.yamnet.tagging import load_class_names

    names = load_class_names(yamnet_dir / "yamnet_class_map.csv")
    idx = class_indices(GENRES, YAMNET_GENRE_CLASSES, names)
    assert [names[i[0]] for i in idx] == [YAMNET_GENRE_CLASSES[g][0] for g in GENRES]
    assert len({i[0] for i in idx}) == 10  # ten different classes
    with pytest.raises(MusicGenreError, match=r"no AudioSet class for the genre\(s\) \['polka'\]"):
        class_indices(["polka", "jazz"], YAMNET_GENRE_CLASSES, names)
    with pytest.raises(MusicGenreError, match="not classes of the class map"):
        class_indices(["jazz"], {"jazz": ["Jazz", "Bebop music"]}, names)


def test_read_mapping(tmp_path: Path) -> None:
    f = tmp_path / "map.csv"
    f.write_text("genre,class\nelectronic,Electronic music\nelectronic,Techno\nfolk,Folk music\n")
    assert read_mapping(f) == {"electronic": ("Electronic music", "Techno"), "folk": ("Folk music",)}
    f.write_text("genre,class\nfolk,\n")
    with pytest.raises(MusicGenreError, match=r"map.csv:2: expected a 'genre,class' row"):
        read_mapping(f)
    with pytest.raises(MusicGenreError, match="cannot read"):
        read_mapping(tmp_path / "missing.csv")


def test_head_by_hand() -> None:
    head = ZeroShotHead("e", [[0], [1, 2]])
    w = torch.zeros(521, 1024)
    w[0, 0], w[1, 1], w[2, 2] = 1.0, 1.0, 1.0
    head.set_dense(w, torch.zeros(521))
    x = torch.zeros(1, 2, 1024)
    x[0, 0, 0], x[0, 1, 0] = 2.0, -2.0  # genre 0: sigmoid(2), sigmoid(-2) -> mean 0.5
    x[0, 0, 2], x[0, 1, 1] = 3.0, 1.0  # genre 1: max(s(0), s(3)) = s(3), max(s(1), s(0)) = s(1)
    s = torch.sigmoid
    want = torch.log(torch.tensor([[0.5, float((s(torch.tensor(3.0)) + s(torch.tensor(1.0))) / 2)]]))
    torch.testing.assert_close(head({"e": x}), want)


def test_head_reproduces_yamnet_scores_on_the_reference_cases(yamnet_dir: Path) -> None:
    # YAMNet's own dense layer on the interpreter's reference embeddings gives the interpreter's scores.
    from musicgenre.yamnet.weights import load_weights

    fused = load_weights(yamnet_dir / "yamnet_int8.tflite")
    ref = np.load(yamnet_dir / "tflite_reference_outputs.npz")
    cases = sorted({k.split("/")[0] for k in ref.files})
    names_idx = list(range(521))
    head = ZeroShotHead("e", [[i] for i in names_idx])
    head.set_dense(fused.dense_weight, fused.dense_bias)
    for case in cases:
        emb = torch.from_numpy(ref[f"{case}/embedding"]).float()[None, None]
        got = torch.exp(head({"e": emb}))[0].numpy()
        np.testing.assert_allclose(got, ref[f"{case}/scores"], atol=0.02, err_msg=case)
        assert got.argmax() == ref[f"{case}/scores"].argmax(), case


def test_builder_needs_the_classes_and_has_no_trainable_parameters() -> None:
    assert get_model_spec("zeroshot_yamnet").trainer == "zeroshot"
    with pytest.raises(ValueError, match="one non-empty list"):
        build_model("zeroshot_yamnet", {"yamnet_embedding": (6, 1024)}, 10)
    with pytest.raises(ValueError, match="YAMNet embeddings"):
        build_model("zeroshot_yamnet", {"mfcc": (94, 20)}, 2, classes=((1,), (2,)))
    model = build_model("zeroshot_yamnet", {"yamnet_embedding": (6, 1024)}, 2, classes=((1,), (2, 3)))
    assert sum(p.numel() for p in model.parameters()) == 0


def test_zero_shot_run_scores_without_training(tmp_path: Path, yamnet_dir: Path) -> None:
    """train_model fits nothing: the checkpoint holds YAMNet's dense layer and the class table."""
    from musicgenre.checkpoint import load_checkpoint
    from musicgenre.features import make_config
    from musicgenre.features.pretrained import with_weights
    from musicgenre.splits import Split
    from musicgenre.training import train_model
    from musicgenre.yamnet.weights import resolve_weights

    rng = np.random.default_rng(0)
    n = 40
    emb = rng.standard_normal((n, 6, 1024)).astype(np.float32)
    labels = np.arange(n) % 10
    cfgs = with_weights({"yamnet_embedding": make_config("yamnet_embedding", precision="float32")},
                        resolve_weights(yamnet_dir / "yamnet_int8.tflite"))  # fmt: skip
    from musicgenre.audio.segment import SegmentConfig

    seg = SegmentConfig()
    split = Split("t", "track", np.arange(20), np.arange(20, 30), np.arange(30, 40))
    res = train_model(
        "zeroshot_yamnet", {"yamnet_embedding": emb}, labels, split, label_names=GENRES,
        feature_configs=cfgs, segment_config=seg, out_dir=tmp_path / "run", progress=False,
    )  # fmt: skip
    ckpt = load_checkpoint(res.checkpoint_path)
    assert ckpt.normalisation == {} and res.n_params == 0 and res.best_epoch == 1
    assert ckpt.model_options["class_names"][GENRES.index("jazz")] == ["Jazz"]
    fused_w = ckpt.state_dict["weight"].numpy()
    from musicgenre.yamnet.weights import load_weights

    np.testing.assert_array_equal(fused_w, load_weights(yamnet_dir / "yamnet_int8.tflite").dense_weight)
