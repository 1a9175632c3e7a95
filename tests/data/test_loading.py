"""Resolving task specs to examples: local files, the hub fallback rules, gated tasks, language discovery."""

import pytest

from xstilts.data.loading import DataRoots, gold_languages, load_split, local_languages
from xstilts.errors import XstiltsError
from xstilts.tasks import get_registry


@pytest.fixture(scope="module")
def roots(xtreme_dir, intermediate_dir):
    return DataRoots(xtreme_dir, intermediate_dir)


def test_languages_with_data_and_with_gold(roots):
    reg = get_registry()
    xnli = reg.get("xnli")
    assert set(gold_languages(xnli, "test", roots)) == {
        "ar",
        "de",
        "en",
        "es",
        "hi",
        "ru",
        "sw",
        "th",
        "tr",
        "vi",
        "zh",
    }
    pawsx = reg.get("pawsx")
    assert set(local_languages(pawsx, "test", roots)) == {"de", "en", "es", "fr", "ja", "ko", "zh"}
    assert set(gold_languages(pawsx, "test", roots)) == {"de", "zh"}


def test_local_split_carries_gold_checksum_and_origin(roots):
    data = load_split(get_registry().get("xnli"), "test", "de", roots)
    assert len(data.examples) == 500 and data.has_gold
    assert all(ex.label in ("contradiction", "entailment", "neutral") for ex in data.examples)
    assert len(data.checksum) == 64 and data.examples[0].origin.endswith(":1")


def test_blanked_split_without_gold_is_marked(roots):
    data = load_split(get_registry().get("pawsx"), "test", "fr", roots)
    assert not data.has_gold and all(ex.label is None for ex in data.examples)


def test_missing_local_file_offline_is_a_clear_error(roots, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(XstiltsError, match=r"no local file and the Hugging Face hub cannot be used"):
        load_split(get_registry().get("xnli"), "test", "bg", roots)


def test_gated_task_without_local_path_explains(roots):
    with pytest.raises(XstiltsError, match="gated"):
        load_split(get_registry().get("mednli"), "train", "en", roots)
