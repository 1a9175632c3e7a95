"""SIGKILL a grid run at every kind of point — tokenisation, training, evaluation, result writing, stage commit —
re-run it each time, and the final results table equals that of an uninterrupted run: no row lost, none
duplicated, every value identical (CPU training resumes bit-exactly from its checkpoint)."""

import os
import signal
import subprocess
import sys

from xstilts.faults import ENV
from xstilts.results.db import read_results

from .conftest import write_grid

ARMS = [{"name": "baseline"}, {"name": "mnli", "tasks": ["mnli"], "max_train_examples": 24}]
KILLS = ["tokenize:2", "commit:1", "train_step:2", "train_step:5", "evaluate:1", "record:2"]


def run(config, cache, kill=None):
    env = {**os.environ, "XSTILTS_QUIET": "1", "XSTILTS_CACHE_DIR": str(cache)}
    env.pop(ENV, None)
    if kill:
        env[ENV] = kill
    return subprocess.run([sys.executable, "-m", "xstilts.cli", "run", str(config)], env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def table(folder):
    rows = read_results(folder / "runs" / "grid" / "results.sqlite")
    keys = [(r.arm, r.target, r.language, r.metric, r.seed, r.split) for r in rows]
    assert len(keys) == len(set(keys))
    return sorted((r.arm, r.target, r.language, r.metric, r.seed, r.split, r.value) for r in rows)


def test_killed_and_resumed_grid_equals_uninterrupted_run(tmp_path, fresh_cache):
    clean = write_grid(tmp_path / "clean", ARMS, ["xnli", "udpos"], [1])
    assert run(clean, fresh_cache).returncode == 0
    expected = table(tmp_path / "clean")
    assert expected

    crashed = write_grid(tmp_path / "crashed", ARMS, ["xnli", "udpos"], [1])
    cache = tmp_path / "cache2"  # tokenisation must really happen again
    cache.mkdir()
    if (fresh_cache / "models").exists():
        os.symlink((fresh_cache / "models").resolve(), cache / "models")
    for kill in KILLS:
        # each run resumes what the previous one left and dies at its own point
        result = run(crashed, cache, kill)
        assert result.returncode == -signal.SIGKILL, (kill, result.returncode, result.stderr[-2000:])
    final = run(crashed, cache)
    assert final.returncode == 0, final.stderr[-2000:]
    assert table(tmp_path / "crashed") == expected
