from collections import Counter

import pytest

from xstilts.errors import ConfigError, UnknownNameError
from xstilts.training.samplers import make_sampler, step_budget

SIZES = {"big": 9000, "mid": 900, "small": 100}
STEPS = 40_000


def frequencies(name, **options):
    s = make_sampler(name, SIZES, seed=3, **options)
    counts = Counter(s.pick() for _ in range(STEPS))
    return {t: counts[t] / STEPS for t in SIZES}


def expected(weights):
    total = sum(weights.values())
    return {t: w / total for t, w in weights.items()}


@pytest.mark.parametrize(
    ("name", "options", "weights"),
    [
        ("proportional", {}, SIZES),
        ("capped", {"cap": 1000}, {"big": 1000, "mid": 900, "small": 100}),
        ("temperature", {"temperature": 2.0}, {t: n**0.5 for t, n in SIZES.items()}),
        ("temperature", {"temperature": 1.0, "cap": 1000}, {"big": 1000, "mid": 900, "small": 100}),
        ("uniform", {}, dict.fromkeys(SIZES, 1)),
    ],
)
def test_empirical_frequencies_match_formula(name, options, weights):
    got, want = frequencies(name, **options), expected(weights)
    for t in SIZES:
        # 40k draws: the binomial sd is below 0.0025 for every p, so 0.01 is a > 4-sigma band
        assert abs(got[t] - want[t]) < 0.01, (t, got, want)


def test_high_temperature_approaches_uniform():
    got = frequencies("temperature", temperature=1e6)
    assert all(abs(p - 1 / 3) < 0.01 for p in got.values())


def test_same_seed_same_sequence_and_state_roundtrip():
    a = make_sampler("temperature", SIZES, seed=11, temperature=3)
    b = make_sampler("temperature", SIZES, seed=11, temperature=3)
    assert [a.pick() for _ in range(500)] == [b.pick() for _ in range(500)]
    state = a.state_dict()
    ahead = [a.pick() for _ in range(100)]
    c = make_sampler("temperature", SIZES, seed=999, temperature=3)
    c.load_state_dict(state)
    assert [c.pick() for _ in range(100)] == ahead


def test_different_seed_differs():
    a = make_sampler("uniform", SIZES, seed=1)
    b = make_sampler("uniform", SIZES, seed=2)
    assert [a.pick() for _ in range(200)] != [b.pick() for _ in range(200)]


def test_bad_sampler_settings():
    with pytest.raises(UnknownNameError, match="did you mean 'uniform'"):
        make_sampler("unifrom", SIZES, seed=0)
    with pytest.raises(ConfigError, match="cap"):
        make_sampler("capped", SIZES, seed=0)


def test_step_budget_is_jiant_rule():
    # 3 epochs × (ceil(9000/32)=282 + ceil(900/32)=29 + ceil(100/32)=4) = 945
    assert step_budget(SIZES, 3, 32) == 945
    # capped at 1000: ceil(1000/32)=32 → 3 × (32 + 29 + 4) = 195
    assert step_budget(SIZES, 3, 32, cap=1000) == 195
