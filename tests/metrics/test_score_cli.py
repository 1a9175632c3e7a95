"""`score_command`, registered the way the main CLI registers it (`xstilts score`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from xstilts.errors import DataError
from xstilts.metrics import score_folder
from xstilts.metrics.cli import score_command

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a callback keeps "score" a named subcommand, as in the main CLI
        pass

    app.command("score")(score_command)
    return app


def test_score_prints_table_partial_score_and_writes_json(app, tmp_path):
    out = tmp_path / "out" / "scores.json"
    result = CliRunner().invoke(
        app,
        ["score", str(GOLDEN / "predictions"), str(GOLDEN / "labels"), "--json", str(out)],
        terminal_width=200,
    )
    assert result.exit_code == 0, result.output
    assert "XTREME score: 61.90 (PARTIAL" in result.output  # golden score, see test_submission_scoring.py
    assert "tok_acc" in result.output and "66.67" in result.output
    assert "az*" in result.output and "avg 2/33" in result.output
    assert "warning:" in result.output  # az is reported as a warning too
    text = out.read_text(encoding="utf-8")
    written = json.loads(text)
    assert written == json.loads(json.dumps(score_folder(GOLDEN / "predictions", GOLDEN / "labels")))
    assert text == json.dumps(written, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_score_can_be_called_as_a_function(tmp_path, capsys):
    score_command(GOLDEN / "predictions", GOLDEN / "labels")
    assert "category means" in capsys.readouterr().out


def test_score_propagates_data_errors(tmp_path):
    pred = tmp_path / "pred" / "xnli"
    pred.mkdir(parents=True)
    (pred / "test-en.tsv").write_text("neutral\n", encoding="utf-8")
    with pytest.raises(DataError, match="1 lines"):
        score_command(tmp_path / "pred", GOLDEN / "labels")
