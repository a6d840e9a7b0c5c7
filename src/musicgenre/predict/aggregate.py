"""From window probabilities to one track-level genre distribution, and how sure it is."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Aggregation methods: ``mean`` of window probabilities (default) or majority ``vote`` of window top genres.
METHODS = ("mean", "vote")


def aggregate(window_probs: np.ndarray, method: str = "mean", mask: np.ndarray | None = None) -> np.ndarray:
    """Track-level distribution ``(n_classes,)`` from ``window_probs`` ``(n_windows, n_classes)``.

    ``mean`` averages the probabilities. ``vote`` gives each window one vote for its top class and returns
    the vote shares; a tie for the top is broken by mean probability (the winner gets a 1e-6 sliver). ``mask`` selects the windows to use (all when None, or when it
    selects none).
    """
    p = np.asarray(window_probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] == 0:
        raise ValueError(f"expected window probabilities of shape (n_windows>0, n_classes), got {p.shape}")
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            p = p[mask]
    if method == "mean":
        out = p.mean(axis=0)
    elif method == "vote":
        votes = np.bincount(p.argmax(axis=1), minlength=p.shape[1]).astype(np.float64)
        out = votes / votes.sum()
        winners = np.flatnonzero(out == out.max())
        if winners.size > 1:  # a tie: the tied class with the highest mean probability wins
            best = winners[np.argmax(p.mean(axis=0)[winners])]
            others = winners[winners != best]
            eps = 1e-6 * out.max()  # a sliver, so that argmax is unambiguous; the sum stays 1
            out[others] -= eps / others.size
            out[best] += eps
    else:
        raise ValueError(f"unknown aggregation {method!r}; choose from {', '.join(METHODS)}")
    return out


@dataclass(frozen=True)
class Confidence:
    """How sure a distribution is: ``top`` probability, ``margin`` to the runner-up, normalised
    ``entropy`` (0 = certain, 1 = uniform)."""

    top: float
    margin: float
    entropy: float


def confidence(probs: np.ndarray) -> Confidence:
    """Confidence measures of a distribution ``(n_classes,)``."""
    p = np.asarray(probs, dtype=np.float64)
    s = np.sort(p)[::-1]
    top = float(s[0])
    margin = float(s[0] - s[1]) if s.size > 1 else top
    nz = p[p > 0]
    ent = float(-(nz * np.log(nz)).sum() / np.log(p.size)) if p.size > 1 else 0.0
    return Confidence(top=top, margin=margin, entropy=min(max(ent, 0.0), 1.0))
