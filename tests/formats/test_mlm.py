"""The MLM format with the real embedded tokenizer: chunking, BERT masking statistics and determinism, the head
tied to the word embeddings (also when they are frozen), decoding/scoring, and a short training run."""

from __future__ import annotations

import pyarrow as pa
import pytest
import torch
from accelerate import Accelerator

from xstilts.data.loading import DataRoots, load_split
from xstilts.data.records import QAExample, TextExample
from xstilts.errors import DataError, ModelError
from xstilts.evaluation.predict import predict_logits
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.formats.mlm import IGNORE, MaskedCounts, MLMFormat, MLMHead, mask_tokens, row_generator
from xstilts.metrics.official import main_score
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel
from xstilts.paths import default_xtreme_dir
from xstilts.tasks import get_registry
from xstilts.tasks.spec import TaskSpec
from xstilts.training.loop import LoopSettings, TaskStream, train

SPEC = TaskSpec(name="toy_mlm", group="general", format="mlm", metric="mlm_accuracy", train_from="none")
FMT = MLMFormat()
SHORT = FeatureSettings(max_seq_length=32)


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("tiny")


@pytest.fixture(scope="module")
def german():
    """Real multilingual text: the German PAWS-X dev sentences (the mlm_xtreme_text task), read in place."""
    spec = get_registry().get("mlm_xtreme_text")
    return load_split(spec, "train", "de", DataRoots(xtreme=default_xtreme_dir())).examples


def doc(text: str, i: int = 0) -> TextExample:
    return TextExample(str(i), text, None, None)


def rows_of(features: dict, idx=None) -> list[dict]:
    idx = range(len(features["input_ids"])) if idx is None else idx
    return [{k: col[i] for k, col in features.items()} for i in idx]


# ---------------------------------------------------------------------------------------------------------------
# Features


def test_documents_are_chunked_with_special_tokens_and_nothing_lost(tok):
    text = "Der schnelle braune Fuchs springt über den faulen Hund. " * 12
    feats = FMT.featurize([doc(text), doc("kurz", 1)], tok, SPEC, SHORT)
    whole = tok(text, add_special_tokens=False)["input_ids"]
    chunks = [
        ids for ids, owner in zip(feats["input_ids"], feats["example_index"], strict=True) if owner == 0
    ]
    assert len(chunks) > 3 and all(len(c) <= 32 for c in chunks)
    assert all(c[0] == tok.cls_token_id and c[-1] == tok.sep_token_id for c in chunks)
    assert [t for c in chunks for t in c[1:-1]] == whole  # consecutive, no overlap, nothing dropped
    assert feats["example_index"][-1] == 1 and feats["mask_seed"] == list(range(len(feats["input_ids"])))
    assert feats["mask_token_id"][0] == tok.mask_token_id and tok.mask_token_id in feats["special_ids"][0]
    pa.table(feats)  # storable in the Arrow feature cache


def test_featurize_rejects_records_that_are_not_documents(tok):
    qa = QAExample("q", "Q?", "C.", (), origin="f.json#q")
    with pytest.raises(DataError, match="f.json#q.*TextExample"):
        FMT.featurize([qa], tok, SPEC, SHORT)


# ---------------------------------------------------------------------------------------------------------------
# Masking


def test_masking_statistics_follow_bert():
    specials, mask_id, vocab = [0, 1, 2, 3, 250001], 250001, 250002
    counts = {"chosen": 0, "mask": 0, "random": 0, "keep": 0, "maskable": 0}
    for r in range(40):
        body = torch.randint(5, 250000, (500,), generator=torch.Generator().manual_seed(r))
        ids = torch.cat([torch.tensor([0]), body, torch.tensor([2, 3, 3])])  # <s> … </s> + two <unk>
        masked, labels = mask_tokens(ids, specials, mask_id, vocab, row_generator(r))
        chosen = labels != IGNORE
        assert int(chosen.sum()) == 75  # exactly round(15 % of the 500 maskable tokens)
        assert not chosen[0] and not chosen[-3:].any()  # special tokens (and <unk>) are never chosen
        assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(masked[~chosen], ids[~chosen])
        counts["chosen"] += int(chosen.sum())
        counts["mask"] += int((masked[chosen] == mask_id).sum())
        counts["keep"] += int((masked[chosen] == ids[chosen]).sum())
        swapped = masked[chosen][(masked[chosen] != mask_id) & (masked[chosen] != ids[chosen])]
        counts["random"] += len(swapped)
        assert not torch.isin(swapped, torch.tensor(specials)).any()  # random tokens are never special
    n = counts["chosen"]
    assert abs(counts["mask"] / n - 0.8) < 0.03
    assert abs(counts["random"] / n - 0.1) < 0.02
    assert abs(counts["keep"] / n - 0.1) < 0.02


