"""YAMNet model invariances, the study's shapes, the registered features, the HEAR API and the tag CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from musicgenre.audio.io import load_audio
from musicgenre.audio.segment import SegmentConfig, split_segments
from musicgenre.errors import MusicGenreError
from musicgenre.features import yamnet as yamnet_features
from musicgenre.features.registry import extract, extract_many
from musicgenre.yamnet import hear
from musicgenre.yamnet.model import YAMNet, get_model
from musicgenre.yamnet.tagging import load_class_names, tag_rows

#: One torch thread (see conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tflite_path(yamnet_dir: Path) -> Path:
    return yamnet_dir / "yamnet_int8.tflite"


@pytest.fixture(scope="module")
def model(tflite_path: Path) -> YAMNet:
    """The float32 model: the strict reference for the fast path's arithmetic."""
    return get_model(tflite_path, precision="float32")


@pytest.fixture(scope="module")
def model_bf16(tflite_path: Path) -> YAMNet:
    return get_model(tflite_path, precision="bfloat16")


@pytest.fixture(scope="module")
def music(gtzan_mini: Path) -> np.ndarray:
    """Three real 3 s segments (metal, classical, hiphop) at 16 kHz."""
    clips = [
        load_audio(gtzan_mini / g / f"{g}.00002.au", duration=3.0) for g in ("metal", "classical", "hiphop")
    ]
    return np.stack([np.pad(c, (0, 48000 - c.shape[0])) for c in clips]).astype(np.float32)


def test_model_is_cached_per_weights_path(model: YAMNet, tflite_path: Path) -> None:
    assert get_model(tflite_path, precision="float32") is model
    assert model.precision == "float32"
    assert model.weights_kind == "tflite-int8"
    assert model.sample_rate == 16000 and model.scene_embedding_size == model.timestamp_embedding_size == 1024


def test_study_shapes(model: YAMNet, music: np.ndarray) -> None:
    out = model.infer(music[:1])
    assert out.log_mel.shape == (1, 336, 64)
    assert out.embeddings.shape == (1, 6, 1024)
    assert out.scores.shape == (1, 6, 521)
    one_patch = model.infer(np.zeros((1, 15600), np.float32))
    assert one_patch.embeddings.shape == (1, 1, 1024) and one_patch.log_mel.shape == (1, 96, 64)
    for n in (1, 400, 8000, 15599):  # shorter than 0.975 s: padded to one patch
        out = model.infer(np.full((1, n), 0.1, np.float32))
        assert out.embeddings.shape == (1, 1, 1024) and out.log_mel.shape == (1, 96, 64)


