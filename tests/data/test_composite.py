"""Composite tasks (ANLI+): one task, one head, the union of its sources' examples."""

from xstilts.data.loading import DataRoots, load_split
from xstilts.tasks import get_registry
from xstilts.tasks.spec import TaskSpec


def test_anli_plus_is_one_nli_task_over_its_sources():
    spec = get_registry().get("anli_plus")
    assert spec.format == "classification" and spec.pair
    assert spec.labels == get_registry().get("mnli").labels == get_registry().get("anli_r1").labels
    assert spec.derived.reader_options("train")["tasks"] == ["snli", "mnli", "anli_r1", "anli_r2", "anli_r3"]


def test_concat_tasks_unions_sources_with_prefixed_ids(intermediate_dir):
    reg = get_registry()
    spec = TaskSpec.model_validate({
        "name": "nli_union", "group": "general", "format": "classification", "pair": True,
        "labels": ["contradiction", "entailment", "neutral"], "metric": "accuracy",
        "derived": {"reader": "concat_tasks", "splits": ["train"], "options": {"all": {"tasks": ["snli", "mnli"]}}},
    })  # fmt: skip
    roots = DataRoots(None, intermediate_dir)
    union = load_split(spec, "train", "en", roots, "local", reg)
    snli = load_split(reg.get("snli"), "train", "en", roots, "local", reg)
    mnli = load_split(reg.get("mnli"), "train", "en", roots, "local", reg)
    assert len(union.examples) == len(snli.examples) + len(mnli.examples)
    assert union.examples[0].id == f"snli/{snli.examples[0].id}"
    assert union.examples[-1].id == f"mnli/{mnli.examples[-1].id}"
    assert {e.label for e in union.examples} <= set(spec.labels)
    assert len({e.id for e in union.examples}) == len(union.examples)
