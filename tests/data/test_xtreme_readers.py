"""XTREME readers on the real sample (../shared/xtreme), on malformed tmp files, and the hub row mappers."""

from __future__ import annotations

import csv
import json
import re
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

import pytest
from datasets import ClassLabel, Features, List, Value

from xstilts.data import xtreme
from xstilts.data.languages import LANGUAGES, from_iso3, template_values
from xstilts.data.readers import get_hub_mapper, get_reader
from xstilts.data.records import QAExample
from xstilts.errors import DataError
from xstilts.tasks.registry import BUILTIN_SPECS, TaskRegistry

XNLI_LABELS = ["contradiction", "entailment", "neutral"]
UPOS = ["ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT"]
UPOS += ["SCONJ", "SYM", "VERB", "X"]
PANX = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC"]
TATOEBA_SAMPLE = "af ar az bg bn de es et eu fa fr he hi hu id it ja jv ka kk ko lt ml mr nl pl pt ro ru sw ta th tl tr uk vi zh"
# The tatoeba.* configs of google/xtreme (its dataset card).
HUB_TATOEBA = (
    "afr ara ben bul cmn deu ell est eus fin fra heb hin hun ind ita jav jpn kat kaz kor mal mar nld pes por "
    "rus spa swh tam tel tgl tha tur urd vie"
)


@pytest.fixture(scope="module")
def dl(xtreme_dir: Path) -> Path:
    return xtreme_dir / "download"


@pytest.fixture(scope="module")
def gold(xtreme_dir: Path) -> Path:
    return xtreme_dir / "labels"


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def raises_at(path: Path, line: int | None = None, match: str = "") -> AbstractContextManager:
    """DataError whose message starts with ``path`` (and ``:line``) and then matches ``match``."""
    where = f"{path}:{line}" if line is not None else str(path)
    return pytest.raises(DataError, match=f"^{re.escape(where)}.*{match}")


# ---------------------------------------------------------------------------------------------------------
# Sample data


def test_xnli_dev_keeps_every_row_with_ids_and_origins(dl: Path) -> None:
    examples = xtreme.read_pair_tsv(dl / "xnli/dev-de.tsv", language="de", labels=XNLI_LABELS)
    assert len(examples) == 500
    first = examples[0]
    assert first.text_a == "und er hat gesagt, Mama ich bin daheim."
    assert (first.label, first.language, first.origin) == ("neutral", "de", f"{dl / 'xnli/dev-de.tsv'}:1")
    assert examples[17].id == "xnli-dev-de-17"


def test_xnli_test_takes_gold_labels(dl: Path, gold: Path) -> None:
    examples = xtreme.read_pair_tsv(
        dl / "xnli/test-de.tsv", language="de", gold=gold / "xnli/test-de.tsv", labels=XNLI_LABELS
    )
    assert len(examples) == 500
    assert [e.label for e in examples[:3]] == ["contradiction", "entailment", "neutral"]
    assert xtreme.read_pair_tsv(dl / "xnli/test-de.tsv", language="de")[0].label is None


def test_every_pair_file_has_500_rows(dl: Path) -> None:
    for path in sorted([*dl.glob("xnli/*.tsv"), *dl.glob("pawsx/*.tsv")]):
        assert len(xtreme.read_pair_tsv(path, language="xx")) == 500, path


def test_pawsx_unquotes_csv_fields(dl: Path, gold: Path) -> None:
    examples = xtreme.read_pair_tsv(
        dl / "pawsx/test-de.tsv", language="de", gold=gold / "pawsx/test-de.tsv", labels=["0", "1"]
    )
    assert len(examples) == 500 and {e.label for e in examples} == {"0", "1"}
    # the raw line is """Angel Eyes"" ist ..."
    assert examples[18].text_a.startswith('"Angel Eyes" ist ein beliebter Song')