def test_fast_path_matches_plain_path(model: YAMNet, music: np.ndarray) -> None:
    fast = model.infer(music, fast=True)
    plain = model.infer(music, fast=False)
    eager = model(torch.from_numpy(music))
    torch.testing.assert_close(fast.log_mel, eager.log_mel, rtol=0, atol=0)
    for other in (plain, eager):
        torch.testing.assert_close(fast.embeddings, other.embeddings, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(fast.scores, other.scores, rtol=1e-4, atol=1e-5)


def test_batched_equals_per_item_and_deterministic(model: YAMNet, music: np.ndarray) -> None:
    batched = model.infer(music)
    for i in range(music.shape[0]):
        single = model.infer(music[i : i + 1])
        torch.testing.assert_close(single.embeddings[0], batched.embeddings[i], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(single.log_mel[0], batched.log_mel[i], rtol=0, atol=1e-6)
    chunked = model.infer(music, chunk=5)  # chunks that cut through clips give the same rows
    torch.testing.assert_close(chunked.embeddings, batched.embeddings, rtol=1e-5, atol=1e-5)
    again = model.infer(music)
    assert torch.equal(again.embeddings, batched.embeddings) and torch.equal(again.scores, batched.scores)


def _cosines(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.cosine_similarity(a.reshape(-1, 1024), b.reshape(-1, 1024), dim=1)


def test_bfloat16_is_float_equivalent(model: YAMNet, model_bf16: YAMNet, music: np.ndarray) -> None:
    """bfloat16 convolutions: embeddings within cosine 0.998 of float32 on real music (measured min 0.9995
    here, 0.9986 over the 60 patches of metal.00000), same top-1 class, same log-mel; deterministic; no NaN."""
    f32, b16 = model.infer(music), model_bf16.infer(music)
    assert b16.embeddings.dtype == torch.float32 and torch.isfinite(b16.embeddings).all()
    torch.testing.assert_close(b16.log_mel, f32.log_mel, rtol=0, atol=0)
    assert _cosines(b16.embeddings, f32.embeddings).min() >= 0.998
    assert torch.equal(b16.scores.argmax(-1), f32.scores.argmax(-1))
    assert (b16.scores - f32.scores).abs().max() <= 0.03
    again = model_bf16.infer(music)
    assert torch.equal(again.embeddings, b16.embeddings)
    for i in range(music.shape[0]):  # a row does not depend on the rest of its batch beyond rounding
        single = model_bf16.infer(music[i : i + 1])
        assert _cosines(single.embeddings[0], b16.embeddings[i]).min() >= 0.9999


def test_precision_resolution(monkeypatch: pytest.MonkeyPatch, tflite_path: Path) -> None:
    from musicgenre.yamnet import fast

    monkeypatch.delenv(fast.PRECISION_ENV_VAR, raising=False)
    auto = "bfloat16" if fast.native_bfloat16() else "float32"
    assert fast.resolve_precision("auto") == fast.resolve_precision(None) == auto
    assert fast.resolve_precision("float32") == "float32"
    monkeypatch.setenv(fast.PRECISION_ENV_VAR, "float32")
    assert fast.resolve_precision("auto") == "float32" and fast.resolve_precision("bfloat16") == "bfloat16"
    with pytest.raises(ValueError, match="precision must be one of"):
        fast.resolve_precision("float16")
    # bfloat16 and float32 features never share a cache store
    from musicgenre.features.registry import make_config

    keys = {
        make_config("yamnet_embedding", weights=str(tflite_path), precision=p).key()
        for p in ("float32", "bfloat16")
    }
    assert len(keys) == 2


def test_no_nan_on_extreme_inputs(model: YAMNet) -> None:
    rng = np.random.default_rng(0)
    x = np.stack(
        [
            np.zeros(48000),
            np.ones(48000),  # DC
            np.sign(rng.standard_normal(48000)),  # full-scale noise
            1e-9 * rng.standard_normal(48000),  # nearly silent
        ]
    ).astype(np.float32)
    out = model.infer(x)
    for t in out:
        assert torch.isfinite(t).all()
    assert ((out.scores >= 0) & (out.scores <= 1)).all()


def test_music_is_tagged_as_music(model: YAMNet, music: np.ndarray) -> None:
    names = load_class_names()
    assert len(names) == 521 and names[0] == "Speech" and names[132] == "Music"
    scores = model.infer(music).scores.mean(dim=1)
    assert (scores.argmax(dim=1) == 132).all()
    rows = tag_rows(model.infer(music[:1]).scores[0].numpy(), names, top_k=2, patches_per_row=2, duration=3.0)
    assert len(rows) == 3 and rows[0].top[0][0] == "Music" and rows[-1].end == 3.0


# ---------------------------------------------------------------------------------------- features


def test_features_shapes_and_one_pass(
    tflite_path: Path, music: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    emb_cfg = yamnet_features.YamnetEmbeddingConfig(weights=str(tflite_path))
    mel_cfg = yamnet_features.YamnetLogMelConfig(weights=str(tflite_path))
    seg = SegmentConfig()
    assert emb_cfg.shape(seg) == (6, 1024) and mel_cfg.shape(seg) == (336, 64)
    assert emb_cfg.shape(SegmentConfig(segment_seconds=0.975, clip_seconds=None)) == (1, 1024)
    assert mel_cfg.shape(SegmentConfig(sample_rate=22050)) == (336, 64)

    calls = []
    real = yamnet_features.yamnet_features
    monkeypatch.setattr(yamnet_features, "yamnet_features", lambda *a: calls.append(1) or real(*a))
    out = extract_many([emb_cfg, mel_cfg], music, 16000)
    assert len(calls) == 1, "both YAMNet features must come from one pass"
    assert out[emb_cfg.key()].shape == (3, 6, 1024) and out[mel_cfg.key()].shape == (3, 336, 64)
    assert out[emb_cfg.key()].dtype == np.float32
    single = extract(emb_cfg, music[:1], 16000)
    np.testing.assert_allclose(single[0], out[emb_cfg.key()][0], rtol=1e-5, atol=1e-5)


def test_features_from_a_real_clip_at_its_own_rate(tflite_path: Path, gtzan_mini: Path) -> None:
    x = load_audio(gtzan_mini / "jazz" / "jazz.00003.au", sample_rate=22050, duration=6.0)
    seg = SegmentConfig(sample_rate=22050, clip_seconds=6.0)
    segments = split_segments(x, seg).samples
    cfg = yamnet_features.YamnetLogMelConfig(weights=str(tflite_path))
    out = extract(cfg, segments, 22050)
    assert out.shape == (2, *cfg.shape(seg)) == (2, 336, 64) and np.isfinite(out).all()


def test_feature_key_names_the_weights(tflite_path: Path, tmp_path: Path) -> None:
    from test_yamnet_weights import keras_layers, write_keras_h5

    h5 = tmp_path / "yamnet.h5"
    write_keras_h5(h5, keras_layers(np.random.default_rng(0)))
    a = yamnet_features.YamnetEmbeddingConfig(weights=str(tflite_path))
    b = yamnet_features.YamnetEmbeddingConfig(weights=str(h5))
    assert a.weights_identity().startswith("tflite-int8:") and b.weights_identity().startswith("keras-float:")
    assert (
        a.key() != b.key()
        and a.key() == yamnet_features.YamnetEmbeddingConfig(weights=str(tflite_path)).key()
    )
    assert a.key().startswith("yamnet_embedding-")


def test_feature_key_does_not_follow_the_environment(
    tflite_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A config's cache key is fixed when it is built, whatever MUSICGENRE_YAMNET_WEIGHTS says later."""
    from musicgenre.features.registry import config_from_dict, make_config
    from musicgenre.yamnet.weights import ENV_VAR

    other = tmp_path / "other.h5"
    other.write_bytes(b"\x89HDF\r\n\x1a\n not YAMNet, but a file with another identity")
    monkeypatch.setenv(ENV_VAR, str(tflite_path))
    configs = [make_config(name) for name in ("yamnet_embedding", "yamnet_logmel")]
    keys = [c.key() for c in configs]
    restored = [config_from_dict(c.to_dict()) for c in configs]
    for value in (str(other), None, str(tflite_path)):
        if value is None:
            monkeypatch.delenv(ENV_VAR)
        else:
            monkeypatch.setenv(ENV_VAR, value)
        assert [c.key() for c in configs] == keys
        assert [c.key() for c in restored] == keys
        assert all(c.source is not None and c.source.path == tflite_path for c in configs)
    monkeypatch.setenv(ENV_VAR, str(other))
    assert make_config("yamnet_embedding").key() != keys[0]  # read when a config is built


# ---------------------------------------------------------------------------------------- HEAR


def test_hear_api(tflite_path: Path, music: np.ndarray) -> None:
    model = hear.load_model(str(tflite_path))
    audio = torch.from_numpy(music[:2, :20000])
    emb, ts = hear.get_timestamp_embeddings(audio, model)
    assert emb.shape == (2, 2, model.timestamp_embedding_size) and ts.shape == (2, 2)
    torch.testing.assert_close(ts[0], torch.tensor([487.5, 967.5]))
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (2, model.scene_embedding_size)
    torch.testing.assert_close(scene, emb.mean(dim=1))
    assert not scene.is_inference()  # usable by downstream training code
    with pytest.raises(ValueError):
        hear.get_scene_embeddings(audio[0], model)


# ---------------------------------------------------------------------------------------- CLI


def test_tag_cli(tflite_path: Path, gtzan_mini: Path) -> None:
    from musicgenre.cli.yamnet import yamnet

    runner = CliRunner()
    result = runner.invoke(
        yamnet,
        [
            "tag",
            str(gtzan_mini / "classical" / "classical.00002.au"),
            "--weights",
            str(tflite_path),
            "--duration",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "class map:" in result.output and "yamnet_class_map.csv (521 classes)" in result.output
    assert str(tflite_path.parent.resolve()) in result.output  # the class map beside the weights file
    assert "tflite-int8" in result.output and "Music" in result.output
    assert runner.invoke(yamnet, ["tag", "--help"]).exit_code == 0


@pytest.fixture
def no_class_map(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The class-map module, with an empty cache, no shared folder and no class-map variable."""
    from musicgenre.yamnet import tagging

    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICGENRE_SHARED", str(tmp_path / "no-shared"))
    monkeypatch.delenv(tagging.CLASS_MAP_ENV_VAR, raising=False)
    return tagging


def test_class_map_resolution_order(
    no_class_map, yamnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tagging = no_class_map
    with pytest.raises(MusicGenreError, match=r"class map not found.*--class-map PATH"):
        tagging.resolve_class_map(download=False)
    beside = yamnet_dir / tagging.CLASS_MAP_NAME
    assert tagging.resolve_class_map(weights=yamnet_dir / "yamnet_int8.tflite", download=False) == beside
    monkeypatch.setenv("MUSICGENRE_SHARED", str(yamnet_dir.parents[1]))
    assert tagging.resolve_class_map(download=False) == beside
    monkeypatch.setenv(tagging.CLASS_MAP_ENV_VAR, str(tmp_path / "mine.csv"))
    assert tagging.resolve_class_map(download=False) == tmp_path / "mine.csv"
    assert tagging.resolve_class_map(tmp_path / "explicit.csv") == tmp_path / "explicit.csv"


def test_class_map_download_is_verified(
    no_class_map, yamnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tagging = no_class_map
    cached = tmp_path / "cache" / "weights" / tagging.CLASS_MAP_NAME
    # A file that is not Google's class map is refused and not kept.
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("index,mid,display_name\n0,/m/x,Speech\n")
    monkeypatch.setattr(tagging, "CLASS_MAP_URL", wrong.as_uri())
    with pytest.raises(MusicGenreError, match="sha256 checksum mismatch"):
        tagging.resolve_class_map()
    assert not cached.exists()
    # The real file (served from a file:// URL) is downloaded once into the cache, then found there.
    monkeypatch.setattr(tagging, "CLASS_MAP_URL", (yamnet_dir / tagging.CLASS_MAP_NAME).as_uri())
    assert tagging.resolve_class_map() == cached
    assert load_class_names(cached)[132] == "Music"
    monkeypatch.setattr(tagging, "CLASS_MAP_URL", "file:///nonexistent/yamnet_class_map.csv")
    assert tagging.resolve_class_map() == cached
