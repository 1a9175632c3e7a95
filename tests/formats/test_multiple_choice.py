"""Multiple choice: K sequences per example on real CommonsenseQA / Cosmos QA rows, the choice head on the
tiny model, decoding, batched inference and a short training run."""

import math

import pyarrow as pa
import pytest
import torch
from accelerate import Accelerator

from xstilts.data.loading import DataRoots, load_split
from xstilts.data.records import ChoiceExample
from xstilts.errors import DataError
from xstilts.evaluation.predict import predict_logits
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings, feature_lengths
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks import get_registry
from xstilts.training.loop import LoopSettings, TaskStream, train

MC = get_format("multiple_choice")
PAD = 1


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tensors this small run slower with intra-op threads, much slower on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer("e5-small")


@pytest.fixture(scope="module")
def spec():
    return get_registry().get("commonsenseqa")


def examples_of(task, intermediate_dir, n, split="dev"):
    spec = get_registry().get(task)
    return load_split(spec, split, "en", DataRoots(None, intermediate_dir)).examples[:n]


@pytest.fixture(scope="module")
def csqa(intermediate_dir):
    return examples_of("commonsenseqa", intermediate_dir, 40)


def featurize(examples, tokenizer, spec, max_seq_length=64):
    return MC.featurize(examples, tokenizer, spec, FeatureSettings(max_seq_length=max_seq_length))


def rows(features, indices):
    return [{k: col[i] for k, col in features.items()} for i in indices]


def tiny_model(spec, seed=0):
    torch.manual_seed(seed)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True), seed))
    model.add_head(spec.name, MC.build_head(32, spec, 0.0, "mean"))
    return model


def choice_example(choices, label=0, origin="mc.jsonl:7"):
    return ChoiceExample(id="x", question="Which one?", choices=tuple(choices), label=label, origin=origin)


def test_commonsenseqa_features_one_row_per_example(tokenizer, spec, csqa):
    feats = featurize(csqa, tokenizer, spec)
    assert feats["example_index"] == list(range(len(csqa)))
    assert feats["labels"] == [ex.label for ex in csqa]
    for seqs, ex, length in zip(feats["input_ids"], csqa, feats["length"], strict=True):
        assert len(seqs) == spec.num_choices == len(ex.choices)
        assert all(s[0] == tokenizer.cls_token_id and s[-1] == tokenizer.sep_token_id for s in seqs)
        choice = tokenizer(ex.choices[2], add_special_tokens=False)["input_ids"]
        assert seqs[2][-len(choice) - 1 : -1] == choice
        assert length == len(seqs) * max(map(len, seqs))  # K × longest: what its K padded sequences cost
    assert feature_lengths(feats) == feats["length"]
    assert pa.table(feats).to_pydict() == feats  # Arrow-storable (the feature cache), nested lists included


def test_cosmosqa_cuts_the_context_start_never_the_choice_or_question(tokenizer, intermediate_dir):
    cosmos = get_registry().get("cosmosqa")
    examples = examples_of("cosmosqa", intermediate_dir, 20)
    assert all(ex.context for ex in examples)
    feats = featurize(examples, tokenizer, cosmos, max_seq_length=48)
    for seqs, ex in zip(feats["input_ids"], examples, strict=True):
        assert len(seqs) == cosmos.num_choices == 4
        question = tokenizer(ex.question, add_special_tokens=False)["input_ids"]
        for seq, text in zip(seqs, ex.choices, strict=True):
            choice = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert len(seq) <= 48 and seq[0] == tokenizer.cls_token_id
            assert seq[-len(choice) - 1 : -1] == choice
            # <s> first </s></s> choice </s>: the first segment still ends with the whole question.
            first = seq[1 : len(seq) - len(choice) - 3]
            assert first[-len(question) :] == question
    assert max(feats["length"]) == 4 * 48  # the contexts are longer than 48 tokens: rows were cut


def test_bad_examples_name_their_origin(tokenizer, spec):
    with pytest.raises(DataError, match=r"mc\.jsonl:7.*label"):
        featurize([choice_example(["a", "b"], label=2)], tokenizer, spec)
    with pytest.raises(DataError, match=r"mc\.jsonl:7.*at least 2"):
        featurize([choice_example(["a"])], tokenizer, spec)
    long_choice = " ".join(["word"] * 20)
    with pytest.raises(DataError, match=r"mc\.jsonl:7.*max_seq_length 12"):
        featurize([choice_example(["a", long_choice])], tokenizer, spec, max_seq_length=12)


