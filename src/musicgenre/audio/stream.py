"""Bounded-memory decoding: any audio file as mono float32 blocks at the model's sample rate.

A file is never loaded whole. :class:`AudioStream` reads ``block_seconds`` of audio at a time with the
shared :class:`~musicgenre.audio.decode.BlockReader` (soundfile's block reader for wav/au/aiff/flac/ogg/mp3,
PyAV's frame decoder for m4a/aac and other FFmpeg formats), which averages the channels and checks the
samples, and resamples each block with a streaming soxr resampler. The output is numerically the same as
:func:`musicgenre.audio.io.load_audio` on the whole file (same reader, same mono mix, same soxr 'HQ' filter;
``soxr.ResampleStream`` matches ``soxr.resample`` exactly), so windows see what the training pipeline saw.

Files go through the same checks as :func:`~musicgenre.audio.io.load_audio` (:mod:`musicgenre.audio.check`):
every problem is an :class:`~musicgenre.errors.AudioError` naming the file and the problem, with the same
message for the same file.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgenre.audio import check
from musicgenre.audio.decode import DEFAULT_BLOCK_SECONDS, BlockReader, audio_info, stream_resampler
from musicgenre.errors import AudioError

__all__ = [
    "DEFAULT_BLOCK_SECONDS",
    "AudioStream",
    "StreamInfo",
    "array_blocks",
    "array_channels",
    "check_sample_rate",
    "to_mono_array",
]


@dataclass(frozen=True)
class StreamInfo:
    """What is known about a stream before decoding it.

    Attributes:
        path: the file (None for an in-memory array).
        sample_rate: the file's own sample rate (Hz).
        channels: channel count.
        frames: length declared by the file (header or codec estimate), in frames at ``sample_rate``;
            None when unknown.
        format: container/codec name (``WAV``, ``MP3``, ``AAC``, ...).
    """

    path: Path | None
    sample_rate: int
    channels: int
    frames: int | None
    format: str

    @property
    def declared_duration(self) -> float | None:
        """Declared length in seconds, or None."""
        return None if self.frames is None else self.frames / self.sample_rate


class AudioStream:
    """Decode ``path`` block by block to mono float32 at ``target_sr``.

    Opening checks the file (exists, non-empty, supported and readable format) and raises
    :class:`AudioError` right away; decoding problems are raised by :meth:`blocks` when they are met.

    Example::

        with AudioStream("song.mp3", 16000) as stream:
            for block in stream.blocks():  # 1-D float32 arrays of at most ~60 s at 16 kHz
                ...

    Attributes:
        info: :class:`StreamInfo` of the file.
        frames_decoded: frames read so far, at the file's own rate.
        samples_out: samples produced so far, at ``target_sr``.
        max_block_samples: the largest decoded block so far (frames x channels), for memory checks.
    """

    def __init__(self, path: str | Path, target_sr: int, *, block_seconds: float = DEFAULT_BLOCK_SECONDS):
        if target_sr <= 0:
            raise ValueError(f"target_sr must be positive, got {target_sr}")
        if block_seconds <= 0:
            raise ValueError(f"block_seconds must be positive, got {block_seconds}")
        self.path = Path(path)
        self.target_sr = int(target_sr)
        self.block_seconds = float(block_seconds)
        self.samples_out = 0
        self._header = audio_info(self.path)  # the checks shared with load_audio
        h = self._header
        self.info = StreamInfo(self.path, h.sample_rate, h.channels, h.frames, h.format)
        block_frames = int(round(self.block_seconds * h.sample_rate))
        self._reader = BlockReader(self.path, h, block_frames=block_frames)

    # ------------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the file handle (also done when :meth:`blocks` finishes)."""
        self._reader.close()

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def frames_decoded(self) -> int:
        """Frames read so far, at the file's own rate."""
        return self._reader.position

    @property
    def max_block_samples(self) -> int:
        """The largest decoded block so far (frames x channels)."""
        return self._reader.max_block_samples

    @property
    def duration(self) -> float:
        """Seconds decoded so far (the full length once :meth:`blocks` is exhausted)."""
        return self.frames_decoded / self.info.sample_rate

    # ------------------------------------------------------------------------------------ decoding
    def blocks(self) -> Iterator[np.ndarray]:
        """Yield mono float32 blocks at ``target_sr`` (the last one flushes the resampler).

        Raises :class:`AudioError` for undecodable data, NaN/inf samples, a file with no samples, or a
        truncated file (after the last block).
        """
        resampler = stream_resampler(self.info.sample_rate, self.target_sr)
        try:
            for mono in self._reader.blocks():
                out = mono if resampler is None else resampler.resample_chunk(mono, last=False)
                if out.size:
                    self.samples_out += out.shape[0]
                    yield out
            if self.frames_decoded == 0:
                raise check.no_samples(self.path)
            if resampler is not None:
                out = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
                if out.size:
                    self.samples_out += out.shape[0]
                    yield out
            check.check_complete(self._header, self.frames_decoded)
        finally:
            self.close()


