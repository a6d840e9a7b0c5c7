"""A small Markdown-to-HTML conversion for our own reports: headings, lists, tables, code and images,
the images inlined as data URIs so that the page is one self-contained file."""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path


def _img_tag(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}" style="max-width:100%">'


def markdown_to_html(md: str, base: Path, title: str) -> str:
    """A small Markdown-to-HTML conversion for our own report (headings, lists, tables, images, code)."""
    out: list[str] = []
    lines = md.splitlines()
    i = 0
    in_list = False

    def inline(text: str) -> str:
        text = html.escape(text)
        text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
        text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
        return re.sub(r"\[(.+?)\]\((.+?)\)", r'<a href="\2">\1</a>', text)

    while i < len(lines):
        line = lines[i]
        img = re.match(r"!\[(.*?)\]\((.+?)\)", line.strip())
        if in_list and not line.startswith(("- ", "  ")):
            out.append("</ul>")
            in_list = False
        if line.startswith("```"):
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(html.escape(lines[i]))
                i += 1
            out.append("<pre><code>" + "\n".join(block) + "</code></pre>")
        elif img:
            p = base / img.group(2)
            out.append(f"<p>{_img_tag(p, img.group(1))}</p>" if p.exists() else "")
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            head, body = rows[0], [r for r in rows[2:]]
            out.append(
                "<table><thead><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr></thead>"
            )
            out.append(
                "<tbody>"
                + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in body)
                + "</tbody></table>"
            )
            continue
        elif line.startswith("- "):
            if not in_list:
                out.append("<ul>")
                in_list = True
            item = line[2:]
            while i + 1 < len(lines) and lines[i + 1].startswith("  ") and lines[i + 1].strip():
                i += 1
                item += " " + lines[i].strip()
            out.append(f"<li>{inline(item)}</li>")
        elif line.strip():
            para = line
            while (
                i + 1 < len(lines)
                and lines[i + 1].strip()
                and not lines[i + 1].startswith(("#", "|", "- ", "!", "```"))
            ):
                i += 1
                para += " " + lines[i].strip()
            out.append(f"<p>{inline(para)}</p>")
        i += 1
    if in_list:
        out.append("</ul>")
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;line-height:1.45}"
        "table{border-collapse:collapse;font-size:0.9em}td,th{border:1px solid #ccc;padding:3px 8px}"
        "th{background:#f3f3f3}code{background:#f6f6f6;padding:0 3px}pre{background:#f6f6f6;padding:8px;overflow:auto}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>\n" + "\n".join(out) + "\n</body></html>\n"
    )
