import pandas as pd
import pytest

from xstilts.analysis.task_answer import answer
from xstilts.config import RunConfig, TargetConfig
from xstilts.errors import ConfigError

MATRIX = pd.DataFrame(
    {"xnli": [0.1, 0.3, 1.0, 1.2], "pawsx": [0.0, 0.2, 5.0, 7.0]}, index=["g1", "g2", "b1", "b2"]
)
GROUPS = {"g1": "general", "g2": "general", "b1": "biomedical", "b2": "biomedical"}
MEMBERS = {"general": ["g1", "g2"], "biomedical": ["b1", "b2"]}


def floors(above_pawsx):
    return pd.DataFrame(
        {
            "target": ["xnli", "pawsx"],
            "baseline": [40.0, 50.0],
            "floor": [33.3, 55.0],
            "above": [True, above_pawsx],
        }
    )


def test_targets_at_their_floor_leave_the_primary_scope_unless_switched_off():
    kw = {"n_seeds": 3, "contrasts": [("biomedical", "general")]}
    ans = answer(MATRIX, GROUPS, MEMBERS, [], floors=floors(False), **kw)
    assert (
        ans.scope == ["xnli"]
        and "pawsx" in ans.excluded
        and "not above its floor 55.0" in ans.excluded["pawsx"]
    )
    assert ans.primary.iloc[0]["estimate"] == pytest.approx(0.9)  # xnli only
    kept = answer(MATRIX, GROUPS, MEMBERS, [], floors=floors(False), exclude_floor=False, **kw)
    assert kept.scope == ["xnli", "pawsx"] and kept.primary.iloc[0]["estimate"] == pytest.approx(
        (0.9 + 5.9) / 2
    )
    unknown = answer(MATRIX, GROUPS, MEMBERS, [], floors=floors(None), **kw)
    assert unknown.scope == ["xnli", "pawsx"]  # an unknown floor flags nothing
    assert len(ans.exploratory) == 2  # per-target contrasts keep every target (exploratory)


def test_analysis_section_names_a_bad_contrast(tmp_path):
    from xstilts.config import load_config

    cfg = RunConfig(name="x", targets=[TargetConfig(task="xnli")])
    assert cfg.analysis.primary_contrasts == [("biomedical", "general"), ("legal", "general")]
    path = tmp_path / "c.yaml"
    path.write_text(
        "name: x\ntargets: [{task: xnli}]\nanalysis: {primary_contrasts: [[biomedcal, general]]}\n"
    )
    with pytest.raises(ConfigError, match=r"analysis\.primary_contrasts\.0\.0"):
        load_config(path)


def test_intermediate_tasks_at_their_majority_floor_are_named():
    from xstilts.analysis.table import results_frame
    from xstilts.analysis.task_answer import floor_notes, intermediate_floors
    from xstilts.results.db import ResultRow

    def row(arm, task, metric, value, seed):
        return ResultRow(
            "m", arm, task, "en", metric, seed, "h", "intermediate-dev", value, "r", "intermediate"
        )

    res = results_frame(
        [
            row("pubmedqa", "pubmedqa", m, v, s)
            for s in (1, 2)
            for m, v in (("accuracy", 55.0), ("majority_accuracy", 55.0))
        ]
        + [row("mnli", "mnli", m, v, 1) for m, v in (("accuracy", 61.0), ("majority_accuracy", 35.0))]
    )
    floors = intermediate_floors(res).set_index("arm")
    assert not floors.loc["pubmedqa", "above"] and floors.loc["mnli", "above"]
    notes = floor_notes(intermediate_floors(res))
    assert (
        len(notes) == 1
        and "pubmedqa (pubmedqa: 55.0 vs majority 55.0)" in notes[0]
        and "mnli" not in notes[0]
    )
