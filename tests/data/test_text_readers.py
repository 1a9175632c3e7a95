"""Unlabelled text for the MLM / DAPT arms: the plain-text reader, text of another reader's records (PAWS-X
sentences), and DAPT text drawn from other tasks' training examples (read in place from the shared sample)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from xstilts.data.intermediate.text import interleave
from xstilts.data.loading import DataRoots, load_split
from xstilts.data.readers import get_reader
from xstilts.data.records import TextExample
from xstilts.datasets_view import DataView, Ref
from xstilts.errors import DataError, UnknownNameError, XstiltsError
from xstilts.tasks import get_registry
from xstilts.tasks.spec import TaskSpec


@pytest.fixture(scope="module")
def roots(xtreme_dir, intermediate_dir):
    return DataRoots(xtreme_dir, intermediate_dir)


def write(tmp_path: Path, content: str | bytes, name: str = "de.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


# ---------------------------------------------------------------------------------------------------------------
# plain_text


def test_plain_text_one_document_per_line(tmp_path):
    path = write(tmp_path, "\ufeffErste Zeile.\r\n\r\n  Zweite Zeile.  \nDritte\n")
    docs = get_reader("plain_text")(path, language="de")
    assert [(d.id, d.text_a, d.origin) for d in docs] == [
        ("0", "Erste Zeile.", f"{path}:1"),
        ("1", "Zweite Zeile.", f"{path}:3"),
        ("2", "Dritte", f"{path}:4"),
    ]
    assert all(d.language == "de" and d.label is None and d.text_b is None for d in docs)


def test_plain_text_paragraphs(tmp_path):
    path = write(tmp_path, "\nA one.\nA two.\n\n\n \nB one.\n")
    docs = get_reader("plain_text")(path, language="sw", unit="paragraph")
    assert [(d.text_a, d.origin) for d in docs] == [("A one.\nA two.", f"{path}:2"), ("B one.", f"{path}:7")]


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        (b"", "no text: the file is empty", 1),
        (b"\n  \n\t\n", "only blank lines", 1),
        (b"ok\nalso ok\nbad \xff byte\n", "not valid UTF-8", 3),
        (b"text\n\x00\x01binary\n", "NUL byte", 2),
    ],
)
def test_plain_text_errors_name_file_and_line(tmp_path, content, message, line):
    path = write(tmp_path, content)
    with pytest.raises(DataError, match=message) as err:
        get_reader("plain_text")(path, language="de")
    assert err.value.path == str(path) and err.value.line == line
    assert str(err.value).startswith(f"{path}:{line}: ")


def test_plain_text_bad_unit_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="unit must be 'line' or 'paragraph'"):
        get_reader("plain_text")(write(tmp_path, "x\n"), language="de", unit="sentence")
    with pytest.raises(DataError, match="cannot read file"):
        get_reader("plain_text")(tmp_path / "missing.txt", language="de")


def test_user_mlm_spec_with_an_absolute_file_template(tmp_path):
    """A user's own text: a spec in a task folder whose template is an absolute path, one file per language."""
    (tmp_path / "text").mkdir()
    for lang in ("de", "sw"):
        write(tmp_path / "text", "".join(f"{lang} Satz {i}.\n" for i in range(12)), f"{lang}.txt")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "my_text.yaml").write_text(
        "name: my_text\ngroup: general\nformat: mlm\nmetric: mlm_accuracy\nlanguages: [de, sw]\n"
        "train_language: de\nlocal:\n  root: intermediate\n  reader: plain_text\n"
        f"  files: {{train: '{tmp_path}/text/{{lang}}.txt'}}\n",
        encoding="utf-8",
    )
    registry = get_registry((str(tasks),))
    spec, lang = registry.resolve_variant("my_text_sw")
    view = DataView(registry, DataRoots(intermediate=tmp_path / "elsewhere"), "local")
    from xstilts.config import DataRef

    train, dev, how = view.train_and_dev(spec, DataRef(language=lang), None, 4)
    assert (len(train.examples), len(dev.examples)) == (8, 4) and "held out" in how
    assert {e.language for e in train.examples + dev.examples} == {"sw"}
    assert train.examples[0].text_a == "sw Satz 0." and train.language == "sw"
    with pytest.raises(UnknownNameError, match="language of task 'my_text'"):
        registry.resolve_variant("my_text_fr")


# ---------------------------------------------------------------------------------------------------------------
# text of another reader's records: mlm_xtreme_text (PAWS-X non-English dev sentences)


def test_mlm_xtreme_text_reads_the_pawsx_sentences_without_labels(roots):
    spec = get_registry().get("mlm_xtreme_text")
    assert spec.format == "mlm" and spec.train_language == "de" and "en" not in spec.languages
    data = load_split(spec, "train", "ja", roots)
    assert data.language == "ja" and data.source.endswith("download/pawsx/dev-ja.tsv")
    texts = [d.text_a for d in data.examples]
    assert len(texts) == len(set(texts)) and 900 < len(texts) <= 1000  # 500 pairs, duplicates kept once
    assert all(d.label is None and d.language == "ja" for d in data.examples)
    assert data.examples[0].id == "pawsx-dev-ja-0/text_a" and data.examples[1].id == "pawsx-dev-ja-0/text_b"
    assert get_registry().resolve_variant("mlm_xtreme_text_zh")[1] == "zh"


def test_mlm_xtreme_text_reads_no_file_a_configuration_evaluates_on():
    """Nothing in configs/*.yaml evaluates PAWS-X on dev (only the English dev file is read, as training data)."""
    import yaml

    configs = Path(__file__).resolve().parents[2] / "configs"
    for path in configs.glob("*.yaml"):
        for target in yaml.safe_load(path.read_text(encoding="utf-8")).get("targets", []):
            if target["task"] == "pawsx":
                assert target.get("eval_split", "test") == "test", path
                assert target.get("train", {}).get("language", "en") == "en", path


