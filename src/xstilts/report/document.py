"""The report's outline, independent of the output format: the Markdown and HTML writers render the same
sections, so the two can never tell different stories."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from xstilts.analysis.bundle import RunAnalysis
from xstilts.report.summary import selection_lines, summary_lines
from xstilts.report.tables import ReportTable, report_tables
from xstilts.report.task_section import METHOD, task_tables
from xstilts.report.task_section import summary_lines as task_summary_lines

FIGURE_CAPTIONS = {
    "transfer_matrix": "Transfer matrix: mean Δ vs the baseline per arm and target (blue: gain, red: loss).",
    "task_forest": "Every arm's mean Δ over the targets in scope (95% interval over seeds × languages where the "
    "cells are known), coloured by group; mixtures hollow.",
    "language_delta": "Δ vs the baseline per language (mean over targets and seeds), languages grouped by family.",
}


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[ReportTable] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # figure names; rendered only if the figure exists


@dataclass
class Document:
    title: str
    summary: list[str]
    sections: list[Section]
    provenance: list[dict]  # the runs table: run_id, created, config, provenance


def build_document(a: RunAnalysis) -> Document:
    tables = {t.name: t for t in [*task_tables(a.answer), *report_tables(a)]}

    def pick(*names: str) -> list[ReportTable]:
        return [tables[n] for n in names if n in tables]

    sections = [
        Section(
            "Domain vs general at the level of tasks",
            paragraphs=[METHOD],
            tables=pick("primary", "task_means", "mixed_model", "exploratory_targets", "floors"),
            figures=["task_forest"],
        ),
        Section("XTREME scores", tables=pick("xtreme", "xtreme_delta")),
        Section("Transfer matrix", tables=pick("transfer"), figures=["transfer_matrix"]),
        Section(
            "Best arm per target, chosen on English",
            paragraphs=selection_lines(a) or ["No target has a result to choose on."],
            tables=pick("selection"),
        ),
        Section(
            "Languages",
            tables=pick("transfer_gap", "languages", "language_by_target", "by_family", "by_script"),
            figures=["language_delta"],
        ),
    ]
    return Document(f"X-STILTs report: {a.config.name}", summary_lines(a), sections, a.runs)


def table_document(ans, describe: str, name: str, table) -> Document:
    """The task-level report of a committed table (no run folder: no XTREME, selection or language tables)."""
    tables = task_tables(ans)
    section = Section("Domain vs general at the level of tasks", [METHOD], tables, ["task_forest"])
    matrix = Section("Transfer matrix", figures=["transfer_matrix"])
    written = {t.name for t in tables} | {Path(table).stem}
    kept = sorted(p.name for p in Path(table).parent.glob("*.csv") if p.stem not in written)
    if kept:
        matrix.paragraphs.append(
            "Other tables next to the input (in its folder), from the original run and not recomputed here: "
            + ", ".join(kept)
            + "."
        )
    # keep the original runs' provenance when the input sits in a report folder (<report>/tables/<table>)
    original = Path(table).parent.parent / "provenance.json"
    runs = json.loads(original.read_text(encoding="utf-8")) if original.is_file() else []
    runs = [r for r in runs if r.get("provenance", {}).get("input") is None]  # not a previous recompute
    recompute = {"input": str(table), "xstilts": "task-level recompute"}
    provenance = [
        *runs,
        {"run_id": f"{name} (recomputed)", "created": time.time(), "config": {}, "provenance": recompute},
    ]
    return Document(f"X-STILTs task-level report: {name}", [describe, *task_summary_lines(ans)],
                    [section, matrix], provenance)  # fmt: skip


def provenance_lines(doc: Document) -> list[str]:
    """One line per recorded run: id, time, package versions and git revision."""
    lines = []
    for run in doc.provenance:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run["created"]))
        lines.append(f"{run['run_id']} ({when} UTC): {json.dumps(run['provenance'], sort_keys=True)}")
    return lines or ["No run recorded in the database."]
