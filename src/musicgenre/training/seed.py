"""Seeding and thread control for reproducible CPU training.

Reproducibility contract: on CPU, the same seed, data, config and thread count give bit-identical
histories and weights. Every epoch draws its shuffling order and its dropout randomness from generators
seeded by ``(seed, epoch)`` alone (:func:`epoch_generators`), so a run resumed after epoch *k* continues
exactly as the uninterrupted run would, without restoring any global RNG state. (The thread count matters
because a multithreaded matrix product may sum in a different order.)
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch


def derive_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (e.g. ``(seed, epoch)``) by NumPy's ``SeedSequence``."""
    return int(
        np.random.SeedSequence([int(p) for p in parts]).generate_state(2, np.uint64)[0] >> np.uint64(1)
    )


def epoch_generators(seed: int, epoch: int) -> np.random.Generator:
    """Seed torch's global CPU generator for epoch ``epoch`` (0-based) and return its shuffling generator."""
    torch.manual_seed(derive_seed(seed, epoch, 1))
    return np.random.default_rng(derive_seed(seed, epoch, 2))


@contextlib.contextmanager
def training_context(seed: int, num_threads: int | None) -> Iterator[None]:
    """Run a block with torch seeded by ``seed`` and ``num_threads`` threads (None: unchanged).

    The caller's torch RNG state and thread count are restored after. The CPU kernels our models use
    (convolutions, LSTMs, matrix products, batch norm) are deterministic for a fixed thread count, so
    ``torch.use_deterministic_algorithms`` is not needed (and importing what it pulls in costs seconds);
    ``tests/test_training.py`` checks bit-identical reruns.
    """
    old_threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        try:
            if num_threads:
                torch.set_num_threads(int(num_threads))
            torch.manual_seed(derive_seed(seed, 0, 0))
            yield
        finally:
            if num_threads:
                torch.set_num_threads(old_threads)
