"""Row mappers for the Hugging Face copies of the intermediate tasks.

Each gets one row of a ``datasets`` split plus the split's ``features`` (used to decode ClassLabel integers to
the label strings the local readers yield) and the spec's ``hub.options`` as keyword arguments. Schemas are
those documented on the dataset cards; see the task specs for the dataset ids.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from xstilts.data.intermediate._common import logger
from xstilts.data.intermediate.qa import build_qa_example
from xstilts.data.readers import hub_mapper
from xstilts.data.records import ChoiceExample, QAExample, TaggingExample, TextExample
from xstilts.errors import DataError


def _get(row: Mapping, key: str, origin: str) -> Any:
    if key not in row:
        raise DataError(origin, f"hub row has no column {key!r} (columns: {sorted(row)})", field=key)
    return row[key]


def _class_names(features: Any, column: str) -> list[str] | None:
    """ClassLabel names of ``column`` (or of its element type, for sequences of labels)."""
    feature = features.get(column) if features is not None else None
    feature = getattr(feature, "feature", feature)
    return getattr(feature, "names", None)


def _decode(value: Any, names: Sequence[str] | None, origin: str, column: str) -> str | None:
    """A label as a string: ClassLabel integers through ``names``; -1, None and "" (no gold) as None."""
    if value is None or value == -1 or value == "":
        return None
    if isinstance(value, str):
        return value
    if names is None:
        raise DataError(
            origin, f"integer label {value!r} but no ClassLabel names for column {column!r}", field=column
        )
    if not 0 <= value < len(names):
        raise DataError(origin, f"label {value!r} is outside the {len(names)} class names", field=column)
    return names[value]


@hub_mapper("hub_text_classification")
def map_text_classification(
    row: Mapping,
    *,
    index: int,
    language: str,
    origin: str,
    features: Any = None,
    text_a: str,
    label: str = "label",
    text_b: str | None = None,
    id_field: str | None = None,
    label_map: Mapping[str, str] | None = None,
    drop_no_gold: bool = False,
) -> TextExample | None:
    """Columns named by the spec's ``hub.options`` (GLUE ``premise``/``hypothesis``/``idx``, SNLI, ANLI,
    SciTail, ContractNLI, LegalBench, LEDGAR). ``label_map`` renames decoded labels to the local reader's
    strings; ``drop_no_gold`` leaves out rows without a gold label (SNLI's -1) instead of keeping them unlabelled."""
    decoded = _decode(_get(row, label, origin), _class_names(features, label), origin, label)
    if decoded is None and drop_no_gold:
        return None
    return TextExample(
        id=str(_get(row, id_field, origin)) if id_field else str(index),
        text_a=_get(row, text_a, origin),
        text_b=_get(row, text_b, origin) if text_b else None,
        label=label_map.get(decoded, decoded) if label_map and decoded is not None else decoded,
        language=language,
        origin=origin,
    )


@hub_mapper("hub_pubmedqa")
def map_pubmedqa(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> TextExample:
    """``qiaojin/PubMedQA`` ``pqa_labeled``: ``pubid``, ``question``, ``context.contexts`` (list), ``final_decision``."""
    context = _get(row, "context", origin)
    return TextExample(
        id=str(_get(row, "pubid", origin)),
        text_a=_get(row, "question", origin),
        text_b=" ".join(_get(context, "contexts", origin)),
        label=_get(row, "final_decision", origin),
        language=language,
        origin=origin,
    )


@hub_mapper("hub_unfair_tos")
def map_unfair_tos(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> TextExample:
    """LexGLUE ``unfair_tos`` is multi-label (8 unfair-term types, none = fair). The schema has single labels
    only, so a sentence is ``unfair`` when it has any type, else ``fair`` (CLAUDETTE's detection task)."""
    return TextExample(
        id=str(index),
        text_a=_get(row, "text", origin),
        text_b=None,
        label="unfair" if _get(row, "labels", origin) else "fair",
        language=language,
        origin=origin,
    )


@hub_mapper("hub_squad")
def map_squad(
    row: Mapping,
    *,
    index: int,
    language: str,
    origin: str,
    features: Any = None,
    repair_offsets: bool = False,
) -> QAExample:
    """Flattened SQuAD rows (``rajpurkar/squad``, ``squad_v2``, ``deepset/covid_qa_deepset``, CUAD):
    ``id``, ``context``, ``question``, ``answers: {text: [...], answer_start: [...]}``, optional ``title``
    and ``is_impossible`` (default: no answers). Offsets are checked as in the local reader."""
    answers = _get(row, "answers", origin)
    raw = list(zip(_get(answers, "text", origin), _get(answers, "answer_start", origin), strict=True))
    qid = str(_get(row, "id", origin))
    example, repaired = build_qa_example(
        qid=qid,
        question=_get(row, "question", origin),
        context=_get(row, "context", origin),
        raw_answers=raw,
        is_impossible=bool(row.get("is_impossible", not raw)),
        title=row.get("title", ""),
        language=language,
        origin=origin,
        path=origin,
        where="answers",
        repair=repair_offsets,
    )
    if repaired:
        logger.info("%s: repaired %d answer offsets of question %s", origin, repaired, qid)
    return example


@hub_mapper("hub_tagging")
def map_tagging(
    row: Mapping,
    *,
    index: int,
    language: str,
    origin: str,
    features: Any = None,
    tokens: str = "tokens",
    tags: str = "ner_tags",
    tag_names: Sequence[str] | None = None,
) -> TaggingExample:
    """Token/tag rows (``ncbi/ncbi_disease`` ``ner_tags``; ``tner/bc5cdr`` ``tags``, whose integers have no
    ClassLabel, so its spec passes ``tag_names`` in id order). Ids are the row index, as the local reader's."""
    names = tag_names or _class_names(features, tags)
    decoded = tuple(_decode(t, names, origin, tags) for t in _get(row, tags, origin))
    if None in decoded:
        raise DataError(origin, "a tag is missing (-1 or empty)", field=tags)
    return TaggingExample(
        str(index), tuple(_get(row, tokens, origin)), decoded, language=language, origin=origin
    )


def _choice(label: Any, count: int, origin: str, column: str) -> int | None:
    """A 0-based gold index from an int or a digit string; -1 / "" / None mean unlabelled (test splits)."""
    if label is None or label == "" or label == -1:
        return None
    try:
        value = int(label)
    except (TypeError, ValueError):
        value = -1
    if not 0 <= value < count:
        raise DataError(origin, f"label {label!r} is not a choice index 0..{count - 1}", field=column)
    return value


@hub_mapper("hub_commonsenseqa")
def map_commonsenseqa(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> ChoiceExample:
    """``tau/commonsense_qa``: ``id``, ``question``, ``choices: {label: [A..E], text}``, ``answerKey`` ("" in test)."""
    choices = _get(row, "choices", origin)
    keys = list(_get(choices, "label", origin))
    answer = _get(row, "answerKey", origin)
    if answer and answer not in keys:
        raise DataError(origin, f"answerKey {answer!r} is not one of {keys}", field="answerKey")
    return ChoiceExample(
        id=_get(row, "id", origin),
        question=_get(row, "question", origin),
        choices=tuple(_get(choices, "text", origin)),
        label=keys.index(answer) if answer else None,
        language=language,
        origin=origin,
    )


@hub_mapper("hub_cosmosqa")
def map_cosmosqa(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> ChoiceExample:
    """``allenai/cosmos_qa``: ``id``, ``context``, ``question``, ``answer0``..``answer3``, ``label``."""
    return ChoiceExample(
        id=_get(row, "id", origin),
        question=_get(row, "question", origin),
        choices=tuple(_get(row, f"answer{i}", origin) for i in range(4)),
        label=_choice(_get(row, "label", origin), 4, origin, "label"),
        context=_get(row, "context", origin),
        language=language,
        origin=origin,
    )


@hub_mapper("hub_hellaswag")
def map_hellaswag(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> ChoiceExample:
    """``Rowan/hellaswag``: as the original JSONL, but ``label`` is a string ("" in test)."""
    endings = tuple(_get(row, "endings", origin))
    return ChoiceExample(
        id=str(_get(row, "ind", origin)),
        question=_get(row, "ctx_b", origin),
        choices=endings,
        label=_choice(_get(row, "label", origin), len(endings), origin, "label"),
        context=_get(row, "ctx_a", origin),
        language=language,
        origin=origin,
    )


@hub_mapper("hub_medmcqa")
def map_medmcqa(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> ChoiceExample:
    """``openlifescienceai/medmcqa``: ``opa``..``opd`` and ``cop`` as a 0-based ClassLabel (a-d; -1 in test)."""
    return ChoiceExample(
        id=_get(row, "id", origin),
        question=_get(row, "question", origin),
        choices=tuple(_get(row, key, origin) for key in ("opa", "opb", "opc", "opd")),
        label=_choice(_get(row, "cop", origin), 4, origin, "cop"),
        language=language,
        origin=origin,
    )


@hub_mapper("hub_headqa")
def map_headqa(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> ChoiceExample:
    """``dvilares/head_qa`` (config ``en``): ``qid``, ``qtext``, ``answers: [{aid, atext}]``, ``ra`` (the right
    ``aid``). Choices keep the file's order; the label is the position of ``ra``."""
    answers = _get(row, "answers", origin)
    ids = [_get(a, "aid", origin) for a in answers]
    right = _get(row, "ra", origin)
    if right not in ids:
        raise DataError(origin, f"right answer id {right!r} is not among the answer ids {ids}", field="ra")
    return ChoiceExample(
        id=f"{row.get('name', '')}#{_get(row, 'qid', origin)}",
        question=_get(row, "qtext", origin),
        choices=tuple(_get(a, "atext", origin) for a in answers),
        label=ids.index(right),
        language=language,
        origin=origin,
    )


@hub_mapper("hub_casehold")
def map_casehold(
    row: Mapping, *, index: int, language: str, origin: str, features: Any = None
) -> ChoiceExample:
    """LexGLUE ``case_hold``: ``context`` (citing text with a ``<HOLDING>`` mask), five ``endings``, ``label``
    (ClassLabel "0".."4"). The citing text is the context; there is no separate question."""
    endings = tuple(_get(row, "endings", origin))
    label = _decode(_get(row, "label", origin), _class_names(features, "label"), origin, "label")
    return ChoiceExample(
        id=str(index),
        question="",
        choices=endings,
        label=_choice(label, len(endings), origin, "label"),
        context=_get(row, "context", origin),
        language=language,
        origin=origin,
    )
