"""Hub mappers against the real shape of each dataset: a committed fixture per hub source (hub_fixtures/*.json:
the dataset's ``Features`` as its dataset_infos.json records them, a few real rows, and where both came from)
is turned into a ``datasets.Dataset`` with those features and loaded through ``load_hub`` exactly as a
download would be. The mapped records must equal what the local reader makes of the same rows (or, for rows
taken from a dataset card, the records the fixture spells out)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import datasets
import pytest

from xstilts.data.loading import DataRoots, load_hub, load_local
from xstilts.errors import DataError
from xstilts.tasks import get_registry

FIXTURES = sorted((Path(__file__).parent / "hub_fixtures").glob("*.json"))
INTERMEDIATE_GROUPS = ("general", "biomedical", "legal")

# Hub sources whose real rows are not in the shared sample; their mappers are still tested on hand-written rows
# (test_intermediate_readers.py). A fixture for one of them shrinks this list; a new hub task must add one.
WITHOUT_FIXTURE = {
    "anli_r1", "anli_r3", "bc5cdr", "casehold", "contract_nli", "covid_qa", "cuad", "headqa", "hellaswag",
    "ledgar", "medmcqa", "overruling", "scitail", "unfair_tos",
}  # fmt: skip


def fixture(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def as_dataset(fx: dict) -> datasets.Dataset:
    features = datasets.Features.from_dict(fx["features"])
    columns = {name: [row[name] for row in fx["rows"]] for name in features}
    return datasets.Dataset.from_dict(columns, features=features)


def content(example) -> dict:
    """A record without where it came from (ids differ: the hub numbers rows, files name them)."""
    return {k: v for k, v in dataclasses.asdict(example).items() if k not in ("id", "origin", "language")}


def load_fixture(fx: dict, monkeypatch) -> list:
    spec = get_registry().get(fx["task"])
    split = next(ours for ours, theirs in spec.hub.splits.items() if theirs == fx["split"])
    calls = []

    def from_fixture(path, name=None, split=None, **kwargs):
        calls.append((path, name, split))
        return as_dataset(fx)

    monkeypatch.setattr(datasets, "load_dataset", from_fixture)
    data = load_hub(spec, split, "en")
    assert calls == [(spec.hub.dataset, spec.hub.config, fx["split"])]
    return data.examples


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture_rows_map_to_the_local_records(path, monkeypatch, intermediate_dir):
    fx = fixture(path)
    spec = get_registry().get(fx["task"])
    assert (spec.hub.dataset, spec.hub.config) == (fx["dataset"], fx["config"]), "fixture of another source"
    assert fx["features_source"] and fx["rows_source"]
    mapped = load_fixture(fx, monkeypatch)
    assert len(mapped) == len(fx["rows"])
    if (
        "expected" in fx
    ):  # rows not in the shared sample (a dataset card's example): their records are spelled out
        assert [{"id": e.id, **content(e)} for e in mapped] == fx["expected"]
        return
    local = []
    for split in spec.local.files:
        local += load_local(spec, split, "en", DataRoots(intermediate=intermediate_dir)).examples
    local_contents = [content(e) for e in local]
    for example in mapped:
        assert content(example) in local_contents, example


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_a_renamed_column_fails_with_the_column_named(path, monkeypatch):
    """Schema drift: the hub renames a column the mapper reads -> a DataError naming it, never silent rows."""
    fx = fixture(path)
    used = {v for v in get_registry().get(fx["task"]).hub.options.values() if isinstance(v, str)}
    column = next((c for c in fx["features"] if c in used), None) or next(
        c for c in fx["features"] if c not in ("idx", "id", "title", "question_concept", "long_answer")
    )
    fx["features"][f"{column}_v2"] = fx["features"].pop(column)
    for row in fx["rows"]:
        row[f"{column}_v2"] = row.pop(column)
    with pytest.raises(DataError, match=column):
        load_fixture(fx, monkeypatch)


def test_every_hub_source_has_a_fixture_or_is_listed():
    registry = get_registry()
    hub_tasks = {
        n for n in registry.names() if registry.get(n).group in INTERMEDIATE_GROUPS and registry.get(n).hub
    }
    assert hub_tasks - {p.stem for p in FIXTURES} == WITHOUT_FIXTURE
