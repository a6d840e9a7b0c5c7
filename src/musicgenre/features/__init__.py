"""Per-segment features (waveform, MFCC, YAMNet log-mel and embeddings) behind one registry."""

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
    "config_from_dict",
    "extract",
    "extract_many",
    "feature_names",
    "get_feature",
    "make_config",
    "register_feature",
]
