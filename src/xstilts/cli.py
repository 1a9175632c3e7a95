"""The ``xstilts`` command line: run, tasks, models, score, validate."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from xstilts.errors import XstiltsError

console = Console()
err_console = Console(stderr=True)

DEBUG_ENV = "XSTILTS_DEBUG"


def _debug_wanted(ctx: click.Context) -> bool:
    return bool((ctx.obj or {}).get("debug")) or os.environ.get(DEBUG_ENV, "") not in ("", "0")


class _Commands(TyperGroup):
    """Every command's user errors (``XstiltsError``) become one line on stderr and exit code 2.

    Handled here rather than in each command so a command cannot forget it, and so it also holds under
    Typer's test runner (which bypasses ``Typer.__call__``). ``--debug`` / ``XSTILTS_DEBUG=1`` re-raise.
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except XstiltsError as exc:
            if _debug_wanted(ctx):
                raise
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None


app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__, cls=_Commands)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help=f"show the traceback of errors (or set {DEBUG_ENV}=1)")
    ] = False,
) -> None:
    ctx.obj = {"debug": debug}


def _quiet_libraries(verbose: bool) -> None:
    """Our own progress bars and stage lines are the output; library chatter only with --verbose."""
    import transformers

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    if not verbose:
        transformers.utils.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="run configuration YAML")],
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run a configuration: intermediate arms × targets × seeds; prints the results table."""
    from xstilts.config import load_config
    from xstilts.pipeline import Pipeline
    from xstilts.report.console import results_tables, xtreme_scores

    _quiet_libraries(verbose)
    cfg = load_config(config)
    pipeline = Pipeline(cfg, echo=lambda s: console.print(s, highlight=False, markup=False))
    rows = pipeline.run()
    for table in results_tables(rows, cfg):
        console.print(table)
    for arm, text in xtreme_scores(rows, cfg).items():
        console.print(f"XTREME score, {arm}: {text}", highlight=False)
    console.print(f"results: {pipeline.db_path}  (run folder {pipeline.run_dir})", highlight=False)


@app.command()
def validate(config: Annotated[Path, typer.Argument(help="run configuration YAML")]) -> None:
    """Check a configuration (fields, task and language names) without running anything."""
    from xstilts.config import load_config
    from xstilts.pipeline import check_config

    cfg = load_config(config)
    check_config(cfg)
    console.print(
        f"{config}: OK ({len(cfg.arms)} arms × {len(cfg.targets)} targets × {len(cfg.seeds)} seeds)"
    )


@app.command()
def export(
    run_dir: Annotated[Path, typer.Argument(help="a run folder (output_dir/<name>)")],
    out: Annotated[Path | None, typer.Option(help="submission folder (default RUN_DIR/submission)")] = None,
    arm: Annotated[
        str | None, typer.Option(help="which arm's predictions (needed when the run has several)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="which seed (needed when the run has several)")] = None,
    allow_partial: Annotated[
        bool, typer.Option(help="exit 0 even when tasks or languages are missing")
    ] = False,
) -> None:
    """Write an XTREME leaderboard submission folder (nine tasks, test-<lang>.<tsv|json>) from a run."""
    from xstilts.export import export_submission

    out = out or run_dir / "submission"
    report = export_submission(run_dir, out, arm, seed)
    n = sum(len(v) for v in report.copied.values())
    console.print(f"{out}: {n} prediction files of arm {report.arm!r}, seed {report.seed}")
    for task, (used, others) in report.ignored.items():
        err_console.print(
            f"{task}: {len(others) + 1} finished settings of this arm and seed; exported the latest ({used.name}), "
            f"ignored {' '.join(f.name for f in others)}",
            highlight=False,
            soft_wrap=True,
        )
    for task, langs in report.missing.items():
        err_console.print(f"missing {task}: {' '.join(langs)}", highlight=False)
    for task, langs in report.subsets.items():
        err_console.print(
            f"  ({task} {' '.join(langs)}: evaluated on a subset (max_eval_examples), not exported)",
            highlight=False,
        )
    if report.missing and not allow_partial:
        err_console.print("the submission is incomplete (use --allow-partial to accept)")
        raise typer.Exit(code=1)


@app.command()
def report(
    run: Annotated[
        Path,
        typer.Argument(
            metavar="RUN_DIR_OR_CONFIG_OR_TABLE",
            help="a run folder (output_dir/<name>), the run's configuration YAML, or a committed table "
            "(a report's tables/results.csv or tables/transfer.csv; needs --config)",
        ),
    ],
    out: Annotated[Path | None, typer.Option(help="report folder (default RUN_DIR/report)")] = None,
    markdown: Annotated[
        Path | None, typer.Option(help="write the Markdown here instead (links point into the report folder)")
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="with a table: the run's configuration (groups, contrasts, seeds)")
    ] = None,
) -> None:
    """Write the analysis report of a run: Markdown, self-contained HTML, figures (PNG/PDF), tables (CSV/LaTeX)."""
    from xstilts.report.write import write_report, write_table_report

    if run.suffix == ".csv":
        if config is None or out is None:
            raise XstiltsError(f"{run}: a table needs --config (the run's configuration) and --out")
        paths = write_table_report(run, config, out, markdown=markdown)
        console.print(f"report: {paths['markdown']}", highlight=False, soft_wrap=True)
        return
    run_dir = _run_dir(run)
    if not run_dir.is_dir():
        raise XstiltsError(f"{run_dir}: no such run folder (run the configuration first)")
    paths = write_report(run_dir, out, markdown=markdown)
    console.print(f"report: {paths['markdown']}", highlight=False, soft_wrap=True)
    console.print(f"html (self-contained): {paths['html']}", highlight=False, soft_wrap=True)
    console.print(f"figures and tables: {paths['html'].parent}", highlight=False, soft_wrap=True)


def _run_dir(path: Path) -> Path:
    """A run folder as given, or the run folder of a configuration file."""
    from xstilts.config import load_config

    if path.is_dir():
        return path
    if path.suffix in (".yaml", ".yml"):
        return load_config(path).run_dir
    raise XstiltsError(f"{path}: neither a run folder nor a configuration file (.yaml)")


def _load_pipeline(config: Path, plan_only: bool = False):
    from xstilts.config import load_config
    from xstilts.pipeline import Pipeline

    return Pipeline(load_config(config), echo=lambda s: None, plan_only=plan_only)


@app.command()
def plan(
    config: Annotated[Path, typer.Argument(help="run / grid configuration YAML")],
    estimate: Annotated[
        bool, typer.Option(help="measure this machine's throughput and estimate cost")
    ] = True,
    pilot: Annotated[
        Path | None,
        typer.Option(
            help="a pilot run folder, or its cell table (a report's tables/results.csv) or transfer.csv "
            "with --pilot-config"
        ),
    ] = None,
    pilot_config: Annotated[Path | None, typer.Option(help="the pilot's configuration (its arms' groups)")] = None,
) -> None:
    """Print the stage graph: stages per kind, done / interrupted / to do, sharing, estimated compute, and the
    minimum detectable effect of each primary contrast."""
    from xstilts.grid.plan import make_plan

    _quiet_libraries(False)
    pipe = _load_pipeline(config, plan_only=True)
    result = make_plan(pipe, measure=estimate)
    cfg = pipe.cfg
    console.print(f"{config}: model {cfg.model.name}; {len(cfg.arms)} arms × {len(cfg.targets)} targets × "
                  f"{len(cfg.seeds)} seeds; executor {cfg.executor.kind}", highlight=False)  # fmt: skip
    if pipe.tokenizer is None:
        console.print(f"(model {cfg.model.name} is not available here: done-status cannot be checked)")
    for line in result.lines():
        console.print(line, highlight=False)
    for line in _power_lines(cfg, pilot, pilot_config):
        console.print(line, highlight=False)


SAMPLE_STUDY = Path(__file__).resolve().parents[2]  # a source checkout: the committed sample study


def _power_lines(cfg, pilot: Path | None, pilot_config: Path | None) -> list[str]:
    """MDE of the grid's primary contrasts from a pilot's variance components (default: the sample study)."""
    from xstilts.analysis.from_table import read_table
    from xstilts.analysis.power import components_from_cells, components_from_matrix, mde_lines
    from xstilts.analysis.table import arm_formats, arm_groups, registry_for
    from xstilts.analysis.task_answer import contrast_members
    from xstilts.config import load_config

    if pilot is None:
        pilot = SAMPLE_STUDY / "docs/results/sample-study/tables/transfer.csv"
        pilot_config = SAMPLE_STUDY / "configs/sample-study.yaml"
        if not pilot.is_file() or not pilot_config.is_file():
            return ["(no pilot: pass --pilot and --pilot-config for the minimum detectable effect)"]
    if pilot.is_dir():
        from xstilts.analysis.bundle import pilot_cells

        pcfg, cells = pilot_cells(pilot)
        matrix = None
    elif pilot_config is None:
        raise XstiltsError(f"{pilot}: a pilot table needs --pilot-config (the pilot's configuration)")
    else:
        pcfg = load_config(pilot_config)
        cells, matrix = read_table(pilot)
    preg = registry_for(pcfg)
    pmembers, _ = contrast_members(pcfg, arm_groups(pcfg, preg), arm_formats(pcfg, preg))
    comp = (
        components_from_cells(cells, pmembers, str(pilot))
        if cells is not None
        else components_from_matrix(matrix, pmembers, str(pilot))
    )
    n_cells = int(cells.groupby("target")["language"].nunique().sum()) if cells is not None else 1
    registry = registry_for(cfg)
    members, _ = contrast_members(cfg, arm_groups(cfg, registry), arm_formats(cfg, registry))
    contrasts = [tuple(c) for c in cfg.analysis.primary_contrasts]
    return mde_lines(comp, members, contrasts, len(cfg.seeds), n_cells)


@app.command()
def status(config: Annotated[Path, typer.Argument(help="run / grid configuration YAML")]) -> None:
    """Progress of a run: every stage with its state (done, running, interrupted, to do)."""
    from xstilts.grid.graph import build_graph, counts

    graph = build_graph(_load_pipeline(config))
    table = Table("stage", "state")
    for s in graph:
        state = "done" if s.done else "running" if s.running else "interrupted" if s.started else "to do"
        table.add_row(s.id, state)
    console.print(table)
    for kind, c in counts(graph).items():
        console.print(f"{kind}: {c['done']}/{c['total']} done", highlight=False)


@app.command()
def results(
    config: Annotated[Path, typer.Argument(help="run / grid configuration YAML (or a run folder)")],
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet")] = "csv",
    out: Annotated[Path | None, typer.Option(help="output file (default RUN_DIR/results.<format>)")] = None,
) -> None:
    """Export the results database as a tidy long table (one row per metric value, with its full key)."""
    from xstilts.results.export import export_table

    run_dir = _run_dir(config)
    path = export_table(run_dir / "results.sqlite", fmt, out or run_dir / f"results.{fmt}")
    console.print(f"{path}", highlight=False, soft_wrap=True)


@app.command()
def tasks(
    group: Annotated[str | None, typer.Option(help="xtreme, general, biomedical or legal")] = None,
) -> None:
    """List the registered tasks with their format, group and languages."""
    from xstilts.tasks import get_registry

    reg = get_registry()
    groups = sorted({reg.get(n).group for n in reg.names()})
    if group is not None and group not in groups:
        raise XstiltsError(f"unknown task group {group!r}; the groups are: {', '.join(groups)}")
    table = Table("task", "group", "format", "languages", "licence", "gated")
    for name in reg.names(group):
        s = reg.get(name)
        langs = (
            " ".join(s.languages)
            if len(s.languages) <= 12
            else f"{len(s.languages)}: {' '.join(s.languages[:10])} …"
        )
        table.add_row(name, s.group, s.format, langs, s.license, "yes" if s.gated else "")
    console.print(table)


@app.command()
def models() -> None:
    """The embedded model and how to use others."""
    from xstilts.models.embedded import E5_SMALL_SHA256, locate_e5_small_bin

    table = Table("name", "what", "source")
    try:
        src = str(locate_e5_small_bin())
    except XstiltsError as exc:
        src = f"unavailable: {exc}"
    table.add_row(
        "e5-small",
        "multilingual-e5-small (12-layer BERT, XLM-R vocabulary), embedded, MIT",
        f"{src} (sha256 {E5_SMALL_SHA256[:12]}…)",
    )
    table.add_row("tiny", "2-layer randomly initialised BERT for tests", "built from a config")
    table.add_row(
        "<hub id>",
        "any Hugging Face encoder, e.g. xlm-roberta-large, bert-base-multilingual-cased",
        "hub (HF_HUB_OFFLINE respected)",
    )
    table.add_row("<path>", "a local save_pretrained folder or an xstilts intermediate checkpoint", "disk")
    console.print(table)


def _register_optional() -> None:
    try:
        from xstilts.metrics.cli import score_command
    except ImportError:
        return
    app.command(
        "score", help="Score a prediction folder (official submission layout) against a labels folder."
    )(score_command)


_register_optional()


def main() -> None:  # pragma: no cover - console entry point (same as the ``xstilts`` script)
    app()


if __name__ == "__main__":  # python -m xstilts.cli (subprocess tests, schedulers)
    main()
