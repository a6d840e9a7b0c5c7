"""Where YAMNet's weights come from (:data:`YAMNET`, a :class:`~musicgenre.pretrained.WeightsFamily`), and loading them.

Resolution order (:func:`resolve_weights`, i.e. ``YAMNET.resolve``; see :mod:`musicgenre.pretrained`), first
hit wins:

1. an explicit path (``--weights PATH`` on ``musicgenre yamnet``, ``--yamnet-weights PATH`` elsewhere,
   ``weights=`` in the API);
2. the environment variable ``MUSICGENRE_YAMNET_WEIGHTS``;
3. the cached download ``<weights_dir>/yamnet.h5`` (``settings.weights_dir()``, i.e.
   ``~/.cache/musicgenre/weights`` unless ``MUSICGENRE_CACHE`` says otherwise), verified by its git blob id;
4. Google's int8 TFLite file in the shared folder, ``<shared>/models/yamnet/yamnet_int8.tflite``;
5. a download of ``https://storage.googleapis.com/audioset/yamnet.h5`` into the weights folder (written to a
   temporary file, verified, then renamed);
6. otherwise :class:`~musicgenre.errors.WeightsNotFoundError`, saying what to download, from where, and
   which flag or variable points at it.

The result is a :class:`~musicgenre.pretrained.PretrainedBundle`; ``bundle.get_model()`` is
:func:`musicgenre.yamnet.model.get_model`. The format is told by the suffix (``.h5``/``.hdf5`` Keras,
``.tflite``) or, failing that, by the file's magic bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from musicgenre import pretrained, settings
from musicgenre.pretrained import PretrainedBundle, WeightsFamily, WeightsFormat, download_verified

if TYPE_CHECKING:
    from musicgenre.yamnet.network import FusedWeights

ENV_VAR = "MUSICGENRE_YAMNET_WEIGHTS"
YAMNET_H5_URL = "https://storage.googleapis.com/audioset/yamnet.h5"
#: Git blob id of Google's yamnet.h5: ``sha1(b"blob %d\0" % len(data) + data)``.
YAMNET_H5_GIT_SHA1 = "b504399ec042e18b74c0045b8ff8a42c99f05e76"
H5_FILENAME = "yamnet.h5"
TFLITE_RELPATH = Path("models") / "yamnet" / "yamnet_int8.tflite"

KERAS = "keras-float"
TFLITE = "tflite-int8"

YAMNET = WeightsFamily(
    name="yamnet",
    title="YAMNet",
    env_var=ENV_VAR,
    formats=(
        WeightsFormat(KERAS, (".h5", ".hdf5", ".keras"), b"\x89HDF\r\n\x1a\n"),
        WeightsFormat(TFLITE, (".tflite",), b"TFL3", magic_offset=4),
    ),
    url=YAMNET_H5_URL,
    sha1=YAMNET_H5_GIT_SHA1,
    cache_name=H5_FILENAME,
    publisher="Google",
    shared_relpath=str(TFLITE_RELPATH),
    shared_note="Google's int8 file yamnet_int8.tflite",
    loader="musicgenre.yamnet.model:get_model",
)


def resolve_weights(
    path: str | Path | PretrainedBundle | None = None, *, identity: str | None = None, download: bool = True
) -> PretrainedBundle:
    """YAMNet's weights: ``YAMNET.resolve`` (see :meth:`musicgenre.pretrained.WeightsFamily.resolve`)."""
    return YAMNET.resolve(path, identity=identity, download=download)


def download_weights(
    url: str | None = None,
    dest: str | Path | None = None,
    sha1: str | None = YAMNET_H5_GIT_SHA1,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` (default Google's yamnet.h5) to ``dest`` (default ``<weights_dir>/yamnet.h5``), verified.

    See :func:`musicgenre.pretrained.download_verified`; ``sha1=None`` skips the check.
    """
    dest = Path(dest) if dest is not None else settings.weights_dir() / H5_FILENAME
    return download_verified(
        url or YAMNET.url, dest, sha1, timeout=timeout, advice=YAMNET.not_found_message()
    )


def load_weights(source: PretrainedBundle | str | Path | None = None) -> FusedWeights:
    """Fused runtime weights from a bundle, a path, or (None) the default resolution.

    The first conversion of a file (TFLite parsing and dequantization, or reading the Keras HDF5) is
    kept in :func:`converted_path`, named by the file's content, so later processes (a cold
    ``musicgenre predict``) read plain arrays and import neither the TFLite reader nor h5py. An unreadable
    cached file is converted again; a cache that cannot be written is skipped.
    """
    bundle = resolve_weights(source)
    cached = _read_converted(bundle)
    if cached is not None:
        return cached
    if bundle.kind == KERAS:
        from musicgenre.yamnet.keras_weights import load_keras_weights

        weights = load_keras_weights(bundle.path)
    else:
        from musicgenre.yamnet.tflite_weights import load_tflite_weights

        weights = load_tflite_weights(bundle.path)
    _write_converted(bundle, weights)
    return weights


#: Bump when the conversion changes, so that older converted files are not used.
CONVERTED_VERSION = 1


def converted_path(bundle: PretrainedBundle) -> Path:
    """Where the converted weights of ``bundle`` are kept: ``<cache_dir>/yamnet-converted/``."""
    return pretrained.converted_path(bundle, "yamnet", CONVERTED_VERSION)


def _read_converted(bundle: PretrainedBundle) -> FusedWeights | None:
    import json

    from musicgenre.yamnet.network import ConvWeights, FusedWeights

    z = pretrained.read_converted(converted_path(bundle))
    if z is None:
        return None
    try:
        meta = json.loads(str(z["meta"]))
        convs = tuple(
            ConvWeights(c["name"], z[f"w{i}"], z[f"b{i}"], int(c["stride"]), int(c["groups"]))
            for i, c in enumerate(meta["convs"])
        )
        weights = FusedWeights(
            convs, z["dense_weight"], z["dense_bias"], meta["kind"], str(bundle.path), meta["notes"]
        )
        weights.validate()
    except (ValueError, KeyError, TypeError):
        return None
    return weights if weights.kind == bundle.kind else None


def _write_converted(bundle: PretrainedBundle, weights: FusedWeights) -> None:
    import json

    import numpy as np

    meta = {
        "kind": weights.kind,
        "notes": weights.notes,
        "convs": [{"name": c.name, "stride": c.stride, "groups": c.groups} for c in weights.convs],
    }
    arrays = {f"w{i}": c.weight for i, c in enumerate(weights.convs)}
    arrays.update({f"b{i}": c.bias for i, c in enumerate(weights.convs)})
    pretrained.write_converted(
        converted_path(bundle),
        {"meta": np.array(json.dumps(meta)), "dense_weight": weights.dense_weight,
         "dense_bias": weights.dense_bias, **arrays},
    )  # fmt: skip
