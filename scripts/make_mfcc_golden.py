"""Regenerate ``tests/data/mfcc_golden.npz``: librosa's MFCCs (and log-mels) of a few fixed inputs.

Needs librosa, from the throwaway venv of ``scripts/reference_venv.sh``, and the shared real data
(``../shared``)::

    bash scripts/reference_venv.sh                                  # /tmp/musicgenre-reference
    /tmp/musicgenre-reference/bin/python scripts/make_mfcc_golden.py  # writes tests/data/mfcc_golden.npz

Contents (all float32 unless noted):

- ``synthetic/<case>/input``, ``.../mfcc`` ``(frames, 20)`` and, for some cases, ``.../logmel``
  ``(frames, 128)``: short synthetic inputs stored in full (they are short to keep the file small):
  a linear chirp, white noise, a tone followed by exact silence (exercises the per-segment ``top_db``
  floor), near-silent noise around the ``amin`` = 1e-10 power floor, and 3 s of zeros.
- ``real/<case>/mfcc`` (and ``logmel``): 3 s segments of gtzan-mini clips, cut with the project's own
  ``load_audio`` + ``split_segments`` (16 kHz, 30 s clip, 3 s segments). Their inputs are not stored
  (too big); ``real/<case>/source`` (str) and ``segment`` (int) say where to cut them again, and
  ``head`` (first 256 samples) and ``l2`` (float64 norm) let the test check that it got the same input.
- ``librosa_version`` (str).

The MFCC reference is ``librosa.feature.mfcc(y=x, sr=16000, n_mfcc=20).T`` with every other argument at
its default; the log-mel reference is ``librosa.power_to_db(librosa.feature.melspectrogram(y=x,
sr=16000)).T``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import librosa
import numpy as np

from musicgenre.audio import SegmentConfig, load_audio, split_segments
from musicgenre.settings import shared_dir

SR = 16000
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "mfcc_golden.npz"

#: (case, file relative to gtzan-mini, segment index). metal.00007 is a 15.2 s clip, so its segment 5
#: (15-18 s) is 0.2 s of real audio and 2.8 s of zero padding.
REAL_CASES = [
    ("blues00000_seg3", "blues/blues.00000.au", 3),
    ("metal00007_seg5", "metal/metal.00007.au", 5),
    ("classical00000_seg0", "classical/classical.00000.au", 0),
]
LOGMEL_CASES = {"chirp", "tone_then_silence", "near_silent", "blues00000_seg3", "metal00007_seg5"}


def synthetic_inputs() -> dict[str, np.ndarray]:
    """Deterministic synthetic test signals (float32)."""
    rng = np.random.default_rng(20240611)
    t = np.arange(SR // 2) / SR  # 0.5 s: inputs are stored in full, so they are short
    chirp = 0.5 * np.sin(2 * np.pi * (50.0 * t + (7900.0 - 50.0) * t**2))  # 50 Hz -> 7.9 kHz in 0.5 s
    noise = 0.1 * rng.standard_normal(SR // 4)  # 0.25 s
    tone = np.zeros(3 * SR // 4)  # 0.25 s of A4, then 0.5 s of exact zeros
    tone[: SR // 4] = 0.8 * np.sin(2 * np.pi * 440.0 * t[: SR // 4])
    near_silent = 1e-6 * rng.standard_normal(SR // 4)  # mel power straddles the 1e-10 amin floor
    zeros = np.zeros(3 * SR)  # one all-padding 3 s segment: (94, 20)
    cases = {
        "chirp": chirp,
        "noise": noise,
        "tone_then_silence": tone,
        "near_silent": near_silent,
        "zeros": zeros,
    }
    return {k: v.astype(np.float32) for k, v in cases.items()}


def real_segment(root: Path, rel: str, segment: int) -> np.ndarray:
    """Segment ``segment`` of ``root/rel`` as the feature cache cuts it (float32, 48,000 samples)."""
    x = load_audio(root / rel, SR)
    return split_segments(x, SegmentConfig(sample_rate=SR)).samples[segment]


def reference(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """librosa's MFCC and log-mel of ``x``, time-major."""
    mfcc = librosa.feature.mfcc(y=x, sr=SR, n_mfcc=20).T
    logmel = librosa.power_to_db(librosa.feature.melspectrogram(y=x, sr=SR)).T
    return mfcc.astype(np.float32), logmel.astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--gtzan-mini", type=Path, default=shared_dir() / "data" / "gtzan-mini")
    args = parser.parse_args()

    data: dict[str, np.ndarray] = {"librosa_version": np.array(librosa.__version__)}
    for case, x in synthetic_inputs().items():
        mfcc, logmel = reference(x)
        data[f"synthetic/{case}/input"] = x
        data[f"synthetic/{case}/mfcc"] = mfcc
        if case in LOGMEL_CASES:
            data[f"synthetic/{case}/logmel"] = logmel
    for case, rel, seg in REAL_CASES:
        x = real_segment(args.gtzan_mini, rel, seg)
        mfcc, logmel = reference(x)
        data[f"real/{case}/source"] = np.array(rel)
        data[f"real/{case}/segment"] = np.array(seg)
        data[f"real/{case}/head"] = x[:256].copy()
        data[f"real/{case}/l2"] = np.array(np.linalg.norm(x.astype(np.float64)))
        data[f"real/{case}/mfcc"] = mfcc
        if case in LOGMEL_CASES:
            data[f"real/{case}/logmel"] = logmel

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **data)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, {len(data)} arrays)")


if __name__ == "__main__":
    main()
