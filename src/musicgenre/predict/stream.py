"""Bounded-memory decoding: any audio file as mono float32 blocks at the model's sample rate.

A file is never loaded whole. :class:`AudioStream` reads ``block_seconds`` of audio at a time (soundfile's
block reader for wav/au/aiff/flac/ogg/mp3, PyAV's frame decoder for m4a/aac and other FFmpeg formats),
averages the channels, checks the samples and resamples each block with a streaming soxr resampler. The
output is numerically the same as :func:`musicgenre.audio.io.load_audio` on the whole file (same mono mix,
same soxr 'HQ' filter; ``soxr.ResampleStream`` matches ``soxr.resample`` exactly), so windows see what the
training pipeline saw.

Every problem is an :class:`~musicgenre.errors.AudioError` naming the file and the problem: missing,
zero-length, unsupported or unrecognised format, corrupt data, NaN/inf samples, and truncation (the header
declares more audio than the file holds; libsndfile silently clamps such files, so the declared length is
read from the header).
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicgenre.audio.io import (
    AUDIO_EXTENSIONS,
    FFMPEG_EXTENSIONS,
    FFMPEG_HINT,
    SOUNDFILE_EXTENSIONS,
    AudioInfo,
    audio_info,
)
from musicgenre.errors import AudioError

#: Seconds of audio decoded per block (at the file's own rate). 60 s of 48 kHz stereo float32 is 23 MB.
DEFAULT_BLOCK_SECONDS = 60.0

#: A decoded length short of the declared one by more than this is reported as truncation. Compressed
#: formats get a wider margin: their lengths can be estimates (encoder delay, padding, VBR headers).
_TRUNCATION_TOLERANCE_PCM = (0.001, 0.01)  # (fraction of the declared length, seconds)
_TRUNCATION_TOLERANCE_CODEC = (0.02, 0.5)
_PCM_FORMATS = frozenset({"WAV", "WAVEX", "AU", "AIFF", "RF64", "W64", "CAF"})


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


def supported_extensions() -> list[str]:
    """Every extension that :class:`AudioStream` accepts, sorted."""
    return sorted(AUDIO_EXTENSIONS)


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
        self.frames_decoded = 0
        self.samples_out = 0
        self.max_block_samples = 0
        self._sf: sf.SoundFile | None = None
        check_file(self.path)
        # The project's header checks (unreadable, headerless, empty, truncated per the header log).
        info = _header_info(self.path)
        self.info = StreamInfo(self.path, info.sample_rate, info.channels, info.frames, info.format)
        self._use_av = self.path.suffix.lower() in FFMPEG_EXTENSIONS
        if not self._use_av:
            self._sf = _open_soundfile(self.path)

    # ------------------------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the file handle (also done when :meth:`blocks` finishes)."""
        if self._sf is not None:
            self._sf.close()
            self._sf = None

    def __enter__(self) -> AudioStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        sr = self.info.sample_rate
        resampler = (
            None
            if sr == self.target_sr
            else soxr.ResampleStream(sr, self.target_sr, 1, dtype="float32", quality="HQ")
        )
        raw = self._raw_blocks_av() if self._use_av else self._raw_blocks_sf()
        try:
            for mono in raw:
                if mono.size == 0:
                    continue
                if not np.isfinite(mono).all():
                    bad = int(np.flatnonzero(~np.isfinite(mono))[0]) + self.frames_decoded
                    raise AudioError(
                        self.path, f"contains NaN or infinite samples (first at {bad / sr:.2f} s)"
                    )
                self.frames_decoded += mono.shape[0]
                out = mono if resampler is None else resampler.resample_chunk(mono, last=False)
                if out.size:
                    self.samples_out += out.shape[0]
                    yield out
            if self.frames_decoded == 0:
                raise AudioError(self.path, "contains no audio samples")
            if resampler is not None:
                out = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
                if out.size:
                    self.samples_out += out.shape[0]
                    yield out
            self._check_complete()
        finally:
            self.close()

    def _raw_blocks_sf(self) -> Iterator[np.ndarray]:
        f = self._sf
        if f is None:
            raise RuntimeError("AudioStream.blocks() can be iterated only once")
        blocksize = max(1, int(round(self.block_seconds * f.samplerate)))
        while True:
            try:
                x = _read_frames(f, blocksize)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise AudioError(self.path, _decode_problem(exc, self.duration)) from None
            if x.shape[0] == 0:
                return
            self.max_block_samples = max(self.max_block_samples, x.size)
            yield _mono(x)

    def _raw_blocks_av(self) -> Iterator[np.ndarray]:
        av = _import_av(self.path)
        sr = self.info.sample_rate
        limit = max(1, int(round(self.block_seconds * sr)))
        pending: list[np.ndarray] = []
        n_pending = 0
        try:
            container = av.open(str(self.path))
        except Exception as exc:  # PyAV raises many error types (av.error.*)
            raise AudioError(self.path, f"not a readable audio file ({_short(exc)})") from None
        try:
            stream = container.streams.audio[0]
            # The same mono mix as musicgenre.audio.io (FFmpeg's resampler at the file's own rate).
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
            frames = container.decode(stream)
            while True:
                try:
                    frame = next(frames, None)
                    outs = resampler.resample(frame)
                except AudioError:
                    raise
                except Exception as exc:
                    raise AudioError(self.path, _decode_problem(exc, self.duration)) from None
                for out in outs:
                    arr = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    pending.append(arr)
                    n_pending += arr.shape[0]
                if n_pending >= limit or (frame is None and n_pending):
                    block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                    pending, n_pending = [], 0
                    self.max_block_samples = max(self.max_block_samples, block.size)
                    yield block
                if frame is None:
                    return
        finally:
            container.close()

    def _check_complete(self) -> None:
        if self.path.suffix.lower() in (".ogg", ".oga", ".opus") and not ogg_has_end(self.path):
            raise AudioError(
                self.path,
                f"truncated: the Ogg stream stops after {self.duration:.2f} s without its end-of-stream page",
            )
        declared = max(self.info.frames or 0, declared_frames(self.path) or 0)
        if declared <= 0:
            return
        frac, seconds = (
            _TRUNCATION_TOLERANCE_PCM if self.info.format in _PCM_FORMATS else _TRUNCATION_TOLERANCE_CODEC
        )
        sr = self.info.sample_rate
        missing = declared - self.frames_decoded
        if missing > max(frac * declared, seconds * sr):
            raise AudioError(
                self.path,
                f"truncated: the file declares {declared / sr:.2f} s of audio but only "
                f"{self.frames_decoded / sr:.2f} s is there",
            )


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
    and shorter than the other). Integer arrays are scaled to [-1, 1]. The mono mix and the resampler are
    the same as for files. Raises :class:`AudioError` (named ``name``) for empty or non-finite input.
    """
    x = to_mono_array(samples, name=name)
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    resampler = (
        None
        if sample_rate == target_sr
        else soxr.ResampleStream(sample_rate, target_sr, 1, dtype="float32", quality="HQ")
    )
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


def to_mono_array(samples: np.ndarray, *, name: str = "<array>") -> np.ndarray:
    """A checked mono float32 copy of an in-memory signal (see :func:`array_blocks` for the layouts)."""
    x = np.asarray(samples)
    if x.dtype.kind in "iu":
        info = np.iinfo(x.dtype)
        x = (x.astype(np.float64) - (info.max + info.min + 1) / 2) / ((info.max - info.min + 1) / 2)
    elif x.dtype.kind != "f":
        raise AudioError(name, f"samples must be a numeric array, got dtype {x.dtype}")
    if x.ndim == 2:
        if x.shape[1] <= 16 and x.shape[1] <= x.shape[0]:
            x = x.mean(axis=1)
        elif x.shape[0] <= 16 and x.shape[0] < x.shape[1]:
            x = x.mean(axis=0)
        else:
            raise AudioError(name, f"expected (frames, channels) samples, got shape {x.shape}")
    elif x.ndim != 1:
        raise AudioError(name, f"expected 1-D or (frames, channels) samples, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(name, "contains no audio samples")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise AudioError(name, f"contains NaN or infinite samples (first at sample {bad})")
    return x


# ---------------------------------------------------------------------------------------------- helpers
def check_file(path: Path) -> None:
    """Raise :class:`AudioError` unless ``path`` is an existing, non-empty file of a supported format."""
    if not path.exists():
        raise AudioError(path, "no such file or directory")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    suffix = path.suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        shown = suffix or "(no extension)"
        raise AudioError(
            path, f"unsupported format {shown}; supported: {' '.join(e[1:] for e in supported_extensions())}"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioError(path, f"cannot read file ({exc.strerror or exc})") from None
    if size == 0:
        raise AudioError(path, "zero-length file")


def _open_soundfile(path: Path) -> sf.SoundFile:
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(path, f"not a readable audio file ({_short(exc)})") from None
    except OSError as exc:
        raise AudioError(path, f"cannot read file ({exc.strerror or exc})") from None


def _read_frames(f: sf.SoundFile, frames: int) -> np.ndarray:
    """Read up to ``frames`` frames as float32 ``(n, channels)`` with one ``sf_readf_float`` call.

    ``SoundFile.read`` seeks before and after every read (to track its position), and a seek resets
    libsndfile's MP3 decoder, which then decodes the first MPEG frame after every block boundary wrongly
    (the bit reservoir is lost; libsndfile 1.2). Calling libsndfile directly keeps block reads
    identical to one whole-file ``sf.read``.
    """
    try:
        from soundfile import _ffi, _snd
    except ImportError:  # pragma: no cover - soundfile without its cffi handles
        return f.read(frames, dtype="float32", always_2d=True)
    out = np.empty((frames, f.channels), dtype=np.float32)
    n = _snd.sf_readf_float(f._file, _ffi.cast("float *", out.ctypes.data), frames)
    err = _snd.sf_error(f._file)
    if err:
        raise sf.LibsndfileError(err, "")
    return out[:n] if n < frames else out


def _mono(x: np.ndarray) -> np.ndarray:
    if x.shape[1] == 1:
        return np.ascontiguousarray(x[:, 0])
    return x.mean(axis=1, dtype=np.float32)


def _short(exc: BaseException | str) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    # libsndfile prefixes "Error opening '<path>': " or "Error : "; the path is already in the message.
    text = re.sub(r"Error opening '.*?': ", "", text)
    text = re.sub(r"^Error\s*:\s*", "", text)
    return text.rstrip(".")[:200]


def _decode_problem(exc: BaseException, seconds: float) -> str:
    where = f" after {seconds:.1f} s" if seconds > 0 else ""
    return f"corrupt or truncated audio data{where} (decoder: {_short(exc)})"


def _import_av(path: Path):
    try:
        import av
    except ImportError:
        raise AudioError(path, f"{path.suffix} files need an FFmpeg decoder; {FFMPEG_HINT}") from None
    return av


def _header_info(path: Path) -> AudioInfo:
    """:func:`musicgenre.audio.io.audio_info`, with libsndfile's misleading messages made plain."""
    try:
        info = audio_info(path)
    except AudioError as exc:
        problem = re.sub(r"Error opening '.*?': ", "", exc.problem)
        # libsndfile's mp3 reader reports garbage as "File does not exist or is not a regular file".
        if "does not exist or is not a regular file" in problem or "Format not recognised" in problem:
            kind = path.suffix.lower().lstrip(".").upper()
            problem = f"not a valid {kind} file (format not recognised, or the file is corrupt)"
        elif problem == "contains no audio samples":
            problem = "contains no decodable audio samples (empty, truncated or corrupt)"
        raise AudioError(path, problem) from None
    return info


