"""Peak resident memory (max RSS) of real ``xstilts run`` processes, read from the kernel's accounting of the
finished child (``os.wait4``: that child's own maximum, not a sum over earlier children).

* reference points: a Python process that only imports torch; one that loads the tokenizer; one that loads
  the tokenizer and the encoder (the floor every stage pays); one that loads the encoder and takes 3 AdamW
  steps on a 16 × 128 batch (adds activations, gradients and optimizer state);
* one target-training stage: ``xstilts run`` on a generated configuration (baseline arm, XNLI trained on the
  MNLI sample with the embedded e5-small, first 6 layers, frozen word embeddings, batch 16, length 128,
  ``--steps`` steps, validation, evaluation of 3 languages), and as a what-if the same stage with glibc's
  ``MALLOC_MMAP_THRESHOLD_`` pinned (variable batch shapes otherwise grow the heap);
* ``--demo`` (opt-in, about 8 minutes): ``xstilts run configs/demo.yaml``.

Each run uses a fresh temporary cache and output folder (nothing is reused from ``runs/`` or the user cache,
except the converted model, which is linked).

    python bench/memory.py [--steps 20] [--demo] [--quick] [--json out.json]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from common import REPO_ROOT, emit, figure, parser, quiet, temp_cache

TOKENIZER_PROBE = """
from xstilts.models.loading import load_tokenizer
load_tokenizer("e5-small")
"""
LOAD_PROBE = """
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
load_tokenizer("e5-small")
load_encoder(ModelSpec("e5-small", 6, freeze_word_embeddings=True))
"""
STEP_PROBE = """
import torch
from xstilts.models.loading import ModelSpec, load_encoder
enc = load_encoder(ModelSpec("e5-small", 6, freeze_word_embeddings=True))
opt = torch.optim.AdamW([p for p in enc.parameters() if p.requires_grad], foreach=True)
ids = torch.randint(5, 1000, (16, 128))
for _ in range(3):
    enc(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state.pow(2).mean().backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
"""


def peak_rss(cmd: list[str], cwd: Path, env: dict, log: Path) -> dict:
    """Run ``cmd`` to completion; its max RSS (MiB), wall seconds and exit status."""
    t0 = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(cmd)} exited with {proc.returncode}:\n{tail}")
    return {"max_rss_mib": usage.ru_maxrss / 1024, "seconds": seconds}  # Linux: ru_maxrss is in KiB


def stage_config(out: Path, steps: int, smoke: bool = False) -> dict:
    training = {
        "learning_rate": 1e-4, "head_learning_rate": 1e-3, "batch_size": 16, "per_device_batch_size": 16,
        "max_steps": steps, "max_seq_length": 128, "eval_examples": 100, "eval_every": max(1, steps // 2),
    }  # fmt: skip
    if smoke:  # tiny model, a few rows: checks the stage runs under the probe, measures nothing
        training |= {"batch_size": 2, "per_device_batch_size": 2, "max_seq_length": 32, "eval_examples": 4}
    return {
        "name": "memory-bench",
        "output_dir": str(out),
        "model": {
            "name": "tiny" if smoke else "e5-small",
            "num_layers": 1 if smoke else 6,
            "freeze_word_embeddings": True,
            "head_pooling": "mean",
        },
        "seeds": [1],
        "arms": [{"name": "baseline"}],
        "target_training": training,
        "targets": [
            {
                "task": "xnli",
                "train": {"task": "mnli", **({"max_examples": 8} if smoke else {})},
                "languages": ["de"] if smoke else ["en", "de", "zh"],
                "max_eval_examples": 4 if smoke else 100,
            }
        ],
    }


def main() -> None:
    p = parser(__doc__)
    p.add_argument("--steps", type=int, default=20, help="optimizer steps of the target-training stage")
    p.add_argument("--demo", action="store_true", help="also run configs/demo.yaml (about 8 minutes)")
    args = p.parse_args()
    if args.quick or args.smoke:
        args.steps = 1 if args.smoke else 4
    quiet()
    xstilts = str(Path(sys.executable).with_name("xstilts"))
    runs = {}
    with tempfile.TemporaryDirectory(prefix="xstilts-memory-bench-") as tmp:
        tmp = Path(tmp)
        env = os.environ | {"XSTILTS_CACHE_DIR": str(temp_cache(tmp)), "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}  # fmt: skip
        if not args.smoke:  # the reference probes only measure: each is one more process to start
            runs["python + import torch"] = peak_rss(
                [sys.executable, "-c", "import torch"], tmp, env, tmp / "torch.log"
            )
            runs["load tokenizer"] = peak_rss([sys.executable, "-c", TOKENIZER_PROBE], tmp, env, tmp / "tok.log")
            runs["load tokenizer + encoder"] = peak_rss(
                [sys.executable, "-c", LOAD_PROBE], tmp, env, tmp / "load.log"
            )
            runs["load encoder + 3 training steps (16 × 128)"] = peak_rss([sys.executable, "-c", STEP_PROBE], tmp, env, tmp / "step.log")  # fmt: skip
        cfg = tmp / "stage.yaml"
        cfg.write_text(yaml.safe_dump(stage_config(tmp / "runs", args.steps, args.smoke)))
        stage = [xstilts, "run", str(cfg)]
        runs["xstilts run: one target-training stage"] = peak_rss(stage, tmp, env, tmp / "stage.log")
        # What-if: the same stage again (fresh output folder, warm feature cache) with glibc's mmap threshold
        # pinned, so freed large tensor buffers go back to the OS instead of growing the heap.
        if not args.smoke:
            cfg.write_text(yaml.safe_dump(stage_config(tmp / "runs-pinned", args.steps)))
            pinned = env | {"MALLOC_MMAP_THRESHOLD_": "131072"}
            runs["same stage, MALLOC_MMAP_THRESHOLD_=131072 (what-if)"] = peak_rss(stage, tmp, pinned, tmp / "pinned.log")  # fmt: skip
        if args.demo:
            demo = REPO_ROOT / "configs" / "demo.yaml"
            # cwd = the temporary folder: the demo's relative output_dir (runs/) lands there, never in the repo
            runs["xstilts run configs/demo.yaml"] = peak_rss([xstilts, "run", str(demo)], tmp, env, tmp / "demo.log")  # fmt: skip
    figures = []
    for name, r in runs.items():
        figures.append(figure(f"peak RSS, {name}", r["max_rss_mib"], "MiB"))
        figures.append(figure(f"wall time, {name}", r["seconds"], "s"))
    emit("memory", args, figures, [], runs)


if __name__ == "__main__":
    main()
