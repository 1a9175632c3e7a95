"""Executors run the waves of a stage graph. All share one contract: every stage of a wave may run at once
(its dependencies are in earlier waves), a stage is run by ``run_stage(config, stage_id)`` in whatever process
the executor picks, and a stage is idempotent — locked, resumable, skipped when done — so an executor may
retry, requeue or double-submit without harm.

* ``local``  — in this process (workers = 1), or N spawned worker processes sharing the cores;
* ``ray``    — one Ray task per stage with its CPU/GPU needs, on ``ray start`` cluster or a local instance;
* ``slurm``  — a ``submitit`` job array per wave; pre-empted jobs requeue and resume from their checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TYPE_CHECKING

from xstilts.config import ExecutorConfig, RunConfig
from xstilts.errors import ConfigError, XstiltsError

if TYPE_CHECKING:
    from xstilts.grid.graph import Stage
    from xstilts.pipeline import Pipeline

log = logging.getLogger(__name__)


def run_stage(config_json: str, stage_id: str, threads: int | None = None) -> str:
    """Worker entry point: rebuild the pipeline from the validated configuration and run one stage."""
    import torch

    from xstilts.pipeline import Pipeline

    if threads:
        torch.set_num_threads(threads)
    cfg = RunConfig.model_validate(json.loads(config_json))
    Pipeline(cfg, echo=lambda line: print(line, flush=True)).run_stage(stage_id)
    return stage_id


class Executor:
    def __init__(self, settings: ExecutorConfig):
        self.settings = settings

    def run(self, pipe: Pipeline, waves: list[list[Stage]]) -> None:
        config_json = pipe.portable_config_json()
        for wave in waves:
            self.run_wave(pipe, config_json, wave)

    def run_wave(self, pipe: Pipeline, config_json: str, wave: list[Stage]) -> None:
        raise NotImplementedError


class LocalExecutor(Executor):
    def run_wave(self, pipe, config_json, wave):
        workers = min(self.settings.workers, len(wave))
        if workers <= 1:
            for stage in wave:
                pipe.run_stage(stage)
            return
        # spawn, not fork: torch's thread pools do not survive a fork; cores are split between the workers
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_stage, config_json, s.id, threads) for s in wave]
            _raise_failures([f.exception() for f in futures], wave)


class RayExecutor(Executor):
    def run_wave(self, pipe, config_json, wave):
        ray = _import("ray", "the ray executor")
        if not ray.is_initialized():
            # Ray nices its workers by default (background work); here the workers ARE the work, and niced
            # stages starve next to any other busy process on the node.
            os.environ.setdefault("RAY_worker_niceness", "0")
            ray.init(address=self.settings.ray_address, num_cpus=self.settings.ray_num_cpus,
                     include_dashboard=False, log_to_driver=True)  # fmt: skip
        remote = ray.remote(num_cpus=self.settings.cpus_per_stage, num_gpus=self.settings.gpus_per_stage,
                            max_retries=self.settings.retries)(run_stage)  # fmt: skip
        refs = [remote.remote(config_json, s.id, self.settings.cpus_per_stage) for s in wave]
        _raise_failures([_failure(ray.get, ref) for ref in refs], wave)


class SlurmExecutor(Executor):
    def run_wave(self, pipe, config_json, wave):
        submitit = _import("submitit", "the slurm executor")
        s = self.settings
        executor = submitit.AutoExecutor(folder=str(pipe.run_dir / "slurm" / "%j"), cluster=s.slurm_cluster)
        params = {"timeout_min": s.slurm_timeout_min, "cpus_per_task": s.cpus_per_stage,
                  "gpus_per_node": s.gpus_per_stage, "slurm_array_parallelism": s.slurm_array_parallelism}  # fmt: skip
        if s.slurm_partition:
            params["slurm_partition"] = s.slurm_partition
        if s.slurm_cluster != "slurm":  # local / debug executors know only the generic parameters
            params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
        executor.update_parameters(**params)
        jobs = executor.map_array(StageJob(), [config_json] * len(wave), [s.id for s in wave])
        _raise_failures([_failure(lambda job: job.result(), job) for job in jobs], wave)


class StageJob:
    """A submitit callable that requeues itself on pre-emption/timeout: the stage resumes from its checkpoint."""

    def __call__(self, config_json: str, stage_id: str) -> str:
        return run_stage(config_json, stage_id, int(os.environ.get("SLURM_CPUS_PER_TASK", "0")) or None)

    def checkpoint(self, config_json: str, stage_id: str):
        import submitit

        return submitit.helpers.DelayedSubmission(StageJob(), config_json, stage_id)


def _failure(wait, handle) -> Exception | None:
    """Wait for one submitted stage; its exception, or None. Every stage is awaited before any is reported."""
    try:
        wait(handle)
    except Exception as exc:  # noqa: BLE001 - collect all, report together
        return exc
    return None


def _raise_failures(errors: list, wave: list[Stage]) -> None:
    failed = [(s.id, e) for s, e in zip(wave, errors, strict=True) if e is not None]
    if failed:
        detail = "; ".join(f"{sid}: {type(e).__name__}: {e}" for sid, e in failed[:3])
        raise XstiltsError(f"{len(failed)} of {len(wave)} stages failed ({detail}); finished stages are kept")


def _import(module: str, what: str):
    try:
        return __import__(module)
    except ImportError as exc:
        raise ConfigError(f"{what} needs the '{module}' package: pip install 'xstilts[cluster]'") from exc


EXECUTORS: dict[str, Callable[[ExecutorConfig], Executor]] = {
    "local": LocalExecutor,
    "ray": RayExecutor,
    "slurm": SlurmExecutor,
}


def make_executor(settings: ExecutorConfig) -> Executor:
    return EXECUTORS[settings.kind](settings)
