"""Embedding settings: layer indexing (0 = embeddings), the middle-layer rule, pooling and special tokens."""

import numpy as np
import pytest
import torch

from xstilts.errors import ConfigError
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.retrieval.embed import RetrievalSettings, embed_layers, embed_sentences, middle_layer

SENTENCES = ["Ein kurzer Satz.", "A much longer English sentence, with a clause and some more words.", "猫"]


@pytest.fixture(scope="module")
def tiny():
    return load_encoder(ModelSpec("tiny"), seed=3), load_tokenizer("tiny")


def _hidden_states(encoder, tokenizer, sentences):
    batch = tokenizer(sentences, padding=True, return_tensors="pt", return_special_tokens_mask=True)
    encoder.eval()
    with torch.no_grad():
        out = encoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True
        )
    return out.hidden_states, batch["attention_mask"], batch["special_tokens_mask"]


def _mean(hidden, mask):
    mask = mask.unsqueeze(-1).float()
    return ((hidden * mask).sum(1) / mask.sum(1)).numpy()


@pytest.mark.parametrize(("depth", "layer"), [(24, 14), (12, 7), (6, 4), (18, 11), (2, 1), (1, 1)])
def test_middle_layer_keeps_the_xlmr_large_depth_ratio(depth, layer):
    assert middle_layer(depth) == layer


def test_record_holds_the_resolved_layer():
    record = RetrievalSettings().record(12)
    assert record["layer"] == 7 and record["layer_setting"] == "middle" and record["num_layers"] == 12
    assert record["pooling"] == "mean" and record["pool_special_tokens"] is True
    assert record["max_seq_length"] == 512 and (record["k"], record["margin"], record["mode"]) == (
        4,
        "ratio",
        "max",
    )
    assert RetrievalSettings().record(24)["layer"] == 14
    assert RetrievalSettings(layer=3).record(12)["layer"] == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"layer": -1},
        {"layer": "last"},
        {"pooling": "max"},
        {"margin": "cosine"},
        {"mode": "union"},
        {"k": 0},
        {"pooling": "cls", "pool_special_tokens": False},
    ],
)
def test_invalid_settings_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        RetrievalSettings(**kwargs)


def test_layer_deeper_than_the_encoder_is_an_error():
    with pytest.raises(ConfigError, match="only 2 layers"):
        RetrievalSettings(layer=3).resolve_layer(2)


def test_layers_match_hidden_states_and_layer_zero_is_the_embeddings(tiny):
    encoder, tokenizer = tiny
    hidden, mask, _ = _hidden_states(encoder, tokenizer, SENTENCES)
    embedded = embed_layers(encoder, tokenizer, SENTENCES, RetrievalSettings(), [0, 1, 2])
    for layer in (0, 1, 2):
        assert embedded[layer].dtype == np.float32 and embedded[layer].shape == (3, 32)
        np.testing.assert_allclose(embedded[layer], _mean(hidden[layer], mask), atol=1e-5)
    assert not np.allclose(embedded[0], embedded[1])


def test_cls_and_special_token_pooling(tiny):
    encoder, tokenizer = tiny
    hidden, mask, special = _hidden_states(encoder, tokenizer, SENTENCES)
    cls = embed_sentences(encoder, tokenizer, SENTENCES, RetrievalSettings(layer=1, pooling="cls"))
    np.testing.assert_allclose(cls, hidden[1][:, 0].numpy(), atol=1e-5)
    mean = embed_sentences(encoder, tokenizer, SENTENCES, RetrievalSettings(layer=1))
    content = embed_sentences(
        encoder, tokenizer, SENTENCES, RetrievalSettings(layer=1, pool_special_tokens=False)
    )
    np.testing.assert_allclose(content, _mean(hidden[1], mask * (1 - special)), atol=1e-5)
    assert not np.allclose(cls, mean) and not np.allclose(content, mean)


def test_padding_and_batching_do_not_change_a_vector(tiny):
    encoder, tokenizer = tiny
    alone = embed_sentences(encoder, tokenizer, SENTENCES[:1], RetrievalSettings(layer=2))
    batched = embed_sentences(encoder, tokenizer, SENTENCES, RetrievalSettings(layer=2), batch_tokens=64)
    np.testing.assert_allclose(batched[0], alone[0], atol=1e-5)


def test_blocks_above_the_layer_are_not_run_and_mode_is_restored(tiny):
    encoder, tokenizer = tiny
    calls = []
    handle = encoder.encoder.layer[1].register_forward_hook(lambda *args: calls.append(1))
    encoder.train()
    try:
        embed_sentences(encoder, tokenizer, SENTENCES, RetrievalSettings(layer=1))
    finally:
        handle.remove()
    assert calls == [] and encoder.training


def test_truncation_to_max_seq_length(tiny):
    encoder, tokenizer = tiny
    long = " ".join(["word"] * 50)
    cut = embed_sentences(encoder, tokenizer, [long], RetrievalSettings(layer=1, max_seq_length=8))
    ids = tokenizer(long, truncation=True, max_length=8, return_tensors="pt")
    hidden, mask, _ = _hidden_states(encoder, tokenizer, [tokenizer.decode(ids["input_ids"][0][1:-1])])
    np.testing.assert_allclose(cut[0], _mean(hidden[1], mask)[0], atol=1e-5)
