"""Single-text and text-pair classification readers (GLUE TSV, JSONL, PubMedQA, ContractNLI, BioASQ)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

from xstilts.data.intermediate._common import (
    check_label,
    field,
    iter_jsonl,
    load_json,
    log_dropped,
    read_text,
    select_range,
    split_lines,
    text_field,
)
from xstilts.data.readers import reader
from xstilts.data.records import TextExample
from xstilts.errors import DataError

Quoting = Literal["none", "csv"]


def _tsv_records(path: Path, quoting: Quoting) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and (line, fields) rows. GLUE files are not CSV-quoted: a ``"`` is text, so split on tabs only."""
    text = read_text(path)
    if quoting == "none":
        lines = split_lines(text)
        return lines[0].split("\t"), [(n, line.split("\t")) for n, line in enumerate(lines[1:], start=2)]
    rows = csv.reader(
        io.StringIO(text, newline=""), delimiter="\t", quotechar='"', doublequote=True, strict=True
    )
    records: list[tuple[int, list[str]]] = []
    try:
        header = next(rows)
        records.extend((rows.line_num, fields) for fields in rows)
    except csv.Error as exc:
        raise DataError(path, f"malformed quoted TSV: {exc}", line=rows.line_num) from exc
    return header, records


def _require_columns(header: list[str], names: Sequence[str | None], path: Path) -> None:
    for name in names:
        if name is not None and name not in header:
            raise DataError(path, f"column {name!r} is not in the header {header}", line=1)


@reader("glue_tsv")
def read_glue_tsv(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    text_a: str,
    label: str,
    text_b: str | None = None,
    id_field: str | None = None,
    label_last: bool = False,
    label_map: Mapping[str, str] | None = None,
    drop_labels: Sequence[str] = (),
    quoting: Quoting = "none",
    rows: Sequence[int] | None = None,
    labels: Sequence[str] = (),
) -> list[TextExample]:
    """A TSV with a header row, columns chosen by name (MNLI, SNLI, QQP, SST-2, Overruling, DDI).

    ``label_last``: take the label from each row's last field, because GLUE's SNLI/MNLI files are ragged (rows
    with five annotator labels have 4 extra fields before ``gold_label``). ``drop_labels``: raw labels whose
    rows are left out and counted (SNLI ``-``, no gold). ``quoting: csv``: RFC-4180 quoting with doubled
    quotes (LegalBench files). ``rows``: 1-based inclusive ``[first, last]`` data rows, for deterministic cuts.
    Ids are the ``id_field`` column, else the 0-based data-row index in the whole file.
    """
    header, records = _tsv_records(path, quoting)
    _require_columns(header, [text_a, text_b, id_field, None if label_last else label], path)
    offset, chosen = select_range(records, rows, path, "data rows")
    examples, dropped = [], 0
    for index, (line, fields) in enumerate(chosen, start=offset):
        if len(fields) < len(header) or (len(fields) > len(header) and not label_last):
            raise DataError(
                path,
                f"expected {len(header)} tab-separated fields as in the header, got {len(fields)}",
                line=line,
            )
        row = dict(zip(header, fields, strict=False))
        raw = fields[-1] if label_last else row[label]
        if raw in drop_labels:
            dropped += 1
            continue
        examples.append(
            TextExample(
                id=row[id_field] if id_field else str(index),
                text_a=row[text_a],
                text_b=row[text_b] if text_b else None,
                label=check_label(raw, labels=labels, label_map=label_map, path=path, line=line, where=label),
                language=language,
                origin=f"{path}:{line}",
            )
        )
    log_dropped(path, dropped, f"rows whose label is in drop_labels {list(drop_labels)}")
    return examples


@reader("jsonl_text")
def read_jsonl_text(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    text_a: str,
    label: str,
    text_b: str | None = None,
    id_field: str | None = None,
    label_map: Mapping[str, str] | None = None,
    drop_labels: Sequence[str] = (),
    labels: Sequence[str] = (),
) -> list[TextExample]:
    """One JSON object per line with flat fields (ChemProt ``text``/``label``, SNLI-format MedNLI/SciTail,
    ANLI ``context``/``hypothesis``/``label``). Ids: ``id_field``, else the 0-based object index."""
    examples, dropped = [], 0
    for index, (line, obj) in enumerate(iter_jsonl(path)):
        raw = str(field(obj, label, path, line=line))
        if raw in drop_labels:
            dropped += 1
            continue
        examples.append(
            TextExample(
                id=str(field(obj, id_field, path, line=line)) if id_field else str(index),
                text_a=text_field(obj, text_a, path, line=line),
                text_b=text_field(obj, text_b, path, line=line) if text_b else None,
                label=check_label(raw, labels=labels, label_map=label_map, path=path, line=line, where=label),
                language=language,
                origin=f"{path}:{line}",
            )
        )
    log_dropped(path, dropped, f"objects whose label is in drop_labels {list(drop_labels)}")
    return examples


def _pubmedqa_test_ids(path: Path, ids_file: str, data: Mapping) -> set[str]:
    ids_path = path.parent / ids_file
    truth = load_json(ids_path)
    if not isinstance(truth, dict):
        raise DataError(ids_path, "expected an object {pmid: label}")
    missing = sorted(set(truth) - set(data))
    if missing:
        raise DataError(ids_path, f"{len(missing)} ids are not in {path.name}, e.g. {missing[:3]}")
    for pmid, label in truth.items():
        if label != data[pmid].get("final_decision"):
            raise DataError(ids_path, f"label {label!r} disagrees with {path.name}", field=pmid)
    return set(truth)


