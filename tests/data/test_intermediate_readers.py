"""Intermediate-task readers, hub mappers and specs, on the real shared sample and on malformed tmp files.

Counts are those of ../shared/intermediate/PROVENANCE.md. Hub mappers cannot reach the hub here: they are fed
hand-written rows of the documented schemas, and where the sample is the same data, a hub-shaped row built from
a local record must map back to the same record.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from pathlib import Path

import pytest
from datasets import ClassLabel, Features, List, Value

from xstilts.data.readers import get_derived_reader, get_hub_mapper, get_reader
from xstilts.data.records import ChoiceExample, QAExample, TaggingExample, TextExample
from xstilts.errors import DataError
from xstilts.tasks.registry import BUILTIN_SPECS, load_spec

INTERMEDIATE_GROUPS = ("general", "biomedical", "legal")
SPEC_FILES = sorted(p for g in INTERMEDIATE_GROUPS for p in (BUILTIN_SPECS / g).glob("*.yaml"))


def read(intermediate_dir: Path, task: str, split: str) -> list:
    """Read a split the way the loading layer does: the spec's reader, file and options (+ its labels)."""
    spec = load_spec(next(p for p in SPEC_FILES if p.stem == task))
    options = spec.local.reader_options(split)
    if spec.labels and spec.format in ("classification", "tagging"):
        options.setdefault("labels", list(spec.labels))
    path = intermediate_dir / spec.local.files[split]
    return get_reader(spec.local.reader)(path, language="en", **options)


def labels_of(examples: list) -> Counter:
    return Counter(e.label for e in examples)


def no_origin(example):
    return dataclasses.replace(example, origin="")


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# ---------------------------------------------------------------------------------------------------------------
# The real sample, with the counts of PROVENANCE.md


def test_sst2_counts(intermediate_dir):
    train, dev = read(intermediate_dir, "sst2", "train"), read(intermediate_dir, "sst2", "dev")
    assert labels_of(train) == {"positive": 1101, "negative": 899}
    assert labels_of(dev) == {"positive": 265, "negative": 235}
    assert train[0].text_a.startswith("hide new secretions") and train[0].text_b is None
    assert train[0].origin.endswith("sst2/train.tsv:2")


def test_mnli_counts_and_quotes(intermediate_dir):
    train = read(intermediate_dir, "mnli", "train")
    assert labels_of(train) == {"entailment": 160, "neutral": 160, "contradiction": 160}
    assert (
        train[0].id == "1541"
        and train[0].text_a == "Well, he showed them."
        and train[0].text_b == "He beat them up."
    )
    assert any('"' in e.text_a + e.text_b for e in train)  # QUOTE_NONE: quotes are text, not CSV syntax


def test_snli_ragged_rows(intermediate_dir):
    path = intermediate_dir / "snli/train.tsv"
    ragged = {n for n, line in enumerate(path.read_text().splitlines(), 1) if line.count("\t") == 14}
    assert len(ragged) == 27
    train = read(intermediate_dir, "snli", "train")
    assert len(train) == 480 and labels_of(train) == {"entailment": 160, "neutral": 160, "contradiction": 160}
    by_line = {int(e.origin.rsplit(":", 1)[1]): e for e in train}
    assert ragged <= set(by_line)
    lines = path.read_text().splitlines()
    for n in ragged:
        fields = lines[n - 1].split("\t")
        assert by_line[n].label == fields[-1] and by_line[n].text_b == fields[8]


def test_qqp_counts(intermediate_dir):
    assert labels_of(read(intermediate_dir, "qqp", "train")) == {"duplicate": 160, "not_duplicate": 160}


def test_squad_counts(intermediate_dir):
    v1 = read(intermediate_dir, "squad_v1", "train")
    assert len(v1) == 2180 and not any(q.is_impossible for q in v1)
    v2, v2_dev = read(intermediate_dir, "squad_v2", "train"), read(intermediate_dir, "squad_v2", "dev")
    assert (len(v2), sum(q.is_impossible for q in v2)) == (2904, 348)
    assert (len(v2_dev), sum(q.is_impossible for q in v2_dev)) == (626, 333)
    assert all(not q.answers for q in v2 if q.is_impossible)
    for q in v1 + v2 + v2_dev:
        assert all(q.context[a.start : a.start + len(a.text)] == a.text for a in q.answers)
    assert v2[0].title == "Beyoncé" and v2[0].origin.endswith(f"#{v2[0].id}")


