"""XTREME's per-language metrics, as google-research/xtreme ``evaluate.py`` computes them (PROTOCOL §4).

Pure functions over already-parsed gold and predictions; every score is on the 0-100 scale. Reading and
validating files lives in :mod:`xstilts.metrics.submission`, so these functions only raise ``ValueError``
for inputs that no file reader should let through.

Deliberately kept quirks of the official scorer (changing any of them changes published numbers):

* tagging uses ``seqeval`` chunk F1 even for POS tags, so ``NOUN`` reads as prefix ``N`` + type ``OUN``;
* the SQuAD normaliser used for XQuAD and TyDiQA is English-only (for zh/th, F1 is close to EM);
* MLQA's Arabic article rule deletes every ``ال`` substring, also inside words.
"""

from __future__ import annotations

import re
import string
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import NamedTuple

from seqeval.metrics import f1_score, precision_score, recall_score

from xstilts.errors import UnknownNameError

ACCURACY = "accuracy"
F1 = "f1"
PRECISION = "precision"
RECALL = "recall"
EXACT_MATCH = "exact_match"
# Not an XTREME metric: reported next to the seqeval scores so the POS quirk is visible, never averaged into a score.
TOKEN_ACCURACY = "token_accuracy"
# Intermediate-task metrics and the QA selection metric (PROTOCOL §7: early stopping on (F1 + EM) / 2).
MICRO_F1 = "micro_f1"
MACRO_F1 = "macro_f1"
EM_F1 = "em_f1"
# Masked-token accuracy of the MLM / DAPT intermediate tasks (xstilts.formats.mlm), higher is better.
MLM_ACCURACY = "mlm_accuracy"
MAIN_METRICS = (ACCURACY, F1, MICRO_F1, MACRO_F1, TOKEN_ACCURACY, EM_F1, MLM_ACCURACY)


class QaGold(NamedTuple):
    """One question of a SQuAD-format label file: its id and every gold answer text."""

    id: str
    answers: tuple[str, ...]


def accuracy(gold: Sequence[Hashable], predictions: Sequence[Hashable]) -> dict[str, float]:
    """Share of positions where prediction equals gold (XNLI, PAWS-X; Tatoeba on integer indices)."""
    if len(gold) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold items")
    if not gold:
        raise ValueError("nothing to score")
    correct = sum(p == g for p, g in zip(predictions, gold, strict=True))
    return {ACCURACY: 100.0 * correct / len(gold)}


def label_f1_scores(
    gold: Sequence[str], predictions: Sequence[str], labels: Sequence[str], negative: str | None = None
) -> dict[str, float]:
    """Micro and macro F1 over class labels (intermediate-task metrics, not XTREME ones).

    With a ``negative`` label (DDI's ``DDI-false``), micro F1 counts only the positive classes, as BLURB
    does for relation extraction; without one, micro F1 equals accuracy. Macro F1 averages every positive
    class's F1 (0 for a class never predicted and never gold is skipped).
    """
    if len(gold) != len(predictions):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold items")
    positive = [lab for lab in labels if lab != negative]
    tp = Counter(g for g, p in zip(gold, predictions, strict=True) if g == p and g != negative)
    pred_n = Counter(p for p in predictions if p != negative)
    gold_n = Counter(g for g in gold if g != negative)
    total_tp, total_pred, total_gold = sum(tp.values()), sum(pred_n.values()), sum(gold_n.values())
    micro = 2 * total_tp / (total_pred + total_gold) if total_pred + total_gold else 0.0
    per_class = [2 * tp[c] / (pred_n[c] + gold_n[c]) for c in positive if pred_n[c] + gold_n[c]]
    macro = sum(per_class) / len(per_class) if per_class else 0.0
    return {MICRO_F1: 100.0 * micro, MACRO_F1: 100.0 * macro}


def main_score(metric: str, metrics: Mapping[str, float]) -> float:
    """The one number a task is selected / early-stopped on (higher is better for every one of them). ``em_f1``
    is the QA mean (F1 + EM) / 2; the others, ``mlm_accuracy`` included, are read from ``metrics`` as they are."""
    if metric == EM_F1:
        return (metrics[F1] + metrics[EXACT_MATCH]) / 2
    return metrics[metric]


def tagging_scores(gold: Sequence[Sequence[str]], predictions: Sequence[Sequence[str]]) -> dict[str, float]:
    """seqeval micro P/R/F1 over sentences (UD-POS, PAN-X), plus plain token accuracy under its own name."""
    if len(gold) != len(predictions) or any(len(g) != len(p) for g, p in zip(gold, predictions, strict=True)):
        raise ValueError("gold and predicted sentences differ in number or length")
    n_tokens = sum(len(sentence) for sentence in gold)
    if n_tokens == 0:
        raise ValueError("nothing to score")
    y_true = [list(s) for s in gold]
    y_pred = [list(s) for s in predictions]
    with warnings.catch_warnings():
        # seqeval warns "NOUN seems not to be NE tag" for every POS tag, and about empty chunk sets; both are
        # expected here: reading POS tags as chunks is exactly what the official scorer does.
        warnings.simplefilter("ignore")
        # float(): seqeval returns numpy scalars.
        f1 = float(f1_score(y_true, y_pred))
        precision = float(precision_score(y_true, y_pred))
        recall = float(recall_score(y_true, y_pred))
    correct = sum(
        g == p for gs, ps in zip(gold, predictions, strict=True) for g, p in zip(gs, ps, strict=True)
    )
    return {
        F1: 100.0 * f1,
        PRECISION: 100.0 * precision,
        RECALL: 100.0 * recall,
        TOKEN_ACCURACY: 100.0 * correct / n_tokens,
    }


