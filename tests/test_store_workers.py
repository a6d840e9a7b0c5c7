"""Feature workers die with their parent (issue 9, case 11): ``kill -9`` of ``features --workers 2``."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SLOW_DECODER = """
import os, time
from pathlib import Path

def decode(path, sample_rate):
    (Path(path).parents[2] / f"worker-{os.getpid()}").touch()  # beside the dataset folder
    time.sleep(120)
"""

BUILD = """
import sys
sys.path.insert(0, sys.argv[2])
import slowdecode
from musicgenre.datasets.index import scan_dataset
from musicgenre.features import make_config
from musicgenre.store import build_stores
from musicgenre.audio.segment import SegmentConfig

if __name__ == "__main__":
    build_stores(scan_dataset(sys.argv[1]), [make_config("mfcc")], SegmentConfig(), cache_root=sys.argv[3],
                 workers=2, progress=False, decode=slowdecode.decode)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to watch the worker processes")
def test_workers_exit_when_the_build_is_killed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    for genre in ("blues", "rock"):
        (data / genre).mkdir(parents=True)
        (data / genre / f"{genre}.0.wav").write_bytes(b"not decoded")
    (tmp_path / "slowdecode.py").write_text(SLOW_DECODER)
    script = tmp_path / "build.py"
    script.write_text(BUILD)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(data), str(tmp_path), str(tmp_path / "cache")], env=env
    )
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 120
        while len(pids) < 2 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            pids = [int(p.name.split("-")[1]) for p in tmp_path.glob("worker-*")]
        assert len(pids) == 2, "the two workers did not start"
        proc.kill()  # kill -9: no chance to shut the pool down
        proc.wait()
        deadline = time.monotonic() + 20
        while any(_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [p for p in pids if _alive(p)], "worker processes outlived their parent"
    finally:
        proc.kill()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
