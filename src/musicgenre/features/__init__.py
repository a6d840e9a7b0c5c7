"""Per-segment features (waveform, MFCC, YAMNet log-mel and embeddings, musicnn) behind one registry.

Features computed by pretrained models carry their weights in the config (:mod:`musicgenre.features.pretrained`).
"""

# The built-in features register themselves on import (lhotse-style); this is the one place they are imported.
from musicgenre.features import mfcc, musicnn, waveform, yamnet, yamnet_activations  # noqa: F401
from musicgenre.features.pretrained import PretrainedFeatureConfig, with_weights
from musicgenre.features.registry import (
    FeatureConfig,
    FeatureSpec,
    config_from_dict,
    extract,
    extract_many,
    feature_names,
    get_feature,
    make_config,
    register_feature,
)

__all__ = [
    "FeatureConfig",
    "FeatureSpec",
    "PretrainedFeatureConfig",
    "config_from_dict",
    "extract",
    "extract_many",
    "feature_names",
    "get_feature",
    "make_config",
    "register_feature",
    "with_weights",
]
