"""Write the generalisation ablation of a study folder to ``<study>/ablation.md`` and print it.

python scripts/ablation.py docs/results/gtzan-mini/kfold
"""

from __future__ import annotations

import sys
from pathlib import Path

from musicgenre.evaluation.ablation import ablation_markdown, run_ablation
from musicgenre.fileio import write_text

if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    study = Path(sys.argv[1])
    steps, missing = run_ablation(study)
    text = f"# Ablation: what each ingredient adds ({study.name})\n\n" + ablation_markdown(steps, missing)
    write_text(study / "ablation.md", text)
    print(text)
