"""One line that describes the machine a benchmark ran on, shared by every script in ``benchmarks/``."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np
import torch

from musicgenre import __version__


def cpu_model() -> str:
    """The processor's model name from ``/proc/cpuinfo``, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def memory() -> str:
    """Total RAM as ``", N GiB RAM"``, or nothing where ``/proc/meminfo`` is not readable."""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return ""
    return f", {kb / 2**20:.0f} GiB RAM"


def describe_machine(extra: str = "") -> str:
    """CPU, cores available to this process, RAM, OS, and the versions that matter for speed."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{cpu_model()}, {cores} cores available{memory()}, {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"numpy {np.__version__}{extra}, musicgenre {__version__}"
    )


def load_average() -> str:
    """The 1, 5 and 15-minute load averages, or ``?``."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"