# ---------------------------------------------------------------------------------------------------------------
# DAPT: task_text


def test_dapt_biomedical_yields_the_biomedical_passages(roots):
    data = load_split(get_registry().get("dapt_biomedical"), "train", "en", roots)
    by_task = Counter(d.id.split("/")[0] for d in data.examples)
    assert set(by_task) == {"pubmedqa", "covid_qa", "chemprot", "ncbi_disease"}
    texts = {d.text_a for d in data.examples}
    assert len(texts) == len(data.examples)  # each distinct text once

    # every PubMedQA training abstract is there (joined CONTEXTS), and none of its dev abstracts
    pubmed = get_registry().get("pubmedqa")
    train_abstracts = {e.text_b for e in load_split(pubmed, "train", "en", roots).examples}
    dev_abstracts = {e.text_b for e in load_split(pubmed, "dev", "en", roots).examples}
    normalise = " ".join
    assert {normalise(a.split()) for a in train_abstracts} <= texts
    assert not {normalise(a.split()) for a in dev_abstracts} & texts
    # the COVID-QA articles of the training cut, each once although every article has many questions
    covid = load_split(get_registry().get("covid_qa"), "train", "en", roots).examples
    contexts = {normalise(e.context.split()) for e in covid}
    assert by_task["covid_qa"] == len(contexts) and contexts <= texts
    # ChemProt's entity markers are removed; NCBI sentences are their tokens joined by spaces
    chem = [d.text_a for d in data.examples if d.id.startswith("chemprot/")]
    assert not any(m in t for t in chem for m in ("<< ", " >>", "[[ ", " ]]"))
    # one sentence with different entity pairs marked is one document (">>" in it is the original text)
    assert sum("sulprostone>PGE2, PGE1>STA2>>17-phenyl-trinor-PGE2" in t for t in chem) == 1
    assert (
        "Identification of APC2 , a homologue of the adenomatous polyposis coli tumour suppressor ." in texts
    )
    # sources interleaved in proportion: the last 200 rows (held-out validation) mix all four tasks
    assert set(Counter(d.id.split("/")[0] for d in data.examples[-200:])) == set(by_task)
    assert (
        data.source
        == "task_text(pubmedqa/train/en, covid_qa/train/en, chemprot/train/en, ncbi_disease/train/en)"
    )
    again = load_split(get_registry().get("dapt_biomedical"), "train", "en", roots)
    assert again.checksum == data.checksum and [d.id for d in again.examples] == [d.id for d in data.examples]


def test_dapt_legal_through_the_data_view(roots):
    view = DataView(get_registry(), roots, "local")
    spec = get_registry().get("dapt_legal")
    train, dev, how = view.train_and_dev(spec, None, None, 100)
    assert "held out" in how and len(dev.examples) == 100
    assert {d.id.split("/")[0] for d in train.examples} == {"contract_nli", "policyqa", "overruling"}
    assert view.load(Ref("dapt_legal", "train", "en")).checksum == train.checksum.split("[")[0]
    with pytest.raises(XstiltsError, match="has no split 'dev'"):
        view.load(Ref("dapt_legal", "dev", "en"))


def test_derived_specs_are_checked(roots, tmp_path):
    with pytest.raises(ValueError, match="derived task has no local files"):
        TaskSpec(
            name="x", group="legal", format="mlm", metric="mlm_accuracy",
            derived={"reader": "task_text", "options": {"all": {"tasks": ["overruling"]}}},
            local={"root": "intermediate", "reader": "plain_text", "files": {"train": "x.txt"}},
        )  # fmt: skip
    nested = TaskSpec(
        name="nested", group="legal", format="mlm", metric="mlm_accuracy",
        derived={"reader": "task_text", "options": {"all": {"tasks": ["dapt_legal"]}}},
    )  # fmt: skip
    with pytest.raises(XstiltsError, match="is itself derived"):
        load_split(nested, "train", "en", roots)
    bad_field = TaskSpec(
        name="bad", group="legal", format="mlm", metric="mlm_accuracy",
        derived={"reader": "task_text", "options": {"all": {"tasks": ["overruling"], "fields": ["context"]}}},
    )  # fmt: skip
    with pytest.raises(DataError, match="TextExample has no field 'context'"):
        load_split(bad_field, "train", "en", roots)


def test_interleave_keeps_every_prefix_proportional():
    merged = interleave([list("aaaaaaaa"), list("bb"), list("cccc")])
    assert len(merged) == 14 and Counter(merged) == {"a": 8, "b": 2, "c": 4}
    assert Counter(merged[:7]) == {"a": 4, "b": 1, "c": 2}
    assert Counter(merged[7:]) == {"a": 4, "b": 1, "c": 2}


def test_text_from_reader_takes_chosen_fields(tmp_path):
    path = write(tmp_path, "s1 eins\ts2 zwei\t1\r\ns1 eins\ts2 drei\t0\r\n", "dev-de.tsv")
    docs = get_reader("text_from_reader")(path, language="de", source_reader="xtreme_pair_tsv")
    assert [d.text_a for d in docs] == ["s1 eins", "s2 zwei", "s2 drei"]
    only_b = get_reader("text_from_reader")(
        path, language="de", source_reader="xtreme_pair_tsv", fields=["text_b"]
    )
    assert [d.text_a for d in only_b] == ["s2 zwei", "s2 drei"]
    assert isinstance(only_b[0], TextExample) and only_b[0].origin == f"{path}:1"
