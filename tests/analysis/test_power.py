import numpy as np
import pytest
from statsmodels.stats.power import TTestIndPower

from xstilts.analysis.power import Components, components_from_cells, components_from_matrix, mde, mde_lines
from xstilts.analysis.simulate import Design, arms_of, simulate_cells
from xstilts.analysis.tasklevel import cell_task_means


@pytest.mark.parametrize(("n_a", "n_b"), [(3, 3), (4, 4), (6, 4)])
def test_mde_matches_statsmodels_t_test_power(n_a, n_b):
    d = TTestIndPower().solve_power(nobs1=n_a, ratio=n_b / n_a, alpha=0.05, power=0.8)
    assert mde(2.25, n_a, n_b) == pytest.approx(d * 1.5, rel=1e-3)
    assert np.isnan(mde(1.0, 1, 4))


def test_components_are_recovered_from_a_pilot():
    design = Design(n_tasks=40, n_seeds=4, n_targets=3, n_languages=8, sd_task_target=0.0)
    cells = simulate_cells(design, np.random.default_rng(5))
    dom, ref = arms_of(cells)
    comp = components_from_cells(cells, {"biomedical": dom, "general": ref}, "pilot")
    assert comp.var_task == pytest.approx(1.0, abs=0.35)
    assert comp.var_seed == pytest.approx(0.25, abs=0.08)
    assert comp.var_cell == pytest.approx(0.25, abs=0.03)
    # more seeds shrink the task mean's variance, but never below the between-task part
    assert comp.var_task < comp.var_task_mean(10, 24) < comp.var_task_mean(2, 24)
    whole = components_from_matrix(cell_task_means(cells), {"b": dom, "g": ref}, "m")
    assert whole.var_seed == 0 and whole.var_task > comp.var_task


def test_mde_lines_name_the_unestimable_contrast():
    lines = mde_lines(Components(1.0, 0.25, 0.25, "x"), {"general": ["a", "b"], "biomedical": ["c"]},
                      [("biomedical", "general")], n_seeds=3, n_cells=18)  # fmt: skip
    assert "1 vs 2 tasks" in lines[1] and "not estimable" in lines[1]