def test_collate_and_head_shapes_and_loss(tokenizer, spec, csqa):
    feats = featurize(csqa[:4], tokenizer, spec)
    batch = MC.collate(rows(feats, range(4)), PAD)
    sequences = [s for seqs in feats["input_ids"] for s in seqs]
    assert batch["input_ids"].shape == batch["attention_mask"].shape == (20, max(map(len, sequences)))
    assert batch["attention_mask"].sum() == sum(map(len, sequences))
    assert batch["labels"].tolist() == [ex.label for ex in csqa[:4]]
    assert batch["choice_mask"].shape == (4, 5) and batch["choice_mask"].all()
    model = tiny_model(spec)
    logits = model(spec.name, batch)
    assert logits.shape == (4, 5)
    loss = MC.loss(logits, batch)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, batch["labels"]))
    loss.backward()
    assert model.heads[spec.name].out.weight.grad.abs().sum() > 0


def test_variable_choice_counts_are_masked(tokenizer, spec):
    examples = [choice_example("abcd", label=3), choice_example("abcde", label=4)]  # HEAD-QA may mix 4 and 5
    feats = featurize(examples, tokenizer, spec, max_seq_length=32)
    assert [len(s) for s in feats["input_ids"]] == [4, 5]
    batch = MC.collate(rows(feats, [0, 1]), PAD)
    assert batch["input_ids"].shape[0] == 9  # only real choices are encoded
    assert batch["choice_mask"].tolist() == [[True] * 4 + [False], [True] * 5]
    model = tiny_model(spec)
    logits = model(spec.name, batch)
    assert logits.shape == (2, 5) and logits[0, 4] == -math.inf and torch.isfinite(logits[1]).all()
    loss = MC.loss(logits, batch)
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_decode_score_and_write(tmp_path, spec):
    examples = [
        choice_example("abcd", label=1),
        choice_example("abc", label=2),
        choice_example("ab", label=0),
    ]
    # Rows in another order than the examples; a row's logits may be wider than its own K (batch padding).
    features = {"input_ids": [[[0]] * 2, [[0]] * 4, [[0]] * 3], "example_index": [2, 0, 1]}
    logits = [
        torch.tensor([0.0, 1.0, 9.0, 9.0]),
        torch.tensor([0.1, 0.9, 0.2, 0.0]),
        torch.tensor([0.0, 0.1, 3.0, 9.0]),
    ]
    predictions = MC.decode(logits, features, examples, spec)
    assert predictions == [1, 2, 1] and all(type(p) is int for p in predictions)
    metrics = MC.score(predictions, examples, spec, "en")
    assert metrics == {"accuracy": pytest.approx(200 / 3)}
    MC.write_predictions(predictions, examples, tmp_path / "out" / "mc.tsv")
    assert (tmp_path / "out" / "mc.tsv").read_text() == "1\n2\n1\n"


def test_predict_logits_matches_one_by_one(tokenizer, spec, csqa):
    feats = featurize(csqa[:12], tokenizer, spec)
    model = tiny_model(spec)
    # A budget of ~3 rows per batch: several length-sorted batches, padded unlike one row alone.
    out = predict_logits(model, spec.name, MC, feats, PAD, max_tokens=3 * max(feats["length"]))
    assert len(out) == 12 and all(o.shape == (5,) for o in out)
    model.eval()
    with torch.no_grad():
        for i in (0, 5, 11):
            torch.testing.assert_close(out[i], model(spec.name, MC.collate(rows(feats, [i]), PAD))[0])
    assert MC.decode(out, feats, csqa[:12], spec) == [int(o.argmax()) for o in out]


def test_short_training_run_lowers_the_loss(tokenizer, spec, intermediate_dir):
    feats = featurize(examples_of("commonsenseqa", intermediate_dir, 64, "train"), tokenizer, spec, 48)
    batch = MC.collate(rows(feats, range(64)), PAD)
    model = tiny_model(spec)

    def train_loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(MC.loss(model(spec.name, batch), batch))

    before = train_loss()
    stream = TaskStream(spec.name, MC, feats, pad_id=PAD, micro_batch=16, seed=0)
    assert len(stream) == 64  # one row per example: epoch-based step budgets count examples
    settings = LoopSettings(learning_rate=1e-2, batch_size=16, per_device_batch_size=16, max_steps=30)
    report = train(model, {spec.name: stream}, settings, Accelerator(cpu=True))
    assert report.steps == 30
    assert train_loss() < before - 0.05
