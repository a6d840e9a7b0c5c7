"""Genre classifiers: BiLSTM, CNN1D, CNN2D, waveform CNN, combined multi-input model and a linear probe."""

from musicgenre.models.registry import ModelSpec, build_model, get_model_spec, model_names, register_model

__all__ = ["ModelSpec", "build_model", "get_model_spec", "model_names", "register_model"]
