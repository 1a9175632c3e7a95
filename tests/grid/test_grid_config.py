"""Malformed grid files fail before any compute, with a message naming the field."""

import pytest

from xstilts.config import load_config
from xstilts.errors import ConfigError
from xstilts.pipeline import Pipeline

from .conftest import write_grid


@pytest.mark.parametrize(
    ("arms", "targets_patch", "extra", "message"),
    [
        (
            [{"name": "a", "tasks": ["mnlii"]}],
            None,
            {},
            "arms.0.tasks.0: unknown task 'mnlii'; did you mean 'mnli'",
        ),
        (
            [{"name": "a", "tasks": ["mnli"], "sampler": "temprature"}],
            None,
            {},
            "arms.0.sampler: unknown sampler 'temprature'; did you mean 'temperature'",
        ),
        ([{"name": "a", "tasks": ["mnli_xx"]}], None, {}, "arms.0.tasks.0: unknown language of task 'mnli'"),
        ([{"name": "baseline"}], {"languages": ["de", "klingon"]}, {}, "targets.0.languages: ['klingon']"),
        (
            [{"name": "baseline"}],
            None,
            {"data": {"xtreme_dir": "/nonexistent/xtreme"}},
            "data.xtreme_dir: /nonexistent/xtreme is not a folder",
        ),
        ([{"name": "baseline", "taks": ["mnli"]}], None, {}, "arms.0.taks: Extra inputs are not permitted"),
        ([{"name": "baseline"}], None, {"executor": {"kind": "kubernetes"}}, "executor.kind"),
    ],
    ids=["task", "sampler", "variant-language", "target-language", "data-folder", "typo", "executor"],
)
def test_malformed_grid(tmp_path, arms, targets_patch, extra, message):
    path = write_grid(tmp_path, arms, ["xnli"], [1], **extra)
    if targets_patch:
        import yaml

        cfg = yaml.safe_load(path.read_text())
        cfg["targets"][0].update(targets_patch)
        path.write_text(yaml.safe_dump(cfg))
    with pytest.raises(ConfigError) as err:
        Pipeline(load_config(path), plan_only=True)
    assert message in str(err.value)


def test_named_mixture_expands_before_hashing(tmp_path):
    path = write_grid(tmp_path, [{"name": "legal", "tasks": ["legal-all"]}], ["xnli"], [1])
    pipe = Pipeline(load_config(path), plan_only=True)
    assert pipe.cfg.arms[0].tasks == ["contract_nli", "policyqa", "overruling"]