def test_commonsenseqa_and_cosmosqa_counts(intermediate_dir):
    csqa = read(intermediate_dir, "commonsenseqa", "train") + read(intermediate_dir, "commonsenseqa", "dev")
    assert len(csqa) == 2500 and {len(q.choices) for q in csqa} == {5}
    first = csqa[0]
    assert (
        first.id == "075e483d21c29a511267ef62bedc0461" and first.label == 0 and first.choices[0] == "ignore"
    )
    train, dev = read(intermediate_dir, "cosmosqa", "train"), read(intermediate_dir, "cosmosqa", "dev")
    assert (len(train), len(dev)) == (10, 500)
    assert labels_of(dev) == {0: 128, 1: 117, 2: 128, 3: 127}
    assert all(q.context and len(q.choices) == 4 for q in dev)


def test_pubmedqa_split(intermediate_dir):
    train, dev = read(intermediate_dir, "pubmedqa", "train"), read(intermediate_dir, "pubmedqa", "dev")
    official = json.loads((intermediate_dir / "pubmedqa/test_ground_truth.json").read_text())
    assert (len(train), len(dev)) == (500, 500)
    assert {e.id for e in dev} == set(official) and not {e.id for e in train} & set(official)
    assert labels_of(train) + labels_of(dev) == {"yes": 552, "no": 338, "maybe": 110}
    assert all(e.text_b for e in train)


def test_chemprot_counts(intermediate_dir):
    train, dev = read(intermediate_dir, "chemprot", "train"), read(intermediate_dir, "chemprot", "dev")
    assert (len(train), len(dev)) == (2000, 500)
    assert len(labels_of(train)) == 13 and labels_of(train)["INHIBITOR"] == 755
    assert (
        "<< Epidermal growth factor receptor >>" in train[0].text_a and "[[ gefitinib ]]" in train[0].text_a
    )


def test_ncbi_disease_counts(intermediate_dir):
    train, dev = (
        read(intermediate_dir, "ncbi_disease", "train"),
        read(intermediate_dir, "ncbi_disease", "dev"),
    )
    assert (len(train), len(dev)) == (2000, 500)
    assert sum(t == "B-Disease" for s in train for t in s.tags) == 1986
    assert train[0].tokens[:3] == ("Identification", "of", "APC2") and len(train[0].tokens) == len(
        train[0].tags
    )


def test_covid_qa_article_split(intermediate_dir, caplog):
    with caplog.at_level(logging.WARNING):
        train, dev = read(intermediate_dir, "covid_qa", "train"), read(intermediate_dir, "covid_qa", "dev")
    assert (len(train), len(dev)) == (1021, 359) and not {q.id for q in train} & {q.id for q in dev}
    assert "repaired 144 answer offsets" in caplog.text and "repaired 90 answer offsets" in caplog.text
    for q in train + dev:
        assert all(q.context[a.start : a.start + len(a.text)] == a.text for a in q.answers)


def test_covid_qa_strict_offsets_name_the_question(intermediate_dir):
    with pytest.raises(DataError, match=r"200423_covidQA\.json.*question '\d+'"):
        get_reader("squad_family")(intermediate_dir / "covid_qa/200423_covidQA.json", language="en")


def test_contract_nli_counts(intermediate_dir):
    train, dev = (
        read(intermediate_dir, "contract_nli", "train"),
        read(intermediate_dir, "contract_nli", "dev"),
    )
    assert labels_of(train) == {"Entailment": 389, "NotMentioned": 347, "Contradiction": 114}
    assert labels_of(dev) == {"Entailment": 213, "NotMentioned": 177, "Contradiction": 35}
    first = train[0]
    assert first.id == "34/nda-11" and first.text_a.startswith("NON-DISCLOSURE AND CONFIDENTIALITY AGREEMENT")
    assert first.text_b.startswith("Receiving Party shall not reverse engineer")


def test_overruling_split(intermediate_dir):
    train, dev = read(intermediate_dir, "overruling", "train"), read(intermediate_dir, "overruling", "dev")
    assert (len(train), len(dev)) == (2000, 394)
    assert (train[0].id, train[-1].id, dev[0].id, dev[-1].id) == ("0", "1999", "2000", "2393")
    assert labels_of(train) + labels_of(dev) == {"Yes": 1186, "No": 1208}
    assert train[1].text_a.startswith("alternatively, the state argues")  # a CSV-quoted field, unquoted


