"""Per-target best intermediate arm, chosen on English results only, and the XTREME score it gives.

The choice is cross-fitted: seed s is scored with the arm chosen on the *other* seeds' English results, so the
score does not reward the seed's own luck on English (with one seed there is nothing else to choose on: the
choice then uses that seed, and a warning says the score is optimistic).

Choosing on the target languages' results would be selecting on the zero-shot test itself. English is the
training language, so its dev score is fair game; but XQuAD, TyDiQA-GoldP and Tatoeba have no English dev
(their "dev" is test data, PROTOCOL §3), and BUCC has no English side at all: each such case is warned
about by name, and a target without any English result keeps the baseline arm.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean, stdev

import pandas as pd

from xstilts.analysis.xtreme_table import XTREME, chosen_rows, describe_coverage, seed_scores, xtreme_rows

ENGLISH_TEST_ONLY = ("xquad", "tydiqa", "tatoeba")  # PROTOCOL §3, pitfall 3


@dataclass(frozen=True)
class Selection:
    choice: dict[str, str]  # target -> arm
    english: pd.DataFrame  # target, split, arm, score (mean over seeds), n_seeds, chosen
    warnings: list[str]
    per_seed: dict[int, float]  # seed -> XTREME score of the chosen arms
    coverage: str  # what that score covers (XtremeScore.describe)
    delta_per_seed: dict[int, float]  # seed -> chosen minus baseline XTREME score
    seed_choice: dict[int, dict[str, str]] | None = None  # seed -> target -> arm chosen on the other seeds

    @property
    def score(self) -> tuple[float | None, float | None]:
        """(mean, sd) over seeds of the selected XTREME score; sd is None with one seed."""
        return _mean_sd(list(self.per_seed.values()))

    @property
    def delta(self) -> tuple[float | None, float | None]:
        return _mean_sd(list(self.delta_per_seed.values()))


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return fmean(values), (stdev(values) if len(values) > 1 else None)


def _english_split(splits: set[str]) -> str:
    """dev first, then any other non-test split, test last."""
    if "dev" in splits:
        return "dev"
    others = sorted(s for s in splits if s != "test")
    return others[0] if others else "test"


def choose(
    scores: pd.DataFrame, arms: Sequence[str], baseline: str | None
) -> tuple[dict[str, str], pd.DataFrame, list[str]]:
    """target → best arm on English, the English table it was chosen on, and the warnings."""
    order = {a: i for i, a in enumerate(arms)}
    choice, tables, warnings = {}, [], []
    for target in dict.fromkeys(scores["target"]):
        en = scores[(scores["target"] == target) & (scores["language"] == "en")]
        if en.empty:
            if baseline is not None:
                choice[target] = baseline
            warnings.append(
                f"{target}: no English result, so no arm can be chosen without looking at the target languages; "
                + (f"kept the baseline arm {baseline!r}" if baseline else "left out")
            )
            continue
        split = _english_split(set(en["split"]))
        table = en[en["split"] == split].groupby("arm", as_index=False)["score"].agg(["mean", "count"])
        table = table.rename(columns={"mean": "score", "count": "n_seeds"})
        table = table.sort_values("arm", key=lambda s: s.map(lambda a: order.get(a, len(order))))
        best = table.loc[table["score"].idxmax(), "arm"]  # first maximum in arm order
        choice[target] = str(best)
        tables.append(table.assign(target=target, split=split, chosen=table["arm"] == best))
        if target in ENGLISH_TEST_ONLY:
            warnings.append(
                f"{target}: its only English evaluation is test data (PROTOCOL §3), so choosing on it is "
                "optimistic"
            )
        elif split == "test":
            warnings.append(f"{target}: chosen on English test results (no English dev in the results)")
    columns = ["target", "split", "arm", "score", "n_seeds", "chosen"]
    english = pd.concat(tables, ignore_index=True)[columns] if tables else pd.DataFrame(columns=columns)
    return choice, english, warnings


def select_best_arms(
    scores: pd.DataFrame,
    results: pd.DataFrame,
    splits: Mapping[str, str],
    arms: Sequence[str],
    baseline: str | None,
) -> Selection:
    """Choose per target on English, then score the chosen arms on each target's reporting split."""
    choice, english, warnings = choose(scores, arms, baseline)
    rows = xtreme_rows(results, splits)
    seeds = sorted(int(s) for s in rows["seed"].unique())
    if len(seeds) > 1:
        seed_choice = {s: choose(scores[scores["seed"] != s], arms, baseline)[0] for s in seeds}
        picked = pd.concat([chosen_rows(rows[rows["seed"] == s], seed_choice[s]) for s in seeds])
    else:
        seed_choice = {s: choice for s in seeds}
        picked = chosen_rows(rows, choice)
        if seeds:
            warnings.append(
                "one seed: the arms were chosen and scored on the same seed, so the score is optimistic"
            )
    per_seed = {s: x.value for s, x in seed_scores(picked).items() if x.value is not None}
    deltas = {}
    if baseline is not None:
        base = {
            s: x.value for s, x in seed_scores(rows[rows["arm"] == baseline]).items() if x.value is not None
        }
        if base:
            b_mean = fmean(base.values())
            deltas = {s: v - base.get(s, b_mean) for s, v in per_seed.items()}
    coverage = describe_coverage(picked, splits) if not picked.empty else f"no {XTREME} task"
    return Selection(choice, english, warnings, per_seed, coverage, deltas, seed_choice)
