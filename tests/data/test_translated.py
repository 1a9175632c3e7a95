"""The translated-data arm: a task's translated training files load like its English ones, tagged with their
language, through the flat variant id (``mnli_de``). The sample has no translations: tiny files in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.config import DataRef
from xstilts.data import loading
from xstilts.data.loading import DataRoots, load_split, local_path
from xstilts.datasets_view import DataView
from xstilts.errors import UnknownNameError, XstiltsError
from xstilts.tasks import get_registry
from xstilts.tasks.spec import TaskSpec

XNLI_MT_ROWS = [
    ("Er sagte, Mama, ich bin zu Hause.", "Er hat kein Wort gesagt.", "contradictory"),
    ("Er sagte, Mama, ich bin zu Hause.", "Er rief seine Mutter an.", "neutral"),
    ("Er sagte, Mama, ich bin zu Hause.", "Er sagte, er sei zu Hause.", "entailment"),
    ("Ich wusste nicht, wofür ich ging.", "Ich wusste, wohin ich ging.", "contradictory"),
]


def write_xnli_mt(root: Path, lang: str, rows=XNLI_MT_ROWS) -> Path:
    """A file in the layout and format of XNLI-MT 1.0 (``multinli.train.<lang>.tsv``: premise, hypo, label)."""
    path = root / "mnli" / "XNLI-MT-1.0" / "multinli" / f"multinli.train.{lang}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("premise\thypo\tlabel\n" + "".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_mnli_de_resolves_and_loads_german_xnli_mt(tmp_path):
    registry = get_registry()
    spec, lang = registry.resolve_variant("mnli_de")
    assert spec.name == "mnli" and lang == "de"
    path = write_xnli_mt(tmp_path, "de")
    roots = DataRoots(intermediate=tmp_path)
    assert local_path(spec, "train", "de", roots) == path
    assert local_path(spec, "train", "en", roots) == tmp_path / "mnli" / "train.tsv"  # English unchanged
    data = load_split(spec, "train", lang, roots)
    assert (data.task, data.split, data.language, data.source) == ("mnli", "train", "de", str(path))
    assert [(e.text_a, e.text_b, e.label) for e in data.examples[:1]] == [
        ("Er sagte, Mama, ich bin zu Hause.", "Er hat kein Wort gesagt.", "contradiction")
    ]
    assert {e.label for e in data.examples} <= set(spec.labels)  # 'contradictory' mapped
    assert all(e.language == "de" for e in data.examples) and data.examples[0].origin == f"{path}:2"


def test_missing_translation_is_an_error_never_the_english_hub_data(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub holds the English data; it must not stand in for a translation")

    monkeypatch.setattr(loading, "load_hub", no_hub)
    spec = get_registry().get("mnli")
    with pytest.raises(
        XstiltsError, match=r"no translated 'train' data for language 'fr' at .*multinli.train.fr"
    ):
        load_split(spec, "train", "fr", DataRoots(intermediate=tmp_path))


def test_unknown_translation_language_names_the_known_ones():
    with pytest.raises(UnknownNameError, match="language of task 'mnli'"):
        get_registry().resolve_variant("mnli_ja")
    assert "de" in get_registry().get("squad_v1").variant_languages


def test_user_task_with_translations_through_the_data_view(tmp_path):
    """A user's own translated files (any folder: absolute templates) in a spec of their task folder."""
    data = tmp_path / "mt"
    data.mkdir()
    for lang in ("de", "sw"):
        (data / f"nli.{lang}.tsv").write_text(
            "premise\thypo\tlabel\n" + "".join(f"{lang} p{i}\t{lang} h{i}\tneutral\n" for i in range(6)),
            encoding="utf-8",
        )
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "my_nli.yaml").write_text(
        f"""name: my_nli
group: general
format: classification
pair: true
labels: [contradiction, entailment, neutral]
metric: accuracy
local: {{root: intermediate, reader: glue_tsv, files: {{train: mnli/train.tsv}},
        options: {{all: {{text_a: sentence1, text_b: sentence2, label: gold_label, label_last: true}}}}}}
translated:
  root: intermediate
  reader: glue_tsv
  files: {{train: '{data}/nli.{{lang}}.tsv'}}
  languages: [de, sw]
  translation: my own MT system
  options: {{all: {{text_a: premise, text_b: hypo, label: label}}}}
""",
        encoding="utf-8",
    )
    registry = get_registry((str(tasks),))
    spec, lang = registry.resolve_variant("my_nli_sw")
    view = DataView(registry, DataRoots(intermediate=tmp_path), "local")
    train, dev, how = view.train_and_dev(spec, DataRef(language=lang), None, 2)
    assert (len(train.examples), len(dev.examples)) == (4, 2) and "my_nli/train/sw" in how
    assert {e.language for e in train.examples + dev.examples} == {"sw"}
    assert train.examples[0].text_a == "sw p0" and train.source == str(data / "nli.sw.tsv")


def test_translated_specs_are_checked():
    base = dict(
        name="t", group="general", format="classification", labels=("a",), metric="accuracy", hub=None
    )
    local = {"root": "intermediate", "reader": "glue_tsv", "files": {"train": "t/train.tsv"}}
    with pytest.raises(ValueError, match=r"must contain \{lang\}"):
        TaskSpec(**base, local=local, translated={**local, "languages": ["de"]})
    with pytest.raises(ValueError, match="must not include the original 'en'"):
        TaskSpec(
            **base, local=local, translated={**local, "files": {"train": "t/{lang}.tsv"}, "languages": ["en"]}
        )
