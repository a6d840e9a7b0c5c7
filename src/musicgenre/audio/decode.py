"""The decoders behind every audio path: opening, block reads, mono mixdown and resampling.

soundfile (libsndfile) decodes wav, au, aiff, flac, ogg/opus and mp3; m4a/aac and other FFmpeg formats go
through PyAV when it is installed. :func:`audio_info` opens a file with the checks of
:mod:`musicgenre.audio.check`, and :class:`BlockReader` decodes it to checked mono float32 blocks at its own
rate; :func:`~musicgenre.audio.io.load_audio` and :class:`~musicgenre.audio.stream.AudioStream` are both
built on these two.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicgenre.audio import check
from musicgenre.audio.check import AudioInfo
from musicgenre.errors import AudioError

#: Seconds of audio decoded per block (at the file's own rate). 60 s of 48 kHz stereo float32 is 23 MB.
DEFAULT_BLOCK_SECONDS = 60.0
#: Frames read at a time past a file's declared length (mp3 lengths can be estimates).
_PROBE_FRAMES = 1 << 16


def import_av(path: Path):
    """The ``av`` module, or an :class:`AudioError` for ``path`` that says how to install it."""
    try:
        import av
    except ImportError:
        raise check.needs_ffmpeg(path) from None
    return av


def uses_ffmpeg(path: Path) -> bool:
    """True when ``path`` is decoded by PyAV rather than libsndfile."""
    return path.suffix.lower() in check.FFMPEG_EXTENSIONS


def audio_info(path: str | Path) -> AudioInfo:
    """Read the header of ``path`` after :func:`~musicgenre.audio.check.check_file`.

    Raises :class:`AudioError` for missing, empty, unsupported, unreadable or (per the header) truncated files.
    """
    path = Path(path)
    check.check_file(path)
    if uses_ffmpeg(path):
        return _av_info(path)  # its length is the container's estimate (0 when unknown)
    try:
        with quiet_mpg123():
            raw = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise check.not_readable(path, exc) from None
    if str(raw.format) == "RAW":  # no header: libsndfile guessed headerless u-law from the extension
        raise check.not_readable(path)
    info = AudioInfo(path, int(raw.samplerate), int(raw.channels), int(raw.frames), str(raw.format))
    check.check_header(info, str(getattr(raw, "extra_info", "")))
    return info


def _av_info(path: Path) -> AudioInfo:
    av = import_av(path)
    try:
        with av.open(str(path)) as container:
            streams = container.streams.audio
            if not streams:
                raise AudioError(path, "has no audio stream")
            stream = streams[0]
            sr = int(stream.codec_context.sample_rate or stream.rate)
            channels = int(stream.codec_context.channels or 1)
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / 1_000_000
            else:
                seconds = 0.0
    except AudioError:
        raise
    except Exception as exc:  # PyAV raises many error types (av.error.*)
        raise check.not_readable(path, exc) from None
    return AudioInfo(path, sr, channels, int(round(seconds * sr)), stream.codec_context.name.upper())


# ------------------------------------------------------------------------------ libmpg123's stderr notes
#: Lines libmpg123 (libsndfile's MP3 decoder) writes straight to file descriptor 2 while probing a file:
#: "Note: Illegal Audio-MPEG-Header 0x... at offset ...", "Note: Trying to resync...", "Warning: Xing stream
#: size off by more than 1%...", "[src/libmpg123/...] error: ...". The decode errors that matter reach us
#: through libsndfile anyway.
_MPG123_LINE = re.compile(
    rb"^(?:Note: |Warning: |\[[^\]\n]*libmpg123[^\]\n]*\] )[^\n]*(?:\n|$)", re.MULTILINE
)
#: One redirection of fd 2 at a time in a process (fd 2 is shared by its threads).
_STDERR_LOCK = threading.Lock()
#: The saved real fd 2 while a redirection is active (for a child forked meanwhile), else None.
_saved_stderr: int | None = None


def drop_mpg123_notes(captured: bytes) -> bytes:
    """``captured`` without libmpg123's note/warning lines (everything else is kept byte for byte)."""
    return _MPG123_LINE.sub(b"", captured)


