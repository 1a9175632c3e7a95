"""Readers for the XTREME ``download/`` + ``labels/`` layout and row mappers for the ``google/xtreme`` hub.

Local readers (``@reader``; one file -> records). Every error names the file and line; for JSON the
``data[i].paragraphs[j].qas[k]`` location, which is also the ``origin`` of a JSON record.

* ``xtreme_pair_tsv`` -- XNLI, PAWS-X ``{split}-{lang}.tsv`` (+ gold); options ``labels``, ``id_prefix``.
* ``xtreme_tagging`` -- UD-POS, PAN-X ``{split}-{lang}.tsv`` (+ gold); options ``labels``, ``id_prefix``.
* ``squad_json`` -- SQuAD-format files with answers (SQuAD, MLQA dev, TyDiQA-GoldP train); options
  ``on_bad_offset``, ``duplicate_ids``, ``blanked``.
* ``xtreme_blanked_qa`` -- XTREME's blanked test views (XQuAD, TyDiQA-GoldP dev, MLQA test) + SQuAD-format gold.
* ``xtreme_bucc`` / ``xtreme_tatoeba`` -- retrieval corpora; ``path`` is a file prefix
  (``download/bucc2018/{lang}-en.{split}``, ``download/tatoeba/{lang}-en``) and they return ``[BitextCorpus]``.
  :func:`read_bucc` and :func:`read_tatoeba` are the plain forms.

Hub mappers (``@hub_mapper``; one ``google/xtreme`` row -> record): ``xtreme_xnli``, ``xtreme_pawsx``,
``xtreme_udpos``, ``xtreme_panx``, ``xtreme_squad`` (XQuAD, MLQA, TyDiQA, SQuAD configs) and, for retrieval,
``xtreme_bucc18`` / ``xtreme_tatoeba``, which map a row to a :class:`BitextPair`; the matching function of
:data:`HUB_BITEXT_ASSEMBLERS` then builds the :class:`BitextCorpus` from all pairs of a split.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xstilts.data.languages import LANGUAGES, from_iso3
from xstilts.data.readers import hub_mapper, reader
from xstilts.data.records import (
    Answer,
    BitextCorpus,
    BitextSide,
    QAExample,
    TaggingExample,
    TextExample,
)
from xstilts.errors import ConfigError, DataError, UnknownNameError

# (file, line, value): a value that remembers where it was read, for error messages.
Located = tuple[Path, int, str]

# ---------------------------------------------------------------------------------------------------------
# Plain text


def _read_text(path: Path) -> str:
    """The whole file as UTF-8 text (a leading BOM dropped); missing, empty or undecodable files raise."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot read file: {exc.strerror}") from None
    if not raw.strip():
        raise DataError(path, "file is empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise DataError(path, f"not valid UTF-8 (byte {raw[exc.start]:#04x})", line=line) from None
    return text.removeprefix("\ufeff")


def _lines(path: Path) -> list[str]:
    """Lines split on ``\\n`` only: ``str.splitlines`` would also split on U+2028, U+0085 ... inside a
    sentence. A final newline ends the last line; CRLF line ends are tolerated."""
    lines = _read_text(path).split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _uniform_width(path: Path, rows: Sequence[tuple[int, list[str]]], allowed: tuple[int, ...]) -> int:
    """The column count of every row. The majority count is taken as intended, so that the error points
    at the deviant row rather than at the first one."""
    width = Counter(len(fields) for _, fields in rows).most_common(1)[0][0]
    expected = " or ".join(map(str, allowed))
    for line, fields in rows:
        if width not in allowed:
            raise DataError(path, f"rows have {width} tab-separated columns; expected {expected}", line=line)
        if len(fields) != width:
            raise DataError(path, f"row has {len(fields)} columns but the other rows have {width}", line=line)
    return width


def _validated(values: Sequence[Located], allowed: Collection[str] | None) -> list[str]:
    for where, line, value in values:
        if not value:
            raise DataError(where, "empty label", line=line)
        if allowed is not None and value not in allowed:
            raise DataError(
                where, f"unknown label {value!r}; expected one of {', '.join(allowed)}", line=line
            )
    return [value for _, _, value in values]


def _default_prefix(path: Path) -> str:
    """``download/xnli/dev-de.tsv`` -> ``xnli-dev-de``: ids stay unique across tasks, splits and languages."""
    return f"{path.parent.name}-{path.stem}"


# ---------------------------------------------------------------------------------------------------------
# XNLI, PAWS-X


def _tsv_rows(path: Path) -> list[tuple[int, list[str]]]:
    """Rows of a ``csv.writer`` TSV with the line each starts on. ``excel-tab`` is the dialect XTREME wrote
    them in (tab-delimited, ``"``-quoted with doubled quotes, CRLF), so reading with it round-trips fields
    that contain quotes; a naive split would keep the quoting."""
    rows = csv.reader(io.StringIO(_read_text(path), newline=""), dialect="excel-tab", strict=True)
    out: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for fields in rows:
            out.append((start, fields))
            start = rows.line_num + 1
    except csv.Error as exc:
        raise DataError(path, f"malformed TSV: {exc}", line=rows.line_num) from None
    return out


def _gold_labels(gold: Path, data: Path, count: int) -> list[Located]:
    """One label per line of ``labels/<task>/test-<lang>.tsv``, aligned with the rows of ``data``."""
    labels = [(gold, number, line.strip()) for number, line in enumerate(_lines(gold), 1)]
    if len(labels) != count:
        raise DataError(
            gold, f"{len(labels)} gold labels but {data} has {count} rows; they must align line by line"
        )
    return labels


@reader("xtreme_pair_tsv")
def read_pair_tsv(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    labels: Collection[str] | None = None,
    id_prefix: str | None = None,
) -> list[TextExample]:
    """XNLI / PAWS-X ``s1 \\t s2 \\t label`` rows; test rows have ``s1 \\t s2`` and take ``gold`` labels.

    Options: ``labels`` -- the allowed label strings (an unknown one is an error naming file and line);
    ``id_prefix`` -- ids are ``<prefix>-<row>`` (0-based), by default ``<task folder>-<file stem>``, e.g.
    ``xnli-dev-de-17``. Every row is kept, line 1 included (PROTOCOL pitfall 5).
    """
    rows = _tsv_rows(path)
    width = _uniform_width(path, rows, allowed=(2, 3))
    located = [(path, line, fields[2].strip()) for line, fields in rows] if width == 3 else None
    if gold is not None:
        if located is not None:
            raise DataError(gold, f"{path} already has a label column; a gold file is only for blanked files")
        located = _gold_labels(gold, path, len(rows))
    values: list[str | None] = _validated(located, labels) if located is not None else [None] * len(rows)
    prefix = id_prefix or _default_prefix(path)
    return [
        TextExample(
            id=f"{prefix}-{i}",
            text_a=fields[0],
            text_b=fields[1],
            label=label,
            language=language,
            origin=f"{path}:{line}",
        )
        for i, ((line, fields), label) in enumerate(zip(rows, values, strict=True))
    ]


# ---------------------------------------------------------------------------------------------------------
# UD-POS, PAN-X

Sentence = list[tuple[int, list[str]]]  # (line number, tab-separated fields) per token line


def _sentences(path: Path) -> list[Sentence]:
    """Token lines grouped into sentences. Any run of blank lines is one separator and leading or trailing
    blank lines are ignored: PAN-X has consecutive blank lines (PROTOCOL pitfall 4)."""
    sentences: list[Sentence] = []
    current: Sentence = []
    for number, line in enumerate(_lines(path), 1):
        if line.strip():
            current.append((number, line.split("\t")))
        elif current:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def _check_tokens(path: Path, sentences: list[Sentence]) -> int:
    """Validate ``token[\\ttag]`` lines; return the column count (1 = tokens only, 2 = with tags)."""
    width = _uniform_width(path, [row for sentence in sentences for row in sentence], allowed=(1, 2))
    for sentence in sentences:
        for line, fields in sentence:
            if not fields[0].strip():
                raise DataError(path, "empty token", line=line)
    return width


def _gold_tags(gold: Path, data: Path, sentences: list[Sentence]) -> list[list[Located]]:
    """Tags of ``labels/<task>/test-<lang>.tsv`` (one per line, blank line between sentences), checked to
    align with ``data`` sentence by sentence and token by token."""
    gold_sentences = _sentences(gold)
    _uniform_width(gold, [row for sentence in gold_sentences for row in sentence], allowed=(1,))
    if len(gold_sentences) != len(sentences):
        raise DataError(gold, f"{len(gold_sentences)} sentences but {data} has {len(sentences)}")
    for k, (tags, tokens) in enumerate(zip(gold_sentences, sentences, strict=True)):
        if len(tags) != len(tokens):
            raise DataError(
                gold,
                f"sentence {k} has {len(tags)} tags but {data} (line {tokens[0][0]}) has {len(tokens)} tokens",
                line=tags[0][0],
            )
    return [[(gold, line, fields[0].strip()) for line, fields in tags] for tags in gold_sentences]


@reader("xtreme_tagging")
def read_tagging(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    labels: Collection[str] | None = None,
    id_prefix: str | None = None,
) -> list[TaggingExample]:
    """UD-POS / PAN-X ``token \\t tag`` lines, a blank line between sentences; test files hold tokens only
    and take their tags from ``gold``. Options as for ``xtreme_pair_tsv`` (ids ``<prefix>-<sentence>``)."""
    sentences = _sentences(path)
    width = _check_tokens(path, sentences)
    located = (
        [[(path, line, fields[1].strip()) for line, fields in s] for s in sentences] if width == 2 else None
    )
    if gold is not None:
        if located is not None:
            raise DataError(gold, f"{path} already has a tag column; a gold file is only for blanked files")
        located = _gold_tags(gold, path, sentences)
    tags = [tuple(_validated(s, labels)) for s in located] if located is not None else [None] * len(sentences)
    prefix = id_prefix or _default_prefix(path)
    return [
        TaggingExample(
            id=f"{prefix}-{k}",
            tokens=tuple(fields[0] for _, fields in sentence),
            tags=sentence_tags,
            language=language,
            origin=f"{path}:{sentence[0][0]}",
        )
        for k, (sentence, sentence_tags) in enumerate(zip(sentences, tags, strict=True))
    ]


# ---------------------------------------------------------------------------------------------------------
# SQuAD-format QA


@dataclass(frozen=True, slots=True)
class _RawQuestion:
    where: str  # data[i].paragraphs[j].qas[k]
    title: str
    context: str
    qa: dict


def _load_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from None


def _field(path: Path, obj: Any, key: str, kind: type, where: str) -> Any:
    if not isinstance(obj, dict):
        raise DataError(path, f"expected an object, found {type(obj).__name__}", field=where)
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise DataError(path, f"missing or non-{kind.__name__} {key!r}", field=where)
    return value


def _questions(path: Path, doc: Any) -> Iterator[_RawQuestion]:
    for i, article in enumerate(_field(path, doc, "data", list, "<root>")):
        where = f"data[{i}]"
        title = str(article.get("title", "")) if isinstance(article, dict) else ""
        for j, paragraph in enumerate(_field(path, article, "paragraphs", list, where)):
            pwhere = f"{where}.paragraphs[{j}]"
            context = _field(path, paragraph, "context", str, pwhere)
            for k, qa in enumerate(_field(path, paragraph, "qas", list, pwhere)):
                qwhere = f"{pwhere}.qas[{k}]"
                if not isinstance(qa, dict):
                    raise DataError(path, "expected a question object", field=qwhere)
                yield _RawQuestion(qwhere, title, context, qa)


def _question_id(path: Path, raw: _RawQuestion) -> str:
    qid = raw.qa.get("id")
    if not isinstance(qid, str | int) or isinstance(qid, bool) or qid == "":
        raise DataError(path, "missing question 'id'", field=raw.where)
    return str(qid)


def _raw_answers(path: Path, raw: _RawQuestion) -> list[tuple[str, int]]:
    out = []
    for n, answer in enumerate(_field(path, raw.qa, "answers", list, raw.where)):
        where = f"{raw.where}.answers[{n}]"
        out.append(
            (_field(path, answer, "text", str, where), _field(path, answer, "answer_start", int, where))
        )
    return out


def _nearest_occurrence(context: str, text: str, start: int) -> int | None:
    hits, at = [], context.find(text)
    while at != -1:
        hits.append(at)
        at = context.find(text, at + 1)
    return min(hits, key=lambda hit: abs(hit - start), default=None)


def _checked_answer(path: Path, raw: _RawQuestion, qid: str, text: str, start: int, find: bool) -> Answer:
    """The answer if ``context[start:start+len(text)] == text``; with ``find`` the nearest occurrence."""
    if not text:
        raise DataError(
            path,
            f"question {qid!r} has a blank answer (a blanked file? use xtreme_blanked_qa)",
            field=raw.where,
        )
    if raw.context[start : start + len(text)] == text:
        return Answer(text=text, start=start)
    found = _nearest_occurrence(raw.context, text, start) if find else None
    if found is None:
        raise DataError(
            path,
            f"question {qid!r}: answer {text!r} is not at answer_start {start} of the context"
            + ("" if find else " (reader option on_bad_offset: find relocates it)"),
            field=raw.where,
        )
    return Answer(text=text, start=found)


def _answered_question(path: Path, raw: _RawQuestion, language: str, find: bool) -> tuple[QAExample, int]:
    """One SQuAD question with checked answers, and how many of its answers were relocated."""
    qid = _question_id(path, raw)
    impossible = raw.qa.get("is_impossible", False) is True
    found = _raw_answers(path, raw)
    if impossible and found:
        raise DataError(path, f"question {qid!r} is_impossible but has answers", field=raw.where)
    if not impossible and not found:
        raise DataError(path, f"question {qid!r} has no answers", field=raw.where)
    answers = tuple(_checked_answer(path, raw, qid, text, start, find) for text, start in found)
    moved = sum(answer.start != start for answer, (_, start) in zip(answers, found, strict=True))
    example = QAExample(
        id=qid,
        question=_field(path, raw.qa, "question", str, raw.where),
        context=raw.context,
        answers=answers,
        is_impossible=impossible,
        title=raw.title,
        language=language,
        origin=f"{path}:{raw.where}",
    )
    return example, moved


def _unique_ids(path: Path, examples: list[QAExample], duplicate_ids: str) -> list[QAExample]:
    """Question ids key predictions and gold, so a repeat is an error; ``duplicate_ids: suffix`` renames the
    k-th repeat ``<id>~k`` (XTREME's per-language TyDiQA-GoldP train files reuse ids)."""
    seen: Counter[str] = Counter()
    out = []
    for example in examples:
        repeat = seen[example.id]
        seen[example.id] += 1
        if repeat and duplicate_ids == "error":
            raise DataError(
                path,
                f"question id {example.id!r} repeats (reader option duplicate_ids: suffix renames repeats)",
                field=example.origin.rpartition(":")[2],
            )
        out.append(replace(example, id=f"{example.id}~{repeat}") if repeat else example)
    return out


def _choice(option: str, value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigError(f"reader option {option}: {value!r} is not one of {', '.join(allowed)}")
    return value


@reader("squad_json")
def read_squad_json(
    path: Path,
    *,
    language: str,
    gold: Path | None = None,
    blanked: bool = False,
    on_bad_offset: str = "error",
    duplicate_ids: str = "error",
) -> list[QAExample]:
    """SQuAD-format JSON with answers: one :class:`QAExample` per question, SQuAD 2.0 ``is_impossible``
    questions included (no answers). Each answer must satisfy ``context[start:start+len(text)] == text``.

    Options: ``on_bad_offset`` -- ``error`` (default) or ``find``: move a mismatched answer to the nearest
    occurrence of its text (a warning reports how many); ``duplicate_ids`` -- ``error`` (default) or
    ``suffix`` (see :func:`_unique_ids`); ``blanked: true`` -- the file is an XTREME blanked test view:
    read it with :func:`read_blanked_qa` (a task spec has one reader for all splits, and MLQA and TyDiQA
    need this reader for train/dev but the blanked one for test).
    """
    if blanked:
        return read_blanked_qa(path, language=language, gold=gold)
    if gold is not None:
        raise DataError(gold, f"{path} carries its own answers; a gold file is only for blanked files")
    find = _choice("on_bad_offset", on_bad_offset, ("error", "find")) == "find"
    _choice("duplicate_ids", duplicate_ids, ("error", "suffix"))
    parsed = [_answered_question(path, raw, language, find) for raw in _questions(path, _load_json(path))]
    moved = sum(n for _, n in parsed)
    if moved:
        warnings.warn(f"{path}: relocated {moved} answer(s) whose answer_start did not match", stacklevel=2)
    return _unique_ids(path, [example for example, _ in parsed], duplicate_ids)


def _blank_question(path: Path, raw: _RawQuestion, language: str) -> QAExample:
    qid = _question_id(path, raw)
    if any(text for text, _ in _raw_answers(path, raw)):
        raise DataError(
            path, f"question {qid!r} has answers: not a blanked file (use squad_json)", field=raw.where
        )
    return QAExample(
        id=qid,
        question=_field(path, raw.qa, "question", str, raw.where),
        context=raw.context,
        answers=(),
        title=raw.title,
        language=language,
        origin=f"{path}:{raw.where}",
    )


def _with_gold(path: Path, examples: list[QAExample], gold: Path, language: str) -> list[QAExample]:
    """Fill answers from a SQuAD-format gold file; both files must hold the same questions (by id)."""
    by_id = {example.id: example for example in read_squad_json(gold, language=language)}
    out = []
    for example in examples:
        truth = by_id.pop(example.id, None)
        if truth is None:
            raise DataError(gold, f"no gold answers for question {example.id!r} of {example.origin}")
        if (truth.context, truth.question) != (example.context, example.question):
            raise DataError(
                gold, f"question {example.id!r}: context or question differs from {example.origin}"
            )
        out.append(
            replace(example, answers=truth.answers, is_impossible=truth.is_impossible, title=truth.title)
        )
    if by_id:
        raise DataError(gold, f"{len(by_id)} gold question(s) are not in {path}, e.g. {next(iter(by_id))!r}")
    return out


@reader("xtreme_blanked_qa")
def read_blanked_qa(path: Path, *, language: str, gold: Path | None = None) -> list[QAExample]:
    """XTREME's blanked test views (XQuAD ``xquad.xx.json``, TyDiQA-GoldP dev, MLQA test): answers are
    ``{"answer_start": 0, "text": ""}``. ``gold`` -- a SQuAD-format file with the answers, keyed by question
    id (``labels/xquad/test-xx.json``) -- fills them in; without it the examples have no answers and the
    caller must mark the split as lacking gold."""
    examples = [_blank_question(path, raw, language) for raw in _questions(path, _load_json(path))]
    examples = _unique_ids(path, examples, "error")
    return examples if gold is None else _with_gold(path, examples, gold, language)


# ---------------------------------------------------------------------------------------------------------
# Retrieval: BUCC 2018, Tatoeba


def _with_suffix(prefix: Path, suffix: str) -> Path:
    """``zh-en.dev`` + ``zh`` -> ``zh-en.dev.zh`` (``Path.with_suffix`` would replace ``.dev``)."""
    return prefix.with_name(f"{prefix.name}.{suffix}")


def _two_columns(path: Path) -> list[tuple[int, str, str]]:
    """``a \\t b`` lines (split on the first tab; a sentence may contain quotes, which stay literal)."""
    rows = []
    for number, line in enumerate(_lines(path), 1):
        first, tab, second = line.partition("\t")
        if not tab or not first.strip() or not second.strip():
            raise DataError(path, "expected two non-empty tab-separated fields", line=number)
        rows.append((number, first, second))
    return rows


def _bucc_side(path: Path) -> BitextSide:
    seen: dict[str, int] = {}
    for number, sentence_id, _ in (rows := _two_columns(path)):
        if sentence_id in seen:
            raise DataError(
                path, f"sentence id {sentence_id!r} repeats (first on line {seen[sentence_id]})", line=number
            )
        seen[sentence_id] = number
    return BitextSide(ids=tuple(r[1] for r in rows), sentences=tuple(r[2] for r in rows))


def _bucc_gold(path: Path, source: BitextSide, english: BitextSide) -> tuple[tuple[str, str], ...]:
    source_ids, english_ids = set(source.ids), set(english.ids)
    for number, source_id, english_id in (rows := _two_columns(path)):
        if source_id not in source_ids or english_id not in english_ids:
            raise DataError(
                path, f"pair {source_id} / {english_id} names a sentence id not in the corpus", line=number
            )
    return tuple((source_id, english_id) for _, source_id, english_id in rows)


def _read_bucc(prefix: Path, language: str, gold: Path | None) -> BitextCorpus:
    source = _bucc_side(_with_suffix(prefix, language))
    english = _bucc_side(_with_suffix(prefix, "en"))
    pairs = _bucc_gold(gold, source, english) if gold is not None else None
    return BitextCorpus(language=language, source=source, english=english, gold=pairs, origin=str(prefix))


def read_bucc(root: Path, language: str, split: str) -> BitextCorpus:
    """BUCC 2018 ``{lang}-en.{split}.{lang|en}`` (``id \\t sentence``) under ``root`` = the
    ``download/bucc2018`` folder, with the ``lang-id \\t en-id`` pairs of ``{lang}-en.{split}.gold`` as
    ``gold`` when that file exists (XTREME deletes the test gold). XTREME's dev = BUCC "sample", test =
    BUCC "training"."""
    prefix = root / f"{language}-en.{split}"
    gold = _with_suffix(prefix, "gold")
    return _read_bucc(prefix, language, gold if gold.exists() else None)


@reader("xtreme_bucc")
def read_bucc_files(path: Path, *, language: str, gold: Path | None = None) -> list[BitextCorpus]:
    """Registry form of :func:`read_bucc`: ``path`` is the common prefix of the two files
    (``download/bucc2018/{lang}-en.{split}``); ``gold`` a ``lang-id \\t en-id`` file (``….gold``, or
    ``labels/bucc2018/test-{lang}.tsv``), required to exist when given. Returns one corpus."""
    return [_read_bucc(path, language, gold)]


def _sentences_of(path: Path) -> list[str]:
    lines = _lines(path)
    for number, line in enumerate(lines, 1):
        if not line.strip():
            raise DataError(path, "empty sentence", line=number)
    return lines


def _check_sorted(path: Path, english: list[str]) -> None:
    """XTREME sorts the English side; the gold indices are only meaningful in that order."""
    for number in range(1, len(english)):
        if english[number] < english[number - 1]:
            raise DataError(
                path, "English side is not sorted as XTREME writes it (raw LASER file?)", line=number + 1
            )


def _tatoeba_gold(gold: Path, english: Path, count: int) -> tuple[tuple[str, str], ...]:
    """Gold line i = 0-based index in the source file of the translation of sorted English line i; the
    indices must be a permutation of the source lines (PROTOCOL §4)."""
    lines = _lines(gold)
    if len(lines) != count:
        raise DataError(
            gold, f"{len(lines)} gold lines but {english} has {count}; they must align line by line"
        )
    first: dict[int, int] = {}
    for number, line in enumerate(lines, 1):
        value = line.strip()
        if not (value.isascii() and value.isdigit()) or int(value) >= count:
            raise DataError(gold, f"{value!r} is not a source line index in 0..{count - 1}", line=number)
        if int(value) in first:
            raise DataError(
                gold, f"source index {value} repeats (first on line {first[int(value)]})", line=number
            )
        first[int(value)] = number
    return tuple((str(index), str(number - 1)) for index, number in first.items())


def _read_tatoeba(prefix: Path, language: str, gold: Path | None) -> BitextCorpus:
    source_path, english_path = _with_suffix(prefix, language), _with_suffix(prefix, "en")
    source, english = _sentences_of(source_path), _sentences_of(english_path)
    if len(source) != len(english):
        raise DataError(english_path, f"{len(english)} lines but {source_path} has {len(source)}")
    _check_sorted(english_path, english)
    ids = tuple(map(str, range(len(source))))
    return BitextCorpus(
        language=language,
        source=BitextSide(ids=ids, sentences=tuple(source)),
        english=BitextSide(ids=ids, sentences=tuple(english)),
        gold=_tatoeba_gold(gold, english_path, len(english)) if gold is not None else None,
        origin=str(prefix),
    )


def read_tatoeba(root: Path, language: str, gold: Path | None) -> BitextCorpus:
    """Tatoeba under ``root`` = the ``download/tatoeba`` folder: ``{lang}-en.{lang}`` in the original order,
    ``{lang}-en.en`` sorted. Sentence ids are 0-based line numbers. ``gold`` (``labels/tatoeba/test-{lang}.tsv``)
    gives, for each sorted English line, the line of its translation; it becomes ``gold`` pairs
    ``(source line, English line)`` in English order: the PROTOCOL §4 convention (query English, index the
    other side)."""
    return _read_tatoeba(root / f"{language}-en", language, gold)


@reader("xtreme_tatoeba")
def read_tatoeba_files(path: Path, *, language: str, gold: Path | None = None) -> list[BitextCorpus]:
    """Registry form of :func:`read_tatoeba`: ``path`` is the prefix ``download/tatoeba/{lang}-en``. Returns
    one corpus."""
    return [_read_tatoeba(path, language, gold)]


# ---------------------------------------------------------------------------------------------------------
# Hub mappers (google/xtreme)


def _col(row: dict, name: str, origin: str) -> Any:
    if name not in row:
        raise DataError(origin, f"hub row has no column {name!r} (columns: {', '.join(row)})")
    return row[name]


def _class_names(features: Any, column: str) -> list[str] | None:
    """ClassLabel names of ``column`` (also inside a sequence, e.g. ``features["pos_tags"].feature``)."""
    if features is None or column not in features:
        return None
    feature = features[column]
    return getattr(getattr(feature, "feature", feature), "names", None)


def _name(value: Any, names: list[str] | None, origin: str) -> str:
    """A label as its string name: strings pass, class indices need the dataset's ClassLabel names."""
    if isinstance(value, str):
        return value
    if names is None or not isinstance(value, int) or not 0 <= value < len(names):
        raise DataError(
            origin, f"label {value!r} cannot be named (pass the dataset features for class indices)"
        )
    return names[value]


@hub_mapper("xtreme_xnli")
def map_xnli(
    row: dict, *, index: int, language: str, origin: str, features: Any = None
) -> TextExample | None:
    """Config ``XNLI`` (columns language, sentence1, sentence2, gold_label) mixes the 15 languages in one
    split: rows of another language map to None."""
    if _col(row, "language", origin) != language:
        return None
    return TextExample(
        id=origin,
        text_a=_col(row, "sentence1", origin),
        text_b=_col(row, "sentence2", origin),
        label=_name(_col(row, "gold_label", origin), _class_names(features, "gold_label"), origin),
        language=language,
        origin=origin,
    )


@hub_mapper("xtreme_pawsx")
def map_pawsx(row: dict, *, index: int, language: str, origin: str, features: Any = None) -> TextExample:
    """Configs ``PAWS-X.{lang}`` (sentence1, sentence2, label "0"/"1"; a plain integer label is written
    as its decimal string, the form of the local files)."""
    label = _col(row, "label", origin)
    names = _class_names(features, "label")
    return TextExample(
        id=origin,
        text_a=_col(row, "sentence1", origin),
        text_b=_col(row, "sentence2", origin),
        label=str(label) if names is None and isinstance(label, int) else _name(label, names, origin),
        language=language,
        origin=origin,
    )


def _map_tagging(row: dict, column: str, *, language: str, origin: str, features: Any) -> TaggingExample:
    tokens = tuple(_col(row, "tokens", origin))
    names = _class_names(features, column)
    tags = tuple(_name(tag, names, origin) for tag in _col(row, column, origin))
    if len(tags) != len(tokens):
        raise DataError(origin, f"{len(tokens)} tokens but {len(tags)} {column}")
    return TaggingExample(id=origin, tokens=tokens, tags=tags, language=language, origin=origin)


@hub_mapper("xtreme_udpos")
def map_udpos(row: dict, *, index: int, language: str, origin: str, features: Any = None) -> TaggingExample:
    """Configs ``udpos.{EnglishName}``: tokens + ``pos_tags`` (ClassLabel indices; pass ``features``)."""
    return _map_tagging(row, "pos_tags", language=language, origin=origin, features=features)


@hub_mapper("xtreme_panx")
def map_panx(row: dict, *, index: int, language: str, origin: str, features: Any = None) -> TaggingExample:
    """Configs ``PAN-X.{lang}``: tokens + ``ner_tags`` (ClassLabel indices); the test split is labelled."""
    return _map_tagging(row, "ner_tags", language=language, origin=origin, features=features)


# TyDiQA question ids start with the language's English name ("english-…"); the ``tydiqa`` config mixes them.
_ID_LANGUAGE = {lang.name.lower(): lang.code for lang in LANGUAGES.values()}


def _id_language(question_id: str) -> str | None:
    prefix, dash, _ = question_id.partition("-")
    return _ID_LANGUAGE.get(prefix) if dash else None


def _hub_answers(answers: Any) -> list[tuple[str, int]]:
    """``{"text": [...], "answer_start": [...]}`` (a sequence of structs) or a list of answer objects."""
    if isinstance(answers, dict):
        return list(zip(answers["text"], answers["answer_start"], strict=True))
    return [(answer["text"], answer["answer_start"]) for answer in answers]


def _hub_answer(context: str, text: str, start: int, origin: str) -> Answer:
    """The hub's loading script stripped contexts and answer texts but kept the offsets, so an answer that
    does not sit at ``start`` is moved to the nearest occurrence of its text."""
    found = start if context[start : start + len(text)] == text else _nearest_occurrence(context, text, start)
    if not text or found is None:
        raise DataError(origin, f"answer {text!r} does not occur in the context")
    return Answer(text=text, start=found)


@hub_mapper("xtreme_squad")
def map_squad(row: dict, *, index: int, language: str, origin: str, features: Any = None) -> QAExample | None:
    """Configs ``XQuAD.{lang}``, ``MLQA.{lang}.{lang}``, ``SQuAD`` and ``tydiqa`` (id, [title,] context,
    question, answers). ``tydiqa`` mixes languages: rows whose id names another language map to None."""
    question_id = str(_col(row, "id", origin))
    if _id_language(question_id) not in (None, language):
        return None
    context = _col(row, "context", origin)
    answers = _hub_answers(_col(row, "answers", origin))
    return QAExample(
        id=question_id,
        question=_col(row, "question", origin),
        context=context,
        answers=tuple(_hub_answer(context, text, start, origin) for text, start in answers),
        title=row.get("title") or "",
        language=language,
        origin=origin,
    )


@dataclass(frozen=True, slots=True)
class BitextPair:
    """One ``bucc18.*`` / ``tatoeba.*`` hub row: a gold translation pair, non-English side first."""

    source_id: str
    source: str
    english_id: str
    english: str
    origin: str = ""


@hub_mapper("xtreme_bucc18")
def map_bucc18(row: dict, *, index: int, language: str, origin: str, features: Any = None) -> BitextPair:
    """Configs ``bucc18.{lang}``: the columns ``source_lang`` / ``target_lang`` hold the sentence *ids*."""
    source_id = _col(row, "source_lang", origin)
    if not source_id.startswith(f"{language}-"):
        raise DataError(origin, f"sentence id {source_id!r} is not a {language} id: wrong bucc18 config?")
    return BitextPair(
        source_id=source_id,
        source=_col(row, "source_sentence", origin),
        english_id=_col(row, "target_lang", origin),
        english=_col(row, "target_sentence", origin),
        origin=origin,
    )


@hub_mapper("xtreme_tatoeba")
def map_tatoeba(row: dict, *, index: int, language: str, origin: str, features: Any = None) -> BitextPair:
    """Configs ``tatoeba.{iso3}`` (LASER codes: ``pes`` = fa, ``cmn`` = zh ...): aligned lines in LASER order,
    newline included. The English side is stripped as XTREME strips it before sorting."""
    try:
        code = from_iso3(_col(row, "source_lang", origin)).code
    except UnknownNameError as exc:
        raise DataError(origin, str(exc)) from None
    if code != language:
        raise DataError(origin, f"row of language {code}, expected {language}: wrong tatoeba config?")
    return BitextPair(
        source_id=str(index),
        source=_col(row, "source_sentence", origin).rstrip("\r\n"),
        english_id=str(index),
        english=_col(row, "target_sentence", origin).strip(),
        origin=origin,
    )


def _split_origin(pairs: Sequence[BitextPair]) -> str:
    if not pairs:
        raise DataError(None, "no hub rows to build a retrieval corpus from")
    return pairs[0].origin.rpartition("#")[0]


def bucc_from_pairs(pairs: Sequence[BitextPair], *, language: str) -> BitextCorpus:
    """A corpus from ``bucc18`` rows. They hold only the gold pairs, not BUCC's non-parallel sentences, so
    mining on it is far easier than the task and its F1 is not comparable (a warning says so); the loading
    script also read the sentences as CSV, which mangles quotes. Prefer the local files."""
    warnings.warn(
        "google/xtreme bucc18 rows hold only the gold pairs: F1 is not comparable to BUCC", stacklevel=2
    )
    origin = _split_origin(pairs)
    sources = {pair.source_id: pair.source for pair in pairs}
    english = {pair.english_id: pair.english for pair in pairs}
    return BitextCorpus(
        language=language,
        source=BitextSide(ids=tuple(sources), sentences=tuple(sources.values())),
        english=BitextSide(ids=tuple(english), sentences=tuple(english.values())),
        gold=tuple((pair.source_id, pair.english_id) for pair in pairs),
        origin=origin,
    )


def tatoeba_from_pairs(pairs: Sequence[BitextPair], *, language: str) -> BitextCorpus:
    """The local layout from ``tatoeba`` rows (given in row order): source in LASER order, English sorted
    (stable, as XTREME), ``gold`` = (source line, English line) for each sorted English line."""
    origin = _split_origin(pairs)
    order = sorted(range(len(pairs)), key=lambda i: pairs[i].english)
    ids = tuple(map(str, range(len(pairs))))
    return BitextCorpus(
        language=language,
        source=BitextSide(ids=ids, sentences=tuple(pair.source for pair in pairs)),
        english=BitextSide(ids=ids, sentences=tuple(pairs[i].english for i in order)),
        gold=tuple((str(source), str(line)) for line, source in enumerate(order)),
        origin=origin,
    )


# Retrieval hub mapper name -> the function that turns a split's mapped pairs into its corpus.
HUB_BITEXT_ASSEMBLERS: dict[str, Callable[..., BitextCorpus]] = {
    "xtreme_bucc18": bucc_from_pairs,
    "xtreme_tatoeba": tatoeba_from_pairs,
}
