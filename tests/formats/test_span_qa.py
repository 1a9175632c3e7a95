"""Span QA: exact character offsets on real XQuAD contexts, windows, targets, n-best and null decoding,
scoring and the submission file, and a tiny training run."""

from functools import cache
from itertools import pairwise

import pyarrow as pa
import pytest
import torch
from accelerate import Accelerator

from xstilts.data.loading import DataRoots, load_split
from xstilts.data.records import Answer, QAExample
from xstilts.errors import ConfigError
from xstilts.formats import get_format
from xstilts.formats.base import FeatureSettings
from xstilts.formats.span_qa import CLS, NO_CONTEXT
from xstilts.metrics.official import QaGold, main_score, mlqa_scores
from xstilts.metrics.submission import read_qa_predictions, score_language
from xstilts.models.loading import ModelSpec, load_encoder, load_tokenizer
from xstilts.models.task_model import MultiTaskModel
from xstilts.tasks import get_registry
from xstilts.training.loop import LoopSettings, TaskStream, train

LANGS = ("ar", "hi", "zh", "th")
QA = get_format("span_qa")
XQUAD = get_registry().get("xquad")
SQUAD_V2 = get_registry().get("squad_v2")
DEFAULT = FeatureSettings(max_seq_length=384, doc_stride=128, max_query_length=64)
SMALL = FeatureSettings(max_seq_length=96, doc_stride=32, max_query_length=32)  # several windows per context


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("e5-small")


@pytest.fixture(scope="module")
def roots(xtreme_dir, intermediate_dir):
    return DataRoots(xtreme_dir, intermediate_dir)


@pytest.fixture(scope="module")
def xquad(roots):
    return cache(lambda lang: load_split(XQUAD, "test", lang, roots).examples)


@pytest.fixture(scope="module")
def featurized(tok, xquad):
    # Keyed by name: FeatureSettings is not hashable.
    return cache(
        lambda lang, name: QA.featurize(xquad(lang), tok, XQUAD, {"default": DEFAULT, "small": SMALL}[name])
    )


def one_hot_logits(features, starts, ends) -> list[torch.Tensor]:
    out = []
    for ids, s, e in zip(features["input_ids"], starts, ends, strict=True):
        x = torch.full((len(ids), 2), -10.0)
        x[s, 0] = x[e, 1] = 10.0
        out.append(x)
    return out


def gold_logits(features) -> list[torch.Tensor]:
    return one_hot_logits(features, features["start_positions"], features["end_positions"])


def visible_spans(features, f: int) -> list[tuple[int, int]]:
    return [(s, e) for s, e in zip(features["char_start"][f], features["char_end"][f], strict=True) if s >= 0]


def qa(context: str, answer: str | None, qid: str = "q", question: str = "Where is it?") -> QAExample:
    answers = () if answer is None else (Answer(answer, context.index(answer)),)
    return QAExample(qid, question, context, answers, is_impossible=answer is None)


# --- offsets -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_context_offsets_map_back_to_the_exact_characters(lang, tok, xquad, featurized):
    examples, feats = xquad(lang), featurized(lang, "default")
    normalize = tok.backend_tokenizer.normalizer.normalize_str
    covered = {i: set() for i in range(len(examples))}
    for f, owner in enumerate(feats["example_index"]):
        context = examples[owner].context
        for token_id, s, e in zip(
            feats["input_ids"][f], feats["char_start"][f], feats["char_end"][f], strict=True
        ):
            if s == NO_CONTEXT:
                assert e == NO_CONTEXT
                continue
            surface = context[s:e]
            # The piece's text without the metaspace, up to the tokenizer's own normalisation (NFKC, e.g. '，').
            assert normalize(surface) == tok.convert_ids_to_tokens(token_id).lstrip("▁"), (surface, s, e)
            assert surface == surface.strip()
            covered[owner].update(range(s, e))
    # No visible character of any context is lost between the tokens.
    for i, ex in enumerate(examples):
        lost = [ch for j, ch in enumerate(ex.context) if j not in covered[i] and normalize(ch).strip()]
        assert not lost, (ex.id, lost[:5])


