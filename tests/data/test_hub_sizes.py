"""Hub-sourced intermediate tasks declare their split sizes (from the dataset cards), so counting rows never
needs a download; a size for a split the spec does not map is an error naming the spec."""

from __future__ import annotations

import pytest
import yaml

from xstilts.errors import ConfigError
from xstilts.tasks.registry import BUILTIN_SPECS, load_spec

HUB_SPECS = sorted(
    p for g in ("general", "biomedical", "legal") for p in (BUILTIN_SPECS / g).glob("*.yaml")
    if load_spec(p).hub is not None
)  # fmt: skip


@pytest.mark.parametrize("path", HUB_SPECS, ids=lambda p: p.stem)
def test_every_hub_split_has_a_declared_size(path):
    hub = load_spec(path).hub
    assert set(hub.sizes) == set(hub.splits), (
        f"{path.name}: sizes for {sorted(hub.sizes)}, splits {sorted(hub.splits)}"
    )


def test_known_sizes():
    sizes = {p.stem: load_spec(p).hub.sizes for p in HUB_SPECS}
    assert sizes["anli_r3"] == {"train": 100459, "dev": 1200}  # facebook/anli dataset_infos.json
    assert sizes["headqa"] == {"train": 2657, "dev": 1366}  # head_qa dataset_infos.json, config en
    assert sizes["overruling"] == {
        "train": 2000,
        "dev": 394,
    }  # the two slices of LegalBench's 2,394 test rows


def test_size_of_an_unmapped_split_is_rejected(tmp_path):
    raw = yaml.safe_load((BUILTIN_SPECS / "general/anli_r1.yaml").read_text())
    raw["hub"]["sizes"] = {"train": 16946, "test": 1000}
    path = tmp_path / "anli_r1.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(
        ConfigError, match=r"anli_r1.yaml: invalid task spec\n  hub: .*sizes given for \['test'\]"
    ):
        load_spec(path)
