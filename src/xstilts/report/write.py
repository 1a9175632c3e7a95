"""``write_report``: analyse a run folder and write every output of the report into one folder.

Layout: ``report.md``, ``report.html`` (self-contained), ``figures/<name>.{png,pdf}``,
``tables/<name>.{csv,tex}`` and ``provenance.json`` (config + provenance of each run in the database).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from xstilts.analysis.bundle import analyse_run
from xstilts.report.document import build_document
from xstilts.report.figures import report_figures, save_figure
from xstilts.report.html import render_html
from xstilts.report.latex import booktabs
from xstilts.report.markdown import render_markdown


def write_report(
    run_dir: Path | str,
    out_dir: Path | str | None = None,
    n_boot: int = 2000,
    n_perm: int = 10000,
    seed: int = 0,
    markdown: Path | str | None = None,
) -> dict[str, Path]:
    """Write the report of ``run_dir`` (default folder ``<run_dir>/report``); returns name → path of every file.

    ``markdown``: write the Markdown there instead of ``<out>/report.md`` (its links then point into ``out``),
    e.g. ``docs/results/study.md`` next to a ``docs/results/study/`` folder of figures and tables."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    analysis = analyse_run(run_dir, n_boot=n_boot, n_perm=n_perm, seed=seed)
    doc = build_document(analysis)
    paths: dict[str, Path] = {}

    figures, pngs = {}, {}
    for name, fig in report_figures(analysis).items():
        png, pdf, pngs[name] = save_figure(fig, out / "figures", name)
        figures[name] = {"png": f"figures/{png.name}", "pdf": f"figures/{pdf.name}"}
        paths[f"figure:{name}.png"], paths[f"figure:{name}.pdf"] = png, pdf

    tables = {}
    (out / "tables").mkdir(parents=True, exist_ok=True)
    for t in (t for s in doc.sections for t in s.tables):
        csv, tex = out / "tables" / f"{t.name}.csv", out / "tables" / f"{t.name}.tex"
        t.numeric.to_csv(csv, index=t.numeric.index.name is not None)
        tex.write_text(booktabs(t.display, caption=t.title, label=f"tab:{t.name}"), encoding="utf-8")
        tables[t.name] = {"csv": f"tables/{csv.name}", "tex": f"tables/{tex.name}"}
        paths[f"table:{t.name}.csv"], paths[f"table:{t.name}.tex"] = csv, tex

    provenance = out / "provenance.json"
    provenance.write_text(json.dumps(doc.provenance, indent=1, sort_keys=True, default=str), encoding="utf-8")
    paths["provenance"] = provenance

    paths["markdown"] = Path(markdown) if markdown is not None else out / "report.md"
    prefix = os.path.relpath(out, paths["markdown"].parent)

    def linked(path: str) -> str:  # a path relative to ``out``, as seen from the Markdown file
        return path if prefix == "." else f"{prefix}/{path}"

    def linked_all(files: dict) -> dict:
        return {name: {kind: linked(p) for kind, p in kinds.items()} for name, kinds in files.items()}

    paths["markdown"].parent.mkdir(parents=True, exist_ok=True)
    paths["markdown"].write_text(
        render_markdown(doc, linked_all(figures), linked_all(tables), linked(provenance.name)),
        encoding="utf-8",
    )
    paths["html"] = out / "report.html"
    paths["html"].write_text(render_html(doc, pngs), encoding="utf-8")
    return paths
