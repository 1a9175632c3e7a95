"""One training stage, several processes: ``accelerate launch`` (DDP) runs this module once per process.

The executors stay unaware of it: whichever process an executor gives a stage (in-process, a local worker, a
Ray task, a Slurm job) calls ``Pipeline.run_stage``, which hands a training stage with
``executor.processes_per_stage > 1`` to :func:`launch_stage`. Every launched process rebuilds the pipeline
and runs the same stage: the streams give each process its own rows of every batch, evaluation is split and
gathered (``evaluation/predict.py``), and only the first process locks, writes and commits the stage folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from typing import TYPE_CHECKING

from xstilts.config import stable_hash
from xstilts.errors import XstiltsError

if TYPE_CHECKING:
    from xstilts.pipeline import Pipeline


def accelerate_launch(processes: int, mixed_precision: str, gpus: int, cores: int, port: int) -> list[str]:
    """``accelerate launch`` on one machine, up to the script it runs: one process per GPU, or on a machine
    without GPUs a CPU group sharing the cores."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", str(processes),
           "--num_machines", "1", "--mixed_precision", mixed_precision, "--dynamo_backend", "no",
           "--main_process_port", str(port)]  # fmt: skip
    if not gpus:  # CPU processes share the cores; without this each would start one thread per core
        cmd += ["--num_cpu_threads_per_process", str(max(1, cores // processes))]
    return cmd


def launch_stage(pipe: Pipeline, stage_id: str, processes: int) -> None:
    """Run one stage of ``pipe``'s graph in ``processes`` DDP processes; raise if any of them fails."""
    import torch

    gpus = torch.cuda.device_count()
    if gpus and processes > gpus:
        raise XstiltsError(
            f"executor.processes_per_stage: {processes} processes for stage {stage_id}, but this machine has "
            f"{gpus} GPUs (one process per GPU)"
        )
    config_json = pipe.portable_config_json()
    folder = pipe.run_dir / "launch"
    folder.mkdir(parents=True, exist_ok=True)
    config_file = folder / f"config-{stable_hash(config_json)}.json"
    if not config_file.exists():
        tmp = config_file.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(config_json, encoding="utf-8")
        os.replace(tmp, config_file)
    cmd = accelerate_launch(
        processes, pipe.cfg.mixed_precision, gpus, len(os.sched_getaffinity(0)), _free_port()
    )
    cmd += ["-m", "xstilts.grid.launch", str(config_file), stage_id]
    pipe.echo(f"[launch] {stage_id}: {processes} processes (accelerate launch, DDP)")
    done = subprocess.run(cmd, check=False)
    if done.returncode:
        raise XstiltsError(
            f"stage {stage_id}: accelerate launch with {processes} processes exited with status "
            f"{done.returncode}; finished stages are kept and a re-run resumes this one from its checkpoint"
        )


def _free_port() -> int:
    """A free TCP port for the process group's rendezvous: stages launched at once must not share one."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str]) -> None:
    from xstilts.grid.executors import run_stage

    config_file, stage_id = argv
    with open(config_file, encoding="utf-8") as fh:
        run_stage(fh.read(), stage_id)


if __name__ == "__main__":
    main(sys.argv[1:])
