"""Run-time settings: where shared data, caches and model weights live.

Every location has one environment variable and one default, so tests, benchmarks and users agree.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The repository root when running from a source checkout (src layout: <root>/src/musicgenre).
_REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    """The folder of real data and reference files: ``$MUSICGENRE_SHARED`` or ``<repo>/../shared``."""
    env = os.environ.get("MUSICGENRE_SHARED")
    return Path(env).expanduser() if env else (_REPO_ROOT.parent / "shared")


def cache_dir() -> Path:
    """Root of the feature cache: ``$MUSICGENRE_CACHE`` or ``~/.cache/musicgenre``."""
    env = os.environ.get("MUSICGENRE_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "musicgenre"


def weights_dir() -> Path:
    """Where downloaded model weights (e.g. ``yamnet.h5``) are kept: ``<cache_dir>/weights``."""
    return cache_dir() / "weights"
