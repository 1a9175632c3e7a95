"""The tagging format with the real embedded tokenizer: first-sub-token alignment, windowing and
restitching of long sentences, placeholders for words that tokenise to nothing, decoding, the submission
file, and a tiny training run."""

from __future__ import annotations

import math
import random

import pyarrow as pa
import pytest
import torch
from accelerate import Accelerator

from xstilts.data.loading import DataRoots, load_split
from xstilts.data.records import TaggingExample
from xstilts.errors import DataError
from xstilts.evaluation.predict import predict_logits
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.formats.tagging import IGNORE, TaggingFormat, label_vocabulary, windows
from xstilts.metrics.official import main_score
from xstilts.metrics.submission import read_tag_sentences
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks import get_registry
from xstilts.tasks.spec import TaskSpec
from xstilts.training.loop import LoopSettings, TaskStream, train

SPEC = TaskSpec(
    name="toy_tags", group="general", format="tagging", labels=("O", "B-X", "I-X", "NOUN", "VERB"),
    metric="f1", train_from="none",
)  # fmt: skip
FMT = TaggingFormat()
SHORT = FeatureSettings(max_seq_length=32)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("e5-small")


def example(tokens, tags=None, i=0) -> TaggingExample:
    return TaggingExample(
        f"s{i}", tuple(tokens), None if tags is None else tuple(tags), origin=f"toy.tsv:{i}"
    )


def rows_of(features: dict, example_index: int) -> list[int]:
    return [r for r, e in enumerate(features["example_index"]) if e == example_index]


def logits_for(features: dict, label_of_word, num_labels: int) -> list[torch.Tensor]:
    """One-hot logits: position p of row r predicts ``label_of_word(r, word)`` for every first sub-token."""
    out = []
    for r, word_index in enumerate(features["word_index"]):
        x = torch.zeros(len(word_index), num_labels)
        for p, w in enumerate(word_index):
            if w >= 0:
                x[p, label_of_word(r, w)] = 1.0
        out.append(x)
    return out


def gold_logits(features: dict, examples, spec) -> list[torch.Tensor]:
    ids = {label: i for i, label in enumerate(spec.labels)}
    return logits_for(
        features,
        lambda r, w: ids[examples[features["example_index"][r]].tags[w]],
        len(spec.labels),
    )