@reader("pubmedqa_json")
def read_pubmedqa(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    test_ids: str,
    select: Literal["test", "non_test"],
    labels: Sequence[str] = (),
) -> list[TextExample]:
    """PubMedQA ``ori_pqal.json`` ({pmid: {QUESTION, CONTEXTS, final_decision, …}}) as (question, abstract) pairs.

    Split rule: the official test ids (the keys of ``test_ids``, a file next to ``path``, i.e. the 500 of
    ``test_ground_truth.json``) are ``select: test`` (our dev split); every other id is ``non_test`` (train).
    The abstract is the ``CONTEXTS`` sections joined with single spaces; text_b carries it, so truncating the
    second segment (``only_second``) keeps the question whole.
    """
    data = load_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected an object {pmid: instance}")
    official = _pubmedqa_test_ids(path, test_ids, data)
    examples = []
    for pmid, item in data.items():
        if (pmid in official) != (select == "test"):
            continue
        contexts = field(item, "CONTEXTS", path, where=pmid)
        if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
            raise DataError(path, "expected a list of strings", field=f"{pmid}.CONTEXTS")
        examples.append(
            TextExample(
                id=pmid,
                text_a=text_field(item, "QUESTION", path, where=pmid),
                text_b=" ".join(contexts),
                label=check_label(
                    text_field(item, "final_decision", path, where=pmid),
                    labels=labels,
                    label_map=None,
                    path=path,
                    where=f"{pmid}.final_decision",
                ),
                language=language,
                origin=f"{path}#{pmid}",
            )
        )
    return examples


def _contract_pairs(
    doc: Mapping, hypotheses: Mapping, path: Path, where: str
) -> Iterator[tuple[str, str, str]]:
    """(hypothesis key, hypothesis text, choice) for one document's single annotation set."""
    sets = field(doc, "annotation_sets", path, where=where)
    if not isinstance(sets, list) or len(sets) != 1:
        raise DataError(path, "expected exactly one annotation set", field=f"{where}.annotation_sets")
    annotations = field(sets[0], "annotations", path, where=f"{where}.annotation_sets[0]")
    for key, annotation in annotations.items():
        if key not in hypotheses:
            raise DataError(path, f"hypothesis {key!r} is not in the 'labels' block", field=f"{where}.{key}")
        hypothesis = text_field(hypotheses[key], "hypothesis", path, where=f"labels.{key}")
        yield key, hypothesis, text_field(annotation, "choice", path, where=f"{where}.{key}")


@reader("contract_nli_json")
def read_contract_nli(
    path: Path, *, language: str, gold: Path | None = None, labels: Sequence[str] = ()
) -> list[TextExample]:
    """ContractNLI JSON: one example per (document, hypothesis), label Entailment/Contradiction/NotMentioned.

    text_a is the whole contract (premise first, as in MNLI), text_b the hypothesis, so truncation is
    ``only_first``: the document is cut, the short hypothesis never is. Evidence spans are not used.
    Ids are ``<document id>/<hypothesis key>`` (``34/nda-11``).
    """
    data = load_json(path)
    documents = field(data, "documents", path)
    hypotheses = field(data, "labels", path)
    examples = []
    for d, doc in enumerate(documents):
        where = f"documents[{d}]"
        doc_id, text = str(field(doc, "id", path, where=where)), text_field(doc, "text", path, where=where)
        for key, hypothesis, choice in _contract_pairs(doc, hypotheses, path, where):
            examples.append(
                TextExample(
                    id=f"{doc_id}/{key}",
                    text_a=text,
                    text_b=hypothesis,
                    label=check_label(
                        choice, labels=labels, label_map=None, path=path, where=f"{where}.{key}.choice"
                    ),
                    language=language,
                    origin=f"{path}#{doc_id}/{key}",
                )
            )
    return examples


def _bioasq_answer(question: Mapping, path: Path, where: str) -> str:
    """BioASQ stores yes/no exact answers as "yes"/"no", sometimes capitalised or as a one-item list."""
    answer = field(question, "exact_answer", path, where=where)
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    if not isinstance(answer, str):
        raise DataError(path, f"expected a yes/no string, got {answer!r}", field=f"{where}.exact_answer")
    return answer.strip().lower()


@reader("bioasq_json")
def read_bioasq(
    path: Path, *, language: str, gold: Path | None = None, labels: Sequence[str] = ()
) -> list[TextExample]:
    """BioASQ task-b JSON ``{"questions": [{id, type, body, exact_answer, snippets: [{text}]}]}``: the yes/no
    questions as (question, snippets joined by spaces) pairs. Other question types (factoid, list, summary)
    are a different task; they are counted and reported, not read."""
    questions = field(load_json(path), "questions", path)
    examples, other = [], 0
    for q, question in enumerate(questions):
        where = f"questions[{q}]"
        if text_field(question, "type", path, where=where) != "yesno":
            other += 1
            continue
        snippets = field(question, "snippets", path, where=where)
        qid = str(field(question, "id", path, where=where))
        examples.append(
            TextExample(
                id=qid,
                text_a=text_field(question, "body", path, where=where),
                text_b=" ".join(text_field(s, "text", path, where=f"{where}.snippets") for s in snippets),
                label=check_label(
                    _bioasq_answer(question, path, where),
                    labels=labels,
                    label_map=None,
                    path=path,
                    where=where,
                ),
                language=language,
                origin=f"{path}#{qid}",
            )
        )
    log_dropped(path, other, "questions that are not yes/no (factoid, list, summary)")
    return examples