def test_udpos_thai_test_tags_from_gold(dl: Path, gold: Path) -> None:
    sentences = xtreme.read_tagging(
        dl / "udpos/test-th.tsv", language="th", gold=gold / "udpos/test-th.tsv", labels=UPOS
    )
    assert len(sentences) == 500
    assert sum(len(s.tokens) for s in sentences) == 10992
    assert all(len(s.tags) == len(s.tokens) for s in sentences)


def test_udpos_all_gold_languages(dl: Path, gold: Path) -> None:
    for path in sorted(gold.glob("udpos/test-*.tsv")):
        sentences = xtreme.read_tagging(dl / "udpos" / path.name, language="xx", gold=path, labels=UPOS)
        assert len(sentences) == (451 if path.stem == "test-zh" else 500), path


def test_tagging_files_read_with_and_without_tags(dl: Path) -> None:
    train = xtreme.read_tagging(dl / "udpos/train-en.tsv", language="en", labels=UPOS)
    assert len(train) == 2000 and sum(len(s.tokens) for s in train) == 39802
    assert train[0].tokens[:3] == ("Al", "-", "Zaman") and train[0].tags[:3] == ("PROPN", "PUNCT", "PROPN")
    test = xtreme.read_tagging(dl / "panx/test-de.tsv", language="de")
    assert len(test) == 500 and test[0].tags is None


def test_panx_af_test_with_gold(dl: Path, gold: Path) -> None:
    sentences = xtreme.read_tagging(
        dl / "panx/test-af.tsv", language="af", gold=gold / "panx/test-af.tsv", labels=PANX
    )
    assert len(sentences) == 500
    assert sum(len(s.tokens) for s in sentences) == 5395
    assert sentences[3].id == "panx-test-af-3"


def test_xquad_gold_merged_for_all_ten_languages(dl: Path, gold: Path) -> None:
    for path in sorted(gold.glob("xquad/test-*.json")):
        lang = path.stem.removeprefix("test-")
        questions = xtreme.read_blanked_qa(dl / f"xquad/xquad.{lang}.json", language=lang, gold=path)
        assert len(questions) == 322, lang
        for q in questions:
            assert q.answers and all(q.context[a.start : a.start + len(a.text)] == a.text for a in q.answers)
    assert len(list(gold.glob("xquad/test-*.json"))) == 10


def test_blanked_without_gold_has_no_answers(dl: Path) -> None:
    questions = xtreme.read_blanked_qa(
        dl / "tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.en.dev.json", language="en"
    )
    assert len(questions) == 440 and all(q.answers == () for q in questions)


@pytest.mark.parametrize(
    ("lang", "count"),
    [("en", 1148), ("ar", 517), ("de", 512), ("es", 500), ("hi", 507), ("vi", 511), ("zh", 504)],
)
def test_mlqa_dev(dl: Path, lang: str, count: int) -> None:
    path = dl / f"mlqa/MLQA_V1/dev/dev-context-{lang}-question-{lang}.json"
    questions = xtreme.read_squad_json(path, language=lang)
    assert len(questions) == count and all(len(q.answers) == 1 for q in questions)


def test_squad_train(dl: Path) -> None:
    questions = xtreme.read_squad_json(dl / "squad/train-v1.1.json", language="en")
    assert len(questions) == 2180
    assert questions[0].title == "University_of_Notre_Dame"
    assert questions[0].answers[0].text == "Saint Bernadette Soubirous"


def test_tydiqa_train_repeats_ids(dl: Path) -> None:
    path = dl / "tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"
    with raises_at(path, match="repeats"):
        xtreme.read_squad_json(path, language="en")
    questions = xtreme.read_squad_json(path, language="en", duplicate_ids="suffix")
    assert len(questions) == 2000 == len({q.id for q in questions})
    assert questions[0].id == "12" and "12~1" in {q.id for q in questions}