def test_policyqa_counts(intermediate_dir):
    assert len(read(intermediate_dir, "policyqa", "train")) == 1939
    assert len(read(intermediate_dir, "policyqa", "dev")) == 294


# ---------------------------------------------------------------------------------------------------------------
# Readers for formats the sample lacks, on small tmp files


def test_jsonl_text_anli_label_map(tmp_path):
    path = write(
        tmp_path,
        "train.jsonl",
        '{"uid": "a1", "context": "P.", "hypothesis": "H.", "label": "c"}\n\n'
        '{"uid": "a2", "context": "P2.", "hypothesis": "H2.", "label": "e"}\n',
    )
    spec = load_spec(BUILTIN_SPECS / "general/anli_r1.yaml")
    out = get_reader("jsonl_text")(
        path, language="en", labels=list(spec.labels), **spec.local.reader_options("train")
    )
    assert [(e.id, e.label, e.origin) for e in out] == [
        ("a1", "contradiction", f"{path}:1"),
        ("a2", "entailment", f"{path}:3"),
    ]


def test_hellaswag_and_medmcqa_readers(tmp_path):
    hs = write(
        tmp_path,
        "hs.jsonl",
        json.dumps({"ind": 4, "ctx_a": "A man", "ctx_b": "then", "endings": list("wxyz"), "label": 2}),
    )
    (ex,) = get_reader("hellaswag_jsonl")(hs, language="en")
    assert ex == ChoiceExample("4", "then", ("w", "x", "y", "z"), 2, context="A man", origin=f"{hs}:1")
    row = {"id": "q1", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 1}
    (mc,) = get_reader("medmcqa_jsonl")(write(tmp_path, "m.json", json.dumps(row)), language="en")
    assert mc.label == 0 and mc.choices == ("a", "b", "c", "d")  # cop is 1-based in the original files


def test_bioasq_reads_yes_no_questions_only(tmp_path, caplog):
    questions = [
        {
            "id": "1",
            "type": "yesno",
            "body": "Is X Y?",
            "exact_answer": "Yes",
            "snippets": [{"text": "a"}, {"text": "b"}],
        },
        {"id": "2", "type": "factoid", "body": "What?", "exact_answer": [["Z"]], "snippets": []},
    ]
    path = write(tmp_path, "train.json", json.dumps({"questions": questions}))
    with caplog.at_level(logging.WARNING):
        out = get_reader("bioasq_json")(path, language="en", labels=["yes", "no"])
    assert [(e.id, e.text_b, e.label) for e in out] == [("1", "a b", "yes")]
    assert "dropped 1 questions that are not yes/no" in caplog.text


def test_conll_whitespace_two_columns_for_ccg(tmp_path):
    path = write(tmp_path, "train.tsv", "The NP/N\ndog N\n\n\n\nbarks S\\NP\n")
    out = get_reader("conll_tags")(
        path, language="en", **load_spec(BUILTIN_SPECS / "general/ccg.yaml").local.options["all"]
    )
    assert [(s.tokens, s.tags) for s in out] == [(("The", "dog"), ("NP/N", "N")), (("barks",), ("S\\NP",))]
    assert out[1].origin == f"{path}:6"


def test_snli_dash_labels_are_dropped_and_counted(tmp_path, caplog):
    header = "index\tsentence1\tsentence2\tlabel1\tgold_label\n"
    path = write(tmp_path, "t.tsv", header + "0\ta\tb\tneutral\tneutral\n1\tc\td\tneutral\t-\n")
    opts = dict(text_a="sentence1", text_b="sentence2", label="gold_label", label_last=True)
    with caplog.at_level(logging.WARNING):
        out = get_reader("glue_tsv")(path, language="en", drop_labels=["-"], **opts)
    assert [e.id for e in out] == ["0"] and "dropped 1 rows" in caplog.text
    with pytest.raises(
        DataError, match=r"t\.tsv:3.*unknown label '-'"
    ):  # without the option: an error, not a drop
        get_reader("glue_tsv")(path, language="en", labels=["neutral"], **opts)


# ---------------------------------------------------------------------------------------------------------------
# Malformed input: every error names the file and the line or field


