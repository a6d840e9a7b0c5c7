"""YAMNet's fixed hyper-parameters, as in Google's ``models/research/audioset/yamnet/params.py``.

All sizes are derived here once, in samples and frames, so that the frontend, the padding rule and the
feature shapes agree.
"""

from __future__ import annotations

#: Input sample rate (Hz). YAMNet only accepts 16 kHz mono.
SAMPLE_RATE = 16000
#: STFT window (0.025 s), hop (0.010 s) and FFT length (next power of two of the window).
STFT_WINDOW_SAMPLES = 400
STFT_HOP_SAMPLES = 160
FFT_LENGTH = 512
NUM_SPECTROGRAM_BINS = FFT_LENGTH // 2 + 1  # 257
#: Mel filterbank: 64 HTK-scale bands from 125 to 7500 Hz (TensorFlow's ``linear_to_mel_weight_matrix``).
MEL_BANDS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
#: Offset inside the log: ``log(mel + LOG_OFFSET)``.
LOG_OFFSET = 0.001
#: Patches of 96 frames (0.96 s) with a hop of 48 frames (0.48 s).
PATCH_FRAMES = 96
PATCH_HOP_FRAMES = 48
PATCH_BANDS = MEL_BANDS
#: The waveform is padded to at least one patch: 0.96 s + 0.025 s - 0.010 s = 0.975 s = 15,600 samples.
MIN_SAMPLES = (PATCH_FRAMES - 1) * STFT_HOP_SAMPLES + STFT_WINDOW_SAMPLES  # 15600
#: ... and then up to a whole number of patch hops (0.48 s = 7,680 samples) after the first patch.
PATCH_HOP_SAMPLES = PATCH_HOP_FRAMES * STFT_HOP_SAMPLES  # 7680
#: Batch norm of the Keras model: epsilon 1e-4, centre (beta) on, scale (gamma) off.
BN_EPSILON = 1e-4
NUM_CLASSES = 521
EMBEDDING_SIZE = 1024

#: The network after the frontend: (kind, stride, filters). Kind "conv" is a full 3x3 conv; "separable" is
#: a 3x3 depthwise conv followed by a 1x1 pointwise conv. Layer ``i`` (1-based) is named ``layer{i}``.
LAYER_DEFS: tuple[tuple[str, int, int], ...] = (
    ("conv", 2, 32),
    ("separable", 1, 64),
    ("separable", 2, 128),
    ("separable", 1, 128),
    ("separable", 2, 256),
    ("separable", 1, 256),
    ("separable", 2, 512),
    ("separable", 1, 512),
    ("separable", 1, 512),
    ("separable", 1, 512),
    ("separable", 1, 512),
    ("separable", 1, 512),
    ("separable", 2, 1024),
    ("separable", 1, 1024),
)
