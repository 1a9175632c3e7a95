"""Multiple-choice readers: CommonsenseQA JSONL, Cosmos QA CSV, HellaSwag JSONL, MedMCQA JSONL."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from xstilts.data.intermediate._common import field, iter_jsonl, read_text, text_field
from xstilts.data.readers import reader
from xstilts.data.records import ChoiceExample
from xstilts.errors import DataError


def _label_index(value: object, num_choices: int, path: Path, line: int, name: str, *, base: int = 0) -> int:
    """A gold choice given as an integer (or its string form) counted from ``base``, checked against the choices."""
    try:
        index = int(value) - base  # type: ignore[arg-type]
    except (TypeError, ValueError):
        index = -1
    if isinstance(value, bool) or not 0 <= index < num_choices:
        raise DataError(
            path, f"unknown label {value!r}; expected {base}..{base + num_choices - 1}", line=line, field=name
        )
    return index


@reader("commonsenseqa_jsonl")
def read_commonsenseqa(path: Path, *, language: str, gold: Path | None = None) -> list[ChoiceExample]:
    """``{"answerKey", "id", "question": {"stem", "choices": [{"label": "A", "text"}, …]}}`` per line;
    the answer key becomes the 0-based index of its choice."""
    examples = []
    for line, obj in iter_jsonl(path):
        question = field(obj, "question", path, line=line)
        choices = field(question, "choices", path, line=line, where="question")
        keys = [text_field(c, "label", path, line=line, where="question.choices") for c in choices]
        answer = text_field(obj, "answerKey", path, line=line)
        if answer not in keys:
            raise DataError(
                path, f"unknown label {answer!r}; expected one of {keys}", line=line, field="answerKey"
            )
        examples.append(
            ChoiceExample(
                id=str(field(obj, "id", path, line=line)),
                question=text_field(question, "stem", path, line=line, where="question"),
                choices=tuple(
                    text_field(c, "text", path, line=line, where="question.choices") for c in choices
                ),
                label=keys.index(answer),
                language=language,
                origin=f"{path}:{line}",
            )
        )
    return examples


COSMOS_COLUMNS = ("id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label")


@reader("cosmosqa_csv")
def read_cosmosqa(path: Path, *, language: str, gold: Path | None = None) -> list[ChoiceExample]:
    """Cosmos QA CSV (RFC-4180 quoting) with header ``id,context,question,answer0..answer3,label``."""
    rows = csv.reader(io.StringIO(read_text(path), newline=""), strict=True)
    examples = []
    try:
        header = next(rows)
        if tuple(header) != COSMOS_COLUMNS:
            raise DataError(
                path, f"expected header {','.join(COSMOS_COLUMNS)}, got {','.join(header)}", line=1
            )
        for fields in rows:
            line = rows.line_num
            if len(fields) != len(COSMOS_COLUMNS):
                raise DataError(path, f"expected {len(COSMOS_COLUMNS)} fields, got {len(fields)}", line=line)
            row = dict(zip(COSMOS_COLUMNS, fields, strict=True))
            examples.append(
                ChoiceExample(
                    id=row["id"],
                    question=row["question"],
                    choices=tuple(row[f"answer{i}"] for i in range(4)),
                    label=_label_index(row["label"], 4, path, line, "label"),
                    context=row["context"],
                    language=language,
                    origin=f"{path}:{line}",
                )
            )
    except csv.Error as exc:
        raise DataError(path, f"malformed CSV: {exc}", line=rows.line_num) from exc
    return examples


@reader("hellaswag_jsonl")
def read_hellaswag(path: Path, *, language: str, gold: Path | None = None) -> list[ChoiceExample]:
    """HellaSwag ``hellaswag_{train,val}.jsonl`` (``ind``, ``ctx_a``, ``ctx_b``, ``endings``, integer ``label``).

    As in jiant, ``ctx_a`` is the context and ``ctx_b`` (the start of the sentence every ending completes)
    the question. A missing label (the test file) gives ``label=None``.
    """
    examples = []
    for line, obj in iter_jsonl(path):
        endings = field(obj, "endings", path, line=line)
        if not isinstance(endings, list) or not all(isinstance(e, str) for e in endings):
            raise DataError(path, "expected a list of strings", line=line, field="endings")
        label = obj.get("label")
        examples.append(
            ChoiceExample(
                id=str(field(obj, "ind", path, line=line)),
                question=text_field(obj, "ctx_b", path, line=line),
                choices=tuple(endings),
                label=None if label is None else _label_index(label, len(endings), path, line, "label"),
                context=text_field(obj, "ctx_a", path, line=line),
                language=language,
                origin=f"{path}:{line}",
            )
        )
    return examples


MEDMCQA_OPTIONS = ("opa", "opb", "opc", "opd")


@reader("medmcqa_jsonl")
def read_medmcqa(path: Path, *, language: str, gold: Path | None = None) -> list[ChoiceExample]:
    """MedMCQA ``train.json``/``dev.json`` (JSON lines: ``id``, ``question``, ``opa``..``opd``, ``cop``).
    ``cop`` is 1-based in these files (the hub copy stores it 0-based)."""
    examples = []
    for line, obj in iter_jsonl(path):
        examples.append(
            ChoiceExample(
                id=str(field(obj, "id", path, line=line)),
                question=text_field(obj, "question", path, line=line),
                choices=tuple(text_field(obj, key, path, line=line) for key in MEDMCQA_OPTIONS),
                label=_label_index(field(obj, "cop", path, line=line), 4, path, line, "cop", base=1),
                language=language,
                origin=f"{path}:{line}",
            )
        )
    return examples