def test_short_tsv_row(tmp_path):
    path = write(tmp_path, "train.tsv", "sentence\tlabel\ngood\t1\nno label here\n")
    with pytest.raises(DataError, match=r"train\.tsv:3: expected 2 tab-separated fields"):
        get_reader("glue_tsv")(path, language="en", text_a="sentence", label="label")


def test_unknown_tsv_label(tmp_path):
    path = write(tmp_path, "train.tsv", "sentence\tlabel\ngood\t1\nbad\t7\n")
    with pytest.raises(DataError, match=r"train\.tsv:3 \[label\]: unknown label '7'") as err:
        get_reader("glue_tsv")(
            path,
            language="en",
            text_a="sentence",
            label="label",
            label_map={"0": "negative", "1": "positive"},
            labels=["negative", "positive"],
        )
    assert err.value.line == 3 and err.value.path == str(path)


def test_missing_tsv_column(tmp_path):
    path = write(tmp_path, "train.tsv", "text\tlabel\nx\t1\n")
    with pytest.raises(DataError, match=r"train\.tsv:1: column 'sentence' is not in the header"):
        get_reader("glue_tsv")(path, language="en", text_a="sentence", label="label")


def test_rows_beyond_the_file(tmp_path):
    path = write(tmp_path, "test.tsv", "label\ttext\nYes\tx\n")
    with pytest.raises(DataError, match=r"test\.tsv: asked for data rows 1-2000 but the file has only 1"):
        get_reader("glue_tsv")(
            path, language="en", text_a="text", label="label", quoting="csv", rows=[1, 2000]
        )


def test_bad_csv_quoting(tmp_path):
    path = write(tmp_path, "test.tsv", 'label\ttext\nYes\t"unterminated "quote\n')
    with pytest.raises(DataError, match=r"test\.tsv:2: malformed quoted TSV"):
        get_reader("glue_tsv")(path, language="en", text_a="text", label="label", quoting="csv")


def test_empty_file(tmp_path):
    path = write(tmp_path, "train.txt", "\n")
    with pytest.raises(DataError, match=r"train\.txt: file is empty"):
        get_reader("jsonl_text")(path, language="en", text_a="text", label="label")


def test_bad_utf8(tmp_path):
    path = write(tmp_path, "train.tsv", b"sentence\tlabel\nok\t1\ncaf\xe9\t0\n")
    with pytest.raises(DataError, match=r"train\.tsv:3: not valid UTF-8"):
        get_reader("glue_tsv")(path, language="en", text_a="sentence", label="label")


def test_bad_jsonl_line(tmp_path):
    path = write(tmp_path, "train.txt", '{"text": "a", "label": "INHIBITOR"}\n{"text": "b", "label": \n')
    with pytest.raises(DataError, match=r"train\.txt:2: invalid JSON"):
        get_reader("jsonl_text")(path, language="en", text_a="text", label="label")


def test_unknown_jsonl_label(tmp_path):
    path = write(
        tmp_path, "train.txt", '{"text": "a", "label": "INHIBITOR"}\n{"text": "b", "label": "CPR:4"}\n'
    )
    with pytest.raises(DataError, match=r"train\.txt:2 \[label\]: unknown label 'CPR:4'"):
        get_reader("jsonl_text")(path, language="en", text_a="text", label="label", labels=["INHIBITOR"])


def test_missing_jsonl_field(tmp_path):
    path = write(tmp_path, "train.txt", '{"txt": "a", "label": "INHIBITOR"}\n')
    with pytest.raises(DataError, match=r"train\.txt:1 \[text\]: missing field 'text'"):
        get_reader("jsonl_text")(path, language="en", text_a="text", label="label")


def test_bad_json_document(tmp_path):
    path = write(tmp_path, "train.json", '{"data": [\n  {"title": "x",\n   "paragraphs": ]}\n')
    with pytest.raises(DataError, match=r"train\.json:3: invalid JSON: .*\(column \d+\)"):
        get_reader("squad_family")(path, language="en")


def squad(context: str, answer: str, start: int, qid: str = "q1") -> str:
    qa = {"id": qid, "question": "?", "answers": [{"text": answer, "answer_start": start}]}
    return json.dumps({"data": [{"title": "T", "paragraphs": [{"context": context, "qas": [qa]}]}]})


def test_bad_answer_offset(tmp_path):
    path = write(tmp_path, "train.json", squad("The cat sat.", "cat", 5, qid="abc"))
    with pytest.raises(
        DataError, match=r"train\.json \[data\[0\]\.paragraphs\[0\]\.qas\[0\]\.answers\[0\]\]: question 'abc'"
    ):
        get_reader("squad_family")(path, language="en")


