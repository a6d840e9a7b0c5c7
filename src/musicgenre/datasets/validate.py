"""Check a folder-of-genres dataset before training: open and decode every file (all of it, or the clip that
training uses), report what is wrong.

Severities:

- ``error``: the file cannot be used (unreadable or corrupt, zero-length, no samples, NaN/inf samples,
  truncated). These are exactly the files that training (:func:`~musicgenre.audio.io.load_audio`) and
  prediction (:class:`~musicgenre.audio.stream.AudioStream`) refuse, with their messages: all three run the
  checks of :mod:`musicgenre.audio.check`.
- ``warning``: usable but suspicious (silent, or a little shorter than declared), or something in the tree
  that is ignored (non-audio files in genre folders, duplicate track ids), or a genre folder that is empty
  or has fewer usable tracks than a track-level split needs.
- ``info``: worth knowing, nothing to fix (a sample rate or channel count unlike the rest of the dataset,
  files outside genre folders such as a README).

:attr:`ValidationReport.ok` is False when there is nothing to classify: no usable track is left, or all the
usable tracks are in one genre (a ``single-genre`` error; a classifier needs at least two genres).
"""

from __future__ import annotations

import functools
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from musicgenre.audio.check import completeness
from musicgenre.audio.decode import audio_info
from musicgenre.audio.io import load_audio
from musicgenre.datasets.index import Track, scan_dataset
from musicgenre.errors import AudioError

SEVERITIES = ("error", "warning", "info")

#: Peak amplitude below which a file counts as silent (-80 dBFS, about 3 LSB of 16-bit audio).
SILENCE_PEAK = 1e-4


@dataclass(frozen=True)
class Problem:
    """One finding. ``kind`` is a stable machine-readable code, ``problem`` the human explanation.

    Kinds: ``zero-length``, ``empty`` (no samples), ``unreadable``, ``corrupt``, ``non-finite``,
    ``out-of-range`` (samples far beyond full scale), ``truncated``
    (an error when the loaders refuse the file, a warning when less is missing than they tolerate), ``silent``,
    ``not-audio``, ``broken-link`` (dangling symbolic link or link loop), ``duplicate-id``, ``renamed-id``
    (info: a file name shared by several files gets a longer track id), ``outside-genre``, ``sample-rate``,
    ``channels``, ``empty-genre``, ``few-tracks``, ``single-genre`` (an error on the dataset folder: the
    usable tracks are all in one genre, so there is nothing to classify).
    """

    path: Path
    problem: str
    severity: str
    kind: str

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return {"path": str(self.path), "problem": self.problem, "severity": self.severity, "kind": self.kind}


@dataclass
class FileCheck:
    """What checking one file found."""

    track: Track
    usable: bool
    sample_rate: int = 0
    channels: int = 0
    duration: float = 0.0  # seconds actually decoded
    problems: list[Problem] = field(default_factory=list)


