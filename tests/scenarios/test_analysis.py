"""Analysis shared by the scenarios (``scenarios.analysis``)."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.analysis import fit_power_law


def test_fit_power_law_recovers_exponent_and_prefactor():
    n = np.array([1e2, 1e3, 1e4, 1e5])
    exponent, prefactor = fit_power_law(n, 1.3 * n**-0.5)
    assert exponent == pytest.approx(-0.5, abs=1e-12)
    assert prefactor == pytest.approx(1.3, rel=1e-12)
    # multiplicative noise e^{+-0.1} moves the fitted exponent by at most 0.2 / 3 decades' spread
    noisy = 1.3 * n**-0.5 * np.exp(0.1 * np.array([1, -1, -1, 1]))
    assert fit_power_law(n, noisy)[0] == pytest.approx(-0.5, abs=0.05)
