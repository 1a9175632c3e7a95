"""The training loop on the tiny model: it learns, is deterministic on CPU, and restores the best state."""

import torch
from accelerate import Accelerator

from xstilts.formats import get_format
from xstilts.models.loading import ModelSpec, load_encoder
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks.spec import TaskSpec
from xstilts.training.loop import LoopSettings, TaskStream, train

SPEC = TaskSpec(
    name="toy", group="general", format="classification", labels=("no", "yes"), metric="accuracy",
    train_from="none",
)  # fmt: skip


def toy_features(n=96, seed=0):
    """label = 1 iff token 777 occurs: learnable from the embeddings in a few dozen steps."""
    g = torch.Generator().manual_seed(seed)
    ids, labels = [], []
    for i in range(n):
        length = int(torch.randint(4, 12, (1,), generator=g))
        body = torch.randint(1000, 1100, (length,), generator=g).tolist()
        y = i % 2
        if y:
            body[int(torch.randint(0, length, (1,), generator=g))] = 777
        ids.append([0, *body, 2])
        labels.append(y)
    return {"input_ids": ids, "labels": labels, "example_index": list(range(n))}


def run(seed=0, steps=30, validate=None, lr=5e-3):
    torch.manual_seed(seed)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True), seed))
    model.add_head("toy", get_format("classification").build_head(32, SPEC, 0.0, "mean"))
    stream = TaskStream(
        "toy", get_format("classification"), toy_features(), pad_id=1, micro_batch=8, seed=seed
    )
    settings = LoopSettings(
        learning_rate=lr, batch_size=16, per_device_batch_size=8, max_steps=steps, seed=seed, eval_every=5
    )
    report = train(model, {"toy": stream}, settings, Accelerator(cpu=True), validate=validate)
    return model, report


def accuracy_of(model):
    feats = toy_features(64, seed=5)
    batch = get_format("classification").collate(
        [{k: feats[k][i] for k in feats} for i in range(64)], pad_id=1
    )
    model.eval()
    with torch.no_grad():
        pred = model("toy", batch).argmax(1)
    return float((pred == batch["labels"]).float().mean())


def test_loop_learns_a_separable_task():
    model, report = run(steps=80)
    assert report.steps == 80
    assert report.examples_seen == 80 * 16
    assert accuracy_of(model) > 0.9


def test_loop_is_deterministic_on_cpu():
    a, _ = run(seed=3, steps=12)
    b, _ = run(seed=3, steps=12)
    for (na, pa), (nb, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert na == nb and torch.equal(pa, pb), na


def test_early_stopping_restores_best_state():
    scores = iter([0.5, 0.9, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7])
    snapshots = []

    def validate(model):
        snapshots.append(model.heads["toy"].out.weight.detach().clone())
        return next(scores)

    torch.manual_seed(0)
    model, report = run(steps=40, validate=validate)
    assert report.best_score == 0.9 and report.best_step == 10
    assert torch.equal(model.heads["toy"].out.weight, snapshots[1])


def test_heads_can_take_their_own_learning_rate():
    from xstilts.training.loop import _optimizer

    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True), 0))
    model.add_head("toy", get_format("classification").build_head(32, SPEC, 0.0, "mean"))
    opt = _optimizer(model, LoopSettings(learning_rate=1e-4, head_learning_rate=1e-3, weight_decay=0.01))
    by_id = {id(p): g for g in opt.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    assert by_id[id(named["heads.toy.out.weight"])]["lr"] == 1e-3
    assert by_id[id(named["encoder.encoder.layer.0.attention.self.query.weight"])]["lr"] == 1e-4
    assert by_id[id(named["heads.toy.out.bias"])]["weight_decay"] == 0.0
    assert by_id[id(named["heads.toy.out.weight"])]["weight_decay"] == 0.01
    assert id(named["encoder.embeddings.word_embeddings.weight"]) not in by_id  # frozen: not optimised


def test_trained_models_are_not_kept_alive_by_the_accelerator():
    """One pipeline trains many stages with one accelerator; each stage's model must be freed after it."""
    import gc
    import weakref

    accelerator = Accelerator(cpu=True)
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True), 0))
    model.add_head("toy", get_format("classification").build_head(32, SPEC, 0.0, "mean"))
    stream = TaskStream("toy", get_format("classification"), toy_features(), pad_id=1, micro_batch=8, seed=0)
    settings = LoopSettings(learning_rate=1e-3, batch_size=8, per_device_batch_size=8, max_steps=2)
    train(model, {"toy": stream}, settings, accelerator)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None


def test_a_non_finite_loss_stops_training(monkeypatch):
    import pytest

    from xstilts.formats.classification import ClassificationFormat

    real = ClassificationFormat.loss
    calls = []

    def poisoned(self, logits, batch):
        calls.append(1)
        loss = real(self, logits, batch)
        return loss * float("nan") if len(calls) == 5 else loss

    monkeypatch.setattr(ClassificationFormat, "loss", poisoned)
    with pytest.raises(FloatingPointError, match="loss became nan by step 3"):
        run(steps=10)
