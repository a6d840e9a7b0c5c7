"""The default model shipped inside the package: ``model.ckpt`` and its ``MODEL_CARD.md``.

Both files are built by ``make default-model`` (``scripts/build_default_model.py``), which chooses a study
row by its accuracy on music by artists it never saw, trains it on all of gtzan-mini and writes the card.
Only the classification head ships here; its feature backbone (YAMNet, musicnn) is resolved at run time
as for every checkpoint.
"""

from __future__ import annotations

from pathlib import Path

from musicgenre.errors import MusicGenreError

#: The folder holding the bundled model.
BUNDLED_DIR = Path(__file__).resolve().parent
#: The bundled checkpoint's file name (the same as a run folder's).
CHECKPOINT_NAME = "model.ckpt"
#: The bundled model card's file name (the same one ``serve`` looks for beside a checkpoint).
CARD_NAME = "MODEL_CARD.md"


def default_checkpoint() -> Path:
    """The bundled checkpoint's path; :class:`~musicgenre.errors.MusicGenreError` when it is missing."""
    path = BUNDLED_DIR / CHECKPOINT_NAME
    if not path.is_file():
        raise MusicGenreError(
            f"no bundled default model at {path}: build it with `make default-model` "
            "(scripts/build_default_model.py), or pass --model PATH (a training run folder or model.ckpt)"
        )
    return path


def default_card() -> Path:
    """The bundled model card's path (it may be missing when the model is)."""
    return BUNDLED_DIR / CARD_NAME
