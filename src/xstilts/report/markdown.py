"""The Markdown report: summary first, then each section's tables (with links to their CSV and LaTeX files)
and figures (linked PNG, with the PDF next to it)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from xstilts.report.document import FIGURE_CAPTIONS, Document, provenance_lines


def _cell(value) -> str:
    return str(value).replace("|", r"\|").replace("\n", " ")


def md_table(df: pd.DataFrame, index: bool = True) -> str:
    frame = df.reset_index() if index else df
    header = [_cell(c) for c in frame.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def render_markdown(
    doc: Document,
    figures: Mapping[str, Mapping[str, str]],
    tables: Mapping[str, Mapping[str, str]],
    provenance_file: str | None = None,
) -> str:
    """``figures``/``tables``: name → {"png"/"pdf" or "csv"/"tex": path relative to the report}."""
    out = [f"# {doc.title}", "", "## Summary", ""]
    out += [
        f"- {line.strip()}" if not line.startswith("  ") else f"  - {line.strip()}" for line in doc.summary
    ]
    for section in doc.sections:
        out += ["", f"## {section.title}", ""]
        for p in section.paragraphs:
            out += [p.strip(), ""]
        for name in section.figures:
            if name in figures:
                files = figures[name]
                out += [
                    f"![{FIGURE_CAPTIONS.get(name, name)}]({files['png']})",
                    "",
                    f"*{FIGURE_CAPTIONS.get(name, name)}* ([PDF]({files['pdf']}))",
                    "",
                ]
        for t in section.tables:
            out += [f"### {t.title}", "", md_table(t.display), ""]
            if t.note:
                out += [f"{t.note}", ""]
            links = tables.get(t.name, {})
            if links:
                out += [" · ".join(f"[{kind.upper()}]({path})" for kind, path in links.items()), ""]
    out += ["", "## Provenance", ""]
    out += [f"- `{line}`" for line in provenance_lines(doc)]
    if provenance_file:
        out += ["", f"Full configuration and provenance: [{provenance_file}]({provenance_file})"]
    return "\n".join(out).rstrip() + "\n"