def test_bare_metaspace_and_invisible_prefixes_have_no_surface(tok):
    # '▁' before CJK text gets offsets over the next character; BOM/RLM are glued into the next piece's span.
    context = "东京是首都。 \ufeff16 \u200fفي"
    feats = QA.featurize([qa(context, "东京")], tok, XQUAD, DEFAULT)
    spans = [context[s:e] for s, e in visible_spans(feats, 0)]
    assert "".join(spans) == "东京是首都。16في"
    assert feats["start_positions"][0] > 0


# --- windows and targets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_gold_spans_decode_back_to_the_gold_answer(lang, xquad, featurized):
    examples, feats = xquad(lang), featurized(lang, "small")
    preds = QA.decode(gold_logits(feats), feats, examples, XQUAD)
    in_window = {feats["example_index"][f] for f, s in enumerate(feats["start_positions"]) if s != CLS}
    assert len(in_window) == len(examples)  # every answer fits in some window
    aligned = exact = 0
    for i, ex in enumerate(examples):
        answer, pred = ex.answers[0], preds[i]
        assert answer.text in pred
        # The decoded span only exceeds the answer where a token also covers text outside it ('(118' vs '118').
        f = next(f for f, s in enumerate(feats["start_positions"]) if feats["example_index"][f] == i and s)
        token_aligned = (answer.start, answer.start + len(answer.text)) == (
            feats["char_start"][f][feats["start_positions"][f]],
            feats["char_end"][f][feats["end_positions"][f]],
        )
        aligned += token_aligned
        exact += pred == answer.text
        assert pred == answer.text or not token_aligned
    assert exact == aligned and exact / len(examples) > 0.95
    assert QA.score(preds, examples, XQUAD, lang)["f1"] > 98


def test_long_context_becomes_overlapping_windows(tok, xquad):
    ex = max(xquad("en"), key=lambda e: len(e.context))
    settings = FeatureSettings(max_seq_length=64, doc_stride=16, max_query_length=16)
    feats = QA.featurize([ex], tok, XQUAD, settings)
    windows = [visible_spans(feats, f) for f in range(len(feats["input_ids"]))]
    assert len(windows) > 5 and set(feats["example_index"]) == {0}
    assert all(len(ids) <= 64 for ids in feats["input_ids"])
    for before, after in pairwise(windows):
        assert before[-16:] == after[:16]  # English context: every context token is visible
    whole = QA.featurize([ex], tok, XQUAD, FeatureSettings(max_seq_length=512))
    assert len(whole["input_ids"]) == 1
    assert sorted({s for w in windows for s in w}) == visible_spans(whole, 0)


def test_answer_outside_a_window_targets_cls(tok):
    context = "Filler words keep going here. " * 40 + "The capital is Paris."
    settings = FeatureSettings(max_seq_length=64, doc_stride=16, max_query_length=16)
    examples = [qa(context, "Paris")]
    feats = QA.featurize(examples, tok, XQUAD, settings)
    targets = list(zip(feats["start_positions"], feats["end_positions"], strict=True))
    assert len(targets) > 3 and targets[:-1] == [(CLS, CLS)] * (len(targets) - 1)
    assert targets[-1] != (CLS, CLS)
    assert QA.decode(gold_logits(feats), feats, examples, XQUAD) == ["Paris"]


def test_question_is_cut_to_max_query_length(tok):
    question = " ".join(["why"] * 100) + "?"
    feats = QA.featurize([qa("It is in Paris.", "Paris", question=question)], tok, XQUAD, DEFAULT)
    question_tokens = feats["input_ids"][0][1 : feats["char_start"][0].index(0) - 2]  # <s> q </s></s> c
    assert len(question_tokens) == DEFAULT.max_query_length


def test_features_are_arrow_storable(featurized):
    feats = featurized("zh", "small")
    assert pa.table(feats).to_pydict() == feats


def test_settings_without_room_for_the_stride_fail_clearly(tok):
    with pytest.raises(ConfigError, match="doc_stride"):
        QA.featurize([qa("Paris.", "Paris")], tok, XQUAD, FeatureSettings(64, 48, 16))


# --- decoding ----------------------------------------------------------------------------------------------------


WORDS = [f"w{i}" for i in range(60)]
CONTEXT = " ".join(WORDS)


