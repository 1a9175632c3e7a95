"""``write_report``: analyse a run folder and write every output of the report into one folder.

Layout: ``report.md``, ``report.html`` (self-contained), ``figures/<name>.{png,pdf}``,
``tables/<name>.{csv,tex}`` and ``provenance.json`` (config + provenance of each run in the database).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from xstilts.analysis.bundle import analyse_run
from xstilts.analysis.from_table import analyse_table
from xstilts.analysis.task_answer import CELL_COLUMNS
from xstilts.config import load_config
from xstilts.report.document import Document, build_document, table_document
from xstilts.report.figures import answer_forest, report_figures, save_figure, transfer_heatmap
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
    e.g. ``docs/results/study.md`` next to a ``docs/results/study/`` folder of figures and tables.
    Besides the report's own tables it writes ``tables/results.csv``, the tidy cell table (one row per arm,
    target, language, split and seed with its score, the baseline's and Δ), so that the report can be
    recomputed later without the run folder (``xstilts report tables/results.csv --config ...``)."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir / "report"
    analysis = analyse_run(run_dir, n_boot=n_boot, n_perm=n_perm, seed=seed)
    paths = write_document(build_document(analysis), report_figures(analysis), out, markdown)
    cells = out / "tables" / "results.csv"
    analysis.deltas.reindex(columns=CELL_COLUMNS).to_csv(cells, index=False)
    paths["table:results.csv"] = cells
    return paths


def write_table_report(
    table: Path | str,
    config: Path | str,
    out_dir: Path | str,
    n_boot: int = 2000,
    n_perm: int = 20000,
    seed: int = 0,
    markdown: Path | str | None = None,
) -> dict[str, Path]:
    """The task-level report from a committed table (a cell ``results.csv`` or an arm × target
    ``transfer.csv``) and the run's configuration, for runs whose folder was not kept."""
    ans, describe = analyse_table(table, config, n_boot=n_boot, n_perm=n_perm, seed=seed)
    doc = table_document(ans, describe, load_config(config).name, table)
    figures = {"task_forest": answer_forest(ans), "transfer_matrix": transfer_heatmap(ans.matrix, "Mean Δ")}
    return write_document(doc, {k: f for k, f in figures.items() if f is not None}, Path(out_dir), markdown)


def write_document(
    doc: Document, figs: dict, out: Path, markdown: Path | str | None = None
) -> dict[str, Path]:
    """Figures, tables (CSV + LaTeX), provenance.json, Markdown and HTML of one document into ``out``."""
    paths: dict[str, Path] = {}
    figures, pngs = {}, {}
    for name, fig in figs.items():
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
