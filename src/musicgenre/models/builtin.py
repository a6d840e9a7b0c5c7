"""Imports every built-in model module so that each registers itself."""

from musicgenre.models import bilstm, cnn1d, cnn2d, combined, probe, waveform_cnn  # noqa: F401