@pytest.mark.parametrize(
    ("answer", "start"),
    [(" cat ", 4), (" cat", 4), ("cat", 1), ("cat", 7)],
    ids=["padded", "lead-space", "early", "late"],
)
def test_answer_offset_repair(tmp_path, answer, start):
    path = write(tmp_path, "train.json", squad("The cat sat.", answer, start))
    (q,) = get_reader("squad_family")(path, language="en", repair_offsets=True)
    assert q.answers[0].text == "cat" and q.answers[0].start == 4


def test_answer_offset_repair_stays_near(tmp_path):
    context = "cat " + "x" * 40 + " dog"
    path = write(tmp_path, "train.json", squad(context, "cat", 40))
    with pytest.raises(DataError, match="question 'q1'"):
        get_reader("squad_family")(path, language="en", repair_offsets=True)


def test_impossible_question_with_answers(tmp_path):
    data = json.loads(squad("The cat sat.", "cat", 4))
    data["data"][0]["paragraphs"][0]["qas"][0]["is_impossible"] = True
    path = write(tmp_path, "train.json", json.dumps(data))
    with pytest.raises(DataError, match="question 'q1' is marked impossible but has answers"):
        get_reader("squad_family")(path, language="en")


def test_conll_errors(tmp_path):
    short = write(tmp_path, "short.txt", "APC2\tNN\tO\tO\nAPC3\n")
    with pytest.raises(DataError, match=r"short\.txt:2: expected at least 4 columns, got 1"):
        get_reader("conll_tags")(short, language="en", tag_column=3)
    tags = write(tmp_path, "tags.txt", "APC2\tNN\tO\tO\n\nX\tNN\tO\tB-Chemical\n")
    with pytest.raises(DataError, match=r"tags\.txt:3 \[tag\]: unknown label 'B-Chemical'"):
        get_reader("conll_tags")(tags, language="en", labels=["O", "B-Disease", "I-Disease"])


def test_contract_nli_unknown_choice(tmp_path):
    doc = {
        "id": "7",
        "text": "NDA",
        "annotation_sets": [{"annotations": {"nda-1": {"choice": "Maybe", "spans": []}}}],
    }
    path = write(
        tmp_path,
        "dev.json",
        json.dumps({"documents": [doc], "labels": {"nda-1": {"hypothesis": "H"}}}, indent=2),
    )
    with pytest.raises(
        DataError, match=r"dev\.json \[documents\[0\]\.nda-1\.choice\]: unknown label 'Maybe'"
    ):
        get_reader("contract_nli_json")(
            path, language="en", labels=["Entailment", "Contradiction", "NotMentioned"]
        )


def test_pubmedqa_test_ids_must_exist(tmp_path):
    item = {"QUESTION": "Q?", "CONTEXTS": ["c"], "final_decision": "yes"}
    path = write(tmp_path, "ori_pqal.json", json.dumps({"1": item}))
    write(tmp_path, "test_ground_truth.json", json.dumps({"2": "yes"}))
    with pytest.raises(DataError, match=r"test_ground_truth\.json: 1 ids are not in ori_pqal\.json"):
        get_reader("pubmedqa_json")(path, language="en", test_ids="test_ground_truth.json", select="test")


def test_multiple_choice_bad_labels(tmp_path):
    csqa = {"answerKey": "F", "id": "x", "question": {"stem": "?", "choices": [{"label": "A", "text": "a"}]}}
    path = write(tmp_path, "dev.jsonl", json.dumps(csqa))
    with pytest.raises(DataError, match=r"dev\.jsonl:1 \[answerKey\]: unknown label 'F'"):
        get_reader("commonsenseqa_jsonl")(path, language="en")
    cosmos = 'id,context,question,answer0,answer1,answer2,answer3,label\nq,c,"q, really?",a,b,c,d,4\n'
    with pytest.raises(DataError, match=r"valid\.csv:2 \[label\]: unknown label '4'"):
        get_reader("cosmosqa_csv")(write(tmp_path, "valid.csv", cosmos), language="en")


# ---------------------------------------------------------------------------------------------------------------
# Hub mappers


def hub(name: str, row: dict, features: Features | None = None, index: int = 0, **options):
    return get_hub_mapper(name)(
        row, index=index, language="en", origin=f"hub:test#{index}", features=features, **options
    )


