"""YAMNet weights: the Keras h5 loader (on an h5 written here in Google's layout), the TFLite loader,
the verified downloader (file:// URLs only; no test touches the network) and the resolution order."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from musicgenre.errors import WeightsNotFoundError
from musicgenre.pretrained import git_blob_sha1
from musicgenre.yamnet import params as P
from musicgenre.yamnet import weights as W
from musicgenre.yamnet.keras_weights import load_keras_weights
from musicgenre.yamnet.network import YAMNetCNN
from musicgenre.yamnet.tflite_weights import read_tflite

#: One torch thread (see conftest.one_torch_thread).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


# ------------------------------------------------------------------------------------------ h5 writer


def keras_layers(rng: np.random.Generator) -> dict[str, dict[str, np.ndarray]]:
    """Random weights for every YAMNet layer, in Keras names and layouts (BN: center on, scale off)."""

    def bn(channels: int) -> dict[str, np.ndarray]:
        return {
            "beta": rng.normal(0.0, 0.1, channels).astype(np.float32),
            "moving_mean": rng.normal(0.0, 0.1, channels).astype(np.float32),
            "moving_variance": rng.uniform(0.5, 1.5, channels).astype(np.float32),
        }

    layers: dict[str, dict[str, np.ndarray]] = {}
    channels = 1
    for i, (kind, _stride, filters) in enumerate(P.LAYER_DEFS, start=1):
        if kind == "conv":
            std = np.sqrt(2.0 / (9 * channels))
            layers[f"layer{i}/conv"] = {
                "kernel": rng.normal(0, std, (3, 3, channels, filters)).astype(np.float32)
            }
            layers[f"layer{i}/conv/bn"] = bn(filters)
        else:
            dw = rng.normal(0, np.sqrt(2.0 / 9), (3, 3, channels, 1)).astype(np.float32)
            layers[f"layer{i}/depthwise_conv"] = {"depthwise_kernel": dw}
            layers[f"layer{i}/depthwise_conv/bn"] = bn(channels)
            pw = rng.normal(0, np.sqrt(2.0 / channels), (1, 1, channels, filters)).astype(np.float32)
            layers[f"layer{i}/pointwise_conv"] = {"kernel": pw}
            layers[f"layer{i}/pointwise_conv/bn"] = bn(filters)
        channels = filters
    layers["logits"] = {
        "kernel": rng.normal(0, 0.03, (1024, 521)).astype(np.float32),
        "bias": rng.normal(0, 0.1, 521).astype(np.float32),
    }
    return layers


def write_keras_h5(path: Path, layers: dict[str, dict[str, np.ndarray]], dense_name: str = "logits") -> None:
    """Write ``layers`` as Keras 2 ``save_weights`` does: a group per layer, ``weight_names`` attributes."""
    weightless = ["input_1", "reshape", "global_average_pooling2d", "activation"]
    with h5py.File(path, "w") as f:
        names = []
        for layer, weights in layers.items():
            layer = dense_name if layer == "logits" else layer
            group = f.require_group(layer)
            weight_names = [f"{layer}/{w}:0" for w in weights]
            group.attrs["weight_names"] = np.array([n.encode() for n in weight_names])
            for name, arr in zip(weight_names, weights.values(), strict=True):
                group.create_dataset(name, data=arr)
            names.append(layer)
        for layer in weightless:
            f.create_group(layer).attrs["weight_names"] = np.array([], dtype="S1")
        f.attrs["layer_names"] = np.array([n.encode() for n in weightless + names])
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.3.0-tf"


def unfused_reference(layers: dict[str, dict[str, np.ndarray]], patches: torch.Tensor) -> tuple:
    """Keras semantics, written independently: conv (TF 'SAME'), batch norm (eps 1e-4, no gamma), ReLU."""

    def same_pad(x: torch.Tensor, stride: int) -> torch.Tensor:
        # 3x3 kernel: stride 1 pads 1 on each side; stride 2 on an even size pads 0 before and 1 after
        return F.pad(x, (1, 1, 1, 1)) if stride == 1 else F.pad(x, (0, 1, 0, 1))

    def depthwise(x: torch.Tensor, k: torch.Tensor, stride: int) -> torch.Tensor:
        # sum over the 3x3 taps of shifted inputs times the per-channel tap weight k[i, j, c]
        n, c, h, w = x.shape
        ho, wo = (h - 3) // stride + 1, (w - 3) // stride + 1
        out = torch.zeros(n, c, ho, wo, dtype=x.dtype)
        for i in range(3):
            for j in range(3):
                tap = x[:, :, i : i + stride * (ho - 1) + 1 : stride, j : j + stride * (wo - 1) + 1 : stride]
                out += tap * k[i, j].view(1, c, 1, 1)
        return out

    def bn_relu(x: torch.Tensor, p: dict[str, np.ndarray]) -> torch.Tensor:
        t = {k: torch.from_numpy(v).double() for k, v in p.items()}
        return torch.relu(
            F.batch_norm(x, t["moving_mean"], t["moving_variance"], None, t["beta"], False, 0.0, 1e-4)
        )

    x = patches.double().unsqueeze(1)
    for i, (kind, stride, _filters) in enumerate(P.LAYER_DEFS, start=1):
        if kind == "conv":
            k = torch.from_numpy(layers[f"layer{i}/conv"]["kernel"]).double().permute(3, 2, 0, 1)
            x = bn_relu(F.conv2d(same_pad(x, stride), k, stride=stride), layers[f"layer{i}/conv/bn"])
        else:
            dw = torch.from_numpy(layers[f"layer{i}/depthwise_conv"]["depthwise_kernel"]).double()[..., 0]
            x = bn_relu(depthwise(same_pad(x, stride), dw, stride), layers[f"layer{i}/depthwise_conv/bn"])
            pw = torch.from_numpy(layers[f"layer{i}/pointwise_conv"]["kernel"]).double().permute(3, 2, 0, 1)
            x = bn_relu(F.conv2d(x, pw), layers[f"layer{i}/pointwise_conv/bn"])
    embeddings = x.mean(dim=(2, 3))
    logits = embeddings @ torch.from_numpy(layers["logits"]["kernel"]).double()
    logits = logits + torch.from_numpy(layers["logits"]["bias"]).double()
    return embeddings, logits


@pytest.fixture(scope="module")
def keras_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    layers = keras_layers(np.random.default_rng(7))
    path = tmp_path_factory.mktemp("h5") / "yamnet.h5"
    write_keras_h5(path, layers)
    return path, layers


def test_h5_loader_matches_unfused_keras_computation(keras_file: tuple[Path, dict]) -> None:
    path, layers = keras_file
    fused = load_keras_weights(path)
    assert fused.kind == "keras-float" and fused.notes["datasets"] == 4 + 13 * 8 + 2
    patches = torch.randn(3, 96, 64, generator=torch.Generator().manual_seed(1))
    want_emb, want_logits = unfused_reference(layers, patches)
    with torch.no_grad():
        got_emb, got_logits = YAMNetCNN(fused)(patches)
    scale = want_emb.abs().max().item()
    assert scale > 1e-3  # the random net does not collapse to zero
    torch.testing.assert_close(got_emb.double(), want_emb, rtol=1e-4, atol=1e-4 * scale)
    torch.testing.assert_close(
        got_logits.double(), want_logits, rtol=1e-4, atol=1e-4 * want_logits.abs().max().item()
    )


def test_h5_loader_accepts_dense_layer_named_dense_and_model_weights_root(tmp_path: Path) -> None:
    layers = keras_layers(np.random.default_rng(3))
    plain = tmp_path / "a.h5"
    write_keras_h5(plain, layers, dense_name="dense")
    nested = tmp_path / "b.h5"
    write_keras_h5(nested, layers)
    with h5py.File(nested, "a") as f:  # a whole-model save keeps the weights under model_weights/
        f.create_group("model_weights")
        for key in [k for k in f if k != "model_weights"]:
            f.move(key, f"model_weights/{key}")
    a, b = load_keras_weights(plain), load_keras_weights(nested)
    np.testing.assert_array_equal(a.dense_weight, b.dense_weight)
    np.testing.assert_array_equal(a.convs[5].weight, b.convs[5].weight)


def test_h5_loader_rejects_missing_and_unused_datasets(tmp_path: Path) -> None:
    layers = keras_layers(np.random.default_rng(4))
    missing = dict(layers)
    missing["layer9/pointwise_conv/bn"] = {
        k: v for k, v in layers["layer9/pointwise_conv/bn"].items() if k != "beta"
    }
    write_keras_h5(tmp_path / "missing.h5", missing)
    with pytest.raises(WeightsNotFoundError, match="beta"):
        load_keras_weights(tmp_path / "missing.h5")
    extra = dict(layers)
    extra["layer15/conv"] = {"kernel": np.zeros((3, 3, 1, 1), np.float32)}
    write_keras_h5(tmp_path / "extra.h5", extra)
    with pytest.raises(WeightsNotFoundError, match="layer15"):
        load_keras_weights(tmp_path / "extra.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(WeightsNotFoundError, match="HDF5"):
        load_keras_weights(tmp_path / "junk.h5")


# ------------------------------------------------------------------------------------------ tflite


def test_tflite_loader_uses_every_weight_tensor_once(yamnet_dir: Path) -> None:
    loaded = read_tflite(yamnet_dir / "yamnet_int8.tflite")
    w = loaded.weights
    assert w.kind == "tflite-int8" and len(w.convs) == 27
    # 27 conv kernels + 27 biases + dense kernel + bias + window + 2 DFT + mel + log offset
    assert w.notes["weight_tensors"] == 27 + 27 + 2 + 1 + 2 + 1 + 1
    assert len(loaded.hybrid) == 13 + 1 + 3  # pointwise convs, dense, DFT real/imag and mel
    assert w.convs[0].weight.shape == (32, 1, 3, 3) and w.convs[-1].weight.shape == (1024, 1024, 1, 1)
    assert w.dense_weight.shape == (521, 1024)


def test_tflite_loader_rejects_damaged_files(tmp_path: Path, yamnet_dir: Path) -> None:
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\0" * 64)
    with pytest.raises(WeightsNotFoundError, match="TFLite"):
        read_tflite(junk)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes((yamnet_dir / "yamnet_int8.tflite").read_bytes()[:4096])
    with pytest.raises(WeightsNotFoundError):
        read_tflite(truncated)


# ------------------------------------------------------------------------------------------ download


def test_download_verifies_checksum(tmp_path: Path) -> None:
    src = tmp_path / "remote.h5"
    src.write_bytes(b"pretend weights" * 1000)
    good = git_blob_sha1(src.read_bytes())
    dest = tmp_path / "cache" / "yamnet.h5"
    assert W.download_weights(src.as_uri(), dest, sha1=good) == dest
    assert dest.read_bytes() == src.read_bytes()

    bad_dest = tmp_path / "cache2" / "yamnet.h5"
    with pytest.raises(WeightsNotFoundError, match="checksum mismatch"):
        W.download_weights(src.as_uri(), bad_dest, sha1="0" * 40)
    assert not bad_dest.exists() and list(bad_dest.parent.iterdir()) == []  # no partial file left

    with pytest.raises(WeightsNotFoundError, match="cannot download"):
        W.download_weights((tmp_path / "absent.h5").as_uri(), tmp_path / "x.h5", sha1=None)


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No env override, an empty cache dir and an empty shared dir."""
    monkeypatch.delenv(W.ENV_VAR, raising=False)
    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MUSICGENRE_SHARED", str(tmp_path / "shared"))
    return tmp_path


