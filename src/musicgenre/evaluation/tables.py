"""Write a list of row dicts as a Markdown, CSV or JSON table (the study's results table uses these).

Rows are plain dicts; ``columns`` picks and orders the keys (default: keys in first-seen order across the
rows) and may rename them: ``[("track_accuracy", "Track acc."), "model"]``. Floats are formatted with
``floatfmt`` in Markdown only; CSV and JSON keep full precision. ``None`` and NaN are written as an empty
cell (Markdown/CSV) or ``null`` (JSON).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from musicgenre.fileio import write_json, write_text

Column = str | tuple[str, str]


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] | None) -> list[tuple[str, str]]:
    if columns is None:
        keys: dict[str, None] = {}
        for r in rows:
            keys.update(dict.fromkeys(r))
        return [(k, k) for k in keys]
    return [(c, c) if isinstance(c, str) else (c[0], c[1]) for c in columns]


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.ndarray):
        return [_plain(x) for x in v.tolist()]
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    return v


def _cell(v: Any, floatfmt: str) -> str:
    v = _plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return format(v, floatfmt)
    if isinstance(v, list):
        return ", ".join(_cell(x, floatfmt) for x in v)
    return str(v).replace("|", "\\|").replace("\n", " ")


def format_markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] | None = None, *, floatfmt: str = ".3f"
) -> str:
    """A GitHub-flavoured Markdown table; numeric columns are right-aligned."""
    cols = _columns(rows, columns)
    if not cols:
        return ""
    numeric = []
    for key, _ in cols:
        vals = [_plain(r.get(key)) for r in rows if _plain(r.get(key)) is not None]
        numeric.append(
            bool(vals) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)
        )
    lines = [
        "| " + " | ".join(title for _, title in cols) + " |",
        "|" + "|".join("---:" if num else "---" for num in numeric) + "|",
    ]
    for r in rows:
        lines.append("| " + " | ".join(_cell(r.get(key), floatfmt) for key, _ in cols) + " |")
    return "\n".join(lines) + "\n"


def write_markdown_table(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    columns: Sequence[Column] | None = None,
    *,
    title: str | None = None,
    notes: Sequence[str] = (),
    floatfmt: str = ".3f",
) -> Path:
    """Write the rows as a Markdown table, with an optional ``# title`` and notes (paragraphs) before it."""
    parts = []
    if title:
        parts.append(f"# {title}\n")
    parts += [f"{n}\n" for n in notes]
    parts.append(format_markdown_table(rows, columns, floatfmt=floatfmt))
    return write_text(path, "\n".join(parts))


def format_csv_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column] | None = None) -> str:
    """The rows as CSV text (header = column titles); lists are joined with ``;``."""
    cols = _columns(rows, columns)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([title for _, title in cols])
    for r in rows:
        cells = []
        for key, _ in cols:
            v = _plain(r.get(key))
            if v is None:
                cells.append("")
            elif isinstance(v, list):
                cells.append(";".join("" if x is None else str(x) for x in v))
            elif isinstance(v, dict):
                cells.append(json.dumps(v, sort_keys=True))
            else:
                cells.append(repr(v) if isinstance(v, float) else str(v))
        w.writerow(cells)
    return buf.getvalue()


def write_csv_table(
    rows: Sequence[Mapping[str, Any]], path: str | Path, columns: Sequence[Column] | None = None
) -> Path:
    """Write the rows as CSV."""
    return write_text(path, format_csv_table(rows, columns))


def write_json_table(
    rows: Sequence[Mapping[str, Any]], path: str | Path, columns: Sequence[Column] | None = None
) -> Path:
    """Write the rows as a JSON list of objects (keys renamed to the column titles when given)."""
    cols = _columns(rows, columns) if columns is not None else None
    out = [
        {title: _plain(r.get(key)) for key, title in cols} if cols else {k: _plain(v) for k, v in r.items()}
        for r in rows
    ]
    return write_json(path, out, indent=1)


def write_tables(
    rows: Sequence[Mapping[str, Any]],
    stem: str | Path,
    columns: Sequence[Column] | None = None,
    *,
    formats: Sequence[str] = ("md", "csv", "json"),
    title: str | None = None,
    notes: Sequence[str] = (),
    floatfmt: str = ".3f",
) -> dict[str, Path]:
    """Write ``stem.md``, ``stem.csv`` and ``stem.json`` (those in ``formats``); returns ``{format: path}``."""
    stem = Path(stem)
    out: dict[str, Path] = {}
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        if fmt == "md":
            out[fmt] = write_markdown_table(rows, path, columns, title=title, notes=notes, floatfmt=floatfmt)
        elif fmt == "csv":
            out[fmt] = write_csv_table(rows, path, columns)
        elif fmt == "json":
            out[fmt] = write_json_table(rows, path, columns)
        else:
            raise ValueError(f"unknown table format {fmt!r}; use md, csv or json")
    return out
