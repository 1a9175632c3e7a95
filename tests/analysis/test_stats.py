"""Statistics with known answers: a planted effect is found, a null effect is covered at about the nominal
rate, exact permutation p-values match a hand count."""

import numpy as np
import pandas as pd
import pytest

from xstilts.analysis.stats import (
    POOLED,
    bootstrap,
    compare,
    domain_vs_general,
    format_matched,
    pair_cells,
    sign_flip_p,
)

GROUPS = {"gen1": "general", "gen2": "general", "bio1": "biomedical", "bio2": "biomedical", "law": "legal"}


def simulate_cells(rng, targets=3, languages=8, seeds=5, effect=0.0, sd_lang=1.0, sd_seed=0.5, sd_noise=1.0):
    """diff per (target, language, seed) = effect + language effect + seed effect + noise."""
    t = np.repeat(np.arange(targets), languages * seeds)
    lg = np.tile(np.repeat(np.arange(languages), seeds), targets)
    s = np.tile(np.arange(seeds), targets * languages)
    lang_eff, seed_eff = rng.normal(0, sd_lang, (targets, languages)), rng.normal(0, sd_seed, seeds)
    diff = effect + lang_eff[t, lg] + seed_eff[s] + rng.normal(0, sd_noise, len(t))
    return pd.DataFrame(
        {"target": [f"t{i}" for i in t], "language": [f"l{i}" for i in lg], "seed": s, "diff": diff}
    )


def simulate_deltas(rng, bio_effect: float, targets=3, languages=8, seeds=3):
    """Δ per arm: general arms +1, biomedical arms +1 + bio_effect, legal +1; shared language/seed effects."""
    rows = []
    for t in range(targets):
        lang_eff = rng.normal(0, 2, languages)
        for s in range(seeds):
            seed_eff = rng.normal(0, 0.5)
            for arm, group in GROUPS.items():
                base = 1.0 + (bio_effect if group == "biomedical" else 0.0)
                for lg in range(languages):
                    delta = base + lang_eff[lg] + seed_eff + rng.normal(0, 1.0)
                    rows.append(
                        {"arm": arm, "target": f"t{t}", "language": f"l{lg}", "seed": s, "delta": delta}
                    )
    return pd.DataFrame(rows)


def test_planted_effect_is_detected_with_the_right_sign():
    d = simulate_deltas(np.random.default_rng(0), bio_effect=3.0)
    out = domain_vs_general(d, GROUPS, n_boot=1000, n_perm=2000, seed=1)
    pooled = out[(out["group"] == "biomedical") & (out["scope"] == POOLED)].iloc[0]
    assert pooled["estimate"] == pytest.approx(3.0, abs=0.6)
    assert 0 < pooled["ci_low"] < pooled["estimate"] < pooled["ci_high"]
    assert not pooled["covers_zero"]
    assert pooled["p_value"] < 0.01
    assert pooled["arms"] == "bio1, bio2" and pooled["reference_arms"] == "gen1, gen2"
    per_target = out[(out["group"] == "biomedical") & (out["scope"] != POOLED)]
    assert list(per_target["scope"]) == ["t0", "t1", "t2"] and (per_target["estimate"] > 1.5).all()
    legal = out[(out["group"] == "legal") & (out["scope"] == POOLED)].iloc[0]
    assert abs(legal["estimate"]) < 1.0
    assert set(out["group"]) == {"biomedical", "legal", "domain"}  # both domains, and the two together


def test_null_effect_ci_covers_zero_at_about_the_nominal_rate():
    rng = np.random.default_rng(2024)
    covered = 0
    for i in range(200):
        _, pooled = bootstrap(simulate_cells(rng), n_boot=500, seed=i)
        lo, hi = np.quantile(pooled, [0.025, 0.975])
        covered += lo <= 0 <= hi
    assert 0.88 <= covered / 200 <= 0.99


def test_bootstrap_is_deterministic_given_a_seed():
    cells = simulate_cells(np.random.default_rng(5), effect=0.5)
    a, b, c = (compare(cells, n_boot=300, n_perm=500, seed=s) for s in (7, 7, 8))
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a.iloc[-1]["estimate"] == pytest.approx(cells.groupby("target")["diff"].mean().mean())


def test_exact_sign_flip_p_by_hand():
    # 4 equal positive differences: only "all +" and "all -" reach |mean| = 1 -> 2 of 16 sign patterns
    assert sign_flip_p(np.ones(4), np.full(4, 0.25)) == pytest.approx(2 / 16)
    assert sign_flip_p(np.array([1.0, -1.0]), np.full(2, 0.5)) == 1.0
    big = sign_flip_p(np.full(40, 2.0), np.full(40, 1 / 40), n_perm=999)
    assert big == pytest.approx(1 / 1000)  # Monte Carlo: no flip reaches it -> (1 + 0) / (1 + n)


def test_too_few_cells_give_no_interval():
    cells = pd.DataFrame({"target": ["t"] * 2, "language": ["a", "b"], "seed": [1, 1], "diff": [1.0, 2.0]})
    row = compare(cells, n_boot=100, n_perm=100).iloc[-1]
    assert np.isnan(row["ci_low"]) and row["covers_zero"]


def test_pair_cells_means_each_group_per_cell():
    d = pd.DataFrame(
        {"arm": ["g1", "g2", "b", "b"], "target": "t", "language": ["x", "x", "x", "y"], "seed": 1,
         "delta": [1.0, 3.0, 5.0, 9.0]}
    )  # fmt: skip
    cells = pair_cells(d, ["b"], ["g1", "g2"])
    assert cells.to_dict("records") == [
        {"target": "t", "language": "x", "seed": 1, "diff": 3.0}
    ]  # y: no general


def test_format_matched_pairs_only_arms_of_one_format():
    d = simulate_deltas(np.random.default_rng(3), bio_effect=3.0)
    formats = {
        "gen1": ("span_qa",),
        "bio1": ("span_qa",),
        "gen2": ("nli",),
        "law": ("nli",),
        "bio2": ("nli", "span_qa"),
    }
    out = format_matched(d, GROUPS, formats, n_boot=200, n_perm=200)
    pairs = set(zip(out["format"], out["group"], out["arms"], out["reference_arms"], strict=True))
    assert pairs == {("span_qa", "biomedical", "bio1", "gen1"), ("nli", "legal", "law", "gen2")}
    span = out[(out["format"] == "span_qa") & (out["scope"] == POOLED)].iloc[0]
    assert span["estimate"] == pytest.approx(3.0, abs=0.8) and not span["covers_zero"]


def test_mlm_only_arms_are_not_tasks():
    d = simulate_deltas(np.random.default_rng(4), bio_effect=3.0)
    groups = {**GROUPS, "dapt": "biomedical"}
    d = pd.concat([d, d[d["arm"] == "gen1"].assign(arm="dapt", delta=lambda x: x["delta"] - 10)])
    formats = {a: ("nli",) for a in GROUPS} | {"dapt": ("mlm",)}
    out = domain_vs_general(d, groups, formats, n_boot=200, n_perm=200)
    assert "dapt" not in ", ".join(out["arms"])
    with_dapt = domain_vs_general(d, groups, n_boot=200, n_perm=200)  # without formats: every arm counts
    assert "dapt" in ", ".join(with_dapt["arms"])
