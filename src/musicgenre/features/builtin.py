"""Imports every built-in feature module so that each registers itself."""

from musicgenre.features import mfcc, waveform, yamnet  # noqa: F401