def hub_options(task: str) -> tuple[str, dict]:
    spec = load_spec(next(p for p in SPEC_FILES if p.stem == task))
    return spec.hub.mapper, dict(spec.hub.options)


NLI = ClassLabel(names=["entailment", "neutral", "contradiction"])


def test_glue_rows_match_local_records(intermediate_dir):
    mnli = read(intermediate_dir, "mnli", "train")[:20]
    features = Features(
        {"premise": Value("string"), "hypothesis": Value("string"), "label": NLI, "idx": Value("int32")}
    )
    mapper, options = hub_options("mnli")
    for ex in mnli:
        row = {
            "premise": ex.text_a,
            "hypothesis": ex.text_b,
            "label": NLI.str2int(ex.label),
            "idx": int(ex.id),
        }
        assert no_origin(hub(mapper, row, features, **options)) == no_origin(ex)
    sst2 = read(intermediate_dir, "sst2", "dev")[:20]
    polarity = ClassLabel(names=["negative", "positive"])
    mapper, options = hub_options("sst2")
    for i, ex in enumerate(sst2):
        row = {"sentence": ex.text_a, "label": polarity.str2int(ex.label), "idx": i}
        assert no_origin(hub(mapper, row, Features({"label": polarity}), **options)) == no_origin(ex)
    qqp = read(intermediate_dir, "qqp", "train")[:20]
    duplicate = ClassLabel(names=["not_duplicate", "duplicate"])
    mapper, options = hub_options("qqp")
    for ex in qqp:
        row = {
            "question1": ex.text_a,
            "question2": ex.text_b,
            "label": duplicate.str2int(ex.label),
            "idx": int(ex.id),
        }
        assert no_origin(hub(mapper, row, Features({"label": duplicate}), **options)) == no_origin(ex)


def test_snli_rows_without_gold():
    mapper, options = hub_options("snli")
    row = {"premise": "P", "hypothesis": "H", "label": -1}
    assert hub(mapper, row, Features({"label": NLI}), **options) is None
    kept = hub(mapper, row, Features({"label": NLI}), text_a="premise", text_b="hypothesis")
    assert kept.label is None
    assert hub(mapper, {**row, "label": 2}, Features({"label": NLI}), **options).label == "contradiction"


def test_anli_and_scitail_rows():
    mapper, options = hub_options("anli_r2")
    row = {"uid": "u9", "premise": "P", "hypothesis": "H", "label": 1, "reason": ""}
    assert hub(mapper, row, Features({"label": NLI}), **options) == TextExample(
        "u9", "P", "H", "neutral", origin="hub:test#0"
    )
    mapper, options = hub_options("scitail")
    row = {"sentence1": "P", "sentence2": "H", "gold_label": "entailment", "annotator_labels": []}
    assert hub(mapper, row, index=3, **options).label == "entailment"


def squad_row(q: QAExample) -> dict:
    answers = {"text": [a.text for a in q.answers], "answer_start": [a.start for a in q.answers]}
    return {"id": q.id, "title": q.title, "context": q.context, "question": q.question, "answers": answers}


def test_squad_rows_match_local_records(intermediate_dir):
    v2 = read(intermediate_dir, "squad_v2", "train")
    sample = [q for q in v2 if q.is_impossible][:10] + [q for q in v2 if not q.is_impossible][:10]
    for q in sample:
        assert no_origin(hub("hub_squad", squad_row(q))) == no_origin(q)
    mapper, options = hub_options("covid_qa")
    for q in read(intermediate_dir, "covid_qa", "dev")[:20]:
        row = {**squad_row(q), "id": int(q.id), "document_id": 1, "is_impossible": False}
        del row["title"]
        assert no_origin(hub(mapper, row, **options)) == no_origin(q)


def test_squad_row_errors():
    row = {
        "id": "q",
        "context": "The cat.",
        "question": "?",
        "answers": {"text": ["dog"], "answer_start": [4]},
    }
    with pytest.raises(DataError, match=r"hub:test#0 \[answers.answers\[0\]\]: question 'q'"):
        hub("hub_squad", row)
    with pytest.raises(DataError, match=r"hub:test#0 \[question\]: hub row has no column 'question'"):
        hub("hub_squad", {k: v for k, v in row.items() if k != "question"})


