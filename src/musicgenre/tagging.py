"""Top tags of one file over time, with musicnn (MSD or MagnaTagATune tags) or YAMNet (AudioSet classes).

:func:`tag_file` decodes a file at 16 kHz, runs the model patch by patch and returns a :class:`TagResult`
(labels, patch times, scores); the ``musicgenre tag`` and ``musicgenre yamnet tag`` commands print it.

- ``musicnn-msd`` / ``musicnn-mtt``: one patch per 3 s, without overlap, as musicnn's own tagger
  (``input_length=3``, ``input_overlap=False``); each patch is the 187 frames musicnn feeds its network.
  A tail shorter than one patch is left out, as musicnn does (``note`` says so from 10 ms); a file shorter than one patch is padded with
  silence to one patch (``TagResult.note`` says so).
- ``yamnet``: 0.96 s patches with a 0.48 s hop, the waveform padded by YAMNet's rule.

Model imports are lazy (the CLI's ``--help`` never imports torch).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

MODELS = ("musicnn-msd", "musicnn-mtt", "yamnet")
SAMPLE_RATE = 16000
MUSICNN_PATCH_SECONDS = 3.0
TAIL_NOTE_SECONDS = 0.01  # a left-out musicnn tail at least this long is mentioned in TagResult.note


@dataclass(frozen=True)
class TagRow:
    """The top tags of one stretch of audio: ``start``/``end`` in seconds, ``(name, score)`` pairs."""

    start: float
    end: float
    top: list[tuple[str, float]]


def top_tags(scores: np.ndarray, names: list[str] | tuple[str, ...], k: int) -> list[tuple[str, float]]:
    """The ``k`` best ``(name, score)`` of a score vector, best first (ties by label index)."""
    order = np.lexsort((np.arange(scores.shape[0]), -scores))[:k]
    return [(names[i], float(scores[i])) for i in order]


def group_rows(
    scores: np.ndarray,
    names: list[str] | tuple[str, ...],
    starts: np.ndarray,
    ends: np.ndarray,
    *,
    top_k: int = 3,
    patches_per_row: int = 1,
    duration: float | None = None,
) -> list[TagRow]:
    """Average ``(patches, labels)`` scores over groups of ``patches_per_row`` patches and take the top ``k``.

    Patch ``i`` covers ``[starts[i], ends[i])`` s; a row spans its first patch's start to its last patch's
    end, cut at ``duration`` when given.
    """
    rows = []
    step = max(1, patches_per_row)
    for first in range(0, scores.shape[0], step):
        last = min(first + step, scores.shape[0]) - 1
        t0, t1 = float(starts[first]), float(ends[last])
        if duration is not None:
            t1 = min(t1, max(duration, t0))
        rows.append(TagRow(t0, t1, top_tags(scores[first : last + 1].mean(axis=0), names, top_k)))
    return rows


@dataclass(frozen=True)
class TagResult:
    """Scores of every patch of one file: ``scores`` ``(patches, labels)``, patch ``i`` covering
    ``[starts[i], ends[i])`` seconds from the start of the part read (``offset``)."""

    file: str
    model: str
    labels: tuple[str, ...]
    starts: np.ndarray
    ends: np.ndarray
    scores: np.ndarray
    patch_seconds: float
    hop_seconds: float
    duration: float  # seconds of audio read (after --offset/--duration)
    offset: float = 0.0
    weights: str = ""  # where the weights came from, for the output
    label_source: str = ""  # e.g. the YAMNet class map file
    note: str = ""  # padding or a left-out tail, said to the user

    @property
    def mean(self) -> np.ndarray:
        """The scores averaged over the file's patches, ``(labels,)``."""
        return self.scores.mean(axis=0)

    def overall(self, k: int) -> list[tuple[str, float]]:
        """The ``k`` best tags of the whole file (mean over patches)."""
        return top_tags(self.mean, self.labels, k)

    def rows(self, top_k: int = 3, patches_per_row: int = 1) -> list[TagRow]:
        """The top ``top_k`` tags of each group of ``patches_per_row`` patches."""
        return group_rows(
            self.scores,
            self.labels,
            self.starts,
            self.ends,
            top_k=top_k,
            patches_per_row=patches_per_row,
            duration=self.duration,
        )

    def patches_per_row(self, seconds_per_row: float | None) -> int:
        """Patches averaged into one row of about ``seconds_per_row`` (None: one patch per row)."""
        if seconds_per_row is None:
            return 1
        return max(1, int(round(seconds_per_row / self.hop_seconds)))

    def to_dict(self, top_k: int = 3, patches_per_row: int = 1) -> dict[str, Any]:
        """The JSON record of ``musicgenre tag --format json``."""
        return {
            "file": self.file,
            "model": self.model,
            "weights": self.weights,
            "sample_rate": SAMPLE_RATE,
            "offset_seconds": self.offset,
            "duration_seconds": self.duration,
            "patch_seconds": self.patch_seconds,
            "hop_seconds": self.hop_seconds,
            "patches": int(self.scores.shape[0]),
            "patches_per_row": patches_per_row,
            "note": self.note or None,
            "labels": list(self.labels),
            "rows": [
                {"start": r.start, "end": r.end, "top": [{"tag": n, "score": s} for n, s in r.top]}
                for r in self.rows(top_k, patches_per_row)
            ],
            "overall": [{"tag": n, "score": s} for n, s in self.overall(top_k)],
        }


