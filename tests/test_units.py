"""Unit conversions against values worked out by hand."""

import pytest

from solidion import units


def test_diffusivity_conversion():
    # 1 Å²/ps = 1e-16 cm² / 1e-12 s = 1e-4 cm²/s
    assert units.A2_PS_TO_CM2_S == pytest.approx(1e-4)


def test_nernst_einstein_prefactor_by_hand():
    # 100 Li+ in (20 Å)³ at 600 K with D = 1e-5 cm²/s
    n_over_v = 100 / (20e-8) ** 3  # cm⁻³
    expected = n_over_v * (1.602176634e-19) ** 2 * 1e-5 / (1.380649e-23 * 600)
    got = 100 * 1e-5 * units.nernst_einstein_prefactor_S_cm(8000.0, 600.0)
    assert got == pytest.approx(expected, rel=1e-12)
    assert got == pytest.approx(0.387, rel=1e-2)  # S/cm: 1.25e22 cm⁻³ · e² · 1e-5 / kT
    with pytest.raises(ValueError, match="temperature"):
        units.nernst_einstein_prefactor_S_cm(8000.0, 0.0)


def test_boltzmann_consistency():
    assert units.BOLTZMANN_EV_K == pytest.approx(
        units.BOLTZMANN_J_K / units.ELEMENTARY_CHARGE_C, rel=1e-6
    )