@contextmanager
def quiet_mpg123() -> Iterator[None]:
    """Redirect file descriptor 2 to a temporary file around a libsndfile open, then write back to the real
    stderr whatever was written there except libmpg123's notes (:func:`drop_mpg123_notes`).

    libmpg123 prints to fd 2 directly (not through Python), so ``sys.stderr`` cannot catch it. A lock keeps
    one redirection at a time in a process (threads share fd 2); other threads' stderr output during the
    window is delayed, not lost. fd 2 is restored however the body ends. A file, not a pipe, holds what is
    written, so a large write cannot block. Worker processes have their own fd 2; a child forked during a
    redirection gets the real one back (see the at-fork hook below). Without a usable fd 2, nothing is
    redirected.
    """
    global _saved_stderr
    with _STDERR_LOCK:
        with suppress(AttributeError, OSError, ValueError):
            sys.stderr.flush()
        try:
            saved = os.dup(2)
        except OSError:  # no fd 2 (a daemon): nothing to protect
            yield
            return
        try:
            with tempfile.TemporaryFile() as tmp:
                os.dup2(tmp.fileno(), 2)
                _saved_stderr = saved
                try:
                    yield
                finally:
                    with suppress(AttributeError, OSError, ValueError):
                        sys.stderr.flush()
                    os.dup2(saved, 2)
                    _saved_stderr = None
                    tmp.seek(0)
                    kept = drop_mpg123_notes(tmp.read())
                    if kept:
                        with suppress(OSError):
                            os.write(2, kept)
        finally:
            os.close(saved)


def _after_fork_in_child() -> None:
    global _STDERR_LOCK, _saved_stderr
    if _saved_stderr is not None:  # forked while redirected: the child gets the real stderr
        with suppress(OSError):
            os.dup2(_saved_stderr, 2)
        _saved_stderr = None
    _STDERR_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def open_soundfile(path: Path) -> sf.SoundFile:
    """Open ``path`` with libsndfile for reading."""
    try:
        with quiet_mpg123():
            return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise check.not_readable(path, exc) from None
    except OSError as exc:
        raise check.cannot_read(path, exc) from None


def read_frames(f: sf.SoundFile, frames: int) -> np.ndarray:
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


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of a ``(frames, channels)`` float32 array; 1-D input is returned unchanged."""
    if x.ndim == 1:
        return x
    if x.shape[1] == 1:
        return np.ascontiguousarray(x[:, 0])
    if x.shape[1] >= 8:  # numpy sums 8 or more values pairwise: keep its order
        return x.mean(axis=1, dtype=np.float32)
    # The same sum, in the same order, as ``x.mean(axis=1)``, column by column: a strided reduction over
    # axis 1 took 0.12 s for 3 minutes of 44.1 kHz stereo, the column sums 0.01 s.
    out = x[:, 0].astype(np.float32, copy=True)
    for c in range(1, x.shape[1]):
        out += x[:, c]
    out /= np.float32(x.shape[1])
    return out


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """High-quality (soxr 'HQ') resampling of a mono float32 signal."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), orig_sr, target_sr, quality="HQ").astype(
        np.float32, copy=False
    )


def stream_resampler(orig_sr: int, target_sr: int) -> soxr.ResampleStream | None:
    """The block-by-block form of :func:`resample` (numerically the same), or None when the rates agree."""
    if orig_sr == target_sr:
        return None
    return soxr.ResampleStream(orig_sr, target_sr, 1, dtype="float32", quality="HQ")


