"""Every ``xstilts`` command on one tiny finished run (the baseline arm on XNLI, 3 steps): what each prints and
writes, and that user errors are one line on stderr with exit code 2 (a traceback only with ``--debug``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import xstilts
from xstilts.cli import app
from xstilts.config import load_config
from xstilts.results.db import read_results

from .conftest import write_grid

GOLDEN = Path(__file__).parents[1] / "metrics" / "golden"
SRC = Path(xstilts.__file__).resolve().parents[1]


def cli(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args], terminal_width=200)


def flat(text: str) -> str:
    """Rich wraps long lines at the console width; compare text with single spaces."""
    return " ".join(text.split())


def console_script(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The installed ``xstilts`` script (the venv's, next to this Python), importing the tree under test."""
    script = shutil.which("xstilts", path=str(Path(sys.executable).parent)) or pytest.fail(
        "no xstilts script"
    )
    environment = {k: v for k, v in os.environ.items() if k != "XSTILTS_DEBUG"}
    environment |= {"PYTHONPATH": str(SRC), "XSTILTS_QUIET": "1", **env}
    return subprocess.run(
        [script, *map(str, args)], env=environment, capture_output=True, text=True, timeout=300
    )


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Path:
    """``xstilts run`` on the tiny grid; the configuration's path."""
    path = write_grid(tmp_path_factory.mktemp("cli"), [{"name": "baseline"}], ["xnli"], [1])
    result = cli("run", path)
    assert result.exit_code == 0, result.output
    assert "results:" in result.output and "xnli" in result.output
    return path


def test_run_records_the_results(grid):
    rows = read_results(load_config(grid).run_dir / "results.sqlite")
    assert {(r.arm, r.target, r.language) for r in rows if r.stage == "target"} == {
        ("baseline", "xnli", "de")
    }


def test_validate(grid, tmp_path):
    result = cli("validate", grid)
    assert result.exit_code == 0 and "OK (1 arms × 1 targets × 1 seeds)" in flat(result.output)
    bad = tmp_path / "bad.yaml"
    bad.write_text(grid.read_text().replace("task: xnli", "task: xnlii"))
    assert_one_line_error(console_script("validate", bad), "unknown task 'xnlii'")


def test_plan_and_status(grid):
    result = cli("plan", grid, "--no-estimate")
    assert result.exit_code == 0, result.output
    assert "model tiny; 1 arms × 1 targets × 1 seeds" in flat(result.output)
    result = cli("status", grid)
    assert result.exit_code == 0, result.output
    assert "target: 1/1 done" in flat(result.output)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_results_table_reads_back(grid, tmp_path, fmt):
    out = tmp_path / f"results.{fmt}"
    result = cli("results", grid, "--format", fmt, "--out", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
    db = read_results(load_config(grid).run_dir / "results.sqlite")
    got = sorted(
        zip(table["arm"], table["target"], table["language"], table["metric"], table["value"], strict=True)
    )
    want = sorted((r.arm, r.target, r.language, r.metric, r.value) for r in db)
    assert [g[:4] for g in got] == [w[:4] for w in want]
    assert [g[4] for g in got] == pytest.approx([w[4] for w in want])


def test_results_unknown_format_is_a_one_line_error(grid):
    assert_one_line_error(
        console_script("results", grid, "--format", "xlsx"), "'xlsx' is not one of csv, parquet"
    )


def test_export(grid, tmp_path):
    run_dir = load_config(grid).run_dir
    out = tmp_path / "submission"
    result = cli("export", run_dir, "--out", out)
    assert result.exit_code == 1  # incomplete: eight tasks and most languages missing
    assert "the submission is incomplete" in flat(result.output)
    # XNLI was evaluated on max_eval_examples rows only: never written as a complete test file
    assert "xnli de: evaluated on a subset" in flat(result.output)
    assert not (out / "xnli" / "test-de.tsv").exists()
    assert cli("export", run_dir, "--out", out, "--allow-partial").exit_code == 0
    assert_one_line_error(
        console_script("export", run_dir, "--seed", 9), "unknown seed 9; the run has seeds 1"
    )
    assert_one_line_error(
        console_script("export", run_dir, "--arm", "mnli"), "unknown arm 'mnli'; the run has arms baseline"
    )


def test_report(grid, tmp_path):
    result = cli("report", grid, "--out", tmp_path / "report")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "report" / "report.md").is_file()
    assert_one_line_error(console_script("report", tmp_path / "nowhere"), "neither a run folder nor")


def test_score():
    result = cli("score", GOLDEN / "predictions", GOLDEN / "labels")
    assert result.exit_code == 0 and "XTREME score: 61.90 (PARTIAL" in flat(result.output)


def test_wrong_length_prediction_file(tmp_path):
    pred = tmp_path / "pred" / "xnli"
    pred.mkdir(parents=True)
    (pred / "test-en.tsv").write_text("neutral\n", encoding="utf-8")
    result = console_script("score", tmp_path / "pred", GOLDEN / "labels")
    assert_one_line_error(result, "test-en.tsv", "1 lines")
    # --debug, or XSTILTS_DEBUG=1, shows where it came from
    for debug in (console_script("--debug", "score", tmp_path / "pred", GOLDEN / "labels"),
                  console_script("score", tmp_path / "pred", GOLDEN / "labels", XSTILTS_DEBUG="1")):  # fmt: skip
        assert debug.returncode != 0 and "Traceback" in debug.stderr and "DataError" in debug.stderr


def test_tasks_and_models():
    result = cli("tasks", "--group", "legal")
    assert result.exit_code == 0 and "casehold" in result.output and "xnli" not in result.output
    assert_one_line_error(
        console_script("tasks", "--group", "typo"),
        "unknown task group 'typo'",
        "biomedical, general, legal, xtreme",
    )
    result = cli("models")
    assert result.exit_code == 0 and "e5-small" in result.output and "tiny" in result.output


def test_cli_runner_gets_the_same_one_line_errors():
    result = cli("tasks", "--group", "typo")
    assert result.exit_code == 2 and "unknown task group 'typo'" in result.output
    assert not isinstance(result.exception, xstilts.errors.XstiltsError)