def test_bucc_zh_dev(dl: Path) -> None:
    corpus = xtreme.read_bucc(dl / "bucc2018", "zh", "dev")
    assert (len(corpus.source.ids), len(corpus.english.ids), len(corpus.gold)) == (8624, 13589, 257)
    assert corpus.source.ids[0] == "zh-000000001" and corpus.gold[0] == ("zh-000000057", "en-000008530")
    via_registry = get_reader("xtreme_bucc")(
        dl / "bucc2018/zh-en.dev", language="zh", gold=dl / "bucc2018/zh-en.dev.gold"
    )
    assert via_registry == [corpus]


def test_tatoeba_gold_pairs_translations(dl: Path, gold: Path) -> None:
    corpus = xtreme.read_tatoeba(dl / "tatoeba", "de", gold / "tatoeba/test-de.tsv")
    assert len(corpus.source.sentences) == len(corpus.english.sentences) == 1000
    assert corpus.english.sentences[0] == '"A cat?" asked the old man.'
    source_line, english_line = corpus.gold[0]
    assert (source_line, english_line) == ("367", "0")
    assert "Katze" in corpus.source.sentences[367]
    without_gold = xtreme.read_tatoeba(dl / "tatoeba", "de", None)
    assert without_gold.gold is None and without_gold.source == corpus.source


def test_tatoeba_gold_is_a_permutation_for_every_language(dl: Path, gold: Path) -> None:
    for lang in TATOEBA_SAMPLE.split():
        corpus = get_reader("xtreme_tatoeba")(
            dl / f"tatoeba/{lang}-en", language=lang, gold=gold / f"tatoeba/test-{lang}.tsv"
        )[0]
        n = len(corpus.english.sentences)
        assert sorted(int(s) for s, _ in corpus.gold) == list(range(n)), lang
        assert [int(e) for _, e in corpus.gold] == list(range(n)), lang


# ---------------------------------------------------------------------------------------------------------
# Task specs


