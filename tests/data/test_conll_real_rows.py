"""The CoNLL tag reader on real rows of the files the biomedical NER specs name (fixtures/README.md gives their
provenance): ``-DOCSTART-`` lines are document breaks, and each spec's tag set is what its source contains."""

from __future__ import annotations

from pathlib import Path

import pytest

from xstilts.data.readers import get_reader
from xstilts.errors import DataError
from xstilts.tasks.registry import BUILTIN_SPECS, load_spec

FIXTURES = Path(__file__).parent / "fixtures"
read_conll = get_reader("conll_tags")


def spec_reader_options(task: str, split: str) -> dict:
    """The options the loading layer passes for ``task``: the spec's reader options plus its tag set."""
    spec = load_spec(BUILTIN_SPECS / "biomedical" / f"{task}.yaml")
    return {**spec.local.reader_options(split), "labels": list(spec.labels)}


def test_docstart_lines_are_document_breaks_not_tokens():
    # SciBERT's BC5CDR: "-DOCSTART- (PMID)", a blank line, then the document's sentences
    sentences = read_conll(
        FIXTURES / "scibert_bc5cdr_dev.conll2003", language="en", labels=["O", "B-Entity", "I-Entity"]
    )
    assert [s.tokens[:2] for s in sentences] == [("Tricuspid", "valve"), ("Phenobarbital", "-")]
    assert all("-DOCSTART-" not in s.tokens for s in sentences)
    assert sentences[0].tags[:3] == ("B-Entity", "I-Entity", "I-Entity") and len(sentences[0].tokens) == 12
    assert sentences[1].origin.endswith(":19")  # the first token line after the second -DOCSTART-


def test_conll2003_docstart_without_blank_line_closes_the_sentence(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text(
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n"
        "-DOCSTART- -X- -X- O\nPeter NNP B-NP B-PER\n",
        encoding="utf-8",
    )
    sentences = read_conll(path, language="en", delimiter="whitespace")
    assert [s.tokens for s in sentences] == [("EU", "rejects"), ("Peter",)]
    assert [s.tags for s in sentences] == [("B-ORG", "O"), ("B-PER",)]


def test_bc5cdr_spec_reads_its_named_local_files():
    spec = load_spec(BUILTIN_SPECS / "biomedical/bc5cdr.yaml")
    assert Path(spec.local.files["dev"]).name == "devel.tsv"  # the MTL-Bioinformatics-2016 file name
    sentences = read_conll(
        FIXTURES / "mtl_bc5cdr_devel.tsv", language="en", **spec_reader_options("bc5cdr", "dev")
    )
    assert len(sentences) == 2
    assert {t for s in sentences for t in s.tags} == set(spec.labels)  # all five tags occur in two sentences
    assert sentences[0].tokens[:3] == ("22", "-", "oxacalcitriol")


def test_scibert_bc5cdr_files_are_rejected_with_a_located_error():
    """SciBERT's BC5CDR has one merged entity type: reading it as typed BC5CDR must fail, not mislabel."""
    path = FIXTURES / "scibert_bc5cdr_dev.conll2003"
    with pytest.raises(DataError, match=r"scibert_bc5cdr_dev.conll2003:3 .*B-Entity"):
        read_conll(path, language="en", **spec_reader_options("bc5cdr", "dev"))


def test_ncbi_disease_tag_set_is_the_scibert_files(intermediate_dir):
    """The shared NCBI-disease sample is SciBERT's data/ner/NCBI-disease (PROVENANCE.md): its tags are the spec's."""
    options = spec_reader_options("ncbi_disease", "train")
    sentences = read_conll(intermediate_dir / "ncbi_disease/train.txt", language="en", **options)
    assert {t for s in sentences for t in s.tags} == set(options["labels"])
