"""A training run interrupted after a checkpoint resumes to exactly the weights of an uninterrupted run."""

import pytest
import torch
from accelerate import Accelerator

from xstilts import faults
from xstilts.formats import get_format
from xstilts.models.loading import ModelSpec, load_encoder
from xstilts.models.task_model import MultiTaskModel
from xstilts.training.checkpoint import FILE
from xstilts.training.loop import LoopSettings, TaskStream, train

from .test_loop import SPEC, toy_features


class Interrupted(Exception):
    pass


def build(seed=3):
    torch.manual_seed(seed)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True), seed))
    model.add_head("toy", get_format("classification").build_head(32, SPEC, 0.1, "mean"))
    model.add_head("toy2", get_format("classification").build_head(32, SPEC, 0.1, "cls"))
    streams = {
        t: TaskStream(t, get_format("classification"), toy_features(40 + 8 * i, seed=i), 1, 8, seed)
        for i, t in enumerate(("toy", "toy2"))
    }
    return model, streams


def run(tmp_path, steps=9, checkpoint=True):
    model, streams = build()
    settings = LoopSettings(learning_rate=3e-3, batch_size=8, per_device_batch_size=8, max_steps=steps,
                            seed=3, eval_every=4, patience=10)  # fmt: skip
    scores = iter(range(100))  # validation improves at every call: the best state is the last validated one
    report = train(
        model, streams, settings, Accelerator(cpu=True), validate=lambda m: float(next(scores)),
        checkpoint_dir=tmp_path / "ckpt" if checkpoint else None, checkpoint_every=2,
    )  # fmt: skip
    return model, report


def test_resume_after_interruption_matches_uninterrupted_run(tmp_path, monkeypatch):
    reference, ref_report = run(tmp_path / "a", checkpoint=False)

    calls = {"n": 0}

    def die_at_step_5(name):
        if name == "train_step":
            calls["n"] += 1
            if calls["n"] == 5:
                raise Interrupted

    monkeypatch.setattr(faults, "point", die_at_step_5)
    with pytest.raises(Interrupted):
        run(tmp_path / "b")
    assert (tmp_path / "b" / "ckpt" / FILE).exists()  # the step-4 checkpoint survived the "crash"
    monkeypatch.undo()

    # Same seed, same data: a resume that silently restarted from step 0 would reach the same weights, so
    # count the steps that actually ran after the restart (4 were checkpointed before the crash).
    ran = {"n": 0}

    def count_steps(name):
        ran["n"] += name == "train_step"

    monkeypatch.setattr(faults, "point", count_steps)
    resumed, report = run(tmp_path / "b")
    assert ran["n"] == 9 - 4
    assert report.steps == ref_report.steps == 9
    assert report.examples_seen == ref_report.examples_seen
    for (name, a), (_, b) in zip(reference.named_parameters(), resumed.named_parameters(), strict=True):
        assert torch.equal(a, b), name

    # a finished run returns at once from its final checkpoint, with the same weights
    ran["n"] = 0
    again, report2 = run(tmp_path / "b")
    assert report2.steps == 9 and ran["n"] == 0
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), resumed.parameters(), strict=True))