def test_specs_load_and_name_registered_readers() -> None:
    registry = TaskRegistry([BUILTIN_SPECS])
    names = {"xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "bucc2018", "tatoeba"}
    assert names <= set(registry.names("xtreme"))
    for name in names:
        spec = registry.get(name)
        get_reader(spec.local.reader)
        get_hub_mapper(spec.hub.mapper)
        assert set(spec.languages) <= set(LANGUAGES), name
        for lang in spec.languages:
            spec.hub.config.format(**template_values(lang))
    assert registry.get("udpos").labels == tuple(UPOS) and registry.get("panx").labels == tuple(PANX)
    assert len(registry.get("tatoeba").languages) == 36 and len(registry.get("panx").languages) == 40


# A sample language per task; (task, split) pairs whose files the sample lacks are skipped.
SPEC_SAMPLE_LANGUAGE = {"xnli": "de", "pawsx": "de", "udpos": "zh", "panx": "af", "xquad": "de", "mlqa": "zh"}
SPEC_SAMPLE_LANGUAGE |= {"tydiqa": "ko", "bucc2018": "zh", "tatoeba": "de"}
MISSING_FROM_SAMPLE = {("xnli", "train"), ("pawsx", "train"), ("mlqa", "test"), ("bucc2018", "test")}


def _gold_path(xtreme_dir: Path, template: str | None, lang: str) -> Path | None:
    path = xtreme_dir / template.format(lang=lang) if template else None
    return path if path is not None and path.exists() else None


def test_spec_files_read_with_their_options(xtreme_dir: Path) -> None:
    """Every split the sample has is readable with the spec's reader, gold template and options."""
    registry = TaskRegistry([BUILTIN_SPECS])
    for name, sample_lang in SPEC_SAMPLE_LANGUAGE.items():
        local = registry.get(name).local
        for split, template in local.files.items():
            if (name, split) in MISSING_FROM_SAMPLE:
                continue
            lang = "en" if split == "train" else sample_lang
            gold_path = _gold_path(xtreme_dir, local.gold.get(split), lang)
            records = get_reader(local.reader)(
                xtreme_dir / template.format(lang=lang),
                language=lang,
                gold=gold_path,
                **local.reader_options(split),
            )
            assert records, (name, split)


def test_hub_templates_follow_the_hub_names() -> None:
    assert template_values("af")["lang_name"] == "Afrikaans"
    assert template_values("fa")["lang_iso3"] == "pes" and from_iso3("cmn").code == "zh"
    tatoeba = TaskRegistry([BUILTIN_SPECS]).get("tatoeba")
    assert {template_values(lang)["lang_iso3"] for lang in tatoeba.languages} == set(HUB_TATOEBA.split())


# ---------------------------------------------------------------------------------------------------------
# Malformed input


def test_pair_tsv_round_trips_csv_writer(tmp_path: Path) -> None:
    rows = [['He said "hi".', "tab\there", "neutral"], ["plain", '"quoted"', "entailment"]]
    path = tmp_path / "dev-xx.tsv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, delimiter="\t").writerows(rows)
    examples = xtreme.read_pair_tsv(path, language="xx", labels=XNLI_LABELS)
    assert [[e.text_a, e.text_b, e.label] for e in examples] == rows


def test_short_row(tmp_path: Path) -> None:
    path = write(tmp_path, "dev-xx.tsv", "a\tb\tneutral\r\nc\td\r\ne\tf\tentailment\r\n")
    with raises_at(path, 2, "2 columns"):
        xtreme.read_pair_tsv(path, language="xx")


def test_unknown_label_in_file_and_in_gold(tmp_path: Path) -> None:
    path = write(tmp_path, "dev-xx.tsv", "a\tb\tneutral\r\nc\td\tmaybe\r\n")
    with raises_at(path, 2, "unknown label 'maybe'"):
        xtreme.read_pair_tsv(path, language="xx", labels=XNLI_LABELS)
    test = write(tmp_path, "test-xx.tsv", "a\tb\r\nc\td\r\n")
    labels = write(tmp_path, "gold.tsv", "neutral\nmaybe\n")
    with raises_at(labels, 2, "unknown label"):
        xtreme.read_pair_tsv(test, language="xx", gold=labels, labels=XNLI_LABELS)


def test_gold_line_count_mismatch_names_both_files(tmp_path: Path) -> None:
    test = write(tmp_path, "test-xx.tsv", "a\tb\r\nc\td\r\n")
    labels = write(tmp_path, "gold.tsv", "neutral\n")
    with pytest.raises(
        DataError, match=f"{re.escape(str(labels))}.*1 gold labels but {re.escape(str(test))} has 2"
    ):
        xtreme.read_pair_tsv(test, language="xx", gold=labels)


def test_empty_files(tmp_path: Path) -> None:
    empty = write(tmp_path, "empty.tsv", "\n\n")
    for read in (xtreme.read_pair_tsv, xtreme.read_tagging, xtreme.read_squad_json, xtreme.read_blanked_qa):
        with raises_at(empty, match="empty"):
            read(empty, language="xx")


def test_bad_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, "dev-xx.tsv", b"a\tb\tneutral\r\nc\xff\td\tneutral\r\n")
    with raises_at(path, 2, "UTF-8"):
        xtreme.read_pair_tsv(path, language="xx")


def test_bad_json(tmp_path: Path) -> None:
    path = write(tmp_path, "x.json", '{"data": [\n  {"paragraphs": ]\n}')
    with raises_at(path, 2, "invalid JSON"):
        xtreme.read_squad_json(path, language="xx")


def test_tagging_tolerates_blank_line_runs(tmp_path: Path) -> None:
    path = write(tmp_path, "dev-xx.tsv", "\nA\tO\nB\tB-PER\n\n\n\nC\tO\n\n\n")
    sentences = xtreme.read_tagging(path, language="xx", labels=PANX)
    assert [s.tokens for s in sentences] == [("A", "B"), ("C",)]
    assert [s.origin for s in sentences] == [f"{path}:2", f"{path}:7"]