def _musicnn(
    audio: np.ndarray, model: str, weights: Any, batch_size: int | None
) -> tuple[np.ndarray, tuple[str, ...], str, int, str]:
    from musicgenre.musicnn.model import get_model
    from musicgenre.musicnn.weights import resolve_weights

    bundle = resolve_weights(weights)
    net = get_model(bundle, model=model)
    patch = int(MUSICNN_PATCH_SECONDS * SAMPLE_RATE)
    n = audio.shape[0] // patch
    note = ""
    if n == 0:
        short = audio.shape[0] / SAMPLE_RATE
        note = f"shorter than one {MUSICNN_PATCH_SECONDS:g} s patch ({short:.2f} s): padded with silence"
        audio = np.pad(audio, (0, patch - audio.shape[0]))
        n = 1
    elif audio.shape[0] - n * patch >= TAIL_NOTE_SECONDS * SAMPLE_RATE:
        tail = audio.shape[0] / SAMPLE_RATE - n * MUSICNN_PATCH_SECONDS
        note = f"the last {tail:.2f} s (less than one patch) is not tagged, as in musicnn"
    segments = audio[: n * patch].reshape(n, patch)
    scores = (net.infer(segments, batch_size) if batch_size else net.infer(segments)).taggram.numpy()
    return scores, tuple(net.labels), bundle.describe(), patch, note


def _yamnet(
    audio: np.ndarray, weights: Any, class_map: str | Path | None
) -> tuple[np.ndarray, tuple[str, ...], str, str]:
    from musicgenre.yamnet.model import get_model
    from musicgenre.yamnet.tagging import load_class_names, resolve_class_map

    model = get_model(weights)
    source = model.weights_source
    map_path = resolve_class_map(class_map, weights=source.path if source else None)
    names = tuple(load_class_names(map_path))
    scores = model.infer(audio[None]).scores[0].float().numpy()
    described = source.describe() if source else model.weights_kind
    return scores, names, described, f"{map_path} ({len(names)} classes)"


def tag_audio(
    audio: np.ndarray,
    model: str = "musicnn-msd",
    *,
    file: str = "",
    offset: float = 0.0,
    musicnn_weights: Any = None,
    yamnet_weights: Any = None,
    class_map: str | Path | None = None,
    batch_size: int | None = None,
) -> TagResult:
    """Tag a mono 16 kHz float32 waveform with ``model`` (one of :data:`MODELS`)."""
    if model not in MODELS:
        raise ValueError(f"unknown tagging model {model!r}; choose from {', '.join(MODELS)}")
    audio = np.asarray(audio, dtype=np.float32)
    duration = audio.shape[0] / SAMPLE_RATE
    if audio.shape[0] == 0:
        raise ValueError(f"{file or 'audio'}: no samples to tag")
    if model == "yamnet":
        from musicgenre.yamnet import params as P

        scores, labels, described, label_source = _yamnet(audio, yamnet_weights, class_map)
        hop = P.PATCH_HOP_SAMPLES / SAMPLE_RATE
        window = P.PATCH_FRAMES * P.STFT_HOP_SAMPLES / SAMPLE_RATE
        starts = hop * np.arange(scores.shape[0])
        note = ""
        if audio.shape[0] < P.MIN_SAMPLES:
            note = f"shorter than one {P.MIN_SAMPLES / SAMPLE_RATE:g} s patch ({duration:.2f} s): padded"
    else:
        scores, labels, described, patch, note = _musicnn(
            audio, model.split("-")[1].upper(), musicnn_weights, batch_size
        )
        label_source = ""
        hop = window = patch / SAMPLE_RATE
        starts = hop * np.arange(scores.shape[0])
    return TagResult(
        file=file,
        model=model,
        labels=labels,
        starts=starts,
        ends=starts + window,
        scores=scores,
        patch_seconds=window,
        hop_seconds=hop,
        duration=duration,
        offset=offset,
        weights=described,
        label_source=label_source,
        note=note,
    )


def tag_file(
    path: str | Path,
    model: str = "musicnn-msd",
    *,
    offset: float = 0.0,
    duration: float | None = None,
    **options: Any,
) -> TagResult:
    """Decode ``path`` (``offset``/``duration`` in seconds) at 16 kHz and :func:`tag_audio` it."""
    from musicgenre.audio.io import load_audio

    if model not in MODELS:
        raise ValueError(f"unknown tagging model {model!r}; choose from {', '.join(MODELS)}")
    audio = load_audio(path, SAMPLE_RATE, offset=offset, duration=duration)
    if audio.shape[0] == 0:
        raise ValueError(f"{path}: nothing to tag after --offset {offset:g} s")
    return tag_audio(audio, model, file=str(path), offset=offset, **options)


def plot_taggram(result: TagResult, path: str | Path, *, top_n: int = 15) -> Path:
    """A heat map of the ``top_n`` tags by mean score (rows, best on top) over time (s), written atomically."""
    from matplotlib.figure import Figure

    from musicgenre.evaluation.figures import save_figure

    order = np.lexsort((np.arange(len(result.labels)), -result.mean))[: max(1, top_n)]
    data = result.scores[:, order].T  # (tags, patches)
    n = data.shape[1]
    edges = result.offset + np.append(result.starts, result.starts[-1] + result.hop_seconds)
    fig = Figure(figsize=(max(6.0, min(14.0, 2.0 + 0.25 * n)), 1.2 + 0.28 * len(order)))
    ax = fig.subplots()
    mesh = ax.pcolormesh(edges, np.arange(len(order) + 1), data, cmap="viridis", vmin=0.0, shading="flat")
    ax.set_yticks(np.arange(len(order)) + 0.5, [result.labels[i] for i in order], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("time (s)")
    hop = f"{result.patch_seconds:g} s patches, hop {result.hop_seconds:g} s"
    ax.set_title(f"{Path(result.file).name}: {result.model} taggram ({hop})", fontsize=10)
    fig.colorbar(mesh, ax=ax, label="score", fraction=0.03, pad=0.01)
    fig.tight_layout()
    return save_figure(fig, path)
