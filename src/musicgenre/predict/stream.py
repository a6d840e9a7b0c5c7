"""Moved to :mod:`musicgenre.audio.stream` (the reader) and :mod:`musicgenre.audio.check` (the checks).

Kept so that ``from musicgenre.predict.stream import AudioStream`` goes on working.
"""

from musicgenre.audio.check import (
    SOUNDFILE_EXTENSIONS,
    check_file,
    declared_frames,
    ogg_has_end,
    supported_extensions,
)
from musicgenre.audio.stream import (
    DEFAULT_BLOCK_SECONDS,
    AudioStream,
    StreamInfo,
    array_blocks,
    to_mono_array,
)

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