def array_blocks(
    samples: np.ndarray,
    sample_rate: int,
    target_sr: int,
    *,
    block_seconds: float = DEFAULT_BLOCK_SECONDS,
    name: str = "<array>",
) -> Iterator[np.ndarray]:
    """The in-memory counterpart of :meth:`AudioStream.blocks`: mono float32 blocks at ``target_sr``.

    ``samples`` is 1-D, or 2-D ``(frames, channels)`` as soundfile returns it; ``(channels, frames)`` as
    librosa returns it is accepted too when the first axis is clearly the channel axis (at most 16 long
    and shorter than the other). See :func:`to_mono_array` for the accepted types (integer samples must
    come as a NumPy integer array). The mono mix and the resampler are the same as for files. Raises
    :class:`AudioError` (named ``name``) for an empty, mis-shaped or non-finite signal, and ``ValueError``
    for a ``sample_rate`` that is not a positive whole number of Hz (both before the first block).
    """
    x = to_mono_array(samples, name=name)
    rate = check_sample_rate(sample_rate)
    return _array_blocks(x, rate, target_sr, block_seconds)


def _array_blocks(
    x: np.ndarray, sample_rate: int, target_sr: int, block_seconds: float
) -> Iterator[np.ndarray]:
    resampler = stream_resampler(sample_rate, target_sr)
    step = max(1, int(round(block_seconds * sample_rate)))
    for i in range(0, x.shape[0], step):
        block = x[i : i + step]
        out = block if resampler is None else resampler.resample_chunk(block, last=False)
        if out.size:
            yield out
    if resampler is not None:
        out = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if out.size:
            yield out


def check_sample_rate(sample_rate: object, what: str = "sample_rate") -> int:
    """``sample_rate`` as an int, or ``ValueError`` naming the value unless it is a positive whole number.

    ``22050`` and ``22050.0`` are accepted; ``22050.7``, ``0.5``, ``0``, negative, NaN and non-numbers are
    refused (a fractional rate is never rounded or truncated silently).
    """
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a positive whole number of Hz, got {sample_rate!r}")
    value = float(sample_rate)
    if not math.isfinite(value) or not value.is_integer():
        raise ValueError(f"{what} must be a positive whole number of Hz, got {sample_rate!r}")
    if value <= 0:
        raise ValueError(f"{what} must be positive, got {int(value)}")
    return int(sample_rate)


def _shape_problem(shape: tuple[int, ...]) -> str:
    got = "a 0-D array (a single value)" if len(shape) == 0 else f"shape {shape}"
    return f"expected samples of shape (n,) or (n, channels), got {got}"


def _channel_axis(x: np.ndarray, name: str) -> int | None:
    """The channel axis of a 1-D or 2-D signal (None for 1-D), or :class:`AudioError` for other shapes."""
    if x.ndim == 1:
        return None
    if x.ndim == 2:
        if x.shape[1] <= 16 and x.shape[1] <= x.shape[0]:
            return 1
        if x.shape[0] <= 16 and x.shape[0] < x.shape[1]:
            return 0
        if x.size == 0:  # e.g. (0, 2) or (2, 0): no frames; say so, not "contains NaN" from a mean of nothing
            return 1 if x.shape[0] == 0 else 0
    raise AudioError(name, _shape_problem(x.shape))


def array_channels(samples: np.ndarray, *, name: str = "<array>") -> int:
    """The channel count of an in-memory signal in one of the layouts of :func:`array_blocks`."""
    x = np.asarray(samples)
    axis = _channel_axis(x, name)
    return 1 if axis is None else int(x.shape[axis])


def to_mono_array(samples: np.ndarray, *, name: str = "<array>") -> np.ndarray:
    """A checked mono float32 copy of an in-memory signal (see :func:`array_blocks` for the layouts).

    ``samples`` goes through ``np.asarray``. Float samples are taken as they are (expected in [-1, 1]).
    A NumPy integer array is scaled to [-1, 1] by the range of its dtype (int16 by 32768, int32 by 2**31,
    ...), so integer samples must come in the dtype they were recorded in. A plain list or tuple of Python
    ints is refused: its scale is unknown (``np.asarray`` would make it int64, and int16 values scaled by
    the int64 range would be silently read as silence). Raises :class:`AudioError` (named ``name``) for a
    non-numeric, mis-shaped, empty or non-finite signal.
    """
    x = np.asarray(samples)
    axis = _channel_axis(x, name)
    if x.dtype.kind in "iu" and not hasattr(samples, "dtype"):
        raise AudioError(
            name,
            "got a list of integers, whose scale is unknown: pass float samples in [-1, 1], or a NumPy "
            "integer array in the dtype the samples were recorded in (e.g. np.asarray(values, "
            "dtype=np.int16)), which is scaled by that dtype's range",
        )
    if x.dtype.kind not in "iuf":
        raise AudioError(name, f"samples must be a numeric array, got dtype {x.dtype}")
    if x.size == 0:
        what = "" if x.ndim == 1 else f" (an empty array of shape {x.shape})"
        raise AudioError(name, f"contains no audio samples{what}")
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    if axis is not None:
        x = x.mean(axis=axis)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise AudioError(name, f"contains NaN or infinite samples (first at sample {bad})")
    bad = check.out_of_range(x)
    if bad is not None:
        raise AudioError(name, check.range_problem(x, f"at sample {bad}"))
    return x
