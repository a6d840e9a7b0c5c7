"""Decode audio files to mono float32 at a chosen sample rate.

soundfile (libsndfile) decodes wav, au, aiff, flac, ogg/opus and mp3; m4a/aac go through PyAV when it is
installed. Every failure is an :class:`~musicgenre.errors.AudioError` naming the file and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from musicgenre.errors import AudioError

#: Extensions decoded by libsndfile.
SOUNDFILE_EXTENSIONS = frozenset(
    {".wav", ".wave", ".au", ".snd", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga", ".opus", ".mp3"}
)
#: Extensions that need an FFmpeg-based decoder (PyAV).
FFMPEG_EXTENSIONS = frozenset({".m4a", ".aac", ".mp4", ".m4b", ".wma", ".webm", ".mka"})
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS

FFMPEG_HINT = "install the optional FFmpeg decoder with: pip install 'musicgenre[ffmpeg]' (PyAV)"


@dataclass(frozen=True)
class AudioInfo:
    """What a file's header says, before decoding it."""

    path: Path
    sample_rate: int
    channels: int
    frames: int
    format: str

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def is_audio_path(path: str | Path) -> bool:
    """True when the extension is one that musicgenre can decode (case-insensitive)."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(path, "no such file")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(path, "zero-length file")


def audio_info(path: str | Path) -> AudioInfo:
    """Read the header of ``path``. Raises :class:`AudioError` for missing, empty or unreadable files."""
    path = Path(path)
    _check_file(path)
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        return _av_info(path)
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(path, f"not a readable audio file ({_short(exc)})") from None
    if str(info.format) == "RAW":  # no header: libsndfile guessed headerless u-law from the extension
        raise AudioError(path, "not a readable audio file (no valid audio header)")
    if info.frames <= 0:
        raise AudioError(path, "contains no audio samples")
    truncated = _truncation(str(getattr(info, "extra_info", "")))
    if truncated:
        raise AudioError(path, truncated)
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames), str(info.format))


#: libsndfile's header log notes a chunk that promises more bytes than the file holds, e.g. WAV
#: "data : 88200 (should be 44078)", AU "Data Size   : 88200 (should be 44088)", AIFF "SSND : ...".
_SHORT_DATA = re.compile(
    r"^\s*(?:data(?: size)?|ssnd)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.IGNORECASE | re.MULTILINE
)


def _truncation(header_log: str) -> str | None:
    """A message when the header says the audio data is longer than what the file holds, else None."""
    for claimed, present in _SHORT_DATA.findall(header_log):
        # 0xFFFFFFFF-style sizes mean "unknown length" (streamed files), not truncation.
        if int(present) < int(claimed) < 0xFFFFFF00:
            return f"truncated file: the header promises {claimed} bytes of audio data, only {present} are present"
    return None


def to_mono(x: np.ndarray) -> np.ndarray:
    """Average the channels of a ``(frames, channels)`` array; 1-D input is returned unchanged."""
    return x if x.ndim == 1 else x.mean(axis=1, dtype=np.float32)


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """High-quality (soxr 'HQ') resampling of a mono float32 signal."""
    if orig_sr == target_sr:
        return np.ascontiguousarray(x, dtype=np.float32)
    return soxr.resample(np.asarray(x, dtype=np.float32), orig_sr, target_sr, quality="HQ").astype(
        np.float32, copy=False
    )


def load_audio(
    path: str | Path,
    sample_rate: int | None = 16000,
    *,
    offset: float = 0.0,
    duration: float | None = None,
) -> np.ndarray:
    """Decode ``path`` to a mono float32 array in [-1, 1], resampled to ``sample_rate`` (None keeps it).

    ``offset`` and ``duration`` (seconds) read only part of the file. Raises :class:`AudioError` when
    the file is missing, empty, not audio, truncated, or holds NaN/inf samples.
    """
    path = Path(path)
    info = audio_info(path)
    start = int(round(offset * info.sample_rate))
    stop = None if duration is None else start + int(round(duration * info.sample_rate))
    if path.suffix.lower() in FFMPEG_EXTENSIONS:
        x = _av_read(path, info.sample_rate)[start:stop]
    else:
        try:
            x, _ = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=False)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(path, f"cannot decode audio data ({_short(exc)})") from None
    x = to_mono(np.asarray(x, dtype=np.float32))
    if x.size == 0:
        raise AudioError(path, "contains no audio samples in the requested range")
    if not np.isfinite(x).all():
        raise AudioError(path, "contains NaN or infinite samples")
    if sample_rate is not None:
        x = resample(x, info.sample_rate, sample_rate)
    return x


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:200]


def _import_av(path: Path):
    try:
        import av
    except ImportError:
        raise AudioError(path, f"{path.suffix} needs an FFmpeg decoder; {FFMPEG_HINT}") from None
    return av


def _av_info(path: Path) -> AudioInfo:
    av = _import_av(path)
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
        raise AudioError(path, f"not a readable audio file ({_short(exc)})") from None
    return AudioInfo(path, sr, channels, int(round(seconds * sr)), stream.codec_context.name.upper())


def _av_read(path: Path, sample_rate: int) -> np.ndarray:
    """Decode the first audio stream to float32 ``(frames, channels)`` at its own rate."""
    av = _import_av(path)
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except Exception as exc:
        raise AudioError(path, f"cannot decode audio data ({_short(exc)})") from None
    if not chunks:
        raise AudioError(path, "contains no audio samples")
    return np.concatenate(chunks).astype(np.float32, copy=False)
