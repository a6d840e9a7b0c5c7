"""Features computed by a pretrained model: the weights are part of the feature config, as a value.

A :class:`PretrainedFeatureConfig` (YAMNet's features; later musicnn's) keeps

- ``weights``: the identity ``"<kind>:<git blob id>"`` of the weights it is computed with. It is in
  ``to_dict()`` (checkpoints, store manifests, run files) and in ``key()`` (cache folders), and names the
  content, never a path, so a checkpoint stays usable on another machine;
- ``source``: the :class:`~musicgenre.pretrained.PretrainedBundle` to load them from here. It is not
  serialised and not compared.

``weights`` given as a path (older configs and checkpoints, the Python API) is resolved when the config is
built, and so is an empty ``weights`` (the family's default: ``$..._WEIGHTS``, cache, shared file; no
download). From then on ``key()`` is a pure function of the config, whatever the environment says later.
A config that carries only an identity (read from a checkpoint or store) looks for a file with exactly
those weights when it is extracted (:meth:`PretrainedFeatureConfig.bundle`), or refuses.

The edges (CLI, :class:`~musicgenre.predict.classifier.GenreClassifier`,
:func:`musicgenre.experiment.feature_configs_for`) bind the weights they resolved with :func:`with_weights`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from musicgenre.errors import WeightsMismatchError, WeightsNotFoundError
from musicgenre.features.registry import FeatureConfig
from musicgenre.pretrained import PretrainedBundle, WeightsFamily

_IDENTITY = re.compile(r"[A-Za-z0-9_.+-]+:[0-9a-f]{40}")


def is_identity(value: str) -> bool:
    """True for ``"<kind>:<40 hex digits>"`` (a weights identity), false for a path or ``""``."""
    return bool(_IDENTITY.fullmatch(value))


@dataclass(frozen=True)
class PretrainedFeatureConfig(FeatureConfig):
    """Base class of feature configs computed by a model of family ``weights_family``."""

    weights_family: ClassVar[WeightsFamily]

    weights: str = ""  # identity "<kind>:<git blob id>"; a path or "" is resolved when the config is built
    source: PretrainedBundle | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        family, source, weights = self.weights_family, self.source, str(self.weights)
        if source is not None:
            source = family.resolve(source)  # checks the family
            if weights and weights != source.identity:
                raise WeightsMismatchError(f"{self.name}: weights {weights!r} given with {source.describe()}")
        elif weights and not is_identity(weights):
            source = family.resolve(weights)  # a path: must exist
        elif not weights:
            try:  # the default weights of this machine, pinned now (no download; see with_weights)
                source = family.resolve(download=False)
            except WeightsNotFoundError:
                source = None
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "weights", source.identity if source is not None else weights)

    def to_dict(self) -> dict[str, Any]:
        """Config values (``weights`` as its identity, no path) plus the feature name."""
        return {
            "name": self.name,
            **{f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"},
        }

    def weights_identity(self) -> str:
        """``"<kind>:<git blob id>"`` of the weights, or ``"unresolved"``."""
        return self.weights or "unresolved"

    def require_weights(self) -> None:
        """Raise :class:`WeightsNotFoundError` for a config that names no weights."""
        if not self.weights:
            raise WeightsNotFoundError(
                f"{self.name}: no {self.weights_family.title} weights were found when this feature config was "
                f"built. {self.weights_family.not_found_message()}"
            )

    def key(self) -> str:
        """Hash of the config, weights identity included: a pure function of the config."""
        self.require_weights()
        return super().key()

    def resolved_key(self, resolved: PretrainedFeatureConfig) -> str:
        """The key of ``resolved`` (this config with its ``"auto"`` settings resolved, e.g. the network's
        runtime). A ``backend`` resolved to ``"torch"`` is left out: the key from before backends existed,
        so stores made then stay valid."""
        self.require_weights()
        values = resolved.to_dict()
        if values.get("backend") == "torch":
            del values["backend"]
        blob = json.dumps(values, sort_keys=True).encode()
        return f"{self.name}-{hashlib.sha1(blob).hexdigest()[:10]}"

    def bundle(self) -> PretrainedBundle:
        """The weights to compute with: ``source``, else a file holding exactly ``weights`` (or an error)."""
        if self.source is not None:
            return self.source
        self.require_weights()
        return self.weights_family.resolve(identity=self.weights)

    def with_bundle(self, bundle: PretrainedBundle) -> PretrainedFeatureConfig:
        """This config computed with ``bundle``. A config that carries only an identity (from a checkpoint or
        a store) refuses other weights with :class:`WeightsMismatchError`."""
        if self.source is None and self.weights:
            self.weights_family.resolve(bundle, identity=self.weights)
        return dataclasses.replace(self, weights=bundle.identity, source=bundle)


def with_weights(
    configs: Mapping[str, FeatureConfig], *bundles: PretrainedBundle | None
) -> dict[str, FeatureConfig]:
    """``configs`` ready to compute: each bundle bound to the configs of its family; the rest resolved.

    A config of a family without a bundle keeps its weights when it knows where they are, else they are
    resolved here: its identity's file, or (unresolved) the family default, downloading if need be.
    Configs of features without pretrained weights come back unchanged. ``None`` bundles are ignored.
    """
    given = {b.family.name: b for b in bundles if b is not None}
    out: dict[str, FeatureConfig] = {}
    for name, cfg in configs.items():
        if isinstance(cfg, PretrainedFeatureConfig):
            bundle = given.get(cfg.weights_family.name)
            if bundle is None and cfg.source is None:
                bundle = cfg.weights_family.resolve(identity=cfg.weights or None)
            if bundle is not None:
                cfg = cfg.with_bundle(bundle)
        out[name] = cfg
    return out
