"""Classification scoring: every registered classification task's selection metric is among its scores."""

import pytest

from xstilts.data.records import TextExample
from xstilts.formats import get_format
from xstilts.metrics.official import main_score
from xstilts.tasks import get_registry

CLASSIFICATION = [n for n in get_registry().names() if get_registry().get(n).format == "classification"]


@pytest.mark.parametrize("task", CLASSIFICATION)
def test_selection_metric_is_scored(task):
    spec = get_registry().get(task)
    labels = list(spec.labels) or ["a", "b"]
    gold = [TextExample(str(i), "x", None, labels[i % len(labels)]) for i in range(2 * len(labels))]
    predictions = [ex.label for ex in gold]
    scores = get_format("classification").score(predictions, gold, spec, "en")
    assert main_score(spec.metric, scores) == 100.0


def test_binary_f1_is_the_positive_class_f1():
    spec = get_registry().get("overruling")
    gold = [TextExample(str(i), "x", None, y) for i, y in enumerate(["Yes", "Yes", "No", "No", "No"])]
    scores = get_format("classification").score(["Yes", "No", "Yes", "No", "No"], gold, spec, "en")
    # Yes: 1 true positive, 2 predicted, 2 gold -> F1 = 2·1 / (2 + 2)
    assert scores["f1"] == 50.0 and scores["accuracy"] == 60.0
