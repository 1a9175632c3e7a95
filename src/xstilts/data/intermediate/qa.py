"""SQuAD-format extractive QA (SQuAD 1.1/2.0, COVID-QA, PolicyQA, CUAD) and the answer-offset checks that the
local reader and the hub mapper share.

The XTREME layer has its own ``squad_json`` reader for the blanked XTREME files; this one adds what the
intermediate tasks need (article ranges, unanswerable questions, offset repair). Merge candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from xstilts.data.intermediate._common import field, load_json, logger, select_range, text_field
from xstilts.data.readers import reader
from xstilts.data.records import Answer, QAExample
from xstilts.errors import DataError

# How far a repaired answer may move from its recorded start. COVID-QA's April-2020 file has one article whose
# offsets are all 3 characters early; a larger window would start matching unrelated repeats of short answers.
MAX_OFFSET_SHIFT = 16


def _relocate(context: str, text: str, start: int) -> Answer | None:
    """The annotated answer with surrounding whitespace dropped and its start moved to where it really is
    (at most ``MAX_OFFSET_SHIFT`` characters away, nearest first); None when it cannot be found."""
    stripped = text.strip()
    if not stripped:
        return None
    lo = max(0, start - MAX_OFFSET_SHIFT)
    hits = []
    pos = context.find(stripped, lo)
    while pos != -1 and pos <= start + MAX_OFFSET_SHIFT:
        hits.append(pos)
        pos = context.find(stripped, pos + 1)
    if not hits:
        return None
    return Answer(stripped, min(hits, key=lambda p: (abs(p - start), p)))


def checked_answers(
    context: str,
    raw: Iterable[tuple[str, int]],
    *,
    qid: str,
    path: Path | str,
    where: str,
    repair: bool,
) -> tuple[tuple[Answer, ...], int]:
    """Answers whose text equals ``context[start:start+len(text)]`` and the number repaired on the way.

    With ``repair`` an answer padded with whitespace or shifted by a few characters is fixed (see
    :func:`_relocate`); anything else is a DataError naming the file, the question id and the field.
    """
    answers, repaired = [], 0
    for n, (text, start) in enumerate(raw):
        if not isinstance(text, str) or not isinstance(start, int) or isinstance(start, bool):
            raise DataError(
                path,
                f"question {qid!r}: answer needs a string text and an integer answer_start",
                field=f"{where}.answers[{n}]",
            )
        found = context[start : start + len(text)]
        if found == text and start >= 0:
            answers.append(Answer(text, start))
            continue
        fixed = _relocate(context, text, start) if repair else None
        if fixed is None:
            raise DataError(
                path,
                f"question {qid!r}: answer {text!r} does not match the context at {start} ({found!r})",
                field=f"{where}.answers[{n}]",
            )
        answers.append(fixed)
        repaired += 1
    return tuple(answers), repaired


def build_qa_example(
    *,
    qid: str,
    question: str,
    context: str,
    raw_answers: Sequence[tuple[str, int]],
    is_impossible: bool,
    title: str,
    language: str,
    origin: str,
    path: Path | str,
    where: str,
    repair: bool,
) -> tuple[QAExample, int]:
    """One checked QAExample (and its repair count): unanswerable questions carry no answers, answerable ones
    at least one."""
    if is_impossible and raw_answers:
        raise DataError(
            path, f"question {qid!r} is marked impossible but has answers", field=f"{where}.answers"
        )
    if not is_impossible and not raw_answers:
        raise DataError(
            path, f"question {qid!r} has no answers and is not marked impossible", field=f"{where}.answers"
        )
    answers, repaired = checked_answers(context, raw_answers, qid=qid, path=path, where=where, repair=repair)
    example = QAExample(
        id=qid,
        question=question,
        context=context,
        answers=answers,
        is_impossible=is_impossible,
        title=title,
        language=language,
        origin=origin,
    )
    return example, repaired


def _raw_answers(qa: dict, path: Path, where: str) -> list[tuple[str, int]]:
    answers = qa.get("answers", [])
    if not isinstance(answers, list):
        raise DataError(path, "expected a list", field=f"{where}.answers")
    return [
        (
            field(a, "text", path, where=f"{where}.answers"),
            field(a, "answer_start", path, where=f"{where}.answers"),
        )
        for a in answers
    ]


@reader("squad_family")
def read_squad_family(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    articles: Sequence[int] | None = None,
    repair_offsets: bool = False,
) -> list[QAExample]:
    """SQuAD-format JSON ``{"data": [{"title"?, "paragraphs": [{"context", "qas": [...]}]}]}``.

    ``is_impossible`` (SQuAD 2.0, COVID-QA, CUAD) defaults to false; ``plausible_answers`` are ignored.
    ``articles``: 1-based inclusive ``[first, last]`` article range, for deterministic splits of one-file
    datasets (COVID-QA: articles 1-78 train, 79-98 dev). ``repair_offsets``: fix whitespace-padded or slightly
    shifted answers (COVID-QA) and report how many; otherwise a mismatch is an error naming the question id.
    Ids are the ``id`` field as a string; origins ``path#id``.
    """
    data = field(load_json(path), "data", path)
    if not isinstance(data, list):
        raise DataError(path, "expected a list", field="data")
    offset, chosen = select_range(data, articles, path, "articles")
    examples, repaired = [], 0
    for a, article in enumerate(chosen, start=offset):
        title = article.get("title", "") if isinstance(article, dict) else ""
        for p, paragraph in enumerate(field(article, "paragraphs", path, where=f"data[{a}]")):
            where_p = f"data[{a}].paragraphs[{p}]"
            context = text_field(paragraph, "context", path, where=where_p)
            for q, qa in enumerate(field(paragraph, "qas", path, where=where_p)):
                where = f"{where_p}.qas[{q}]"
                qid = str(field(qa, "id", path, where=where))
                example, fixed = build_qa_example(
                    qid=qid,
                    question=text_field(qa, "question", path, where=where),
                    context=context,
                    raw_answers=_raw_answers(qa, path, where),
                    is_impossible=bool(qa.get("is_impossible", False)),
                    title=title,
                    language=language,
                    origin=f"{path}#{qid}",
                    path=path,
                    where=where,
                    repair=repair_offsets,
                )
                examples.append(example)
                repaired += fixed
    if repaired:
        logger.warning("%s: repaired %d answer offsets (whitespace or shifted starts)", path, repaired)
    return examples