def test_tagging_rejects_extra_columns_and_empty_tokens(tmp_path: Path) -> None:
    path = write(tmp_path, "dev-xx.tsv", "A\tO\nB\tO\tx\n")
    with raises_at(path, 2, "3 columns"):
        xtreme.read_tagging(path, language="xx")
    path = write(tmp_path, "dev-yy.tsv", "A\tO\n \tO\n")
    with raises_at(path, 2, "empty token"):
        xtreme.read_tagging(path, language="xx")


def test_tagging_gold_token_count_mismatch(tmp_path: Path) -> None:
    test = write(tmp_path, "test-xx.tsv", "A\nB\n\nC\n")
    tags = write(tmp_path, "gold.tsv", "O\nO\n\nO\nO\n")
    with pytest.raises(
        DataError,
        match=f"{re.escape(str(tags))}:4.*sentence 1 has 2 tags but {re.escape(str(test))} \\(line 4\\)",
    ):
        xtreme.read_tagging(test, language="xx", gold=tags)


def _squad(answer_start: int, text: str = "Paris", qid: str = "q1") -> dict:
    qa = {"id": qid, "question": "Where?", "answers": [{"answer_start": answer_start, "text": text}]}
    return {"data": [{"title": "T", "paragraphs": [{"context": "It is in Paris.", "qas": [qa]}]}]}


def test_squad_bad_offset_is_an_error_unless_found(tmp_path: Path) -> None:
    path = write(tmp_path, "x.json", json.dumps(_squad(3)))
    with raises_at(path, match="'q1'.*not at answer_start 3"):
        xtreme.read_squad_json(path, language="xx")
    with pytest.warns(UserWarning, match="relocated 1 answer"):
        (question,) = xtreme.read_squad_json(path, language="xx", on_bad_offset="find")
    assert question.answers[0].start == 9


def test_squad2_unanswerable(tmp_path: Path) -> None:
    doc = _squad(9)
    doc["data"][0]["paragraphs"][0]["qas"].append(
        {"id": "q2", "question": "Who?", "answers": [], "is_impossible": True, "plausible_answers": []}
    )
    questions = xtreme.read_squad_json(write(tmp_path, "x.json", json.dumps(doc)), language="xx")
    assert [(q.id, q.is_impossible, q.answers) for q in questions][1] == ("q2", True, ())


def test_blanked_gold_must_cover_every_question(tmp_path: Path) -> None:
    blanked = write(tmp_path, "b.json", json.dumps(_squad(0, text="", qid="q9")))
    answers = write(tmp_path, "gold.json", json.dumps(_squad(9)))
    with raises_at(answers, match="no gold answers for question 'q9'"):
        xtreme.read_blanked_qa(blanked, language="xx", gold=answers)
    with raises_at(answers, match="has answers: not a blanked file"):
        xtreme.read_blanked_qa(answers, language="xx")


def test_tatoeba_checks(tmp_path: Path) -> None:
    write(tmp_path, "xx-en.xx", "b\na\n")
    write(tmp_path, "xx-en.en", "A\nB\n")
    with raises_at(write(tmp_path, "g1.tsv", "1\n1\n"), 2, "repeats"):
        xtreme.read_tatoeba(tmp_path, "xx", tmp_path / "g1.tsv")
    with raises_at(write(tmp_path, "g2.tsv", "1\n"), match="1 gold lines"):
        xtreme.read_tatoeba(tmp_path, "xx", tmp_path / "g2.tsv")
    write(tmp_path, "xx-en.en", "B\nA\n")
    with raises_at(tmp_path / "xx-en.en", 2, "not sorted"):
        xtreme.read_tatoeba(tmp_path, "xx", None)


