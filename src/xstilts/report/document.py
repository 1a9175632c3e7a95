"""The report's outline, independent of the output format: the Markdown and HTML writers render the same
sections, so the two can never tell different stories."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

from xstilts.analysis.bundle import RunAnalysis
from xstilts.report.summary import selection_lines, summary_lines
from xstilts.report.tables import ReportTable, report_tables

FIGURE_CAPTIONS = {
    "transfer_matrix": "Transfer matrix: mean Δ vs the baseline per arm and target (blue: gain, red: loss).",
    "domain_vs_general": "Domain minus general arms: estimate and 95% bootstrap interval per target; pooled in red.",
    "language_delta": "Δ vs the baseline per language (mean over targets and seeds), languages grouped by family.",
}
METHOD = (
    "Each cell is a (target, language, seed): the mean Δ of the domain arms minus the mean Δ of the general "
    "arms there. A target's effect is the mean over its cells; the pooled effect is the unweighted mean over "
    "targets. The 95% interval resamples seeds and languages (bootstrap); an interval that covers 0 means no "
    "detectable difference. The p-value flips the sign of each cell's difference (paired permutation test); it "
    "treats cells as independent, so it is optimistic when languages or seeds carry effects of their own: the "
    "verdicts rest on the interval. With fewer than 3 seeds the interval cannot see seed-to-seed variation. "
    "Arms that only do masked language modelling (DAPT) are not tasks: they appear only in the format-matched "
    "table, against general MLM arms."
)


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
    tables = {t.name: t for t in report_tables(a)}

    def pick(*names: str) -> list[ReportTable]:
        return [tables[n] for n in names if n in tables]

    sections = [
        Section("XTREME scores", tables=pick("xtreme", "xtreme_delta")),
        Section("Transfer matrix", tables=pick("transfer"), figures=["transfer_matrix"]),
        Section(
            "Domain vs general intermediate tasks",
            paragraphs=[METHOD],
            tables=pick("domain_vs_general", "format_matched"),
            figures=["domain_vs_general"],
        ),
        Section(
            "Best arm per target, chosen on English",
            paragraphs=selection_lines(a) or ["No target has a result to choose on."],
            tables=pick("selection"),
        ),
        Section(
            "Languages",
            tables=pick("languages", "by_family", "by_script", "correlation"),
            figures=["language_delta"],
        ),
    ]
    return Document(f"X-STILTs report: {a.config.name}", summary_lines(a), sections, a.runs)


def provenance_lines(doc: Document) -> list[str]:
    """One line per recorded run: id, time, package versions and git revision."""
    lines = []
    for run in doc.provenance:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run["created"]))
        lines.append(f"{run['run_id']} ({when} UTC): {json.dumps(run['provenance'], sort_keys=True)}")
    return lines or ["No run recorded in the database."]