def test_resolution_order(isolated: Path, monkeypatch: pytest.MonkeyPatch, yamnet_dir: Path) -> None:
    tflite = yamnet_dir / "yamnet_int8.tflite"
    # nothing anywhere and no download: the error says what, where from, and which flag/variable
    with pytest.raises(WeightsNotFoundError) as err:
        W.resolve_weights(download=False)
    msg = str(err.value)
    assert W.YAMNET_H5_URL in msg and "--weights" in msg and W.ENV_VAR in msg and W.YAMNET_H5_GIT_SHA1 in msg

    # the download step, with the official URL replaced by a local file:// copy
    remote = isolated / "remote" / "yamnet.h5"
    remote.parent.mkdir()
    remote.write_bytes(b"fake yamnet.h5")
    official = dataclasses.replace(W.YAMNET, url=remote.as_uri(), sha1=git_blob_sha1(remote.read_bytes()))
    monkeypatch.setattr(W, "YAMNET", official)
    src = W.resolve_weights()
    assert src.origin == "download" and src.kind == "keras-float"
    assert src.path == isolated / "cache" / "weights" / "yamnet.h5" and src.path.is_file()
    # next time it comes from the verified cache
    assert W.resolve_weights().origin == "cache"

    # a cached file that is not the official one is refused
    monkeypatch.setattr(W, "YAMNET", dataclasses.replace(official, sha1="1" * 40))
    with pytest.raises(WeightsNotFoundError, match=r"not Google's yamnet\.h5"):
        W.resolve_weights()
    src.path.unlink()

    # the shared TFLite file comes before a download
    shared = isolated / "shared" / "models" / "yamnet"
    shared.mkdir(parents=True)
    (shared / "yamnet_int8.tflite").symlink_to(tflite)
    assert W.resolve_weights().origin == "shared"

    # the environment beats the shared file, an explicit path beats the environment
    monkeypatch.setenv(W.ENV_VAR, str(tflite))
    assert W.resolve_weights() == W.YAMNET.bundle(tflite, "environment")
    assert W.resolve_weights().kind == "tflite-int8"
    assert W.resolve_weights(tflite).origin == "argument"
    with pytest.raises(WeightsNotFoundError, match="no such weights file"):
        W.resolve_weights(isolated / "nope.h5")
    monkeypatch.setenv(W.ENV_VAR, str(isolated / "nope.tflite"))
    with pytest.raises(WeightsNotFoundError, match=W.ENV_VAR):
        W.resolve_weights()


def test_weights_kind_by_suffix_and_magic(tmp_path: Path, yamnet_dir: Path) -> None:
    assert W.YAMNET.kind_of(tmp_path / "x.h5") == "keras-float"
    assert W.YAMNET.kind_of(yamnet_dir / "yamnet_int8.tflite") == "tflite-int8"
    odd = tmp_path / "weights.bin"
    odd.write_bytes((yamnet_dir / "yamnet_int8.tflite").read_bytes()[:16])
    assert W.YAMNET.kind_of(odd) == "tflite-int8"
    odd.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 8)
    assert W.YAMNET.kind_of(odd) == "keras-float"
    odd.write_bytes(b"something else")
    with pytest.raises(WeightsNotFoundError):
        W.YAMNET.kind_of(odd)
