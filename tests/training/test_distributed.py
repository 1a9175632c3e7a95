"""DDP inside a stage: two CPU processes (gloo) under ``accelerate launch`` train to the same weights as one
process with accumulation over the same effective batch, and split-and-gathered predictions equal the
one-process ones."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator

from xstilts.grid.launch import _free_port, accelerate_launch

WORKER = Path(__file__).with_name("ddp_worker.py")


def load_worker():
    sys.path.insert(0, str(WORKER.parent))
    try:
        import ddp_worker
    finally:
        sys.path.pop(0)
    return ddp_worker


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ddp") / "result.pt"
    cmd = accelerate_launch(2, "no", gpus=0, cores=2, port=_free_port()) + [str(WORKER), str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return torch.load(out, weights_only=False)


@pytest.fixture(scope="module")
def one_process() -> dict:
    """The reference: 1 process, 4 micro-batches of 4 per step (2 processes: 2 each)."""
    return load_worker().run(Accelerator(cpu=True))


def test_two_processes_train_like_one_with_accumulation(two_processes, one_process):
    one = one_process
    assert two_processes["world"] == 2 and one["world"] == 1
    assert two_processes["params"].keys() == one["params"].keys()
    for name, value in one["params"].items():
        torch.testing.assert_close(two_processes["params"][name], value, rtol=1e-4, atol=1e-5, msg=name)
    # every process's rows are counted once: 6 steps x 16 examples
    assert two_processes["report"]["examples_seen"] == one["report"]["examples_seen"] == 6 * 16
    assert two_processes["report"]["tokens_seen"] == one["report"]["tokens_seen"]
    assert [h["score"] for h in two_processes["report"]["history"]] == [
        h["score"] for h in one["report"]["history"]
    ]


def test_gathered_predictions_are_complete_and_in_order(two_processes, one_process):
    one = one_process
    assert two_processes["logits"].shape == one["logits"].shape == (50, 2)
    torch.testing.assert_close(two_processes["logits"], one["logits"], rtol=1e-4, atol=1e-5)