def test_bucc_gold_names_known_ids(tmp_path: Path) -> None:
    write(tmp_path, "xx-en.dev.xx", 'xx-1\tein "Satz"\n')
    write(tmp_path, "xx-en.dev.en", "en-1\ta sentence\n")
    write(tmp_path, "xx-en.dev.gold", "xx-1\ten-1\nxx-2\ten-1\n")
    with raises_at(tmp_path / "xx-en.dev.gold", 2, "not in the corpus"):
        xtreme.read_bucc(tmp_path, "xx", "dev")
    (tmp_path / "xx-en.dev.gold").unlink()
    corpus = xtreme.read_bucc(tmp_path, "xx", "dev")
    assert corpus.gold is None and corpus.source.sentences == ('ein "Satz"',)


# ---------------------------------------------------------------------------------------------------------
# Hub mappers


def same_record(hub, local) -> bool:
    return replace(hub, id=local.id, origin=local.origin) == local


def test_xnli_mapper_keeps_the_requested_language(dl: Path) -> None:
    local = xtreme.read_pair_tsv(dl / "xnli/dev-de.tsv", language="de")[:20]
    mapper = get_hub_mapper("xtreme_xnli")
    for i, ex in enumerate(local):
        row = {"language": "de", "sentence1": ex.text_a, "sentence2": ex.text_b, "gold_label": ex.label}
        assert same_record(
            mapper(row, index=i, language="de", origin=f"google/xtreme/XNLI/validation#{i}"), ex
        )
        assert mapper({**row, "language": "fr"}, index=i, language="de", origin="o") is None
    features = Features({"gold_label": ClassLabel(names=XNLI_LABELS)})
    row = {"language": "de", "sentence1": "a", "sentence2": "b", "gold_label": 1}
    assert mapper(row, index=0, language="de", origin="o", features=features).label == "entailment"


def test_pawsx_mapper(dl: Path, gold: Path) -> None:
    local = xtreme.read_pair_tsv(dl / "pawsx/test-de.tsv", language="de", gold=gold / "pawsx/test-de.tsv")
    for i, ex in enumerate(local[:20]):
        row = {"sentence1": ex.text_a, "sentence2": ex.text_b, "label": ex.label}
        assert same_record(xtreme.map_pawsx(row, index=i, language="de", origin="o"), ex)
        assert (
            xtreme.map_pawsx({**row, "label": int(ex.label)}, index=i, language="de", origin="o").label
            == ex.label
        )


@pytest.mark.parametrize(
    ("mapper", "column", "names", "file"),
    [
        ("xtreme_udpos", "pos_tags", UPOS, "udpos/test-th.tsv"),
        ("xtreme_panx", "ner_tags", PANX, "panx/test-af.tsv"),
    ],
)
def test_tagging_mappers_round_trip(
    dl: Path, gold: Path, mapper: str, column: str, names: list, file: str
) -> None:
    lang = file[-6:-4]
    local = xtreme.read_tagging(dl / file, language=lang, gold=gold / file)
    features = Features({"tokens": List(Value("string")), column: List(ClassLabel(names=names))})
    fn = get_hub_mapper(mapper)
    for i, ex in enumerate(local[:50]):
        row = {
            "tokens": list(ex.tokens),
            column: [names.index(t) for t in ex.tags],
            "langs": [lang] * len(ex.tokens),
        }
        assert same_record(fn(row, index=i, language=lang, origin=f"o#{i}", features=features), ex)
    with pytest.raises(DataError, match="cannot be named"):
        fn(row, index=0, language=lang, origin="o")


def _qa_row(q: QAExample, context: str | None = None) -> dict:
    return {
        "id": q.id,
        "title": q.title,
        "context": q.context if context is None else context,
        "question": q.question,
        "answers": {"answer_start": [a.start for a in q.answers], "text": [a.text for a in q.answers]},
    }


