import json
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.report.latex import booktabs, escape

FIGURES = ("transfer_matrix", "language_delta", "task_forest")


def test_every_output_is_written(written_report):
    out = written_report["markdown"].parent
    for name in FIGURES:
        for ext in ("png", "pdf"):
            path = out / "figures" / f"{name}.{ext}"
            assert path.is_file() and path.stat().st_size > 1000, path
    assert (out / "figures" / "transfer_matrix.png").read_bytes().startswith(b"\x89PNG")
    assert (out / "figures" / "transfer_matrix.pdf").read_bytes().startswith(b"%PDF")
    for name in (
        "primary",
        "task_means",
        "exploratory_targets",
        "xtreme",
        "transfer",
        "selection",
        "languages",
    ):
        assert (out / "tables" / f"{name}.csv").is_file()
        tex = (out / "tables" / f"{name}.tex").read_text()
        assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    transfer = pd.read_csv(out / "tables" / "transfer.csv", index_col="arm")
    assert set(transfer.columns) == {"xnli", "pawsx", "xquad", "mean"}
    assert transfer.loc["covid_qa", "mean"] > transfer.loc["squad", "mean"]
    runs = json.loads((out / "provenance.json").read_text())
    assert runs[0]["run_id"] == "synthetic" and runs[0]["config"]["name"] == "synthetic"
    assert runs[0]["provenance"]["xstilts"] == "test"


def test_markdown_says_the_answer_in_words(written_report):
    md = written_report["markdown"].read_text()
    summary = md.split("## Domain vs general")[0]
    assert "Biomedical − general, 2 vs 2 tasks" in summary and "+3.0" in summary
    assert "the smallest possible p is 0.33: the test cannot reject at 0.05" in summary
    assert "Mixed-model cross-check: +3.0" in summary and "DISAGREES with the permutation test" in summary
    assert "Legal − general, 1 vs 2 tasks: cannot be estimated at the task level" in summary
    assert "no directional claim" in summary
    assert "cells" not in summary  # no cell-level p-value in the summary
    assert "xquad: its only English evaluation is test data" in md
    for name in FIGURES:
        assert f"(figures/{name}.png)" in md and f"(figures/{name}.pdf)" in md
    assert "(tables/xtreme.csv)" in md and "## Provenance" in md


def test_html_is_self_contained(written_report):
    html = written_report["html"].read_text()
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    assert refs, "expected embedded images"
    external = [r for r in refs if not (r.startswith("data:") or r.startswith("#"))]
    assert external == []
    assert html.count('src="data:image/png;base64,') == len(FIGURES)
    assert "<script" not in html.lower() and "@import" not in html and "url(" not in html


