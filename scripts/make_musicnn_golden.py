"""Regenerate ``tests/data/musicnn_golden.npz``: musicnn's own TensorFlow outputs on a few 3 s segments.

Runs musicnn 0.1.0's ``extractor`` (its graph, its checkpoints, its librosa front-end) in the throwaway venv
of ``scripts/musicnn_reference_venv.sh``, never in the project's ``.venv``::

    bash scripts/musicnn_reference_venv.sh       # /tmp/musicnn-reference
    TF_USE_LEGACY_KERAS=1 PYTHONPATH=src MUSICGENRE_SHARED=../shared \
        /tmp/musicnn-reference/bin/python scripts/make_musicnn_golden.py

**One deliberate change to musicnn's code**: its ``batch_data`` does ``rep = rep.astype(np.float16)`` then
``np.log10(10000 * rep + 1)``, which under NumPy 2 is computed in float16 (it overflows to ``inf`` for mel
power above ~6.55, and rounds the log to float16). Here ``batch_data`` is replaced by the same steps with the
log taken in float32 after the float16 rounding: ``np.log10(10000 * rep.astype(np.float32) + 1)`` (issue #11).
Everything else (graph, restore, ``sess.run``) is musicnn's own ``extractor``. The replacement also takes the
segments from memory instead of ``librosa.load``-ing a file, and returns one 187-frame patch per segment.

Contents (float32 unless noted):

- ``synthetic/<case>/input_pcm16`` (int16; the input is ``pcm16 / 32768``, exactly): 3 s synthetic inputs
  at 16 kHz: a chirp, loud white noise, a quiet tone, and silence.
- ``real/<case>/source`` (str), ``segment`` (int), ``head`` (first 256 samples) and ``l2`` (float64): 3 s
  segments of gtzan-mini, cut with the project's ``load_audio`` + ``split_segments`` (16 kHz); the test cuts
  them again and checks ``head`` and ``l2``.
- ``<kind>/<case>/mel`` ``(187, 96)``, for the cases of ``MEL_CASES``: librosa's mel power spectrogram
  (float32, before the float16 rounding).
- ``<kind>/<case>/<MSD|MTT>/<quantity>``: ``taggram`` (50), ``max_pool`` and ``mean_pool`` (753),
  ``penultimate`` (200). ``extractor`` is called once per segment: for every patch after the first, its
  batching loop returns the first patch's ``penultimate`` and ``cnn1``..``cnn3`` again (a bug in musicnn).
- ``versions`` (str): tensorflow, librosa, numpy, musicnn.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import librosa
import numpy as np
import tensorflow as tf
from musicnn import configuration as config
from musicnn import extractor as mx

from musicgenre.audio import SegmentConfig, load_audio, split_segments
from musicgenre.settings import shared_dir

SR = 16000
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "musicnn_golden.npz"
QUANTITIES = ("taggram", "max_pool", "mean_pool", "penultimate")
MEL_CASES = {"synthetic/chirp", "synthetic/quiet_tone", "real/blues00000_seg3", "real/metal00000_seg2"}

#: (case, file relative to gtzan-mini, segment index). metal.00007 is a 15.2 s clip: its segment 5 is 0.2 s
#: of audio and 2.8 s of zero padding.
REAL_CASES = [
    ("blues00000_seg3", "blues/blues.00000.au", 3),
    ("metal00000_seg2", "metal/metal.00000.au", 2),
    ("classical00001_seg0", "classical/classical.00001.au", 0),
    ("hiphop00002_seg7", "hiphop/hiphop.00002.au", 7),
    ("metal00007_seg5", "metal/metal.00007.au", 5),
]


def synthetic_inputs() -> dict[str, np.ndarray]:
    """3 s synthetic inputs as int16 PCM (stored as such; the float input is ``pcm / 32768``)."""
    rng = np.random.default_rng(20251202)
    t = np.arange(3 * SR) / SR
    cases = {
        "chirp": 0.5 * np.sin(2 * np.pi * (40.0 * t + (7800.0 - 40.0) / 6.0 * t**2)),  # 40 Hz -> 7.8 kHz
        "loud_noise": np.clip(0.5 * rng.standard_normal(3 * SR), -1, 1),
        "quiet_tone": 0.003 * np.sin(2 * np.pi * 330.0 * t),
        "silence": np.zeros(3 * SR),
    }
    return {k: np.round(v * 32767).astype(np.int16) for k, v in cases.items()}


def real_segment(root: Path, rel: str, segment: int) -> np.ndarray:
    x = load_audio(root / rel, SR)
    return split_segments(x, SegmentConfig(sample_rate=SR)).samples[segment]


def run_musicnn(audio: np.ndarray, model: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """musicnn's ``extractor`` on one segment (48,000 samples): its outputs, and the mel power spectrogram."""
    mels = []

    def batch_data(audio_file: str, n_frames: int, overlap: int):  # musicnn's, with the float32 log
        rep = librosa.feature.melspectrogram(
            y=audio, sr=SR, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE, n_mels=config.N_MELS
        ).T
        mels.append(rep[:n_frames].astype(np.float32))
        rep = rep.astype(np.float16)
        rep = np.log10(10000 * rep.astype(np.float32) + 1)  # the fix: the log in float32
        return rep[None, :n_frames], rep

    mx.batch_data = batch_data
    taggram, _, features = mx.extractor(
        "<segment in memory>", model=f"{model}_musicnn", extract_features=True
    )
    out = {"taggram": taggram[0], **{q: features[q][0] for q in QUANTITIES[1:]}}
    return out, mels[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--gtzan-mini", type=Path, default=shared_dir() / "data" / "gtzan-mini")
    args = parser.parse_args()

    import musicnn

    versions = (
        f"tensorflow {tf.__version__}, librosa {librosa.__version__}, numpy {np.__version__}, musicnn 0.1.0"
    )
    data: dict[str, np.ndarray] = {"versions": np.array(versions)}
    names, inputs = [], []
    for case, pcm in synthetic_inputs().items():
        data[f"synthetic/{case}/input_pcm16"] = pcm
        names.append(f"synthetic/{case}")
        inputs.append(pcm.astype(np.float32) / 32768.0)
    for case, rel, seg in REAL_CASES:
        x = real_segment(args.gtzan_mini, rel, seg)
        data[f"real/{case}/source"] = np.array(rel)
        data[f"real/{case}/segment"] = np.array(seg)
        data[f"real/{case}/head"] = x[:256].copy()
        data[f"real/{case}/l2"] = np.array(np.linalg.norm(x.astype(np.float64)))
        names.append(f"real/{case}")
        inputs.append(x)
    for model in ("MSD", "MTT"):
        for name, x in zip(names, inputs, strict=True):
            out, mel = run_musicnn(x.astype(np.float32), model)
            if name in MEL_CASES:
                data[f"{name}/mel"] = mel
            for q in QUANTITIES:
                data[f"{name}/{model}/{q}"] = np.asarray(out[q], dtype=np.float32)
    print(f"musicnn from {Path(musicnn.__file__).parent}; {versions}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, {len(data)} arrays)")


if __name__ == "__main__":
    main()
