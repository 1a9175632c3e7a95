"""The data rules of the recipe: what trains, what validates, never validating on training rows."""

import pytest

from xstilts.config import DataRef
from xstilts.data.loading import DataRoots
from xstilts.datasets_view import DataView, Ref
from xstilts.errors import XstiltsError
from xstilts.tasks import get_registry


@pytest.fixture(scope="module")
def view(xtreme_dir, intermediate_dir):
    return DataView(get_registry(), DataRoots(xtreme_dir, intermediate_dir), "local")


def test_xnli_trains_on_mnli_when_it_has_no_train_file(view):
    reg = get_registry()
    assert view.train_ref(reg.get("xnli")) == Ref("mnli", "train", "en")
    # and validates on its own English dev file
    train, dev, source = view.train_and_dev(reg.get("xnli"), None, None, 100)
    assert len(train.examples) == 480 and len(dev.examples) == 100 and source == "xnli/dev/en"


def test_validation_is_carved_from_train_before_capping(view):
    train, dev, source = view.train_and_dev(get_registry().get("mnli"), DataRef(max_examples=400), None, 100)
    assert len(dev.examples) == 100 and len(train.examples) == 380
    assert {e.id for e in train.examples}.isdisjoint(e.id for e in dev.examples)
    assert "held out" in source


def test_same_file_for_train_and_dev_is_held_out(view):
    pawsx = get_registry().get("pawsx")
    train, dev, _ = view.train_and_dev(pawsx, DataRef(split="dev", language="en"), None, 100)
    assert len(train.examples) == 400 and len(dev.examples) == 100
    assert {e.id for e in train.examples}.isdisjoint(e.id for e in dev.examples)


def test_too_little_data_to_validate(view):
    with pytest.raises(XstiltsError, match="cannot spare"):
        view.train_and_dev(get_registry().get("cosmosqa"), None, DataRef(task="cosmosqa", split="train"), 50)
