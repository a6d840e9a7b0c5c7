"""Initialisation of a fine-tuned backbone (``trainer="finetune"``): pretrained weights and anchored head.

The torch loop then trains it like every other model (same protocols, checkpoints and ``predict``), with
two differences the model itself declares: its optimizer groups (:meth:`param_groups`: a lower learning
rate for the backbone, no weight decay) and a penalty added to the loss (:meth:`penalty`: L2-SP toward
the head's anchor). Its input is not normalised: the backbone expects YAMNet's own log-mel.
"""

from __future__ import annotations

from typing import Any

from musicgenre.features.registry import FeatureConfig
from musicgenre.models.anchored import anchor_rows
from musicgenre.training.result import TrainingError


def init_finetune(model: Any, config: FeatureConfig, label_names: list[str], options: dict[str, Any]) -> None:
    """Load YAMNet's convolutions (the weights ``config``, the log-mel feature, names) into ``model`` and
    set its head's anchor from the AudioSet rows of each genre's classes; ``options`` get the class table."""
    from musicgenre.training.zeroshot_fit import set_genre_classes
    from musicgenre.yamnet.weights import load_weights

    if config.name not in ("yamnet_logmel", "yamnet_activations"):
        raise TrainingError(f"finetune_yamnet takes yamnet_activations or yamnet_logmel, not {config.name}")
    layer = getattr(config, "layer", None)
    if layer is not None and layer != model.opts.freeze_layers:
        raise TrainingError(
            f"finetune_yamnet freezes {model.opts.freeze_layers} layers but its input holds the activations "
            f"after layer {layer}"
        )
    set_genre_classes(label_names, options)
    fused = load_weights(getattr(config, "source", None))
    model.cnn.load_convs(fused.convs)
    model.set_anchor(*anchor_rows(fused.dense_weight, fused.dense_bias, options["classes"]))
