"""``xstilts score``: score any system's predictions in the XTREME submission layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xstilts.metrics.official import ACCURACY, EXACT_MATCH, F1, PRECISION, RECALL, TOKEN_ACCURACY
from xstilts.metrics.submission import score_folder

# Short headers keep the table within 80 columns; a column appears only when some scored task reports it.
_COLUMNS = {
    ACCURACY: "acc",
    F1: "f1",
    EXACT_MATCH: "em",
    PRECISION: "p",
    RECALL: "r",
    TOKEN_ACCURACY: "tok_acc",
}
_CAPTION = (
    "avg k/n: mean over the k of n official languages scored (yellow: partial). "
    "*: not an official language, not averaged. tok_acc: token accuracy, never part of a score."
)


def _cell(metrics: dict[str, float], name: str) -> str:
    return f"{metrics[name]:.2f}" if name in metrics else ""


def results_table(result: dict[str, Any]) -> Table:
    """One row per task and language, then the task's average over its official languages and its score."""
    present = {m for task in result["tasks"].values() for lang in task["languages"].values() for m in lang}
    columns = [m for m in _COLUMNS if m in present]
    table = Table(
        title="XTREME test scores (0-100)",
        caption=_CAPTION,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("task", no_wrap=True)
    table.add_column("lang", no_wrap=True)
    for name in columns:
        table.add_column(_COLUMNS[name], justify="right", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    for task, entry in result["tasks"].items():
        for lang, metrics in entry["languages"].items():
            label = f"{lang}*" if lang in entry["unofficial_languages"] else lang
            table.add_row(task, label, *(_cell(metrics, m) for m in columns), "")
        n_scored = len(entry["languages"]) - len(entry["unofficial_languages"])
        n_official = n_scored + len(entry["missing_languages"])
        score = "" if entry["score"] is None else f"{entry['score']:.2f}"
        table.add_row(
            task,
            f"avg {n_scored}/{n_official}",
            *(_cell(entry["averages"], m) for m in columns),
            score,
            style="bold" if entry["complete"] else "bold yellow",
            end_section=True,
        )
    return table


def score_command(
    pred_dir: Annotated[
        Path,
        typer.Argument(
            help="Prediction folder: <task>/test-<lang>.tsv (.json for QA), XTREME submission layout."
        ),
    ],
    label_dir: Annotated[
        Path, typer.Argument(help="Label folder in the same layout (evaluate.py --label_folder).")
    ],
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Also write every score as JSON (sorted keys) to this file.")
    ] = None,
) -> None:
    """Score predictions with the official XTREME metrics; print per-language scores and the XTREME score."""
    result = score_folder(pred_dir, label_dir)
    err = Console(stderr=True)
    for warning in result["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}", highlight=False)
    out = Console()
    out.print(results_table(result))
    style = "bold" if result["xtreme_score_complete"] else "bold yellow"
    out.print(f"[{style}]XTREME score: {escape(result['xtreme_score_summary'])}[/{style}]", highlight=False)
    if result["category_means"]:
        means = ", ".join(f"{c} {v:.2f}" for c, v in result["category_means"].items())
        out.print(f"category means (extra output, not the score): {means}", highlight=False)
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(
            json.dumps(result, sort_keys=True, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        out.print(f"wrote {escape(str(json_out))}", highlight=False)
