"""Imports every built-in feature module so that each registers itself."""

from musicgenre.features import mfcc, waveform  # noqa: F401

try:  # YAMNet features register themselves when their module is importable.
    from musicgenre.features import yamnet  # noqa: F401
except ImportError:  # pragma: no cover - only while the module does not exist yet
    pass