class BlockReader:
    """Decode one file to checked mono float32 blocks at its own rate, never holding it whole.

    soundfile formats are opened here (so that opening problems raise right away); FFmpeg formats when
    :meth:`blocks` starts. The channels are averaged (FFmpeg's resampler does the same mix for PyAV), and
    every block is checked for NaN/inf samples.

    Args:
        path: the file.
        info: its header (:func:`audio_info`).
        block_frames: frames per block (at least; PyAV blocks are whole codec frames).
        start: first frame to return (frames before it are skipped, by seeking where the decoder can).

    Attributes:
        position: frames from the start of the file up to the end of the last block returned.
        max_block_samples: the largest decoded block so far (frames x channels), for memory checks.
    """

    def __init__(self, path: Path, info: AudioInfo, *, block_frames: int, start: int = 0) -> None:
        if start < 0:
            raise ValueError(f"start must not be negative, got {start}")
        self.path = path
        self.info = info
        self.block_frames = max(1, int(block_frames))
        self.start = int(start)
        self.position = 0
        self.max_block_samples = 0
        self._av = uses_ffmpeg(path)
        self._sf: sf.SoundFile | None = None if self._av else open_soundfile(path)

    def close(self) -> None:
        """Release the file handle (also done when :meth:`blocks` finishes)."""
        if self._sf is not None:
            self._sf.close()
            self._sf = None

    def blocks(self) -> Iterator[np.ndarray]:
        """Yield non-empty mono float32 blocks until the end of the file (or until the caller stops)."""
        raw = self._av_blocks() if self._av else self._sf_blocks()
        sr = self.info.sample_rate
        try:
            for block in raw:
                mono = to_mono(block)
                if self.position < self.start:  # PyAV decodes from the start: drop what comes before
                    skip = min(mono.shape[0], self.start - self.position)
                    self.position += skip
                    mono = mono[skip:]
                if mono.size == 0:
                    continue
                check.check_finite(self.path, mono, self.position, sr)
                self.position += mono.shape[0]
                yield mono
        finally:
            raw.close()
            self.close()

    def _sf_blocks(self) -> Iterator[np.ndarray]:
        f = self._sf
        if f is None:
            raise RuntimeError("the blocks of an audio file can be iterated only once")
        if self.start:
            try:
                self.position = f.seek(min(self.start, f.frames))
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise check.cannot_decode(self.path, exc) from None
        while True:
            # libsndfile zero-fills the part of a buffer that it cannot fill, all of it at the end of the
            # file: read up to the declared length, then ask for a little at a time.
            left = f.frames - self.position
            size = min(self.block_frames, left if left > 0 else _PROBE_FRAMES)
            try:
                x = read_frames(f, size)
            except (sf.LibsndfileError, RuntimeError) as exc:
                raise check.cannot_decode(self.path, exc, self.position / f.samplerate) from None
            if x.shape[0] == 0:
                return
            self.max_block_samples = max(self.max_block_samples, x.size)
            yield x

    def _av_blocks(self) -> Iterator[np.ndarray]:
        av = import_av(self.path)
        sr = self.info.sample_rate
        pending: list[np.ndarray] = []
        n_pending = 0
        try:
            container = av.open(str(self.path))
        except Exception as exc:  # PyAV raises many error types (av.error.*)
            raise check.not_readable(self.path, exc) from None
        try:
            stream = container.streams.audio[0]
            # The mono mix at the file's own rate, by FFmpeg's resampler.
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sr)
            frames = container.decode(stream)
            while True:
                try:
                    frame = next(frames, None)
                    outs = resampler.resample(frame)
                except Exception as exc:
                    raise check.cannot_decode(self.path, exc, self.position / sr) from None
                for out in outs:
                    arr = out.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    pending.append(arr)
                    n_pending += arr.shape[0]
                if n_pending >= self.block_frames or (frame is None and n_pending):
                    block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                    pending, n_pending = [], 0
                    self.max_block_samples = max(self.max_block_samples, block.size)
                    yield block
                if frame is None:
                    return
        finally:
            container.close()
