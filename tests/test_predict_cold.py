"""A cold ``musicgenre predict``: what it imports, and the converted YAMNet weights it reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from musicgenre.audio.segment import SegmentConfig
from musicgenre.checkpoint import Checkpoint, save_checkpoint
from musicgenre.features.registry import make_config
from musicgenre.models.registry import build_model
from musicgenre.yamnet import weights as yamnet_weights
from test_audio_stream import write_audio
from test_predict import tone

SRC = Path(__file__).resolve().parents[1] / "src"
#: Heavy modules that the predict path of a YAMNet-embedding model must not import (once the YAMNet
#: weights are converted): figures, scikit-learn, HDF5, the TFLite reader, the trainer. (tqdm is not in
#: the list: ``torch.hub`` imports it.)
NOT_ON_THE_PREDICT_PATH = (
    "matplotlib",
    "sklearn",
    "h5py",
    "tflite",
    "flatbuffers",
    "musicgenre.training.trainer",
    "musicgenre.training.loop",
)


def _same(a, b) -> None:
    assert a.kind == b.kind and a.notes == b.notes
    assert np.array_equal(a.dense_weight, b.dense_weight) and np.array_equal(a.dense_bias, b.dense_bias)
    for x, y in zip(a.convs, b.convs, strict=True):
        assert (x.name, x.stride, x.groups) == (y.name, y.stride, y.groups)
        assert np.array_equal(x.weight, y.weight) and np.array_equal(x.bias, y.bias)


def test_converted_yamnet_weights_are_reused(tmp_path: Path, yamnet_dir: Path, monkeypatch) -> None:
    from musicgenre.yamnet.tflite_weights import load_tflite_weights

    monkeypatch.setenv("MUSICGENRE_CACHE", str(tmp_path / "cache"))
    bundle = yamnet_weights.resolve_weights(yamnet_dir / "yamnet_int8.tflite")
    direct = load_tflite_weights(bundle.path)
    first = yamnet_weights.load_weights(bundle)
    path = yamnet_weights.converted_path(bundle)
    assert path.is_file() and str(tmp_path) in str(path)
    _same(first, direct)

    def refuse(_path: object) -> None:
        raise AssertionError("converted again")

    import musicgenre.yamnet.tflite_weights as tflite_mod

    monkeypatch.setattr(tflite_mod, "load_tflite_weights", refuse)
    again = yamnet_weights.load_weights(bundle)
    _same(again, direct)
    assert again.source == str(bundle.path)

    path.write_bytes(b"damaged")  # an unreadable cached file is converted again
    monkeypatch.setattr(tflite_mod, "load_tflite_weights", load_tflite_weights)
    _same(yamnet_weights.load_weights(bundle), direct)
    _same(yamnet_weights.load_weights(bundle), direct)


def test_a_cold_predict_imports_only_what_it_uses(tmp_path: Path, yamnet_dir: Path) -> None:
    torch.manual_seed(0)
    segment = SegmentConfig()
    cfg = make_config("yamnet_embedding")
    shape = tuple(cfg.shape(segment))
    model = build_model("cnn1d", {"yamnet_embedding": shape}, 2)
    ckpt = Checkpoint(
        model_name="cnn1d",
        model_options={},
        inputs={"yamnet_embedding": cfg.to_dict()},
        input_shapes={"yamnet_embedding": shape},
        segment=segment.to_dict(),
        labels=["a", "b"],
        normalisation={},
        state_dict=model.state_dict(),
    )
    path = save_checkpoint(ckpt, tmp_path / "m.ckpt")
    song = write_audio(tmp_path / "song.wav", tone(4.0), 16000)
    weights = yamnet_dir / "yamnet_int8.tflite"
    code = (
        "import json, sys\n"
        "from musicgenre.cli import main\n"
        "main(sys.argv[1:], standalone_mode=False)\n"
        f"print(json.dumps([m for m in {NOT_ON_THE_PREDICT_PATH!r} if m in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC), "MUSICGENRE_CACHE": str(tmp_path / "cache")}
    args = [sys.executable, "-c", code, "predict", str(path), str(song), "-f", "json", "--device", "cpu"]
    args += ["--yamnet-weights", str(weights)]
    for run in ("converts the weights", "reads the converted weights"):
        out = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        record_text, _, imported_text = out.stdout.rstrip().rpartition("\n")
        assert json.loads(record_text)[0]["top_genre"] in ("a", "b")
        imported = json.loads(imported_text)
        if run == "converts the weights":
            assert "tflite" in imported
        else:
            assert imported == [], imported