def declared_frames(path: Path) -> int | None:
    """Frames that a WAV/AU/AIFF header declares (libsndfile clamps truncated files), else None."""
    suffix = path.suffix.lower()
    if suffix in (".aif", ".aiff", ".aifc"):
        return _aiff_declared(path)
    if suffix in (".wav", ".wave", ".au", ".snd"):
        from musicgenre.datasets.validate import declared_frames as header_frames

        return header_frames(path)
    return None


def ogg_has_end(path: Path) -> bool:
    """True when the last Ogg page of the file has the end-of-stream flag (a cut file lacks it)."""
    max_page = 27 + 255 + 255 * 255  # header, segment table, largest body
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_page))
            tail = f.read()
    except OSError:
        return True
    i = tail.rfind(b"OggS")
    while i >= 0:
        if len(tail) >= i + 27 and tail[i + 4] == 0:  # stream structure version 0: a real page header
            n_segments = tail[i + 26]
            end = i + 27 + n_segments
            body = sum(tail[i + 27 : end]) if len(tail) >= end else -1
            complete = body >= 0 and end + body == len(tail)
            return bool(tail[i + 5] & 0x04) and complete
        i = tail.rfind(b"OggS", 0, i)
    return False


def _aiff_declared(path: Path) -> int | None:
    """``numSampleFrames`` of an AIFF/AIFC ``COMM`` chunk."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"FORM" or head[8:12] not in (b"AIFF", b"AIFC"):
                return None
            for _ in range(64):
                hdr = f.read(8)
                if len(hdr) < 8:
                    return None
                cid, size = hdr[:4], struct.unpack(">I", hdr[4:])[0]
                if cid == b"COMM":
                    body = f.read(6)
                    if len(body) < 6:
                        return None
                    return int(struct.unpack(">I", body[2:6])[0])
                f.seek(size + (size & 1), 1)
    except OSError:
        return None
    return None


__all__ = [
    "DEFAULT_BLOCK_SECONDS",
    "SOUNDFILE_EXTENSIONS",
    "AudioStream",
    "StreamInfo",
    "array_blocks",
    "check_file",
    "declared_frames",
    "ogg_has_end",
    "supported_extensions",
    "to_mono_array",
]