def long_sentence(n_words: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    vocab = ["the", "internationalisation", "cat", "Straßenbahnhaltestelle", "x", "2024", "—", "running"]
    return [rng.choice(vocab) for _ in range(n_words)]


# --- alignment ----------------------------------------------------------------------------------------------


def test_labels_sit_on_first_sub_token_only(tok):
    words = ["Unbelievably", "the", "Straßenbahnhaltestelle", "moved", "."]
    tags = ["O", "O", "B-X", "VERB", "O"]
    feats = FMT.featurize([example(words, tags)], tok, SPEC, FeatureSettings())
    assert len(feats["input_ids"]) == 1
    # Same ids as the tokenizer's own encoding of the pre-split words (special tokens included).
    assert feats["input_ids"][0] == tok(words, is_split_into_words=True)["input_ids"]
    word_ids = tok(words, is_split_into_words=True).word_ids()
    expected_index = [w if w is not None and w != word_ids[p - 1] else -1 for p, w in enumerate(word_ids)]
    assert feats["word_index"][0] == expected_index
    assert [w for w in feats["word_index"][0] if w >= 0] == list(range(len(words)))
    label_id = {label: i for i, label in enumerate(SPEC.labels)}
    labelled = [
        (w, y) for w, y in zip(feats["word_index"][0], feats["labels"][0], strict=True) if y != IGNORE
    ]
    assert labelled == [(w, label_id[t]) for w, t in enumerate(tags)]
    assert len(feats["input_ids"][0]) > len(words) + 2  # some words really have several sub-tokens
    assert feats["example_index"] == [0] and feats["first_word"] == [0]


def test_unlabelled_examples_have_no_labels(tok):
    feats = FMT.featurize([example(["a", "b"])], tok, SPEC, FeatureSettings())
    assert set(feats["labels"][0]) == {IGNORE}


def test_words_that_tokenise_to_nothing_get_a_placeholder(tok):
    words = [
        "a",
        "",
        "\x01",
        "\u200b",
        "\u0301",
        "b",
    ]  # empty, control char, zero-width space, combining mark
    feats = FMT.featurize([example(words)], tok, SPEC, FeatureSettings())
    ids, word_index = feats["input_ids"][0], feats["word_index"][0]
    first = {w: p for p, w in enumerate(word_index) if w >= 0}
    assert sorted(first) == list(range(len(words)))
    assert ids[first[1]] == tok.unk_token_id and ids[first[2]] == tok.unk_token_id
    preds = FMT.decode(logits_for(feats, lambda r, w: w % 5, 5), feats, [example(words)], SPEC)
    assert preds == [[SPEC.labels[w % 5] for w in range(len(words))]]


def test_unknown_tag_names_the_origin(tok):
    with pytest.raises(DataError, match=r"toy\.tsv:7.*'B-PER'"):
        FMT.featurize([example(["Ann"], ["B-PER"], i=7)], tok, SPEC, FeatureSettings())


def test_open_label_set_comes_from_the_data(tok):
    open_spec = SPEC.model_copy(update={"labels": ()})
    data = [example(["a", "b"], ["NP", "S\\NP"]), example(["c"], ["(S\\NP)/NP"]), example(["d"])]
    assert label_vocabulary(data, open_spec) == ("(S\\NP)/NP", "NP", "S\\NP")
    assert label_vocabulary(data, SPEC) == SPEC.labels
    with pytest.raises(ValueError, match="open label set"):
        FMT.featurize(data, tok, open_spec, FeatureSettings())
    resolved = open_spec.model_copy(update={"labels": label_vocabulary(data, open_spec)})
    tagged = data[:2]
    feats = FMT.featurize(tagged, tok, resolved, FeatureSettings())
    assert FMT.decode(gold_logits(feats, tagged, resolved), feats, tagged, resolved) == [
        ["NP", "S\\NP"],
        ["(S\\NP)/NP"],
    ]
    assert FMT.build_head(8, resolved, 0.1, "cls").out.out_features == 3
    with pytest.raises(DataError, match="no tagged examples"):
        label_vocabulary([example(["a"])], open_spec)


# --- windows ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(20))
def test_windows_cover_every_word_within_budget(seed):
    rng = random.Random(seed)
    budget = rng.randint(1, 40)
    overlap = rng.randint(0, budget // 2)
    lengths = [rng.randint(1, budget) for _ in range(rng.randint(1, 200))]
    spans = windows(lengths, budget, overlap)
    assert spans[0][0] == 0 and spans[-1][1] == len(lengths)
    for (s0, e0), (s1, e1) in zip(spans, spans[1:], strict=False):
        assert s0 < s1 <= e0 < e1  # progress, no gap
        assert sum(lengths[s1:e0]) <= overlap
    assert all(sum(lengths[s:e]) <= budget for s, e in spans)
    assert windows([], budget, overlap) == []


def context_of(word_index: list[int], word: int, first_word: int, n_words: int) -> float:
    """Sub-tokens from the word to the nearer window edge; unlimited where the window meets a sentence end."""
    p = word_index.index(word)
    at_start = first_word == 0
    at_end = max(word_index) == n_words - 1
    return min(math.inf if at_start else p, math.inf if at_end else len(word_index) - 1 - p)


def check_split_and_restitched(tok, words: list[str], settings: FeatureSettings) -> dict:
    """Long sentence → several rows within the limit; decode takes every word once, from its best window."""
    ex = example(words)
    feats = FMT.featurize([ex], tok, SPEC, settings)
    rows = len(feats["input_ids"])
    assert rows > 1
    assert all(len(ids) <= settings.max_seq_length for ids in feats["input_ids"])
    assert all(ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id for ids in feats["input_ids"])
    for r in range(rows):
        in_row = [w for w in feats["word_index"][r] if w >= 0]
        assert in_row == list(range(feats["first_word"][r], feats["first_word"][r] + len(in_row)))
    # Each row predicts its own number: the restitched output tells which row every word came from.
    preds = FMT.decode(logits_for(feats, lambda r, w: r % 5, 5), feats, [ex], SPEC)[0]
    assert len(preds) == len(words)
    for w, tag in enumerate(preds):
        contexts = {
            r: context_of(feats["word_index"][r], w, feats["first_word"][r], len(words))
            for r in range(rows)
            if w in feats["word_index"][r]
        }
        best_row = max(contexts, key=lambda r: (contexts[r], -r))  # ties: the earlier row
        assert tag == SPEC.labels[best_row % 5], f"word {w}"
    # Restitching in order: word-specific logits come back as the word sequence.
    preds = FMT.decode(logits_for(feats, lambda r, w: w % 5, 5), feats, [ex], SPEC)[0]
    assert preds == [SPEC.labels[w % 5] for w in range(len(words))]
    return feats


def test_long_latin_sentence_is_split_and_restitched(tok):
    words = long_sentence(600)
    feats = check_split_and_restitched(tok, words, SHORT)
    n_sub = sum(len(tok([w], is_split_into_words=True, add_special_tokens=False)["input_ids"]) for w in words)
    assert len(feats["input_ids"]) > math.ceil(n_sub / 30)  # windows overlap


def test_long_non_latin_sentence_is_split_and_restitched(tok, xtreme_dir):
    data = load_split(get_registry().get("udpos"), "test", "th", DataRoots(xtreme_dir, None))
    words = [w for ex in data.examples for w in ex.tokens][:600]
    assert len(words) == 600
    check_split_and_restitched(tok, words, SHORT)


def test_word_longer_than_the_window_keeps_its_first_sub_tokens(tok):
    words = ["a", "x" * 3 + "".join(chr(0x0E01 + i % 40) for i in range(200)), "b"]
    feats = FMT.featurize([example(words)], tok, SPEC, SHORT)
    assert all(len(ids) <= 32 for ids in feats["input_ids"])
    preds = FMT.decode(logits_for(feats, lambda r, w: w, 5), feats, [example(words)], SPEC)
    assert preds == [["O", "B-X", "I-X"]]


def test_decode_reproduces_known_tags_across_examples(tok):
    data = [
        example(long_sentence(50, seed=1), ["NOUN", "VERB", "O", "B-X", "I-X"] * 10, i=0),
        example(["one"], ["VERB"], i=1),
        example(long_sentence(7, seed=2), ["O", "B-X", "I-X", "O", "NOUN", "NOUN", "VERB"], i=2),
    ]
    feats = FMT.featurize(data, tok, SPEC, SHORT)
    assert len(rows_of(feats, 0)) > 1
    assert FMT.decode(gold_logits(feats, data, SPEC), feats, data, SPEC) == [list(ex.tags) for ex in data]


def test_decode_refuses_a_word_without_prediction(tok):
    data = [example(long_sentence(100), i=3)]
    feats = FMT.featurize(data, tok, SPEC, SHORT)
    logits = logits_for(feats, lambda r, w: 0, 5)
    dropped = {k: v[:-1] for k, v in feats.items()}  # the last window goes missing
    with pytest.raises(ValueError, match=r"example 's3' \(toy\.tsv:3\): words \[\d+"):
        FMT.decode(logits[:-1], dropped, data, SPEC)


# --- model side ---------------------------------------------------------------------------------------------


def test_collate_pads_labels_with_ignore_and_loss_skips_them(tok):
    data = [example(["a", "longer", "sentence"], ["O", "NOUN", "VERB"]), example(["b"], ["B-X"])]
    feats = FMT.featurize(data, tok, SPEC, FeatureSettings())
    batch = FMT.collate([{k: v[i] for k, v in feats.items()} for i in range(2)], tok.pad_token_id)
    assert batch["input_ids"].shape == batch["labels"].shape == batch["attention_mask"].shape
    assert batch["labels"][1, batch["attention_mask"][1] == 0].eq(IGNORE).all()
    logits = torch.randn(*batch["labels"].shape, 5)
    keep = batch["labels"] != IGNORE
    expected = torch.nn.functional.cross_entropy(logits[keep], batch["labels"][keep])
    assert torch.allclose(FMT.loss(logits, batch), expected)
    unlabelled = {**batch, "labels": torch.full_like(batch["labels"], IGNORE)}
    assert FMT.loss(logits, unlabelled).item() == 0.0
    head = FMT.build_head(16, SPEC, 0.0, "mean")
    assert head(torch.randn(2, 7, 16), batch).shape == (2, 7, 5)


def test_features_are_arrow_storable(tok):
    data = [example(long_sentence(80), i=0), example(["", "b"], ["O", "B-X"], i=1)]
    feats = FMT.featurize(data, tok, SPEC, SHORT)
    table = pa.table(feats)
    assert table.to_pydict() == feats
    assert all(
        pa.types.is_int64(t) or (pa.types.is_list(t) and pa.types.is_int64(t.value_type))
        for t in table.schema.types
    )


# --- output -------------------------------------------------------------------------------------------------


def test_write_predictions_round_trips(tmp_path):
    preds = [["NOUN", "VERB"], ["O"], ["B-X", "I-X", "O"]]
    path = tmp_path / "udpos" / "test-en.tsv"
    FMT.write_predictions(preds, [example(p, i=i) for i, p in enumerate(preds)], path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("O\n") and "\n\n\n" not in text
    sentences, starts = read_tag_sentences(path)
    assert sentences == preds and starts == [1, 4, 6]
    with pytest.raises(DataError, match="without words"):
        FMT.write_predictions([[]], [example([])], tmp_path / "empty.tsv")


def test_score_and_main_metric():
    data = [example(["a", "b", "c"], ["B-X", "I-X", "O"])]
    scores = FMT.score([["B-X", "I-X", "O"]], data, SPEC, "en")
    assert scores == {"f1": 100.0, "precision": 100.0, "recall": 100.0, "token_accuracy": 100.0}
    assert main_score("f1", {**scores, "f1": 42.0}) == 42.0
    assert get_format("tagging").name == "tagging"


# --- real sample data ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "lang"), [("udpos", "th"), ("panx", "af")])
def test_real_sample_gets_one_tag_per_word(tok, xtreme_dir, task, lang):
    spec = get_registry().get(task)
    data = load_split(spec, "test", lang, DataRoots(xtreme_dir, None))
    assert data.has_gold
    feats = FMT.featurize(data.examples, tok, spec, FeatureSettings(max_seq_length=64))
    assert len(feats["input_ids"]) > len(data.examples)  # some sentences needed windows at this length
    g = torch.Generator().manual_seed(0)
    logits = [torch.randn(len(ids), len(spec.labels), generator=g) for ids in feats["input_ids"]]
    preds = FMT.decode(logits, feats, data.examples, spec)
    assert [len(p) for p in preds] == [len(ex.tokens) for ex in data.examples]
    assert 0.0 <= FMT.score(preds, data.examples, spec, lang)["f1"] < 100.0
    perfect = FMT.decode(gold_logits(feats, data.examples, spec), feats, data.examples, spec)
    assert FMT.score(perfect, data.examples, spec, lang)["f1"] == 100.0


def test_tiny_model_loss_decreases(tok, xtreme_dir):
    spec = get_registry().get("panx")
    data = load_split(spec, "train", "en", DataRoots(xtreme_dir, None)).examples[:16]
    feats = FMT.featurize(data, tok, spec, FeatureSettings(max_seq_length=64))
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True)))
    model.add_head("panx", FMT.build_head(32, spec, 0.0, "cls"))
    batch = FMT.collate([{k: v[i] for k, v in feats.items()} for i in range(len(data))], tok.pad_token_id)

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            return FMT.loss(model("panx", batch), batch).item()

    before = loss()
    stream = TaskStream("panx", FMT, feats, tok.pad_token_id, micro_batch=8, seed=0)
    settings = LoopSettings(learning_rate=5e-3, batch_size=8, per_device_batch_size=8, max_steps=10)
    train(model, {"panx": stream}, settings, Accelerator(cpu=True))
    assert loss() < 0.8 * before
    logits = predict_logits(model, "panx", FMT, feats, tok.pad_token_id)
    preds = FMT.decode(logits, feats, data, spec)
    assert [len(p) for p in preds] == [len(ex.tokens) for ex in data]
