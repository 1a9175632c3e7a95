"""Every benchmark under bench/ runs end to end at tiny sizes (``--smoke``), so none can rot unnoticed: a
renamed function or changed signature in xstilts breaks this test, not the next person who benchmarks."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import xstilts

BENCH = Path(__file__).resolve().parents[2] / "bench"
SRC = Path(xstilts.__file__).resolve().parents[1]


def run(script: str, *args: str, **env: str) -> subprocess.CompletedProcess:
    environment = os.environ | {"PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "XSTILTS_QUIET": "1", **env}
    return subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )


def benchmarks_of_run_all() -> list[str]:
    """``run_all.BENCHMARKS``, read without importing bench/ (it is not a package)."""
    tree = ast.parse((BENCH / "run_all.py").read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "BENCHMARKS")
    return ast.literal_eval(node.value)


def test_every_benchmark_runs_in_smoke_mode(tmp_path):
    """run_all.py --smoke: each benchmark in its own process; every one must finish and report figures."""
    proc = run("run_all.py", "--smoke", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "latest.json").read_text())
    assert sorted(summary["benchmarks"]) == sorted(benchmarks_of_run_all())
    for name, result in summary["benchmarks"].items():
        assert "error" not in result, (name, result.get("error"))
        assert result["figures"] and result["settings"]["smoke"] is True, name
    assert (tmp_path / "latest.md").is_file()


def test_gpu_throughput_smoke_runs_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    proc = run("gpu_throughput.py", "--smoke", "--json", str(out), CUDA_VISIBLE_DEVICES="")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["device"] == "CPU (smoke)"
    assert {"xstilts", "trainer_pad_max", "trainer_dynamic_grouped"} <= set(result["training"])
    assert all("examples_per_s" in r for r in result["training"].values()), result["training"]
    assert result["inference"]["examples"] > 0


def test_all_bench_scripts_are_covered():
    """A new script under bench/ must join run_all's list (or get its own smoke test here)."""
    scripts = {p.stem for p in BENCH.glob("*.py")} - {"common", "run_all", "gpu_throughput"}
    assert scripts == set(benchmarks_of_run_all())
