"""The HTML report: one self-contained file (inline CSS, figures as base64 PNG, no script, no external
resource), so it can be mailed or opened offline and still show everything."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from html import escape

import pandas as pd

from xstilts.report.document import FIGURE_CAPTIONS, Document, provenance_lines

CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
th, td { padding: .25em .6em; border-bottom: 1px solid #e3e3e3; text-align: right; vertical-align: top; }
th:first-child, td:first-child { text-align: left; }
thead th { border-bottom: 2px solid #444; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; }
figcaption, .note { font-size: .85em; color: #555; }
.summary li { margin: .3em 0; } .warning { color: #8a4b00; }
pre { background: #f6f6f6; padding: .6em; overflow-x: auto; font-size: .8em; }
"""


def html_table(df: pd.DataFrame, index: bool = True) -> str:
    frame = df.reset_index() if index else df
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def figure_html(name: str, png: bytes) -> str:
    data = base64.b64encode(png).decode("ascii")
    caption = escape(FIGURE_CAPTIONS.get(name, name))
    return (
        f'<figure><img alt="{caption}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _summary(lines: list[str]) -> str:
    items = []
    for line in lines:
        text = escape(line.strip())
        if line.startswith("  "):
            cls = ' class="warning"' if line.strip().startswith("Warning") else ""
            items.append(f"<ul><li{cls}>{text}</li></ul>")
        else:
            items.append(f"<li>{text}</li>")
    return '<ul class="summary">' + "".join(items) + "</ul>"


def render_html(doc: Document, pngs: Mapping[str, bytes]) -> str:
    """``pngs``: figure name → PNG bytes, embedded in place."""
    toc = "".join(f'<li><a href="#s{i}">{escape(s.title)}</a></li>' for i, s in enumerate(doc.sections))
    body = [f"<h1>{escape(doc.title)}</h1>", "<h2>Summary</h2>", _summary(doc.summary), f"<ul>{toc}</ul>"]
    for i, section in enumerate(doc.sections):
        body.append(f'<h2 id="s{i}">{escape(section.title)}</h2>')
        body += [f"<p>{escape(p)}</p>" for p in section.paragraphs]
        body += [figure_html(n, pngs[n]) for n in section.figures if n in pngs]
        for t in section.tables:
            body += [f"<h3>{escape(t.title)}</h3>", html_table(t.display)]
            if t.note:
                body.append(f'<p class="note">{escape(t.note)}</p>')
    body.append("<h2>Provenance</h2>")
    body += [f"<pre>{escape(line)}</pre>" for line in provenance_lines(doc)]
    for run in doc.provenance:
        config = json.dumps(run["config"], indent=1, sort_keys=True)
        body.append(
            f"<details><summary>configuration of {escape(str(run['run_id']))}</summary>"
            f"<pre>{escape(config)}</pre></details>"
        )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(doc.title)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )
