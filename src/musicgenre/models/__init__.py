"""Genre classifiers: BiLSTM, CNN1D, CNN2D, waveform CNN, combined multi-input model and a linear probe."""

# The built-in models register themselves on import (lhotse-style); this is the one place they are imported.
from musicgenre.models import (  # noqa: F401
    anchored,
    bilstm,
    cnn1d,
    cnn2d,
    combined,
    ensemble,
    finetune,
    probe,
    waveform_cnn,
    zeroshot,
)
from musicgenre.models.registry import ModelSpec, build_model, get_model_spec, model_names, register_model

__all__ = ["ModelSpec", "build_model", "get_model_spec", "model_names", "register_model"]