def test_cli_report_takes_a_config_path(synthetic_run, tmp_path, monkeypatch):
    import xstilts.report.write as write

    calls = []

    def fake_write_report(run_dir, out, markdown=None):  # the real writer runs in the fixture; here: paths
        calls.append((run_dir, out))
        out = out or run_dir / "report"
        return {"markdown": out / "report.md", "html": out / "report.html"}

    monkeypatch.setattr(write, "write_report", fake_write_report)
    config = synthetic_run / "config.yaml"  # its output_dir is absolute: it resolves to this run folder
    result = CliRunner().invoke(app, ["report", str(config), "--out", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert calls == [(synthetic_run, tmp_path / "rep")]
    assert str(tmp_path / "rep" / "report.md") in result.output
    result = CliRunner().invoke(app, ["report", str(synthetic_run)])
    assert result.exit_code == 0, result.output
    assert calls[-1] == (synthetic_run, None)


def test_markdown_elsewhere_links_into_the_report_folder(synthetic_run, tmp_path):
    from xstilts.report.write import write_report

    paths = write_report(synthetic_run, tmp_path / "docs" / "study", n_boot=50, n_perm=50,
                         markdown=tmp_path / "docs" / "study.md")  # fmt: skip
    md = paths["markdown"].read_text()
    assert paths["markdown"] == tmp_path / "docs" / "study.md"
    links = re.findall(r"\]\(([^)]+)\)", md)
    assert "study/figures/transfer_matrix.png" in links and "study/tables/xtreme.csv" in links
    assert all((tmp_path / "docs" / link).is_file() for link in links if not link.startswith("#"))
    assert not (tmp_path / "docs" / "study" / "report.md").exists()


def test_cli_report_on_a_missing_folder_fails_cleanly(tmp_path):
    result = CliRunner().invoke(app, ["report", str(tmp_path / "nope")])
    assert result.exit_code == 2


def test_latex_escapes_and_aligns():
    df = pd.DataFrame({"Δ XTREME": ["+1.0 ± 0.2", "–"], "arm": ["covid_qa", "a&b"]}, index=["x_1", "y"])
    tex = booktabs(df, caption="50% of Δ", label="tab:x")
    assert r"covid\_qa" in tex and r"a\&b" in tex and r"x\_1" in tex
    assert r"\caption{50\% of $\Delta$}" in tex
    assert r"\begin{tabular}{lrl}" in tex
    assert escape("±") == r"$\pm$"


def test_report_writes_its_cell_table_and_a_table_report_recomputes_the_answer(
    written_report, synthetic_run, tmp_path
):
    from xstilts.report.write import write_table_report

    out = written_report["markdown"].parent
    cells = pd.read_csv(out / "tables" / "results.csv")
    assert {"arm", "group", "target", "language", "split", "seed", "score", "baseline", "delta"} <= set(cells)
    assert cells["seed"].nunique() == 3 and "baseline" not in set(cells["arm"])
    primary = pd.read_csv(out / "tables" / "primary.csv")
    again = write_table_report(out / "tables" / "results.csv", synthetic_run / "config.yaml", tmp_path / "a",
                               n_boot=200, n_perm=200)  # fmt: skip
    recomputed = pd.read_csv(again["table:primary.csv"])
    assert recomputed["estimate"].tolist() == pytest.approx(primary["estimate"].tolist(), nan_ok=True)
    assert recomputed["ci_low"].tolist() == pytest.approx(primary["ci_low"].tolist(), nan_ok=True)
    assert "Not recomputable" not in again["markdown"].read_text()
    # from the transfer matrix alone: same point estimates, and the report says what it could not compute
    matrix = write_table_report(
        out / "tables" / "transfer.csv", synthetic_run / "config.yaml", tmp_path / "b"
    )
    assert pd.read_csv(matrix["table:primary.csv"])["estimate"].tolist() == pytest.approx(
        primary["estimate"].tolist(), nan_ok=True
    )
    text = matrix["markdown"].read_text()
    assert "Not recomputable from the input (it has no cell table): the nested bootstrap" in text


def test_table_report_names_the_bad_line(synthetic_run, tmp_path):
    from xstilts.errors import XstiltsError
    from xstilts.report.write import write_table_report

    bad = tmp_path / "transfer.csv"
    bad.write_text("arm,xnli,mean\nmnli,0.5,0.5\ncovid_qa,oops,1\n")
    with pytest.raises(XstiltsError, match=r"transfer.csv: line 3: field 'xnli' is not a number"):
        write_table_report(bad, synthetic_run / "config.yaml", tmp_path / "r")


def test_one_seed_one_task_per_group_makes_no_directional_claim(tmp_path):
    """The demo's shape: 1 seed, one task per group (PubMedQA vs MNLI)."""
    from xstilts.analysis.task_answer import answer
    from xstilts.report.task_section import summary_lines

    matrix = pd.DataFrame({"xnli": [1.5, 0.1], "pawsx": [1.3, 0.2]}, index=["pubmedqa", "mnli"])
    ans = answer(matrix, {"pubmedqa": "biomedical", "mnli": "general"},
                 {"biomedical": ["pubmedqa"], "general": ["mnli"]}, [], n_seeds=1,
                 contrasts=[("biomedical", "general")])  # fmt: skip
    line = summary_lines(ans)[0]
    assert "cannot be estimated at the task level" in line and "no directional claim" in line
    assert "help more" not in line and "CI" not in line and "permutation" not in line


def test_plan_power_lines_from_a_pilot_cell_table(written_report, synthetic_run):
    from xstilts.cli import _power_lines
    from xstilts.config import load_config

    cfg = load_config(synthetic_run / "config.yaml")
    table = written_report["markdown"].parent / "tables" / "results.csv"
    lines = _power_lines(cfg, table, synthetic_run / "config.yaml")
    assert lines[0].startswith(f"variance components from {table}")
    assert "biomedical − general: 2 vs 2 tasks; minimum detectable effect" in lines[1] and "points" in lines[1]
    assert "legal − general: 1 vs 2 tasks" in lines[2] and "not estimable" in lines[2]
    with pytest.raises(Exception, match="--pilot-config"):
        _power_lines(cfg, table, None)
    assert _power_lines(cfg, synthetic_run, None)[1:] == lines[1:]  # the run folder gives the same cells


def test_demo_shaped_report_makes_no_directional_claim(tmp_path, run_builder):
    """One seed, one task per group (the demo): the whole report is written and says it cannot answer."""
    from xstilts.report.write import write_report

    run = run_builder(tmp_path, arms={"baseline", "mnli", "contract_nli", "scitail"}, seeds=[1])
    paths = write_report(run, run / "report", n_boot=50, n_perm=50)
    summary = paths["markdown"].read_text().split("## Domain vs general")[0]
    assert summary.count("cannot be estimated at the task level") == 2
    assert "help more" not in summary and "help less" not in summary
    assert "permutation p" not in summary
    assert "one seed: the arms were chosen and scored on the same seed" in summary
    assert (run / "report" / "figures" / "task_forest.png").is_file()


def test_cli_report_on_a_table_needs_its_config(written_report, synthetic_run, tmp_path):
    table = written_report["markdown"].parent / "tables" / "transfer.csv"
    result = CliRunner().invoke(app, ["report", str(table), "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "needs --config" in result.output
    result = CliRunner().invoke(
        app, ["report", str(table), "--config", str(synthetic_run / "config.yaml"), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r" / "tables" / "primary.csv").is_file()
