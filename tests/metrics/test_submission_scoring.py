"""Scoring prediction folders: the golden folder, malformed files, missing languages, the real sample gold."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from xstilts.errors import DataError
from xstilts.metrics import TASK2LANGS, TASKS, file_suffix, read_tag_sentences, score_folder, score_language

GOLDEN = Path(__file__).parent / "golden"
approx = pytest.approx

# Hand-computed per-language values of tests/metrics/golden (arithmetic in test_official_metrics.py where the
# same case appears there).
GOLDEN_EXPECTED = {
    "udpos": {
        # NOUN quirk: P 3/5, R 3/4, F1 66.67; tokens 4/5
        "en": {"f1": 200 / 3, "precision": 60.0, "recall": 75.0, "token_accuracy": 80.0},
        # SCONJ/CCONJ share type CONJ: F1 100; tokens 2/3
        "de": {"f1": 100.0, "precision": 100.0, "recall": 100.0, "token_accuracy": 200 / 3},
    },
    "panx": {
        # gold 3 chunks, pred 4, correct 2: P 50, R 66.67, F1 4/7; tokens 8/10
        "en": {"f1": 400 / 7, "precision": 50.0, "recall": 200 / 3, "token_accuracy": 80.0},
        # gold PER[0-1] LOC; pred I-PER I-PER = PER[0-1], O: correct 1 of 1 predicted, 2 gold
        # P 100, R 50, F1 66.67; tokens 1/3 (I-PER vs B-PER and O vs B-LOC are wrong)
        "af": {"f1": 200 / 3, "precision": 100.0, "recall": 50.0, "token_accuracy": 100 / 3},
    },
    "xnli": {"en": {"accuracy": 75.0}, "de": {"accuracy": 100.0}},  # 3/4; 2/2 (CRLF prediction file)
    "pawsx": {"de": {"accuracy": 80.0}},  # 4/5
    "xquad": {
        "en": {"exact_match": 100 / 3, "f1": 1100 / 21},  # (1 + 0 + 0)/3; (1 + 4/7 + 0)/3
        "zh": {
            "exact_match": 0.0,
            "f1": 0.0,
        },  # SQuAD normaliser: 北京 vs 北京大学 are single distinct tokens
    },
    "mlqa": {
        "de": {"exact_match": 100 / 3, "f1": 500 / 9},  # (1+0+0)/3; (1 + 2/3 + 0)/3
        "ar": {"exact_match": 50.0, "f1": 250 / 3},  # (0+1)/2; (2/3 + 1)/2
        "zh": {"exact_match": 200 / 3, "f1": 800 / 9},  # (0+1+1)/3; (2/3 + 1 + 1)/3
    },
    "tydiqa": {
        # q1 "In 1990." matches the second answer "in 1990"; q2 [black cat] vs [cat]: P 1/2, R 1 -> F1 2/3
        "en": {"exact_match": 50.0, "f1": 250 / 3},
    },
    "bucc2018": {
        "zh": {"f1": 200 / 3, "precision": 60.0, "recall": 75.0},  # 3 of 5 distinct predicted, 3 of 4 gold
        "de": {"f1": 0.0, "precision": 0.0, "recall": 0.0},
    },
    "tatoeba": {"de": {"accuracy": 60.0}, "az": {"accuracy": 100.0}},  # 3/5; az is not an official language
}

# Task scores over the official languages present:
#   udpos (200/3 + 100)/2 = 250/3          panx (400/7 + 200/3)/2 = 1300/21     xnli (75 + 100)/2 = 87.5
#   pawsx 80                              xquad ((1100/21 + 0)/2 + (100/3 + 0)/2)/2 = (550/21 + 350/21)/2 = 150/7
#   mlqa  F1 (500/9 + 750/9 + 800/9)/3 = 2050/27, EM (100/3 + 50 + 200/3)/3 = 50 -> (2050/27 + 50)/2 = 1700/27
#   tydiqa (250/3 + 50)/2 = 200/3          bucc2018 (200/3 + 0)/2 = 100/3       tatoeba 60 (az not averaged)
GOLDEN_TASK_SCORES = {
    "udpos": 250 / 3,
    "panx": 1300 / 21,
    "xnli": 87.5,
    "pawsx": 80.0,
    "xquad": 150 / 7,
    "mlqa": 1700 / 27,
    "tydiqa": 200 / 3,
    "bucc2018": 100 / 3,
    "tatoeba": 60.0,
}


@pytest.fixture(scope="module")
def golden_result() -> dict:
    return score_folder(GOLDEN / "predictions", GOLDEN / "labels")


def test_golden_per_language_values(golden_result):
    for task, languages in GOLDEN_EXPECTED.items():
        got = golden_result["tasks"][task]["languages"]
        assert set(got) == set(languages), task
        for lang, metrics in languages.items():
            assert got[lang] == {m: approx(v) for m, v in metrics.items()}, (task, lang)


def test_golden_task_scores_and_partial_xtreme_score(golden_result):
    for task, expected in GOLDEN_TASK_SCORES.items():
        assert golden_result["tasks"][task]["score"] == approx(expected), task
    # all 9 tasks present, but each lacks official languages: a partial score, flagged as such
    assert golden_result["xtreme_score"] == approx(sum(GOLDEN_TASK_SCORES.values()) / 9)
    assert golden_result["xtreme_score"] == approx(61.9033, abs=1e-4)
    assert golden_result["xtreme_score_complete"] is False
    assert "PARTIAL" in golden_result["xtreme_score_summary"]
    assert golden_result["missing_tasks"] == []
    assert golden_result["missing_languages"]["bucc2018"] == ["fr", "ru"]
    assert golden_result["missing_languages"]["mlqa"] == ["en", "es", "hi", "vi"]
    # retrieval category (100/3 + 60)/2 = 140/3, built on language-partial tasks
    assert golden_result["category_means"]["retrieval"] == approx(140 / 3)
    assert "retrieval" in golden_result["partial_categories"]


def test_golden_unofficial_language_is_reported_not_averaged(golden_result):
    tatoeba = golden_result["tasks"]["tatoeba"]
    assert tatoeba["unofficial_languages"] == ["az"]
    assert tatoeba["score"] == approx(60.0)
    assert any("az" in w for w in golden_result["warnings"])


def test_golden_result_is_json_serialisable(golden_result):
    assert json.loads(json.dumps(golden_result, sort_keys=True)) == golden_result


# --- helpers for folders built per test ----------------------------------------------------------------------------


def _copy_golden(tmp_path: Path) -> tuple[Path, Path]:
    shutil.copytree(GOLDEN, tmp_path / "golden")
    return tmp_path / "golden" / "predictions", tmp_path / "golden" / "labels"


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# --- missing languages and tasks -----------------------------------------------------------------------------------


def test_prediction_language_without_labels_is_reported(tmp_path):
    pred, label = _copy_golden(tmp_path)
    _write(pred / "xnli" / "test-fr.tsv", "neutral\n")
    result = score_folder(pred, label)
    assert result["unmatched"]["predictions_without_labels"] == {"xnli": ["fr"]}
    assert "fr" not in result["tasks"]["xnli"]["languages"]
    assert "fr" in result["missing_languages"]["xnli"]
    assert any("xnli: predictions without labels" in w and "fr" in w for w in result["warnings"])


def test_label_language_without_predictions_is_reported(tmp_path):
    pred, label = _copy_golden(tmp_path)
    (pred / "bucc2018" / "test-de.tsv").unlink()
    result = score_folder(pred, label)
    assert result["unmatched"]["labels_without_predictions"] == {"bucc2018": ["de"]}
    assert result["missing_languages"]["bucc2018"] == ["de", "fr", "ru"]
    assert result["tasks"]["bucc2018"]["score"] == approx(200 / 3)  # zh only
    assert any("bucc2018: labels without predictions" in w for w in result["warnings"])


def test_task_folder_missing_on_either_side(tmp_path):
    pred, label = _copy_golden(tmp_path)
    shutil.rmtree(label / "tydiqa")  # predictions without labels: warned, not scored
    shutil.rmtree(pred / "tatoeba")  # labels without predictions: a missing task
    result = score_folder(pred, label)
    assert set(result["tasks"]) == set(TASKS) - {"tydiqa", "tatoeba"}
    assert result["missing_tasks"] == ["tydiqa", "tatoeba"]
    assert result["unmatched"]["predictions_without_labels"] == {"tydiqa": ["en"]}
    assert result["xtreme_score_complete"] is False
    remaining = [v for t, v in GOLDEN_TASK_SCORES.items() if t not in ("tydiqa", "tatoeba")]
    assert result["xtreme_score"] == approx(sum(remaining) / 7)
    assert "retrieval" not in result["category_means"]
    assert any("no labels for task tydiqa" in w for w in result["warnings"])


def test_stray_files_and_folders_are_warned_about(tmp_path):
    pred, label = _copy_golden(tmp_path)
    _write(pred / "mewslix" / "test-en.json", "{}")
    _write(pred / "xquad" / "test-de.tsv", "x\n")  # QA predictions must be .json
    result = score_folder(pred, label)
    assert any("mewslix" in w and "not an XTREME task" in w for w in result["warnings"])
    assert any("test-de.tsv" in w for w in result["warnings"])
    assert "de" not in result["tasks"]["xquad"]["languages"]


def test_complete_folder_gives_a_complete_score(tmp_path):
    # Every official language of every task, predictions identical to labels -> every task 100, score 100.
    pred, label = tmp_path / "pred", tmp_path / "labels"
    # (an answer "a" would not do: MLQA en deletes the article, and an empty answer scores EM 100 but F1 0)
    squad = json.dumps(
        {"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "q", "answers": [{"text": "x"}]}]}]}]}
    )
    content = {"udpos": "NOUN\nVERB\n", "panx": "B-PER\nO\n", "xnli": "neutral\n", "pawsx": "1\n"}
    content |= {"bucc2018": "x-1\ten-1\n", "tatoeba": "0\n", "xquad": squad, "mlqa": squad, "tydiqa": squad}
    for task, langs in TASK2LANGS.items():
        for lang in langs:
            name = f"test-{lang}.{file_suffix(task)}"
            _write(label / task / name, content[task])
            _write(pred / task / name, '{"q": "x"}' if task in ("xquad", "mlqa", "tydiqa") else content[task])
    result = score_folder(pred, label)
    assert result["xtreme_score_complete"] is True
    assert result["xtreme_score"] == approx(100.0)
    assert result["missing_tasks"] == [] and result["missing_languages"] == {} and result["warnings"] == []
    assert result["partial_categories"] == []
    assert result["category_means"] == {
        c: approx(100.0) for c in ("classification", "tagging", "qa", "retrieval")
    }


# --- malformed files -----------------------------------------------------------------------------------------------


def _score(tmp_path: Path, task: str, lang: str, pred_text: str, label_text: str):
    suffix = file_suffix(task)
    pred = _write(tmp_path / "pred" / task / f"test-{lang}.{suffix}", pred_text)
    label = _write(tmp_path / "labels" / task / f"test-{lang}.{suffix}", label_text)
    return score_language(task, lang, pred, label), pred, label


def test_line_count_mismatch_names_both_files_and_counts(tmp_path):
    with pytest.raises(DataError) as err:
        _score(tmp_path, "xnli", "en", "neutral\nneutral\n", "neutral\nneutral\nentailment\n")
    message = str(err.value)
    assert "pred/xnli/test-en.tsv" in message and "labels/xnli/test-en.tsv" in message
    assert "2 lines" in message and "have 3" in message


def test_non_integer_tatoeba_line(tmp_path):
    with pytest.raises(DataError) as err:
        _score(tmp_path, "tatoeba", "de", "3\nseven\n1\n", "3\n7\n1\n")
    assert err.value.line == 2 and err.value.path.endswith("pred/tatoeba/test-de.tsv")
    assert "'seven'" in str(err.value)


def test_bucc_line_without_tab(tmp_path):
    with pytest.raises(DataError) as err:
        _score(tmp_path, "bucc2018", "zh", "zh-1\ten-1\nzh-2 en-2\n", "zh-1\ten-1\n")
    assert err.value.line == 2 and "<TAB>" in str(err.value)


@pytest.mark.parametrize("task", ["xnli", "udpos", "bucc2018", "tatoeba", "xquad"])
def test_empty_prediction_file(tmp_path, task):
    label = {
        "xnli": "neutral\n",
        "udpos": "NOUN\n",
        "bucc2018": "a\tb\n",
        "tatoeba": "0\n",
        "xquad": json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "q", "answers": [{"text": "a"}]}]}]}]}),
    }[task]
    with pytest.raises(DataError, match="empty file"):
        _score(tmp_path, task, "de", "\n\n", label)


def test_blank_line_inside_a_classification_file(tmp_path):
    with pytest.raises(DataError) as err:
        _score(tmp_path, "pawsx", "de", "1\n\n0\n", "1\n0\n0\n")
    assert err.value.line == 2


def test_bad_prediction_json_names_the_line(tmp_path):
    label = json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "q1", "answers": [{"text": "a"}]}]}]}]})
    with pytest.raises(DataError) as err:
        _score(tmp_path, "xquad", "en", '{\n  "q1": "a",\n  "q2": \n}\n', label)
    assert err.value.line == 4 and "invalid JSON" in str(err.value)


def test_prediction_answer_must_be_a_string(tmp_path):
    label = json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "q1", "answers": [{"text": "a"}]}]}]}]})
    with pytest.raises(DataError) as err:
        _score(tmp_path, "tydiqa", "en", '{"q1": ["a"]}', label)
    assert err.value.field == "q1"


def test_malformed_squad_labels_name_the_field(tmp_path):
    label = json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "q1"}]}]}]})
    with pytest.raises(DataError) as err:
        _score(tmp_path, "xquad", "en", '{"q1": "a"}', label)
    assert err.value.field == "data[0].paragraphs[0].qas[0]" and "answers" in str(err.value)


def test_blanked_test_file_is_not_accepted_as_labels(tmp_path):
    # XTREME's test view blanks every answer to ""; scoring against it would report nonsense (xtreme #24).
    label = json.dumps({"data": [{"paragraphs": [{"qas": [{"id": "q1", "answers": [{"text": ""}]}]}]}]})
    with pytest.raises(DataError, match="blanked"):
        _score(tmp_path, "xquad", "en", '{"q1": ""}', label)


def test_tagging_token_count_mismatch_names_sentence_and_line(tmp_path):
    with pytest.raises(DataError) as err:
        _score(tmp_path, "udpos", "en", "NOUN\nVERB\n\nDET\n", "NOUN\nVERB\n\nDET\nNOUN\n")
    assert err.value.line == 4 and "sentence 2 has 1 tags" in str(err.value)


def test_tagging_sentence_count_mismatch(tmp_path):
    with pytest.raises(DataError, match="1 sentences, but the labels .* have 2"):
        _score(tmp_path, "panx", "af", "O\nO\n", "O\n\nO\n")


def test_tagging_line_with_two_fields(tmp_path):
    with pytest.raises(DataError) as err:
        _score(tmp_path, "panx", "af", "O\nParis\tB-LOC\n", "O\nB-LOC\n")
    assert err.value.line == 2


def test_tag_reader_collapses_blank_runs_and_handles_crlf(tmp_path):
    # xtreme #16: consecutive blank lines between sentences must not create empty sentences.
    path = tmp_path / "tags.tsv"
    path.write_bytes(b"B-PER\r\nO\r\n\r\n\r\nB-LOC\r\n\r\n")
    assert read_tag_sentences(path) == ([["B-PER", "O"], ["B-LOC"]], [1, 5])


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="not a folder"):
        score_folder(tmp_path / "nope", GOLDEN / "labels")


# --- the real sample gold ------------------------------------------------------------------------------------------


def _first_answers(label_file: Path) -> dict[str, str]:
    data = json.loads(label_file.read_text(encoding="utf-8"))["data"]
    return {qa["id"]: qa["answers"][0]["text"] for a in data for p in a["paragraphs"] for qa in p["qas"]}


def test_sample_gold_scored_against_itself_is_perfect(xtreme_dir, tmp_path):
    labels = xtreme_dir / "labels"
    pred = tmp_path / "pred"
    for label_file in labels.glob("*/test-*.*"):
        target = pred / label_file.parent.name / label_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if label_file.suffix == ".json":
            target.write_text(json.dumps(_first_answers(label_file), ensure_ascii=False), encoding="utf-8")
        else:
            shutil.copyfile(label_file, target)
    result = score_folder(pred, labels)
    assert set(result["tasks"]) == {p.name for p in labels.iterdir() if p.is_dir()}
    for task, entry in result["tasks"].items():
        assert entry["languages"], task
        for lang, metrics in entry["languages"].items():
            for metric, value in metrics.items():
                assert value == approx(100.0), (task, lang, metric)
        assert entry["score"] == approx(100.0), task
    assert result["unmatched"] == {"predictions_without_labels": {}, "labels_without_predictions": {}}
    # The sample lacks most tasks' languages, so the score must be flagged partial.
    assert result["xtreme_score_complete"] is False