def word_features():
    """A hand-made window: CLS, one question token, then one context token per word (token i + 2 = w{i})."""
    starts = [CONTEXT.index(f"{w} " if i < len(WORDS) - 1 else w) for i, w in enumerate(WORDS)]
    return {
        "input_ids": [[0] * (len(WORDS) + 2)],
        "example_index": [0],
        "char_start": [[NO_CONTEXT, NO_CONTEXT, *starts]],
        "char_end": [[NO_CONTEXT, NO_CONTEXT, *(s + len(w) for s, w in zip(starts, WORDS, strict=True))]],
    }


def decode_scores(start_scores: dict[int, float], end_scores: dict[int, float], spec=XQUAD) -> str:
    feats = word_features()
    logits = torch.full((len(feats["char_start"][0]), 2), -10.0)
    for i, v in start_scores.items():
        logits[i, 0] = v
    for i, v in end_scores.items():
        logits[i, 1] = v
    return QA.decode([logits], feats, [qa(CONTEXT, None)], spec)[0]


def test_nbest_requires_end_after_start_within_max_answer_length():
    assert decode_scores({12: 9, 5: 6}, {7: 9, 14: 4}) == "w3 w4 w5"  # best end precedes best start
    assert decode_scores({2: 9, 40: 5}, {2 + 35: 9, 45: 4}) == "w38 w39 w40 w41 w42 w43"  # 36 tokens > 30
    assert decode_scores({2: 9}, {2 + 29: 9}) == " ".join(f"w{i}" for i in range(30))  # exactly 30 tokens
    assert decode_scores({0: 99, 1: 99, 4: 1}, {0: 99, 1: 99, 4: 1}) == "w2"  # CLS and question never


def test_null_answer_only_for_tasks_with_unanswerable_questions():
    null_wins = ({0: 8, 4: 3}, {0: 8, 6: 3})
    assert decode_scores(*null_wins, spec=SQUAD_V2) == ""
    assert decode_scores(*null_wins, spec=XQUAD) == "w2 w3 w4"
    assert decode_scores({0: 2, 4: 3}, {0: 2, 6: 3}, spec=SQUAD_V2) == "w2 w3 w4"


def test_null_score_is_the_smallest_over_windows(tok):
    context = "Filler words keep going here. " * 40 + "The capital is Paris."
    examples = [qa(context, "Paris")]
    feats = QA.featurize(examples, tok, SQUAD_V2, FeatureSettings(64, 16, 16))
    logits = gold_logits(feats)
    for x in logits[:-1]:
        x[CLS] = 12.0  # a high null score where the answer is not in the window does not count
    assert QA.decode(logits, feats, examples, SQUAD_V2) == ["Paris"]
    logits[-1][CLS] = 11.0  # the window holding the answer now prefers null too: 22 > 20
    assert QA.decode(logits, feats, examples, SQUAD_V2) == [""]


def test_unanswerable_questions_train_on_cls(tok, roots):
    examples = load_split(SQUAD_V2, "dev", "en", roots).examples[:40]
    feats = QA.featurize(examples, tok, SQUAD_V2, DEFAULT)
    for f, owner in enumerate(feats["example_index"]):
        if examples[owner].is_impossible:
            assert (feats["start_positions"][f], feats["end_positions"][f]) == (CLS, CLS)
    assert any(ex.is_impossible for ex in examples) and any(feats["start_positions"])


# --- loss, scores, predictions file ------------------------------------------------------------------------------


def test_loss_ignores_padding_and_positions_past_the_sequence():
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 2)
    batch = {
        "attention_mask": torch.tensor([[1] * 6, [1] * 4 + [0] * 2]),
        "start_positions": torch.tensor([2, 1]),
        "end_positions": torch.tensor([3, 99]),  # 99: clamped to 6 and ignored
    }
    row = torch.nn.functional.cross_entropy
    expected_start = (row(logits[0, :, 0], torch.tensor(2)) + row(logits[1, :4, 0], torch.tensor(1))) / 2
    expected_end = row(logits[0, :, 1], torch.tensor(3))
    assert torch.allclose(QA.loss(logits, batch), (expected_start + expected_end) / 2)


