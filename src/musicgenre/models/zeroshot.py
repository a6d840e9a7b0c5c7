"""Zero-shot genres from YAMNet's own AudioSet classes: the floor every trained row is compared with.

YAMNet's head already scores ten AudioSet classes that are genres (Blues, Classical music, Country, Disco,
Hip hop music, Jazz, Heavy metal, Pop music, Reggae, Rock music). With no training at all, the model takes
YAMNet's embedding of every 0.96 s patch, applies YAMNet's own dense layer and sigmoid, gives each genre
the highest score among its mapped classes, and averages over the patches of a segment. Tracks are then
scored as for every model (mean of segment probabilities).

The genre -> class table is :data:`YAMNET_GENRE_CLASSES`; another taxonomy gets its own table, in a CSV
file of ``genre,class`` rows (one row per class, several classes per genre allowed), read by
:func:`read_mapping`. The model's "logits" are the logs of the genre scores, so its probabilities are the
scores normalised to sum to one.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from musicgenre.errors import MusicGenreError
from musicgenre.models.layers import only_input, parse_options
from musicgenre.models.registry import register_model
from musicgenre.yamnet import params as P

#: GTZAN's ten genres and the AudioSet classes (display names, as in YAMNet's class map) that stand for them.
YAMNET_GENRE_CLASSES: dict[str, tuple[str, ...]] = {
    "blues": ("Blues",),
    "classical": ("Classical music",),
    "country": ("Country",),
    "disco": ("Disco",),
    "hiphop": ("Hip hop music",),
    "jazz": ("Jazz",),
    "metal": ("Heavy metal",),
    "pop": ("Pop music",),
    "reggae": ("Reggae",),
    "rock": ("Rock music",),
}


def read_mapping(path: str | Path) -> dict[str, tuple[str, ...]]:
    """A genre -> classes table from a CSV file with a ``genre,class`` header (one row per class)."""
    path = Path(path)
    out: dict[str, list[str]] = {}
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise MusicGenreError(f"{path}: cannot read the zero-shot mapping ({exc.strerror or exc})") from None
    for line, row in enumerate(rows, start=2):
        genre, name = (row.get("genre") or "").strip(), (row.get("class") or "").strip()
        if not genre or not name:
            raise MusicGenreError(f"{path}:{line}: expected a 'genre,class' row, got {row}")
        out.setdefault(genre, []).append(name)
    if not out:
        raise MusicGenreError(f"{path}: no 'genre,class' rows")
    return {g: tuple(v) for g, v in out.items()}


def class_indices(
    label_names: Sequence[str], mapping: Mapping[str, Sequence[str]], class_names: Sequence[str]
) -> list[list[int]]:
    """For each label, the indices in ``class_names`` of its mapped classes; clear errors for gaps."""
    unmapped = [g for g in label_names if not mapping.get(g)]
    if unmapped:
        raise MusicGenreError(
            f"zero-shot: no AudioSet class for the genre(s) {unmapped}; mapped genres: {sorted(mapping)}"
        )
    lookup = {name: i for i, name in enumerate(class_names)}
    unknown = sorted({c for g in label_names for c in mapping[g] if c not in lookup})
    if unknown:
        raise MusicGenreError(f"zero-shot: {unknown} are not classes of the class map")
    return [[lookup[c] for c in mapping[g]] for g in label_names]


@dataclass(frozen=True)
class ZeroShotOptions:
    """``classes[i]``: indices of the AudioSet classes of label ``i`` (set by the zero-shot fit), and their
    names, kept in the checkpoint for the record."""

    classes: tuple[tuple[int, ...], ...] = ()
    class_names: tuple[tuple[str, ...], ...] = ()


class ZeroShotHead(nn.Module):
    """YAMNet's dense layer and sigmoid on patch embeddings ``(B, patches, 1024)``, pooled into genres.

    The dense weights are buffers, not parameters: nothing here is trained.
    """

    def __init__(self, input_name: str, classes: Sequence[Sequence[int]]) -> None:
        super().__init__()
        self.input_name = input_name
        self.register_buffer("weight", torch.zeros(P.NUM_CLASSES, P.EMBEDDING_SIZE))
        self.register_buffer("bias", torch.zeros(P.NUM_CLASSES))
        width = max(len(c) for c in classes)
        index = torch.tensor([list(c) + [c[0]] * (width - len(c)) for c in classes], dtype=torch.long)
        self.register_buffer("index", index, persistent=False)  # (genres, width), padded with a repeat

    def set_dense(self, weight: Any, bias: Any) -> None:
        """Load YAMNet's dense layer: ``weight (521, 1024)``, ``bias (521,)``."""
        self.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        x = inputs[self.input_name]
        scores = torch.sigmoid(F.linear(x, self.weight, self.bias))  # (B, patches, 521)
        per_genre = scores[..., self.index].amax(-1)  # (B, patches, genres)
        return torch.log(per_genre.mean(1).clamp_min(1e-12))


@register_model(
    "zeroshot_yamnet",
    description="no training: YAMNet's own AudioSet genre classes (Blues, Jazz, ...) averaged over patches",
    input_ndim=frozenset({2}),
    trainer="zeroshot",
)
def build_zeroshot_yamnet(
    input_shapes: dict[str, tuple[int, ...]], n_classes: int, **options: Any
) -> nn.Module:
    """Builder registered as ``zeroshot_yamnet``; its input is ``yamnet_embedding`` ``(patches, 1024)``."""
    opts = parse_options(ZeroShotOptions, options, "zeroshot_yamnet")
    name, shape = only_input("zeroshot_yamnet", input_shapes)
    if shape[-1] != P.EMBEDDING_SIZE:
        raise ValueError(f"zeroshot_yamnet takes YAMNet embeddings (*, {P.EMBEDDING_SIZE}); got {shape}")
    if len(opts.classes) != n_classes or not all(opts.classes):
        raise ValueError(
            f"zeroshot_yamnet needs one non-empty list of AudioSet classes per genre ({n_classes}); "
            "it is set by the zero-shot fit"
        )
    return ZeroShotHead(name, opts.classes)
