"""Decode audio files to mono float32 at a chosen sample rate.

soundfile (libsndfile) decodes wav, au, aiff, flac, ogg/opus and mp3; m4a/aac go through PyAV when it is
installed. The checks are those of :mod:`musicgenre.audio.check` and the decoders those of
:mod:`musicgenre.audio.decode`, shared with the streaming reader :class:`~musicgenre.audio.stream.AudioStream`,
so both accept and reject the same files. Every failure is an :class:`~musicgenre.errors.AudioError` naming
the file and the problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from musicgenre.audio import check
from musicgenre.audio.check import (
    AUDIO_EXTENSIONS,
    FFMPEG_EXTENSIONS,
    FFMPEG_HINT,
    SOUNDFILE_EXTENSIONS,
    AudioInfo,
    is_audio_path,
)
from musicgenre.audio.decode import BlockReader, audio_info, resample, to_mono

__all__ = [
    "AUDIO_EXTENSIONS",
    "FFMPEG_EXTENSIONS",
    "FFMPEG_HINT",
    "SOUNDFILE_EXTENSIONS",
    "AudioInfo",
    "audio_info",
    "is_audio_path",
    "load_audio",
    "resample",
    "to_mono",
]


def load_audio(
    path: str | Path,
    sample_rate: int | None = 16000,
    *,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Decode ``path`` to a mono float32 array in [-1, 1], resampled to ``sample_rate`` (None keeps it).

    ``offset`` and ``duration`` (seconds, not negative) read only part of the file: decoding stops once
    ``duration`` seconds from ``offset`` are in. Raises :class:`AudioError` when the file is missing, empty,
    unsupported, not audio, truncated (also when the part read is intact but ends where the file is cut
    short), or holds NaN/inf samples.
    """
    if offset < 0 or (duration is not None and duration < 0):
        raise ValueError(f"offset and duration must not be negative, got {offset} and {duration}")
    path = Path(path)
    info = audio_info(path)
    start = int(round(offset * info.sample_rate))
    wanted = None if duration is None else int(round(duration * info.sample_rate))
    # soundfile reads the requested (or declared) length in one go, so that the array is not copied.
    block_frames = wanted if wanted is not None else max(info.frames - start, 4096)
    reader = BlockReader(path, info, block_frames=block_frames, start=start)
    chunks: list[np.ndarray] = []
    n = 0
    blocks = reader.blocks()
    try:
        for block in blocks:
            chunks.append(block)
            n += block.shape[0]
            if wanted is not None and n >= wanted:
                break  # decode only what is used
    finally:
        blocks.close()
        reader.close()
    if n == 0 and start == 0 and wanted != 0:
        raise check.no_samples(path)
    if wanted is None or n < wanted:  # the end of the file was reached: is all of it there?
        check.check_complete(info, reader.position)
    if n == 0:
        raise check.no_samples(path, in_range=True)
    x = chunks[0] if len(chunks) == 1 else np.concatenate(chunks)
    x = x[:wanted]
    if sample_rate is not None:
        x = resample(x, info.sample_rate, sample_rate)
    return x