def test_written_gold_predictions_score_100(tmp_path, xquad, xtreme_dir):
    examples = xquad("zh")
    preds = [ex.answers[0].text for ex in examples]
    path = tmp_path / "xquad" / "test-zh.json"
    QA.write_predictions(preds, examples, path)
    assert read_qa_predictions(path) == {ex.id: p for ex, p in zip(examples, preds, strict=True)}
    assert not path.read_text(encoding="utf-8").isascii()  # UTF-8, not \\u escapes
    official = score_language("xquad", "zh", path, xtreme_dir / "labels" / "xquad" / "test-zh.json")
    assert official == QA.score(preds, examples, XQUAD, "zh") == {"exact_match": 100.0, "f1": 100.0}
    assert main_score("em_f1", {"exact_match": 60.0, "f1": 80.0}) == 70.0


def test_mlqa_uses_the_language_aware_scorer(roots):
    mlqa = get_registry().get("mlqa")
    examples = load_split(mlqa, "dev", "zh", roots).examples
    preds = [ex.answers[0].text[:-1] or "x" for ex in examples]  # drop a character: zh F1 is per character
    gold = [QaGold(ex.id, tuple(a.text for a in ex.answers)) for ex in examples]
    expected = mlqa_scores(gold, {ex.id: p for ex, p in zip(examples, preds, strict=True)}, "zh")
    got = QA.score(preds, examples, mlqa, "zh")
    assert got == expected and got["f1"] > 50 > got["exact_match"]
    assert QA.score(preds, examples, XQUAD, "zh")["f1"] < got["f1"]  # the SQuAD scorer has no zh tokens


def test_unanswerable_gold_scores_as_squad_v2(roots):
    examples = load_split(SQUAD_V2, "dev", "en", roots).examples
    gold = ["" if ex.is_impossible else ex.answers[0].text for ex in examples]
    assert QA.score(gold, examples, SQUAD_V2, "en") == {"exact_match": 100.0, "f1": 100.0}
    share = 100.0 * sum(ex.is_impossible for ex in examples) / len(examples)
    all_null = QA.score([""] * len(examples), examples, SQUAD_V2, "en")
    assert all_null["exact_match"] == pytest.approx(share) and all_null["f1"] == pytest.approx(share)


# --- training ----------------------------------------------------------------------------------------------------


def test_tiny_model_learns_spans(tok, roots):
    spec = get_registry().get("squad_v1")
    examples = load_split(spec, "train", "en", roots).examples[:32]
    feats = QA.featurize(
        examples, tok, spec, FeatureSettings(max_seq_length=128, doc_stride=32, max_query_length=32)
    )
    torch.manual_seed(0)
    model = MultiTaskModel(load_encoder(ModelSpec("tiny", freeze_word_embeddings=True)))
    model.add_head("squad_v1", QA.build_head(32, spec, 0.1, "cls"))
    batch = QA.collate(
        [{k: v[i] for k, v in feats.items()} for i in range(len(feats["input_ids"]))], tok.pad_token_id
    )

    def loss() -> float:
        model.eval()
        with torch.no_grad():
            return float(QA.loss(model("squad_v1", batch), batch))

    before = loss()
    stream = TaskStream("squad_v1", QA, feats, tok.pad_token_id, micro_batch=16, seed=0)
    settings = LoopSettings(
        learning_rate=3e-3, batch_size=16, per_device_batch_size=16, max_steps=12, warmup_ratio=0
    )
    train(model, {"squad_v1": stream}, settings, Accelerator(cpu=True))
    assert loss() < before - 0.5


def test_negative_windows_are_capped_per_question_and_answers_kept():
    from xstilts.formats.span_qa import cap_negative_windows

    feats = {
        "input_ids": [[i] for i in range(7)],
        "example_index": [0, 0, 0, 0, 1, 1, 1],
        "start_positions": [0, 5, 0, 0, 0, 0, 3],
        "end_positions": [0, 6, 0, 0, 0, 0, 4],
    }
    capped = cap_negative_windows(feats, 1)
    assert capped["input_ids"] == [[0], [1], [4], [6]]
    assert capped["example_index"] == [0, 0, 1, 1] and capped["start_positions"] == [0, 5, 0, 3]
    assert cap_negative_windows(feats, 0)["input_ids"] == [[1], [6]]
