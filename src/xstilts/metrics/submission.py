"""Score a prediction folder in the XTREME submission layout against a ``labels/`` folder.

Both folders hold ``<task>/test-<lang>.tsv`` (``.json`` for QA), the layout of the official
``mock_test_data/``. Files are validated strictly (a malformed file raises :class:`DataError` naming file and
line) and languages or tasks present on one side only are reported, never silently dropped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from xstilts.errors import DataError
from xstilts.metrics.official import (
    QaGold,
    accuracy,
    bucc_scores,
    mlqa_scores,
    squad_scores,
    tagging_scores,
)
from xstilts.metrics.xtreme_score import (
    QA_TASKS,
    TASK2LANGS,
    TASKS,
    check_task,
    task_score,
    xtreme_score_from_tasks,
)

_LANG_FILE = re.compile(r"test-(?P<lang>[^.]+)\.(?P<suffix>tsv|json)")


def file_suffix(task: str) -> str:
    return "json" if check_task(task) in QA_TASKS else "tsv"


# --- readers -----------------------------------------------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    """Stripped lines (line i+1 of the file at index i) without trailing blank lines; an empty file is an error."""
    try:
        with path.open(encoding="utf-8") as f:  # universal newlines: CRLF files from csv.writer read the same
            lines = [line.strip() for line in f]
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise DataError(path, "empty file")
    return lines


def _nonblank_lines(path: Path) -> list[tuple[int, str]]:
    numbered = list(enumerate(_read_lines(path), start=1))
    for lineno, line in numbered:
        if not line:
            raise DataError(path, "blank line (one item per line expected)", line=lineno)
    return numbered


def read_label_lines(path: Path) -> list[str]:
    """One class label per line (XNLI, PAWS-X)."""
    return [line for _, line in _nonblank_lines(path)]


def read_indices(path: Path) -> list[int]:
    """One non-negative integer per line (Tatoeba: a 0-based sentence index)."""
    indices = []
    for lineno, line in _nonblank_lines(path):
        if not line.isdecimal():
            raise DataError(path, f"expected a non-negative integer index, got {line!r}", line=lineno)
        indices.append(int(line))
    return indices


def read_pairs(path: Path) -> list[tuple[str, str]]:
    """One ``source_id<TAB>target_id`` pair per line (BUCC)."""
    pairs = []
    for lineno, line in _nonblank_lines(path):
        fields = line.split("\t")
        if len(fields) != 2 or not all(fields):
            raise DataError(path, f"expected 'source_id<TAB>target_id', got {line!r}", line=lineno)
        pairs.append((fields[0], fields[1]))
    return pairs


def read_tag_sentences(path: Path) -> tuple[list[list[str]], list[int]]:
    """Sentences of one-tag-per-line files and the line each sentence starts on.

    Runs of blank lines count as one separator (xtreme #16: PAN-X files can hold several in a row).
    """
    sentences: list[list[str]] = []
    starts: list[int] = []
    in_sentence = False
    for lineno, line in enumerate(_read_lines(path), start=1):
        if not line:
            in_sentence = False
            continue
        if len(line.split()) != 1:
            raise DataError(path, f"expected one tag per line, got {line!r}", line=lineno)
        if not in_sentence:
            sentences.append([])
            starts.append(lineno)
            in_sentence = True
        sentences[-1].append(line)
    return sentences, starts


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(path, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    if not text.strip():
        raise DataError(path, "empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc


def read_qa_predictions(path: Path) -> dict[str, str]:
    """``{question_id: answer_text}``."""
    data = _load_json(path)
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object {question_id: answer_text}")
    if not data:
        raise DataError(path, "no predictions")
    for qid, answer in data.items():
        if not isinstance(answer, str):
            raise DataError(path, f"answer must be a string, got {type(answer).__name__}", field=qid)
    return data


def _field(obj: Any, key: str, kind: type, path: Path, where: str) -> Any:
    value = obj.get(key) if isinstance(obj, dict) else None
    if not isinstance(value, kind):
        raise DataError(path, f"expected {kind.__name__} {key!r} (SQuAD format)", field=where)
    return value


def read_qa_gold(path: Path) -> list[QaGold]:
    """Questions of a SQuAD-format file: ``{"data": [{"paragraphs": [{"qas": [{"id", "answers"}]}]}]}``."""
    data = _load_json(path)
    # Like the official reader, accept the bare article list as well as the {"data": [...]} wrapper.
    articles = _field(data, "data", list, path, "data") if isinstance(data, dict) else data
    if not isinstance(articles, list):
        raise DataError(path, "expected a SQuAD-format object with a 'data' list")
    gold = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(_field(article, "paragraphs", list, path, f"data[{a}]")):
            for q, qa in enumerate(_field(paragraph, "qas", list, path, f"data[{a}].paragraphs[{p}]")):
                where = f"data[{a}].paragraphs[{p}].qas[{q}]"
                answers = _field(qa, "answers", list, path, where)
                if not answers:
                    raise DataError(path, "question without a gold answer", field=f"{where}.answers")
                texts = tuple(
                    _field(ans, "text", str, path, f"{where}.answers[{i}]") for i, ans in enumerate(answers)
                )
                gold.append(QaGold(_field(qa, "id", str, path, where), texts))
    if not gold:
        raise DataError(path, "no questions")
    if not any(text for question in gold for text in question.answers):
        # XTREME blanks test answers to {"text": ""}; scoring against them gives meaningless numbers (xtreme #24).
        raise DataError(path, "every gold answer is empty: this is a blanked test file, not labels")
    return gold


# --- per-language scoring ----------------------------------------------------------------------------------------


def _check_counts(pred_path: Path, n_pred: int, label_path: Path, n_gold: int, unit: str) -> None:
    if n_pred != n_gold:
        raise DataError(pred_path, f"{n_pred} {unit}, but the labels {label_path} have {n_gold}")


def _score_classification(pred_path: Path, label_path: Path, lang: str) -> dict[str, float]:
    pred, gold = read_label_lines(pred_path), read_label_lines(label_path)
    _check_counts(pred_path, len(pred), label_path, len(gold), "lines")
    return accuracy(gold, pred)


def _score_tatoeba(pred_path: Path, label_path: Path, lang: str) -> dict[str, float]:
    # Compared as integers: evaluate.py compares the raw lines, which only differs for forms like '07' vs '7'.
    pred, gold = read_indices(pred_path), read_indices(label_path)
    _check_counts(pred_path, len(pred), label_path, len(gold), "lines")
    return accuracy(gold, pred)


def _score_tagging(pred_path: Path, label_path: Path, lang: str) -> dict[str, float]:
    pred, starts = read_tag_sentences(pred_path)
    gold, _ = read_tag_sentences(label_path)
    _check_counts(pred_path, len(pred), label_path, len(gold), "sentences")
    for i, (p, g, start) in enumerate(zip(pred, gold, starts, strict=True), start=1):
        if len(p) != len(g):
            raise DataError(
                pred_path, f"sentence {i} has {len(p)} tags, but in {label_path} it has {len(g)}", line=start
            )
    return tagging_scores(gold, pred)


def _score_bucc(pred_path: Path, label_path: Path, lang: str) -> dict[str, float]:
    return bucc_scores(read_pairs(label_path), read_pairs(pred_path))


def _score_squad(pred_path: Path, label_path: Path, lang: str) -> dict[str, float]:
    return squad_scores(read_qa_gold(label_path), read_qa_predictions(pred_path))


def _score_mlqa(pred_path: Path, label_path: Path, lang: str) -> dict[str, float]:
    return mlqa_scores(read_qa_gold(label_path), read_qa_predictions(pred_path), lang)


_SCORERS: dict[str, Callable[[Path, Path, str], dict[str, float]]] = {
    "udpos": _score_tagging,
    "panx": _score_tagging,
    "xnli": _score_classification,
    "pawsx": _score_classification,
    "xquad": _score_squad,
    "mlqa": _score_mlqa,
    "tydiqa": _score_squad,
    "bucc2018": _score_bucc,
    "tatoeba": _score_tatoeba,
}


def score_language(task: str, lang: str, pred_path: Path, label_path: Path) -> dict[str, float]:
    """All metrics of one task and language, from a prediction file and its label file."""
    return _SCORERS[check_task(task)](Path(pred_path), Path(label_path), lang)


# --- folders -----------------------------------------------------------------------------------------------------


def _task_dirs(root: Path, warnings: list[str]) -> set[str]:
    tasks = set()
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        if child.name in TASK2LANGS:
            tasks.add(child.name)
        else:
            warnings.append(f"{child}: not an XTREME task folder ({', '.join(TASKS)}); ignored")
    return tasks


def _language_files(task_dir: Path, task: str, warnings: list[str]) -> dict[str, Path]:
    files = {}
    for path in sorted(task_dir.iterdir()):
        if path.name.startswith("."):
            continue
        match = _LANG_FILE.fullmatch(path.name)
        if match and match["suffix"] == file_suffix(task) and path.is_file():
            files[match["lang"]] = path
        else:
            warnings.append(f"{path}: not a test-<lang>.{file_suffix(task)} file; ignored")
    return files


def _in_order(task: str, langs: Iterable[str]) -> list[str]:
    """Official languages in official order, then any others alphabetically."""
    langs = set(langs)
    official = TASK2LANGS[task]
    return [lang for lang in official if lang in langs] + sorted(langs - set(official))


def score_folder(pred_dir: Path, label_dir: Path) -> dict[str, Any]:
    """Score every task folder of ``pred_dir`` that ``label_dir`` also has.

    Returns ``{"tasks": {task: {"languages": {lang: {metric: value}}, "score": ..., "averages": ...,
    "complete": ..., "missing_languages": [...], "unofficial_languages": [...]}}, "xtreme_score": ...,
    "xtreme_score_complete": bool, "missing_tasks": [...], "missing_languages": {task: [...]},
    "category_means": {...}, "partial_categories": [...], "unmatched": {...}, "warnings": [...]}``.
    ``xtreme_score`` is a partial mean whenever ``xtreme_score_complete`` is False.
    """
    pred_dir, label_dir = Path(pred_dir), Path(label_dir)
    for folder in (pred_dir, label_dir):
        if not folder.is_dir():
            raise DataError(folder, "not a folder")
    warnings: list[str] = []
    pred_tasks, label_tasks = _task_dirs(pred_dir, warnings), _task_dirs(label_dir, warnings)
    pred_only: dict[str, list[str]] = {}
    label_only: dict[str, list[str]] = {}
    for task in sorted(pred_tasks - label_tasks, key=TASKS.index):
        warnings.append(f"{pred_dir / task}: no labels for task {task} in {label_dir}; not scored")
        pred_only[task] = _in_order(task, _language_files(pred_dir / task, task, warnings))

    tasks: dict[str, Any] = {}
    task_scores = []
    for task in (t for t in TASKS if t in pred_tasks and t in label_tasks):
        preds = _language_files(pred_dir / task, task, warnings)
        labels = _language_files(label_dir / task, task, warnings)
        if missing := _in_order(task, preds.keys() - labels.keys()):
            pred_only[task] = missing
            warnings.append(f"{task}: predictions without labels, not scored: {' '.join(missing)}")
        if missing := _in_order(task, labels.keys() - preds.keys()):
            label_only[task] = missing
            warnings.append(f"{task}: labels without predictions, not scored: {' '.join(missing)}")
        per_language = {
            lang: score_language(task, lang, preds[lang], labels[lang])
            for lang in _in_order(task, preds.keys() & labels.keys())
        }
        ts = task_score(task, per_language)
        if ts.unofficial_languages:
            warnings.append(
                f"{task}: scored but outside the official language list, so not averaged: "
                + " ".join(ts.unofficial_languages)
            )
        task_scores.append(ts)
        tasks[task] = {
            "languages": per_language,
            "score": ts.value,
            "averages": ts.averages,
            "complete": ts.complete,
            "missing_languages": list(ts.missing_languages),
            "unofficial_languages": list(ts.unofficial_languages),
        }

    overall = xtreme_score_from_tasks(task_scores)
    return {
        "tasks": tasks,
        "xtreme_score": overall.value,
        "xtreme_score_complete": overall.complete,
        "xtreme_score_summary": overall.describe(),
        "missing_tasks": list(overall.missing_tasks),
        "missing_languages": {t: list(langs) for t, langs in overall.missing_languages.items()},
        "category_means": overall.category_means,
        "partial_categories": list(overall.partial_categories),
        "unmatched": {"predictions_without_labels": pred_only, "labels_without_predictions": label_only},
        "warnings": warnings,
    }
