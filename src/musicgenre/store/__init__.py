"""The on-disk feature cache that all training reads from.

- :mod:`musicgenre.store.format`: the layout of a store and reading and writing its files
  (:func:`open_store`, :class:`FeatureStore`, :class:`Manifest`, :func:`store_path`, part files).
- :mod:`musicgenre.store.builder`: :func:`build_stores` / :func:`build_store` (reuse, resume, update,
  consolidate), with the decoder and the extractor as parameters.
- :mod:`musicgenre.store.workers`: the per-track jobs and the worker pool.
- :mod:`musicgenre.store.lock`: the per-store lock that keeps two processes from building one store.
"""

from musicgenre.store.builder import build_store, build_stores
from musicgenre.store.format import (
    ERROR_COLUMNS,
    FORMAT_NAME,
    FORMAT_VERSION,
    MANIFEST_COLUMNS,
    FeatureStore,
    IncompleteStoreError,
    Manifest,
    dataset_key,
    is_complete,
    open_store,
    store_path,
)
from musicgenre.store.lock import StoreLock
from musicgenre.store.workers import MAX_BATCH, Decoder, Extractor

__all__ = [
    "ERROR_COLUMNS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MANIFEST_COLUMNS",
    "MAX_BATCH",
    "Decoder",
    "Extractor",
    "FeatureStore",
    "IncompleteStoreError",
    "Manifest",
    "StoreLock",
    "build_store",
    "build_stores",
    "dataset_key",
    "is_complete",
    "open_store",
    "store_path",
]