def test_collate_masks_about_15_percent_never_special_or_pad(tok, german):
    feats = FMT.featurize(german[:200], tok, SPEC, FeatureSettings(max_seq_length=64))
    batch = FMT.collate(rows_of(feats), tok.pad_token_id)
    lengths = torch.tensor([len(x) for x in feats["input_ids"]])
    assert torch.equal(batch["attention_mask"].sum(1), lengths)
    original = torch.nn.utils.rnn.pad_sequence(
        [torch.tensor(x) for x in feats["input_ids"]], batch_first=True, padding_value=tok.pad_token_id
    )
    chosen = batch["labels"] != IGNORE
    assert not torch.isin(original[chosen], torch.tensor(tok.all_special_ids)).any()
    assert not chosen[batch["attention_mask"] == 0].any()  # padding is never a target
    maskable = (~torch.isin(original, torch.tensor(tok.all_special_ids))).sum()
    assert abs(int(chosen.sum()) / int(maskable) - 0.15) < 0.02
    assert int((batch["input_ids"] == tok.mask_token_id).sum()) > 0.7 * int(chosen.sum())


def test_masks_are_deterministic_per_seed_and_epoch(tok, german):
    feats = FMT.featurize(german[:16], tok, SPEC, SHORT)

    def labels(**stream):
        return FMT.collate([{**r, **stream} for r in rows_of(feats)], tok.pad_token_id)["labels"]

    assert torch.equal(labels(), labels())  # evaluation rows: the same masks at every validation
    assert torch.equal(labels(stream_seed=1, stream_epoch=2), labels(stream_seed=1, stream_epoch=2))
    assert not torch.equal(labels(stream_seed=1, stream_epoch=0), labels(stream_seed=2, stream_epoch=0))
    assert not torch.equal(labels(stream_seed=1, stream_epoch=0), labels(stream_seed=1, stream_epoch=1))
    # a row's mask does not depend on the batch it lands in
    alone = FMT.collate(rows_of(feats, [3]), tok.pad_token_id)["labels"][0]
    n = len(feats["input_ids"][3])
    assert torch.equal(alone[:n], labels()[3][:n])


def test_training_stream_re_masks_every_epoch(tok, german):
    feats = FMT.featurize(german[:4], tok, SPEC, SHORT)
    stream = TaskStream("m", FMT, feats, tok.pad_token_id, micro_batch=len(feats["input_ids"]), seed=7)

    def order(batch):  # one batch = all rows; sort by content so the shuffled order does not matter
        return sorted(zip(batch["labels"].tolist(), batch["input_ids"].tolist(), strict=True), key=str)

    first, second = stream.next_batch(), stream.next_batch()
    assert order(first) != order(second)
    again = TaskStream("m", FMT, feats, tok.pad_token_id, micro_batch=len(feats["input_ids"]), seed=7)
    assert order(again.next_batch()) == order(first)


# ---------------------------------------------------------------------------------------------------------------
# Head


@pytest.mark.parametrize("frozen", [True, False])
def test_decoder_is_tied_to_the_word_embeddings(frozen):
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=frozen)))
    model.add_head("mlm", FMT.build_head(32, SPEC, 0.1, "mean"))
    head, embeddings = model.heads["mlm"], model.encoder.get_input_embeddings()
    assert head.decoder_weight is embeddings.weight
    assert head.decoder_weight.data_ptr() == embeddings.weight.data_ptr()
    assert head.bias.shape == (embeddings.num_embeddings,) and head.bias.requires_grad
    assert head.decoder_weight.requires_grad is not frozen
    # the shared matrix belongs to the encoder only: not a head parameter, not saved with the heads
    assert set(model.heads.state_dict()) == {
        "mlm.bias", "mlm.dense.weight", "mlm.dense.bias", "mlm.LayerNorm.weight", "mlm.LayerNorm.bias",
    }  # fmt: skip
    names = [n for n, _ in model.named_parameters()]
    assert "encoder.embeddings.word_embeddings.weight" in names and len(names) == len(set(names))
    # the tie follows in-place updates of the embedding matrix
    with torch.no_grad():
        embeddings.weight[5].fill_(0.25)
    assert torch.all(head.decoder_weight[5] == 0.25)


def test_untied_head_says_how_to_tie():
    with pytest.raises(ModelError, match="add_head"):
        MLMHead(32)(torch.zeros(1, 3, 32), {"labels": torch.tensor([[IGNORE, 5, IGNORE]])})
    encoder = load_encoder(ModelSpec("tiny"))
    with pytest.raises(ModelError, match="width 16"):
        MLMHead(16).tie_to(encoder)


