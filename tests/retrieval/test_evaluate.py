"""End to end on toy XTREME folders with the random tiny model. Translations are written as identical text on
both sides, so even random embeddings retrieve them exactly: any index or direction slip shows."""

import json
from pathlib import Path

import pytest

from xstilts.metrics.submission import read_indices, read_pairs
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.retrieval import (
    RetrievalSettings,
    bucc_layer_sweep,
    evaluate_bucc,
    evaluate_tatoeba,
    tatoeba_layer_sweep,
)

WORDS = [
    "river",
    "mountain",
    "kitchen",
    "orange",
    "violin",
    "harbour",
    "engine",
    "garden",
    "pencil",
    "thunder",
]


@pytest.fixture(scope="module")
def tiny():
    return load_encoder(ModelSpec("tiny"), seed=0), load_tokenizer("tiny")


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


@pytest.fixture
def tatoeba_root(tmp_path):
    source = [f"{a} {b} {a}" for a, b in zip(WORDS, reversed(WORDS), strict=True)]  # not in sorted order
    order = sorted(range(len(source)), key=lambda i: source[i])
    _write(tmp_path / "download/tatoeba/de-en.de", source)
    _write(tmp_path / "download/tatoeba/de-en.en", [source[i] for i in order])
    _write(tmp_path / "labels/tatoeba/test-de.tsv", [str(i) for i in order])
    return tmp_path


def test_tatoeba_end_to_end(tiny, tatoeba_root, tmp_path):
    result = evaluate_tatoeba(*tiny, tatoeba_root, "de", RetrievalSettings(), tmp_path / "out")
    assert result["accuracy"] == 100.0
    assert result["settings"]["layer"] == 1 and result["settings"]["num_layers"] == 2
    assert result["counts"] == {"source_sentences": 10, "english_queries": 10}
    assert read_indices(tmp_path / "out/tatoeba/test-de.tsv") == read_indices(
        tatoeba_root / "labels/tatoeba/test-de.tsv"
    )
    json.dumps(result)
    sweep = tatoeba_layer_sweep(*tiny, tatoeba_root, "de", RetrievalSettings(), [0, 2])
    assert set(sweep) == {0, 2} and sweep[0]["settings"]["layer"] == 0


def _bucc_split(root: Path, split: str, offset: int) -> list[tuple[str, str]]:
    """Five pairs with identical text on both sides among distinct distractors; returns the gold pairs."""
    zh, en, gold = [], [], []
    for i, word in enumerate(WORDS):
        zh.append(f"zh-{offset + i:09d}\t{word} {WORDS[(i + 3) % 10]} {split}")
        text = (
            f"{word} {WORDS[(i + 3) % 10]} {split}"
            if i % 2 == 0
            else f"{WORDS[(i + 5) % 10]} {word} {word} x"
        )
        en.append(f"en-{offset + i:09d}\t{text}")
        if i % 2 == 0:
            gold.append((f"zh-{offset + i:09d}", f"en-{offset + i:09d}"))
    _write(root / f"download/bucc2018/de-en.{split}.de", zh)
    _write(root / f"download/bucc2018/de-en.{split}.en", en)
    return gold


def test_bucc_dev_only_writes_dev_predictions(tiny, tmp_path):
    gold = _bucc_split(tmp_path, "dev", 0)
    _write(tmp_path / "download/bucc2018/de-en.dev.gold", [f"{s}\t{t}" for s, t in gold])
    result = evaluate_bucc(*tiny, tmp_path, "de", RetrievalSettings(), tmp_path / "out")
    assert result["split"] == "dev" and result["threshold_split"] == "dev"
    assert result["f1"] == result["dev"]["f1"] == 100.0
    assert sorted(read_pairs(tmp_path / "out/bucc2018/dev-de.tsv")) == gold
    assert not (tmp_path / "out/bucc2018/test-de.tsv").exists()
    assert result["counts"]["gold_pairs"] == 5 and result["settings"]["layer"] == 1
    json.dumps(result)


def test_bucc_test_split_uses_the_dev_threshold(tiny, tmp_path):
    dev_gold = _bucc_split(tmp_path, "dev", 0)
    _write(tmp_path / "download/bucc2018/de-en.dev.gold", [f"{s}\t{t}" for s, t in dev_gold])
    test_gold = _bucc_split(tmp_path, "test", 100)
    _write(tmp_path / "labels/bucc2018/test-de.tsv", [f"{s}\t{t}" for s, t in test_gold])
    result = evaluate_bucc(*tiny, tmp_path, "de", RetrievalSettings(), tmp_path / "out")
    sweep = bucc_layer_sweep(*tiny, tmp_path, "de", RetrievalSettings(), [1])
    assert result["split"] == "test" and result["threshold"] == sweep[1]["threshold"]
    predicted = read_pairs(tmp_path / "out/bucc2018/test-de.tsv")
    assert len(predicted) == result["counts"]["predicted_pairs"]
    assert set(test_gold) <= set(predicted) and result["recall"] == 100.0


def test_limits_evaluate_a_subset_and_record_its_size(tiny, tatoeba_root, tmp_path):
    result = evaluate_tatoeba(*tiny, tatoeba_root, "de", RetrievalSettings(), tmp_path / "t", limit=4)
    assert result["accuracy"] == 100.0
    assert result["counts"] == {"source_sentences": 4, "english_queries": 4}
    gold = _bucc_split(tmp_path, "dev", 0)
    _write(tmp_path / "download/bucc2018/de-en.dev.gold", [f"{s}\t{t}" for s, t in gold])
    bucc = evaluate_bucc(*tiny, tmp_path, "de", RetrievalSettings(), tmp_path / "b", limit=1)
    assert bucc["counts"]["source_sentences"] == 6 and bucc["counts"]["english_sentences"] == 6
    assert bucc["counts"]["gold_pairs"] == 5
