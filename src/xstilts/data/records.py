"""Typed records every reader yields, whatever the source (local original files or the hub).

Each record carries ``origin`` ("path:line" or "hub-id/config/split#index") so later stages can name the
exact input at fault. Labels are strings as they appear in the task's label set; ``None`` means unlabelled
(blanked XTREME test files without gold).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TextExample:
    """Single-sentence (``text_b is None``) or sentence-pair classification, NLI, relation classification."""

    id: str
    text_a: str
    text_b: str | None
    label: str | None
    language: str = "en"
    origin: str = ""


@dataclass(frozen=True, slots=True)
class TaggingExample:
    """One sentence of word-level tags (UD-POS, PAN-X, NCBI-disease, CCG). ``tags`` aligns with ``tokens``."""

    id: str
    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None
    language: str = "en"
    origin: str = ""


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    start: int  # character offset into the original context


@dataclass(frozen=True, slots=True)
class QAExample:
    """Extractive QA (SQuAD format). ``answers`` empty + ``is_impossible`` for unanswerable questions."""

    id: str
    question: str
    context: str
    answers: tuple[Answer, ...]
    is_impossible: bool = False
    title: str = ""
    language: str = "en"
    origin: str = ""


@dataclass(frozen=True, slots=True)
class ChoiceExample:
    """Multiple choice: optional shared context, a question (stem) and K candidate endings."""

    id: str
    question: str
    choices: tuple[str, ...]
    label: int | None
    context: str = ""
    language: str = "en"
    origin: str = ""


@dataclass(frozen=True, slots=True)
class BitextSide:
    """One side of a retrieval corpus (BUCC, Tatoeba): sentence ids (line ids for Tatoeba) and texts."""

    ids: tuple[str, ...]
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BitextCorpus:
    """A retrieval evaluation set for one language pair (``language`` ↔ English).

    BUCC: ``gold`` holds (src-id, en-id) pairs when known. Tatoeba: ``english`` is the sorted English file,
    ``gold`` holds, for each English line, the 0-based index of its translation in ``source`` (as a string).
    """

    language: str
    source: BitextSide
    english: BitextSide
    gold: tuple[tuple[str, str], ...] | None = None
    origin: str = ""


Example = TextExample | TaggingExample | QAExample | ChoiceExample


@dataclass(slots=True)
class SplitData:
    """The examples of one (task, split, language) with where they came from and a content checksum."""

    task: str
    split: str
    language: str
    examples: list = field(default_factory=list)
    source: str = ""
    checksum: str = ""
    has_gold: bool = True