@dataclass
class ValidationReport:
    """Result of :func:`validate_dataset`.

    Attributes:
        root: the dataset folder.
        genres: every genre folder found, including empty ones (sorted).
        usable: usable tracks per genre (every genre folder, zeros included).
        usable_tracks: the tracks that passed, sorted by (genre, track id).
        problems: findings sorted by severity, then path.
        total_duration: seconds of usable audio.
        n_files: audio files checked.
        sample_rates: files per native sample rate (readable files only).
        channels: files per channel count (readable files only).
        min_tracks_per_genre: the threshold used for ``few-tracks`` warnings.
    """

    root: Path
    genres: list[str]
    usable: dict[str, int]
    usable_tracks: list[Track]
    problems: list[Problem]
    total_duration: float
    n_files: int
    sample_rates: dict[int, int]
    channels: dict[int, int]
    min_tracks_per_genre: int

    @property
    def n_usable(self) -> int:
        """Number of usable tracks."""
        return len(self.usable_tracks)

    @property
    def usable_genres(self) -> list[str]:
        """The genres with at least one usable track (sorted)."""
        return [g for g in self.genres if self.usable.get(g, 0) > 0]

    @property
    def ok(self) -> bool:
        """False when there is nothing to classify: no usable track, or usable tracks in one genre only (the
        CLI then exits non-zero)."""
        return len(self.usable_genres) >= 2

    @property
    def failure(self) -> str | None:
        """Why the dataset is not :attr:`ok` (None when it is)."""
        if self.n_usable == 0:
            return "no usable tracks"
        if not self.ok:
            return f"only one genre ({', '.join(self.usable_genres)}) has usable tracks: nothing to classify"
        return None

    def by_severity(self, severity: str) -> list[Problem]:
        """Problems of one severity (``error``, ``warning`` or ``info``)."""
        return [p for p in self.problems if p.severity == severity]

    @property
    def errors(self) -> list[Problem]:
        return self.by_severity("error")

    @property
    def warnings(self) -> list[Problem]:
        return self.by_severity("warning")

    def kinds(self) -> dict[str, list[Path]]:
        """Paths per problem kind."""
        out: dict[str, list[Path]] = {}
        for p in self.problems:
            out.setdefault(p.kind, []).append(p.path)
        return out

    def _rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def format(self, max_info: int = 3) -> str:
        """Human-readable report. Errors and warnings are listed one per line; info lines are grouped by
        kind with at most ``max_info`` example paths each."""
        lines = [f"Dataset {self.root}: {len(self.genres)} genre folders, {self.n_files} audio files"]
        lines.append(
            f"Usable tracks: {self.n_usable} of {self.n_files} ({_duration(self.total_duration)} of audio)"
        )
        width = max((len(g) for g in self.genres), default=5)
        for g in self.genres:
            flag = "  <- too few" if self.usable.get(g, 0) < self.min_tracks_per_genre else ""
            lines.append(f"  {g:<{width}}  {self.usable.get(g, 0):5d}{flag}")
        if len(self.sample_rates) > 0:
            rates = ", ".join(f"{sr} Hz x{n}" for sr, n in sorted(self.sample_rates.items()))
            chans = ", ".join(f"{c} ch x{n}" for c, n in sorted(self.channels.items()))
            lines.append(f"Formats: {rates}; {chans}")
        counts = Counter(p.severity for p in self.problems)
        if self.problems:
            summary = ", ".join(
                f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in SEVERITIES if counts[s]
            )
            lines.append(f"Problems: {summary}")
            for p in self.problems:
                if p.severity != "info":
                    lines.append(f"  {p.severity.upper():<7}  {self._rel(p.path)}: {p.problem}")
            info_kinds: dict[str, list[Problem]] = {}
            for p in self.by_severity("info"):
                info_kinds.setdefault(p.kind, []).append(p)
            for kind, items in info_kinds.items():
                if len(items) == 1:
                    lines.append(f"  INFO     {self._rel(items[0].path)}: {items[0].problem}")
                    continue
                shown = "; ".join(f"{self._rel(p.path)}: {p.problem}" for p in items[:max_info])
                more = f"; ... (+{len(items) - max_info} more)" if len(items) > max_info else ""
                lines.append(f"  INFO     {kind} ({len(items)} files): {shown}{more}")
        else:
            lines.append("Problems: none")
        lines.append("Result: OK" if self.ok else f"Result: FAILED ({self.failure})")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-serialisable form."""
        return {
            "root": str(self.root),
            "ok": self.ok,
            "failure": self.failure,
            "n_files": self.n_files,
            "n_usable": self.n_usable,
            "genres": list(self.genres),
            "usable_per_genre": dict(self.usable),
            "total_duration_s": round(self.total_duration, 3),
            "sample_rates": {str(k): v for k, v in sorted(self.sample_rates.items())},
            "channels": {str(k): v for k, v in sorted(self.channels.items())},
            "min_tracks_per_genre": self.min_tracks_per_genre,
            "counts": {s: len(self.by_severity(s)) for s in SEVERITIES},
            "problems": [p.to_dict() for p in self.problems],
            "usable_tracks": [self._rel(t.path) for t in self.usable_tracks],
        }


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _error_kind(problem: str, default: str) -> str:
    text = problem.lower()
    if text.startswith("truncated"):  # not "cannot decode audio data (corrupt or truncated; ...)"
        return "truncated"
    if "nan" in text or "infinite" in text:
        return "non-finite"
    if "beyond full scale" in text:
        return "out-of-range"
    if "zero-length" in text:
        return "zero-length"
    if "no audio samples" in text:
        return "empty"
    return default


def check_file(track: Track, clip_seconds: float | None = None) -> FileCheck:
    """Open and decode one file, all of it or its first ``clip_seconds`` (what training uses); never raises
    for a bad file (the problems say what is wrong)."""
    path = track.path
    out = FileCheck(track, usable=False)

    def add(problem: str, severity: str, kind: str) -> None:
        out.problems.append(Problem(path, problem, severity, kind))

    try:
        info = audio_info(path)  # the checks load_audio and AudioStream run
    except AudioError as exc:
        add(exc.problem, "error", _error_kind(exc.problem, "unreadable"))
        return out
    out.sample_rate, out.channels = info.sample_rate, info.channels
    try:
        x = load_audio(path, sample_rate=None, duration=clip_seconds)  # refuses a truncated file
    except AudioError as exc:
        add(exc.problem, "error", _error_kind(exc.problem, "corrupt"))
        return out
    except MemoryError:
        add("too large to decode in memory", "error", "corrupt")
        return out
    decoded = int(x.shape[0])
    sr = info.sample_rate
    clipped = clip_seconds is not None and decoded >= int(round(clip_seconds * sr))
    short = None if clipped else completeness(info, decoded).problem  # cut short, but tolerated
    if short:
        add(short, "warning", "truncated")
    peak = float(np.max(np.abs(x))) if decoded else 0.0
    if peak < SILENCE_PEAK:
        level = "all samples are zero" if peak == 0.0 else f"peak {20 * np.log10(peak):.0f} dBFS"
        add(f"silent ({level})", "warning", "silent")
    out.duration = max(decoded / sr, info.duration) if clipped else decoded / sr
    out.usable = True
    return out


def _genre_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))


def validate_dataset(
    root: str | Path,
    *,
    min_tracks_per_genre: int = 2,
    progress: bool = True,
    workers: int | None = None,
    clip_seconds: float | None = None,
) -> ValidationReport:
    """Scan ``root`` (``<root>/<genre>/<audio files>``), decode every file, and report what is wrong.

    Args:
        root: dataset folder.
        min_tracks_per_genre: genres with fewer usable tracks get a ``few-tracks`` warning (a track-level
            train/valid/test split needs at least 2, better 3).
        progress: show a tqdm progress bar.
        workers: decoding threads (default: up to 2; libsndfile releases the GIL while decoding).
        clip_seconds: decode only the first this many seconds of each file, as training does
            (``SegmentConfig.clip_seconds``; memory then does not grow with the file); None: all of it.

    Raises:
        DatasetError: ``root`` is missing, not a folder, or has no genre folders (from :func:`scan_dataset`).
    """
    index = scan_dataset(root)
    root = index.root
    problems: list[Problem] = []
    for path, reason in index.skipped:
        if path.parent == root:
            problems.append(Problem(path, f"ignored: {reason}", "info", "outside-genre"))
        elif reason.startswith("duplicate"):
            problems.append(Problem(path, f"ignored: {reason}", "warning", "duplicate-id"))
        elif "link" in reason:
            problems.append(Problem(path, f"ignored: {reason}", "warning", "broken-link"))
        else:
            problems.append(Problem(path, f"ignored: {reason}", "warning", "not-audio"))

    for t in index.tracks:
        if t.track_id != t.path.stem:
            problems.append(
                Problem(
                    t.path,
                    f"another file has the same name; its track id is {t.track_id}",
                    "info",
                    "renamed-id",
                )
            )

    if workers is None:
        workers = min(2, os.cpu_count() or 1)
    bar = tqdm(total=len(index.tracks), desc="validate", unit="file", disable=not progress, leave=False)
    checks: list[FileCheck] = []
    try:
        if workers <= 1 or len(index.tracks) <= 1:
            for t in index.tracks:
                checks.append(check_file(t, clip_seconds))
                bar.update(1)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for c in pool.map(functools.partial(check_file, clip_seconds=clip_seconds), index.tracks):
                    checks.append(c)
                    bar.update(1)
    finally:
        bar.close()

    readable = [c for c in checks if c.sample_rate > 0]
    sample_rates = Counter(c.sample_rate for c in readable)
    channels = Counter(c.channels for c in readable)
    common_sr = sample_rates.most_common(1)[0][0] if sample_rates else None
    common_ch = channels.most_common(1)[0][0] if channels else None
    for c in checks:
        problems.extend(c.problems)
        if c.usable and len(sample_rates) > 1 and c.sample_rate != common_sr:
            problems.append(
                Problem(
                    c.track.path,
                    f"sample rate {c.sample_rate} Hz (most files: {common_sr} Hz); it is resampled on load",
                    "info",
                    "sample-rate",
                )
            )
        if c.usable and len(channels) > 1 and c.channels != common_ch:
            problems.append(
                Problem(
                    c.track.path,
                    f"{c.channels} channels (most files: {common_ch}); channels are averaged to mono on load",
                    "info",
                    "channels",
                )
            )

    usable_tracks = [c.track for c in checks if c.usable]
    genres = [d.name for d in _genre_dirs(root)]
    n_files = Counter(t.genre for t in index.tracks)
    usable = dict.fromkeys(genres, 0)
    usable.update(Counter(t.genre for t in usable_tracks))
    for g in genres:
        if n_files[g] == 0:
            problems.append(Problem(root / g, "genre folder has no audio files", "warning", "empty-genre"))
        elif usable[g] < min_tracks_per_genre:
            problems.append(
                Problem(
                    root / g,
                    f"only {usable[g]} usable track{'s' if usable[g] != 1 else ''} "
                    f"(fewer than {min_tracks_per_genre}; too few to split by track)",
                    "warning",
                    "few-tracks",
                )
            )

    with_tracks = [g for g in genres if usable[g] > 0]
    if len(with_tracks) == 1:
        problems.append(
            Problem(
                root,
                f"only one genre ({with_tracks[0]}) has usable tracks: there is nothing to classify "
                "(a classifier needs usable tracks in at least two genre folders)",
                "error",
                "single-genre",
            )
        )

    order = {s: i for i, s in enumerate(SEVERITIES)}
    problems.sort(key=lambda p: (order[p.severity], str(p.path), p.kind))
    return ValidationReport(
        root=root,
        genres=genres,
        usable=usable,
        usable_tracks=usable_tracks,
        problems=problems,
        total_duration=float(sum(c.duration for c in checks if c.usable)),
        n_files=len(index.tracks),
        sample_rates=dict(sample_rates),
        channels=dict(channels),
        min_tracks_per_genre=min_tracks_per_genre,
    )