def bucc_scores(gold: Iterable[tuple[str, str]], predictions: Iterable[tuple[str, str]]) -> dict[str, float]:
    """Set P/R/F1 over (source id, target id) pairs; duplicates count once and no threshold is applied."""
    gold_set, pred_set = set(gold), set(predictions)
    hits = len(gold_set & pred_set)
    if hits == 0:  # also covers empty sets, where P or R would be 0/0
        return {F1: 0.0, PRECISION: 0.0, RECALL: 0.0}
    precision = hits / len(pred_set)
    recall = hits / len(gold_set)
    f1 = 2 * precision * recall / (precision + recall)
    return {F1: 100.0 * f1, PRECISION: 100.0 * precision, RECALL: 100.0 * recall}


# --- SQuAD v1.1 (XQuAD, TyDiQA-GoldP) ------------------------------------------------------------------------

_ASCII_PUNCT = frozenset(string.punctuation)
_SQUAD_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


def squad_normalize(text: str) -> str:
    """Lower-case, drop ASCII punctuation, drop English articles, collapse whitespace (not language-aware)."""
    text = "".join(ch for ch in text.lower() if ch not in _ASCII_PUNCT)
    return " ".join(_SQUAD_ARTICLES.sub(" ", text).split())


# --- MLQA --------------------------------------------------------------------------------------------------------

# Article patterns per answer language. hi and zh have none. For ar the official regex is '\sال^|ال'; its first
# branch can never match (a '^' after consumed text), so in effect every 'ال' is replaced, even mid-word.
_MLQA_ARTICLES: dict[str, re.Pattern[str] | None] = {
    "en": re.compile(r"\b(?:a|an|the)\b"),
    "es": re.compile(r"\b(?:un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(?:ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(?:của|là|cái|chiếc|những)\b"),
    "ar": re.compile("ال"),
    "hi": None,
    "zh": None,
}
MLQA_LANGUAGES: tuple[str, ...] = tuple(_MLQA_ARTICLES)
_CJK = re.compile("([\u4e00-\u9fa5])")


def _is_mlqa_punct(ch: str) -> bool:
    # Any Unicode P* character, plus ASCII symbols such as '$' or '+' that string.punctuation also lists.
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def _mlqa_tokens(text: str, lang: str) -> list[str]:
    if lang != "zh":
        return text.split()
    # zh: every CJK ideograph is a token; other runs split on whitespace. (The official segmenter also makes
    # each punctuation mark a token, but punctuation is already gone at this point.)
    return [tok for piece in _CJK.split(text) for tok in piece.split()]


def mlqa_normalize(text: str, lang: str) -> str:
    """MLQA's language-aware normaliser: lower-case, drop all punctuation, drop articles, tokenise, join."""
    if lang not in _MLQA_ARTICLES:
        raise UnknownNameError("MLQA answer language", lang, MLQA_LANGUAGES)
    text = "".join(ch for ch in text.lower() if not _is_mlqa_punct(ch))
    articles = _MLQA_ARTICLES[lang]
    if articles is not None:
        text = articles.sub(" ", text)
    return " ".join(_mlqa_tokens(text, lang))


# --- shared EM/F1 ------------------------------------------------------------------------------------------------


def _token_f1(prediction: str, gold: str) -> float:
    pred_tokens, gold_tokens = prediction.split(), gold.split()
    same = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if same == 0:  # the official scripts return 0 here, also when both sides normalise to nothing
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def _qa_scores(
    gold: Sequence[QaGold], predictions: Mapping[str, str], normalize: Callable[[str], str]
) -> dict[str, float]:
    if not gold:
        raise ValueError("nothing to score")
    em_total = f1_total = 0.0
    for question in gold:
        if not question.answers:
            raise ValueError(f"question {question.id!r} has no gold answer")
        if question.id not in predictions:  # unanswered: counts in the denominator with score 0
            continue
        pred = normalize(predictions[question.id])
        golds = [normalize(answer) for answer in question.answers]
        em_total += max(float(pred == g) for g in golds)
        f1_total += max(_token_f1(pred, g) for g in golds)
    # Predicted ids that are not gold questions are ignored, as in the official scripts.
    return {EXACT_MATCH: 100.0 * em_total / len(gold), F1: 100.0 * f1_total / len(gold)}


def squad_scores(gold: Sequence[QaGold], predictions: Mapping[str, str]) -> dict[str, float]:
    """SQuAD v1.1 EM/F1 (XQuAD, TyDiQA): max over gold answers, matched by question id."""
    return _qa_scores(gold, predictions, squad_normalize)


def mlqa_scores(gold: Sequence[QaGold], predictions: Mapping[str, str], lang: str) -> dict[str, float]:
    """MLQA EM/F1 with the normaliser of answer language ``lang`` (one of :data:`MLQA_LANGUAGES`)."""
    if lang not in _MLQA_ARTICLES:
        raise UnknownNameError("MLQA answer language", lang, MLQA_LANGUAGES)
    return _qa_scores(gold, predictions, lambda text: mlqa_normalize(text, lang))
