"""Copy a study run into the repository for committing: everything but checkpoints and unshown figures.

    python scripts/export_results.py runs/gtzan-mini-kfold docs/results/gtzan-mini/kfold

Keeps report.md, report.html, results.{md,csv,json}, the figures that report.md shows, and each model's
history, split, metrics and per-track predictions. Leaves out ``*.ckpt`` (weights) and the per-fold PNGs
that the report does not show. DEST is replaced.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path


def export(run_dir: Path, dest: Path) -> int:
    """Copy ``run_dir`` to ``dest`` as described above; returns the number of files written."""
    report = run_dir / "report.md"
    if not report.is_file():
        raise SystemExit(f"{run_dir}: no report.md (run `musicgenre study` first)")
    shown = set(re.findall(r"\]\(([^)]+\.png)\)", report.read_text()))
    if dest.exists():
        shutil.rmtree(dest)
    count = 0
    for src in sorted(run_dir.rglob("*")):
        rel = src.relative_to(run_dir).as_posix()
        if not src.is_file() or src.suffix == ".ckpt" or (src.suffix == ".png" and rel not in shown):
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        count += 1
    return count


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    n = export(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{n} files in {sys.argv[2]}")
