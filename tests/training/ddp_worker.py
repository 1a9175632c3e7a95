"""Run by ``accelerate launch`` from test_distributed.py (and in-process as the 1-process reference): trains
the toy task a few steps with dropout off, validating on split-and-gathered predictions, and saves what the
first process ends with."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import torch
from accelerate import Accelerator

sys.path.insert(0, str(Path(__file__).parent))
from test_loop import SPEC, toy_features  # noqa: E402

from xstilts.evaluation.predict import predict_logits  # noqa: E402
from xstilts.formats import get_format  # noqa: E402
from xstilts.models.loading import ModelSpec, load_encoder  # noqa: E402
from xstilts.models.task_model import MultiTaskModel  # noqa: E402
from xstilts.training.checkpoint import trainable_state  # noqa: E402
from xstilts.training.loop import LoopSettings, TaskStream, train  # noqa: E402

HANDLER = get_format("classification")
STEPS, BATCH, PER_DEVICE = 6, 16, 4


def run(accelerator: Accelerator) -> dict:
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True), 0))
    model.add_head("toy", HANDLER.build_head(32, SPEC, 0.0, "mean"))
    for module in model.modules():  # dropout draws differ between 1 and 2 processes; the arithmetic must not
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    stream = TaskStream("toy", HANDLER, toy_features(), pad_id=1, micro_batch=PER_DEVICE, seed=0)
    settings = LoopSettings(learning_rate=5e-3, batch_size=BATCH, per_device_batch_size=PER_DEVICE,
                            max_steps=STEPS, eval_every=3, seed=0)  # fmt: skip
    held_out = toy_features(50, seed=5)
    rank, world = accelerator.process_index, accelerator.num_processes

    def predict(m):
        return predict_logits(
            m, "toy", HANDLER, held_out, 1, accelerator.device, max_tokens=64, rank=rank, world=world
        )

    def validate(m):
        logits = torch.stack(predict(m))
        return float((logits.argmax(1) == torch.tensor(held_out["labels"])).float().mean())

    report = train(model, {"toy": stream}, settings, accelerator, validate=validate)
    unwrapped = accelerator.unwrap_model(model)
    return {"params": trainable_state(unwrapped), "logits": torch.stack(predict(unwrapped)),
            "report": asdict(report), "world": world}  # fmt: skip


if __name__ == "__main__":
    acc = Accelerator(cpu=not torch.cuda.is_available())
    result = run(acc)
    if acc.is_main_process:
        torch.save(result, sys.argv[1])
