"""Report statistics: SciPy's quantiles and t-tests, Holm's correction against known values, and
a report's verdicts judged on the adjusted p-values."""

from __future__ import annotations

import pytest

from droplab.experiments import stats


def test_quantiles_and_p_values_are_scipys():
    assert stats.t975(4) == pytest.approx(2.7764451, abs=1e-6)
    assert stats.t975(1000) == pytest.approx(1.9623391, abs=1e-6)
    # A paired difference of mean 0.02, sd 0.01 over 4 seeds: t = 4, df = 3, p = 0.02800...
    d = stats.summarize([0.01, 0.02, 0.03, 0.02 + 0.0])
    assert d.std == pytest.approx(0.0081650, abs=1e-6)
    t = d.mean / (d.std / 2)
    assert t == pytest.approx(4.8989795, abs=1e-6)
    assert d.p == pytest.approx(0.0163, abs=1e-4)
    assert stats.summarize([1.0, 1.0]).p == 0.0 and stats.summarize([0.0, 0.0]).p == 1.0


def test_holm_matches_a_hand_computed_example():
    # Sorted 0.01, 0.02, 0.03, 0.04 with m = 4: 0.04, 0.06, 0.06 (monotone), 0.06.
    assert stats.holm([0.04, 0.01, 0.03, 0.02]) == pytest.approx([0.06, 0.04, 0.06, 0.06])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])
    assert stats.holm([]) == []


def test_a_family_judges_each_verdict_on_its_adjusted_p_value():
    strong = stats.summarize([0.05, 0.051, 0.052, 0.049, 0.05])   # p ~ 1e-7
    weak = stats.summarize([0.010, 0.012, 0.004, 0.016, 0.003])     # p ~ 0.02 alone
    others = [stats.summarize([0.01 * k, -0.01, 0.005, 0.0, -0.004]) for k in range(1, 9)]
    assert stats.verdict(weak) == "higher"  # outside a report: the uncorrected interval
    family = stats.Family()
    with stats.family(family):
        for d in (strong, weak, *others):
            stats.verdict(d)
    family.close()
    with stats.family(family):
        assert stats.verdict(strong) == "higher"
        assert stats.verdict(weak) == "no difference detected"  # 10 tests: Holm p > 0.05
        assert "Holm p = " in stats.fmt_diff(weak)
