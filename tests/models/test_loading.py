"""Model loading: hub ids fail offline with one clear message; layer cutting and freezing; tiny model."""

import pytest
import torch

from xstilts.errors import ModelError
from xstilts.models.loading import ModelSpec, inference_attention, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel, save_encoder


def test_unreachable_hub_id_says_how_to_run_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError) as err:
        load_encoder(ModelSpec("xlm-roberta-large"))
    msg = str(err.value)
    assert "xlm-roberta-large" in msg and "HF_HUB_OFFLINE=1" in msg and "e5-small" in msg


def test_missing_local_path_is_a_model_error(tmp_path):
    with pytest.raises(ModelError):
        load_tokenizer(str(tmp_path / "no-such-model"))


def test_embedded_model_first_layers_and_frozen_embeddings():
    enc = load_encoder(ModelSpec("e5-small", num_layers=3, freeze_word_embeddings=True))
    assert len(enc.encoder.layer) == 3 and enc.config.num_hidden_layers == 3
    assert not enc.get_input_embeddings().weight.requires_grad
    assert all(p.requires_grad for n, p in enc.named_parameters() if "word_embeddings" not in n)


def test_cannot_keep_more_layers_than_the_model_has():
    with pytest.raises(ModelError, match="12 layers"):
        load_encoder(ModelSpec("e5-small", num_layers=13))


def test_tiny_model_is_reproducible():
    a = load_encoder(ModelSpec("tiny"), seed=4)
    b = load_encoder(ModelSpec("tiny"), seed=4)
    assert all(
        torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_encoder_only_transfer(tmp_path):
    """Saving after intermediate training keeps the encoder and drops the heads; reloading gives the same
    encoder outputs and a model without heads."""
    model = MultiTaskModel(load_encoder(ModelSpec("tiny"), seed=1), {"mnli": torch.nn.Linear(32, 3)})
    with torch.no_grad():
        for p in model.encoder.parameters():
            p.add_(0.01)  # "training" changed the encoder
    save_encoder(model.encoder, tmp_path / "encoder")
    files = {p.name for p in (tmp_path / "encoder").iterdir()}
    assert "model.safetensors" in files and not any("head" in f for f in files)
    reloaded = load_encoder(ModelSpec(str(tmp_path / "encoder")))
    ids = torch.tensor([[0, 1000, 1001, 2]])
    model.eval()
    reloaded.eval()
    with torch.no_grad():
        want = model.encoder(input_ids=ids).last_hidden_state
        got = reloaded(input_ids=ids).last_hidden_state
    assert torch.allclose(want, got)
    fresh = MultiTaskModel(reloaded)
    assert len(fresh.heads) == 0


def test_freeze_bottom_layers():
    enc = load_encoder(ModelSpec("tiny", freeze_layers=1))
    frozen = {n for n, p in enc.named_parameters() if not p.requires_grad}
    assert all(n.startswith(("embeddings.", "encoder.layer.0.")) for n in frozen)
    assert any(n.startswith("embeddings.position") for n in frozen) and any("layer.0." in n for n in frozen)
    assert all(p.requires_grad for n, p in enc.named_parameters() if n.startswith("encoder.layer.1."))
    with pytest.raises(ModelError, match="cannot freeze 3"):
        load_encoder(ModelSpec("tiny", freeze_layers=3))


def test_auto_attention_uses_sdpa_for_inference_only_on_cpu():
    model = load_encoder(ModelSpec("tiny"), seed=0).eval()
    ids = torch.tensor([[0, 5, 9, 17, 2, 1, 1], [0, 8, 3, 2, 1, 1, 1]])
    mask = (ids != 1).long()
    assert model.config._attn_implementation == "eager"  # training keeps eager on CPU
    with torch.no_grad():
        eager = model(input_ids=ids, attention_mask=mask).last_hidden_state
        with inference_attention(MultiTaskModel(model)):
            assert model.config._attn_implementation == "sdpa"
            sdpa = model(input_ids=ids, attention_mask=mask).last_hidden_state
    assert model.config._attn_implementation == "eager"
    assert torch.allclose(eager * mask[..., None], sdpa * mask[..., None], atol=1e-5)
    pinned = load_encoder(ModelSpec("tiny", attention="eager"), seed=0)
    with inference_attention(pinned):
        assert pinned.config._attn_implementation == "eager"  # an explicit choice is kept
