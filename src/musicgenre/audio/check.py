"""The checks every audio file goes through, for training, validation and prediction alike.

One vocabulary of problems: every function here raises (or describes) an
:class:`~musicgenre.errors.AudioError` naming the file and the problem. :mod:`musicgenre.audio.decode`
opens files with these checks, and :func:`~musicgenre.audio.io.load_audio`,
:class:`~musicgenre.audio.stream.AudioStream` and :func:`~musicgenre.datasets.validate.validate_dataset`
are built on it, so they accept and reject the same files with the same messages.

Truncation is found in three ways: libsndfile's header log (a data chunk that promises more bytes than the
file holds), the length a header declares (libsndfile silently clamps a truncated file's frame count, so
``.au``/``.wav``/``.aiff`` headers are read here) compared with what decodes, and the Ogg end-of-stream
flag (a cut Ogg file reports only what is there).
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musicgenre.errors import AudioError, UnsupportedFormatError

#: Extensions decoded by libsndfile.
SOUNDFILE_EXTENSIONS = frozenset(
    {".wav", ".wave", ".au", ".snd", ".aif", ".aiff", ".aifc", ".flac", ".ogg", ".oga", ".opus", ".mp3"}
)
#: Extensions that need an FFmpeg-based decoder (PyAV).
FFMPEG_EXTENSIONS = frozenset({".m4a", ".aac", ".mp4", ".m4b", ".wma", ".webm", ".mka"})
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS
OGG_EXTENSIONS = frozenset({".ogg", ".oga", ".opus"})

FFMPEG_HINT = "install the optional FFmpeg decoder with: pip install 'musicgenre[ffmpeg]' (PyAV)"

#: A decoded length short of the declared one by more than this is truncation. Compressed formats get a
#: wider margin: their lengths can be estimates (encoder delay, padding, VBR headers).
_TOLERANCE_PCM = (0.001, 0.01)  # (fraction of the declared length, seconds)
_TOLERANCE_CODEC = (0.02, 0.5)
_PCM_FORMATS = frozenset({"WAV", "WAVEX", "AU", "AIFF", "RF64", "W64", "CAF"})


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


def supported_extensions() -> list[str]:
    """Every extension that musicgenre decodes, sorted."""
    return sorted(AUDIO_EXTENSIONS)


# ------------------------------------------------------------------------------------- the vocabulary
def decoder_text(exc: BaseException) -> str:
    """The first line of a decoder's error, without libsndfile's ``Error opening '<path>':`` prefix."""
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    text = re.sub(r"Error opening '.*?': ", "", text)
    text = re.sub(r"^Error\s*:\s*", "", text)
    return text.rstrip(".")[:200]


def not_readable(path: Path, exc: BaseException | None = None) -> AudioError:
    """The header cannot be read: not audio, or a format the decoder does not recognise."""
    if exc is None:
        return AudioError(path, "not a readable audio file (no valid audio header)")
    text = decoder_text(exc)
    # libsndfile's mp3 reader reports garbage as "File does not exist or is not a regular file".
    if "does not exist or is not a regular file" in text or "Format not recognised" in text:
        kind = path.suffix.lower().lstrip(".").upper()
        text = f"not a valid {kind} file: format not recognised, or the file is corrupt"
    return AudioError(path, f"not a readable audio file ({text})")


def cannot_read(path: Path, exc: OSError) -> AudioError:
    """The operating system refused to read the file."""
    return AudioError(path, f"cannot read file ({exc.strerror or exc})")


def cannot_decode(path: Path, exc: BaseException, seconds: float = 0.0) -> AudioError:
    """The decoder failed on the audio data after ``seconds`` of good audio."""
    where = f" after {seconds:.1f} s" if seconds > 0 else ""
    return AudioError(
        path, f"cannot decode audio data{where} (corrupt or truncated; decoder: {decoder_text(exc)})"
    )


def needs_ffmpeg(path: Path) -> AudioError:
    """An FFmpeg format without PyAV installed."""
    return UnsupportedFormatError(path, f"{path.suffix} files need an FFmpeg decoder; {FFMPEG_HINT}")


def no_samples(path: Path, *, in_range: bool = False) -> AudioError:
    """Nothing to decode (in the whole file, or in the requested part of it)."""
    return AudioError(path, "contains no audio samples" + (" in the requested range" if in_range else ""))


#: Largest sample magnitude accepted (120 dB above full scale). Float files are expected in [-1, 1], and
#: some tools write int16-scaled floats (up to 32768); samples beyond this are rejected, not clipped: such
#: a file is garbage or a mis-scaled export, and its features would overflow to NaN.
MAX_SAMPLE = 1e6


def out_of_range(block: np.ndarray) -> int | None:
    """The index of the first sample of ``block`` beyond :data:`MAX_SAMPLE` in magnitude, or None."""
    beyond = np.abs(block) > MAX_SAMPLE
    return int(np.flatnonzero(beyond)[0]) if beyond.any() else None


def range_problem(block: np.ndarray, where: str) -> str:
    """The message for a block with samples beyond :data:`MAX_SAMPLE` (``where``: e.g. ``"at 1.00 s"``)."""
    return (
        f"samples far beyond full scale (peak {float(np.max(np.abs(block))):.3g}, first {where}; at most "
        f"{MAX_SAMPLE:g} is accepted, audio is expected in [-1, 1])"
    )


def check_finite(path: Path, block: np.ndarray, first_frame: int, sample_rate: int) -> None:
    """Raise unless every sample of ``block`` (which starts at frame ``first_frame``) is finite and within
    :data:`MAX_SAMPLE`."""
    if not np.isfinite(block).all():
        bad = int(np.flatnonzero(~np.isfinite(block))[0]) + first_frame
        raise AudioError(path, f"contains NaN or infinite samples (first at {bad / sample_rate:.2f} s)")
    bad = out_of_range(block)
    if bad is not None:
        raise AudioError(path, range_problem(block, f"at {(bad + first_frame) / sample_rate:.2f} s"))


# ------------------------------------------------------------------------------------- file and header
def check_file(path: Path) -> None:
    """Raise :class:`AudioError` unless ``path`` is an existing, non-empty file of a supported format."""
    if not path.exists():
        raise AudioError(path, "no such file or directory")
    if path.is_dir():
        raise AudioError(path, "is a directory, not an audio file")
    suffix = path.suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        shown = suffix or "(no extension)"
        raise UnsupportedFormatError(
            path, f"unsupported format {shown}; supported: {' '.join(e[1:] for e in supported_extensions())}"
        )
    try:
        size = path.stat().st_size
        with open(path, "rb"):  # libsndfile reports a file it may not read as "System error."
            pass
    except OSError as exc:
        raise cannot_read(path, exc) from None
    if size == 0:
        raise AudioError(path, "zero-length file")


#: libsndfile's header log notes a chunk that promises more bytes than the file holds, e.g. WAV
#: "data : 88200 (should be 44078)", AU "Data Size   : 88200 (should be 44088)", AIFF "SSND : ...".
_SHORT_DATA = re.compile(
    r"^\s*(?:data(?: size)?|ssnd)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.IGNORECASE | re.MULTILINE
)


def check_header(info: AudioInfo, header_log: str = "") -> None:
    """Raise for what a header alone shows: no samples, or (libsndfile's log) a data chunk cut short."""
    if info.frames <= 0:
        raise no_samples(info.path)
    for claimed, present in _SHORT_DATA.findall(header_log):
        # 0xFFFFFFFF-style sizes mean "unknown length" (streamed files), not truncation.
        if int(present) < int(claimed) < 0xFFFFFF00:
            raise AudioError(
                info.path,
                f"truncated file: the header promises {claimed} bytes of audio data, only {present} are present",
            )


# ------------------------------------------------------------------------------------- declared lengths
_AU_BYTES = {1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1}


def declared_frames(path: str | Path) -> int | None:
    """Frames that a ``.au``/``.snd``/``.wav``/``.aiff`` header declares, or None when unknown or not stated."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        with open(path, "rb") as f:
            if suffix in (".au", ".snd"):
                return _au_declared(f.read(24))
            if suffix in (".wav", ".wave"):
                return _wav_declared(f)
            if suffix in (".aif", ".aiff", ".aifc"):
                return _aiff_declared(f)
    except OSError:
        return None
    return None


def _au_declared(head: bytes) -> int | None:
    if len(head) < 24 or head[:4] != b".snd":
        return None
    _, size, encoding, _, channels = struct.unpack(">IIIII", head[4:24])
    bps = _AU_BYTES.get(encoding)
    if size == 0xFFFFFFFF or not bps or channels <= 0:
        return None
    return size // (bps * channels)


def _wav_declared(f) -> int | None:
    head = f.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    block_align = 0
    fmt_tag = None
    for _ in range(64):  # a WAV file has a handful of chunks; stop on anything odd
        hdr = f.read(8)
        if len(hdr) < 8:
            return None
        cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
        if cid == b"fmt ":
            body = f.read(size + (size & 1))
            if len(body) < 16:
                return None
            fmt_tag, _, _, _, block_align = struct.unpack("<HHIIH", body[:14])
        elif cid == b"data":
            if fmt_tag not in (1, 3, 0xFFFE) or block_align <= 0 or size in (0, 0xFFFFFFFF):
                return None
            return size // block_align
        else:
            f.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _aiff_declared(f) -> int | None:
    """``numSampleFrames`` of an AIFF/AIFC ``COMM`` chunk."""
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
        f.seek(size + (size & 1), os.SEEK_CUR)
    return None


def ogg_has_end(path: str | Path) -> bool:
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


# ------------------------------------------------------------------------------------- truncation
@dataclass(frozen=True)
class Completeness:
    """How the length that decoded compares with the length the file declares.

    Attributes:
        path: the file.
        sample_rate: its own rate.
        declared: frames the file declares (header, or the decoder's estimate; 0 when unknown).
        decoded: frames that decoded from the start of the file.
        tolerance: frames that may be missing before it counts as truncation (codec lengths are estimates).
        ogg_end_missing: an Ogg file whose last page lacks the end-of-stream flag.
    """

    path: Path
    sample_rate: int
    declared: int
    decoded: int
    tolerance: int
    ogg_end_missing: bool = False

    @property
    def missing(self) -> int:
        """Declared frames that did not decode (0 when complete)."""
        return max(0, self.declared - self.decoded)

    @property
    def truncated(self) -> bool:
        """True when the file is cut short: the loaders refuse it."""
        return self.ogg_end_missing or self.missing > self.tolerance

    @property
    def problem(self) -> str | None:
        """The message for a file that is cut short (even within the tolerance), else None."""
        sr = self.sample_rate
        if self.ogg_end_missing:
            return (
                f"truncated file: the Ogg stream stops after {self.decoded / sr:.2f} s "
                "without its end-of-stream page"
            )
        if self.missing:
            return (
                f"truncated file: the file declares {self.declared / sr:.2f} s of audio, "
                f"only {self.decoded / sr:.2f} s are present"
            )
        return None


def completeness(info: AudioInfo, frames_decoded: int) -> Completeness:
    """Compare ``frames_decoded`` (from the start, at the file's own rate) with what ``info.path`` declares."""
    path = info.path
    declared = max(info.frames, declared_frames(path) or 0)
    frac, seconds = _TOLERANCE_PCM if info.format in _PCM_FORMATS else _TOLERANCE_CODEC
    tolerance = int(max(frac * declared, seconds * info.sample_rate))
    ogg_cut = path.suffix.lower() in OGG_EXTENSIONS and not ogg_has_end(path)
    return Completeness(path, info.sample_rate, declared, int(frames_decoded), tolerance, ogg_cut)


def check_complete(info: AudioInfo, frames_decoded: int) -> None:
    """Raise :class:`AudioError` when the whole file decoded to ``frames_decoded`` frames and is truncated."""
    found = completeness(info, frames_decoded)
    if found.truncated:
        raise AudioError(info.path, str(found.problem))