def test_choice_rows_match_local_records(intermediate_dir):
    for q in read(intermediate_dir, "commonsenseqa", "dev")[:20]:
        row = {"id": q.id, "question": q.question, "question_concept": "", "answerKey": "ABCDE"[q.label]}
        row["choices"] = {"label": list("ABCDE"), "text": list(q.choices)}
        assert no_origin(hub("hub_commonsenseqa", row)) == no_origin(q)
    for q in read(intermediate_dir, "cosmosqa", "dev")[:20]:
        row = {"id": q.id, "context": q.context, "question": q.question, "label": q.label}
        row.update({f"answer{i}": c for i, c in enumerate(q.choices)})
        assert no_origin(hub("hub_cosmosqa", row)) == no_origin(q)
    test_row = {
        "id": "t",
        "question": "?",
        "question_concept": "",
        "answerKey": "",
        "choices": {"label": ["A"], "text": ["a"]},
    }
    assert hub("hub_commonsenseqa", test_row).label is None


def test_pubmedqa_rows_match_local_records(intermediate_dir):
    data = json.loads((intermediate_dir / "pubmedqa/ori_pqal.json").read_text())
    for ex in read(intermediate_dir, "pubmedqa", "dev")[:20]:
        item = data[ex.id]
        context = {"contexts": item["CONTEXTS"], "labels": item["LABELS"], "meshes": item["MESHES"]}
        row = {
            "pubid": int(ex.id),
            "question": item["QUESTION"],
            "context": context,
            "long_answer": "",
            "final_decision": item["final_decision"],
        }
        assert no_origin(hub("hub_pubmedqa", row)) == no_origin(ex)


def test_ncbi_rows_match_local_records(intermediate_dir):
    features = Features(
        {
            "id": Value("string"),
            "tokens": List(Value("string")),
            "ner_tags": List(ClassLabel(names=["O", "B-Disease", "I-Disease"])),
        }
    )
    mapper, options = hub_options("ncbi_disease")
    for i, s in enumerate(read(intermediate_dir, "ncbi_disease", "dev")[:20]):
        row = {
            "id": str(i),
            "tokens": list(s.tokens),
            "ner_tags": [features["ner_tags"].feature.str2int(t) for t in s.tags],
        }
        assert no_origin(hub(mapper, row, features, index=i, **options)) == no_origin(s)


def test_bc5cdr_rows_use_tner_tag_order():
    mapper, options = hub_options("bc5cdr")
    ex = hub(mapper, {"tokens": ["Aspirin", "causes", "ulcers"], "tags": [1, 0, 2]}, index=5, **options)
    assert ex == TaggingExample(
        "5", ("Aspirin", "causes", "ulcers"), ("B-Chemical", "O", "B-Disease"), origin="hub:test#5"
    )


def test_legal_rows_match_local_records(intermediate_dir):
    mapper, options = hub_options("contract_nli")
    features = Features({"label": ClassLabel(names=["contradiction", "entailment", "neutral"])})
    lowercase = {"Contradiction": 0, "Entailment": 1, "NotMentioned": 2}
    for i, ex in enumerate(read(intermediate_dir, "contract_nli", "dev")[:34]):
        row = {"premise": ex.text_a, "hypothesis": ex.text_b, "label": lowercase[ex.label]}
        assert no_origin(hub(mapper, row, features, index=i, **options)) == no_origin(
            dataclasses.replace(ex, id=str(i))
        )
    mapper, options = hub_options("overruling")
    for ex in read(intermediate_dir, "overruling", "dev")[:20]:
        row = {"index": ex.id, "text": ex.text_a, "answer": ex.label}
        assert no_origin(hub(mapper, row, **options)) == no_origin(ex)


def test_lexglue_rows():
    spec = load_spec(BUILTIN_SPECS / "legal/ledgar.yaml")
    features = Features({"text": Value("string"), "label": ClassLabel(names=list(spec.labels))})
    mapper, options = hub_options("ledgar")
    assert (
        hub(mapper, {"text": "Notices shall be sent to...", "label": 65}, features, **options).label
        == "Notices"
    )
    with pytest.raises(DataError, match=r"integer label 65 but no ClassLabel names"):
        hub(mapper, {"text": "x", "label": 65}, **options)
    assert hub("hub_unfair_tos", {"text": "We may terminate.", "labels": [1]}).label == "unfair"
    assert hub("hub_unfair_tos", {"text": "Welcome.", "labels": []}).label == "fair"
    row = {"context": "See Doe (<HOLDING>).", "endings": ["h0", "h1", "h2", "h3", "h4"], "label": 3}
    case = hub("hub_casehold", row, Features({"label": ClassLabel(names=list("01234"))}))
    assert (case.context, case.question, case.label, len(case.choices)) == ("See Doe (<HOLDING>).", "", 3, 5)


