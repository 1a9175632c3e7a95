"""The same grid through every executor — in-process, local worker processes, Ray (a local instance), Slurm
(submitit's local backend) and two concurrent runs of one grid — gives the same results table."""

import os
import subprocess
import sys
from collections import Counter

import pytest
import yaml

from xstilts.config import load_config
from xstilts.pipeline import Pipeline
from xstilts.results.db import read_results

from .conftest import STEPS, write_grid

ARMS = [{"name": "baseline"}, {"name": "mnli", "tasks": ["mnli"], "max_train_examples": 24}]


def table(cfg_path):
    cfg = load_config(cfg_path)
    rows = read_results(cfg.run_dir / "results.sqlite")
    keys = [(r.arm, r.target, r.language, r.metric, r.seed, r.split) for r in rows]
    assert len(keys) == len(set(keys)), "duplicated rows"
    return sorted(
        (r.arm, r.target, r.language, r.metric, r.seed, r.value) for r in rows if r.stage == "target"
    )


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reference")
    path = write_grid(folder, ARMS, ["xnli"], [1])
    Pipeline(load_config(path), echo=lambda s: None).run()
    return table(path)


@pytest.mark.parametrize(
    "executor",
    [
        {"kind": "local", "workers": 2},
        {"kind": "ray", "ray_num_cpus": 2},
        {"kind": "slurm", "slurm_cluster": "local", "slurm_timeout_min": 10},
    ],
    ids=["local-workers", "ray", "slurm-submitit-local"],
)
def test_executor_gives_the_reference_results(tmp_path, reference, executor):
    if executor["kind"] == "ray":
        pytest.importorskip("ray")
    path = write_grid(tmp_path, ARMS, ["xnli"], [1], executor=executor)
    lines = []
    Pipeline(load_config(path), echo=lines.append).run()
    assert table(path) == reference
    if executor["kind"] == "ray":
        import ray

        ray.shutdown()


def test_two_concurrent_runs_of_one_grid(tmp_path, reference):
    path = write_grid(tmp_path, ARMS, ["xnli"], [1])
    env = {**os.environ, "XSTILTS_QUIET": "1"}
    cmd = [sys.executable, "-m", "xstilts.cli", "run", str(path)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err[-2000:]
    assert table(path) == reference
    # every stage was built by exactly one of the two runs: both append to run.log, where a build says what it
    # did and a stage the other run finished says "done earlier"
    log = (load_config(path).run_dir / "run.log").read_text(encoding="utf-8").splitlines()
    built = Counter(_stage_of(line) for line in log if _stage_of(line) and "done earlier" not in line)
    stages = {"[prepare] mnli", "[prepare] xnli", "[intermediate] mnli seed 1",
              "[target] baseline → xnli seed 1", "[target] mnli → xnli seed 1"}  # fmt: skip
    assert built == dict.fromkeys(stages, 1), log


def _stage_of(line: str) -> str | None:
    """``2026-01-01 12:00:00 [target] mnli → xnli seed 1: trained on ...`` -> ``[target] mnli → xnli seed 1``."""
    _, bracket, rest = line.partition(" [")
    if not bracket or not rest.startswith(("prepare]", "intermediate]", "target]")):
        return None
    return "[" + rest.split(":", 1)[0]


def test_training_stages_run_as_ddp_processes(tmp_path, reference):
    """processes_per_stage: 2 — each training stage runs under `accelerate launch` (2 CPU processes, gloo);
    retrieval and prepare stages stay single-process; only the first process writes, so no row doubles."""
    steps = {**STEPS, "per_device_batch_size": 2}  # 2 processes x 2 = the effective batch of 4
    path = write_grid(tmp_path, ARMS, ["xnli"], [1], intermediate=steps, target_training=steps,
                      executor={"processes_per_stage": 2})  # fmt: skip
    lines = []
    pipe = Pipeline(load_config(path), echo=lines.append)
    pipe.run()
    launched = sorted(line.split(":")[0] for line in lines if line.startswith("[launch]"))
    assert len(launched) == 3, lines  # the mnli intermediate and two xnli targets
    got = table(path)
    assert [r[:5] for r in got] == [r[:5] for r in reference]  # same rows (values differ: dropout draws)
    assert all(r[5] is not None for r in got)
    for folder in (pipe.run_dir / "targets").glob("*/xnli/s1-*"):
        report = yaml.safe_load((folder / "summary.json").read_text())["report"]
        assert report["examples_seen"] == STEPS["max_steps"] * STEPS["batch_size"]  # both processes' rows
    again = []
    Pipeline(load_config(path), echo=again.append).run()
    assert not [line for line in again if line.startswith("[launch]")]