def test_squad_mapper_round_trips_xquad_and_mlqa(dl: Path, gold: Path) -> None:
    xquad = xtreme.read_blanked_qa(
        dl / "xquad/xquad.zh.json", language="zh", gold=gold / "xquad/test-zh.json"
    )
    mlqa = xtreme.read_squad_json(dl / "mlqa/MLQA_V1/dev/dev-context-de-question-de.json", language="de")
    for q in [*xquad[:30], *mlqa[:30]]:
        hub = xtreme.map_squad(_qa_row(q), index=0, language=q.language, origin="o")
        assert hub.id == q.id and same_record(hub, q)


def test_squad_mapper_relocates_after_stripped_context(dl: Path) -> None:
    path = dl / "tydiqa/tydiqa-goldp-v1.1-train/tydiqa.goldp.en.train.json"
    q = next(
        q for q in xtreme.read_squad_json(path, language="en", duplicate_ids="suffix") if q.context[0] == " "
    )
    hub = xtreme.map_squad(_qa_row(q, context=q.context.strip()), index=0, language="en", origin="o")
    shift = len(q.context) - len(q.context.lstrip())
    assert [a.start for a in hub.answers] == [a.start - shift for a in q.answers]


def test_squad_mapper_filters_tydiqa_languages() -> None:
    row = {
        "id": "arabic-123-0",
        "context": "abc",
        "question": "q",
        "answers": {"answer_start": [1], "text": ["b"]},
    }
    assert xtreme.map_squad(row, index=0, language="en", origin="o") is None
    assert xtreme.map_squad(row, index=0, language="ar", origin="o").answers[0].start == 1


def test_tatoeba_hub_rows_rebuild_the_local_corpus(dl: Path, gold: Path) -> None:
    for lang in ("de", "fa", "zh", "jv"):
        local = xtreme.read_tatoeba(dl / "tatoeba", lang, gold / f"tatoeba/test-{lang}.tsv")
        english_of = {int(s): local.english.sentences[int(e)] for s, e in local.gold}
        iso3 = template_values(lang)["lang_iso3"]
        rows = [
            {
                "source_sentence": s + "\n",
                "target_sentence": english_of[i] + "\n",
                "source_lang": iso3,
                "target_lang": "eng",
            }
            for i, s in enumerate(local.source.sentences)
        ]
        origin = f"google/xtreme/tatoeba.{iso3}/validation"
        pairs = [
            xtreme.map_tatoeba(r, index=i, language=lang, origin=f"{origin}#{i}") for i, r in enumerate(rows)
        ]
        assembled = xtreme.HUB_BITEXT_ASSEMBLERS["xtreme_tatoeba"](pairs, language=lang)
        assert replace(assembled, origin=local.origin) == local
    with pytest.raises(DataError, match="wrong tatoeba config"):
        xtreme.map_tatoeba(rows[0], index=0, language="de", origin="o")


def test_bucc_hub_rows_give_the_gold_pairs(dl: Path) -> None:
    local = xtreme.read_bucc(dl / "bucc2018", "zh", "dev")
    source = dict(zip(local.source.ids, local.source.sentences, strict=True))
    english = dict(zip(local.english.ids, local.english.sentences, strict=True))
    rows = [
        {"source_sentence": source[s], "target_sentence": english[e], "source_lang": s, "target_lang": e}
        for s, e in local.gold
    ]
    pairs = [
        xtreme.map_bucc18(r, index=i, language="zh", origin=f"h/bucc18.zh/validation#{i}")
        for i, r in enumerate(rows)
    ]
    with pytest.warns(UserWarning, match="only the gold pairs"):
        corpus = xtreme.bucc_from_pairs(pairs, language="zh")
    assert corpus.gold == local.gold and corpus.origin == "h/bucc18.zh/validation"
    assert set(zip(corpus.source.ids, corpus.source.sentences, strict=True)) <= set(
        zip(local.source.ids, local.source.sentences, strict=True)
    )
    with pytest.raises(DataError, match="wrong bucc18 config"):
        xtreme.map_bucc18(rows[0], index=0, language="de", origin="o")