def test_head_outputs_masked_logits_in_training_and_a_summary_in_eval():
    model = MultiTaskModel(load_encoder(ModelSpec("tiny")))
    model.add_head("mlm", MLMHead(32))
    ids = torch.tensor([[0, 100, 250001, 300, 2], [0, 250001, 2, 1, 1]])
    labels = torch.tensor([[IGNORE, IGNORE, 200, IGNORE, IGNORE], [IGNORE, 400, IGNORE, IGNORE, IGNORE]])
    batch = {"input_ids": ids, "attention_mask": (ids != 1).long(), "labels": labels}
    model.train()
    logits = model("mlm", batch)
    assert logits.shape == (2, model.encoder.get_input_embeddings().num_embeddings)
    loss = FMT.loss(logits, batch)
    model.eval()
    with torch.no_grad():
        summary = model("mlm", batch)
    assert summary.shape == (2, 5, 3)
    assert summary[..., 0].tolist() == [[0, 0, 1, 0, 0], [0, 1, 0, 0, 0]]
    # eval has no dropout here (dropout-free head, encoder dropout off): the summary's NLL is the loss
    model.train()
    model.encoder.eval()
    with torch.no_grad():
        train_loss = FMT.loss(model("mlm", batch), batch)
    assert torch.isclose(FMT.loss(summary, batch), train_loss, atol=1e-5)
    assert loss.requires_grad


# ---------------------------------------------------------------------------------------------------------------
# Decode, score, write


def test_decode_sums_chunks_per_document_and_scores():
    feats = {"input_ids": [[0, 5, 2], [0, 6, 7, 2], [0, 8, 2]], "example_index": [0, 0, 1]}
    summaries = [
        torch.tensor([[0, 0, 0], [1, 1, 0.5], [0, 0, 0]]),
        torch.tensor([[0, 0, 0], [1, 0, 2.0], [1, 1, 0.5], [0, 0, 0]]),
        torch.tensor([[0, 0, 0], [1, 0, 3.0], [0, 0, 0]]),
    ]
    preds = FMT.decode(summaries, feats, [doc("a"), doc("b", 1)], SPEC)
    assert preds == [MaskedCounts(3, 2, 3.0), MaskedCounts(1, 0, 3.0)]
    scores = FMT.score(preds, [doc("a"), doc("b", 1)], SPEC, "en")
    assert scores["mlm_accuracy"] == pytest.approx(50.0)
    assert scores["mlm_loss"] == pytest.approx(1.5)
    assert main_score("mlm_accuracy", scores) == scores["mlm_accuracy"]
    with pytest.raises(ValueError, match="no masked tokens"):
        FMT.score([MaskedCounts(0, 0, 0.0)], [doc("a")], SPEC, "en")


def test_write_predictions_is_a_per_document_tsv(tmp_path):
    out = tmp_path / "p" / "dev-de.tsv"
    FMT.write_predictions([MaskedCounts(4, 3, 1.0), MaskedCounts(0, 0, 0.0)], [doc("a", 7), doc("b", 8)], out)
    assert out.read_text().splitlines() == ["id\tmasked\tcorrect\taccuracy", "7\t4\t3\t75.00", "8\t0\t0\t"]


def test_spec_ties_format_mlm_to_metric_mlm_accuracy():
    assert get_format("mlm").name == "mlm"
    with pytest.raises(ValueError, match="mlm_accuracy"):
        TaskSpec(name="x", group="general", format="mlm", metric="accuracy", train_from="none")
    with pytest.raises(ValueError, match="mlm_accuracy"):
        TaskSpec(name="x", group="general", format="classification", metric="mlm_accuracy", train_from="none")


# ---------------------------------------------------------------------------------------------------------------
# Training


def test_a_few_steps_reduce_the_mlm_loss_on_frozen_embeddings(tok, german):
    """Through the real loop: frozen (tied) word embeddings; the bias, dense, LayerNorm and encoder learn. The loss
    is measured on the training documents (with the fixed evaluation masks): ten passes over 16 documents."""
    docs = german[:16]
    feats = FMT.featurize(docs, tok, SPEC, FeatureSettings(max_seq_length=32))
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True), 0))
    model.add_head("mlm", FMT.build_head(32, SPEC, 0.0, "mean"))

    def scores(m):
        logits = predict_logits(m, "mlm", FMT, feats, tok.pad_token_id)
        return FMT.score(FMT.decode(logits, feats, docs, SPEC), docs, SPEC, "de")

    before = scores(model)
    stream = TaskStream("mlm", FMT, feats, tok.pad_token_id, micro_batch=8, seed=0)
    # A large head rate: from uniform logits (ln 250k = 12.4 nats) the output bias must learn token frequencies.
    loop = LoopSettings(
        learning_rate=5e-3, head_learning_rate=0.1, warmup_ratio=0.0, batch_size=8, per_device_batch_size=8,
        max_steps=20, eval_every=10,
    )  # fmt: skip
    report = train(
        model, {"mlm": stream}, loop, Accelerator(cpu=True), lambda m: main_score("mlm_accuracy", scores(m))
    )
    after = scores(model)
    assert report.steps == 20 and len(report.history) == 2
    assert after["mlm_loss"] < before["mlm_loss"] - 0.8, (before, after)
    assert after["mlm_accuracy"] > before["mlm_accuracy"]
    assert model.heads["mlm"].decoder_weight is model.encoder.get_input_embeddings().weight