def test_other_choice_rows():
    row = {
        "ind": 7,
        "activity_label": "x",
        "ctx_a": "A man",
        "ctx_b": "then",
        "ctx": "",
        "endings": list("wxyz"),
        "label": "3",
    }
    assert hub("hub_hellaswag", row) == ChoiceExample(
        "7", "then", tuple("wxyz"), 3, context="A man", origin="hub:test#0"
    )
    assert hub("hub_hellaswag", {**row, "label": ""}).label is None
    med = {"id": "m", "question": "Q?", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 2, "exp": ""}
    assert hub("hub_medmcqa", med).label == 2 and hub("hub_medmcqa", {**med, "cop": -1}).label is None
    head = {
        "name": "Cuaderno_2013_1_B",
        "qid": 4,
        "qtext": "Q?",
        "ra": 3,
        "answers": [{"aid": i, "atext": f"a{i}"} for i in (1, 2, 3, 4)],
    }
    assert hub("hub_headqa", head).label == 2
    with pytest.raises(DataError, match=r"\[ra\]: right answer id 9"):
        hub("hub_headqa", {**head, "ra": 9})


# ---------------------------------------------------------------------------------------------------------------
# Specs


def test_spec_files_exist():
    names = {p.stem for p in SPEC_FILES}
    expected = {
        "mnli",
        "snli",
        "qqp",
        "sst2",
        "squad_v1",
        "squad_v2",
        "commonsenseqa",
        "cosmosqa",
        "hellaswag",
        "ccg",
    }
    expected |= {
        "anli_r1",
        "anli_r2",
        "anli_r3",
        "pubmedqa",
        "chemprot",
        "ncbi_disease",
        "bc5cdr",
        "covid_qa",
    }
    expected |= {
        "scitail",
        "mednli",
        "bioasq",
        "medmcqa",
        "headqa",
        "ddi",
        "contract_nli",
        "overruling",
        "policyqa",
    }
    expected |= {"cuad", "casehold", "ledgar", "unfair_tos"}
    expected |= {"mlm", "mlm_xtreme_text", "dapt_biomedical", "dapt_legal"}  # MLM / DAPT arms
    expected |= {"anli_plus"}  # composite task (one NLI head over SNLI + MNLI + ANLI)
    assert names == expected


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_spec_is_valid(path):
    spec = load_spec(path)
    assert spec.name == path.stem and spec.group == path.parent.name
    if spec.local is not None:
        # MLM text may come from the XTREME folder (mlm_xtreme_text: sentences no evaluation reads)
        assert spec.local.root == "intermediate" or spec.format == "mlm"
        get_reader(spec.local.reader)
    if spec.derived is not None:
        get_derived_reader(spec.derived.reader)
    if spec.translated is not None:
        get_reader(spec.translated.reader)
        assert spec.translated.translation
    if spec.hub is not None:
        get_hub_mapper(spec.hub.mapper)
    if spec.format in ("classification",):
        assert spec.labels
    if spec.gated:
        assert spec.hub is None and spec.local is not None and "Gated:" in spec.notes
    assert spec.hyper.learning_rate == 1e-5 and spec.hyper.batch_size == 32 and spec.hyper.epochs == 3
    assert spec.hyper.max_seq_length == (384 if spec.format == "span_qa" else 256)


def test_sample_labels_are_the_spec_labels(intermediate_dir):
    """The strings a reader yields are exactly those its spec declares (checked on the sample's label sets)."""
    for task in ("sst2", "mnli", "snli", "qqp", "pubmedqa", "chemprot", "contract_nli", "overruling"):
        spec = load_spec(next(p for p in SPEC_FILES if p.stem == task))
        assert set(labels_of(read(intermediate_dir, task, "train"))) == set(spec.labels), task
    tags = {t for s in read(intermediate_dir, "ncbi_disease", "train") for t in s.tags}
    assert tags == set(load_spec(BUILTIN_SPECS / "biomedical/ncbi_disease.yaml").labels)
