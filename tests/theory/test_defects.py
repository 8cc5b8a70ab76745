"""Defect chemistry: Kröger–Vink notation, reaction balance, closed forms against the general
solver, the μ_Li switch of mechanism, extreme sweeps, activation energies, plots, bad input."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.optimize import brentq

from solidion.errors import InputError, ReactionBalanceError
from solidion.theory.defects import (
    PERFECT_CRYSTAL,
    Bands,
    Defect,
    Dopant,
    KrogerVinkDefect,
    brouwer_diagram,
    check_reaction,
    formation_free_energy_eV,
    frenkel_concentration,
    log_fermi_dirac_half,
    oxygen_chemical_potential_eV,
    parse_kroger_vink,
    parse_reaction,
    plot_brouwer,
    schottky_concentrations,
    solve_equilibrium,
)
from solidion.units import BOLTZMANN_EV_K

# -- Kröger–Vink notation ----------------------------------------------------------------------

# (symbol as written, species, site, charge): every form the issue names.
SYMBOLS = [
    ("V_Li'", "V", "Li", -1),
    ("Li_i^•", "Li", "i", 1),
    ("Li_i.", "Li", "i", 1),
    ("V_S^••", "V", "S", 2),
    ("V_S^..", "V", "S", 2),
    ("V_S..", "V", "S", 2),
    ("Li_Li^x", "Li", "Li", 0),
    ("Li_Li^×", "Li", "Li", 0),
    ("Li_Lix", "Li", "Li", 0),
    ("Al_Li^••", "Al", "Li", 2),
    ("Al_Li..", "Al", "Li", 2),
    ("V_O''", "V", "O", -2),
    ("V_Zr''''", "V", "Zr", -4),
    ("V_O″", "V", "O", -2),
    ("V_{Li}^{'}", "V", "Li", -1),
    ("Va_Li'", "V", "Li", -1),
    ("S_i''", "S", "i", -2),
    ("e'", "e", "", -1),
    ("h^•", "h", "", 1),
    ("h.", "h", "", 1),
    ("nil", "", "", 0),
    ("null", "", "", 0),
    ("0", "", "", 0),
    ("∅", "", "", 0),
]


@pytest.mark.parametrize(("symbol", "species", "site", "charge"), SYMBOLS)
def test_parse_and_round_trip_in_both_styles(symbol, species, site, charge):
    d = parse_kroger_vink(symbol)
    assert (d.species, d.site, d.charge) == (species, site, charge)
    for style in ("unicode", "ascii"):
        text = d.format(style)
        assert parse_kroger_vink(text) == d
        if style == "ascii":
            assert text.isascii()
    assert parse_kroger_vink(symbol) == KrogerVinkDefect(species, site, charge)


def test_formats_are_the_documented_ones():
    expected = {
        "V_Li'": ("V_Li'", "V_Li'"),
        "Li_i.": ("Li_i^•", "Li_i."),
        "V_S..": ("V_S^••", "V_S.."),
        "Li_Li^x": ("Li_Li^×", "Li_Li^x"),
        "h.": ("h^•", "h."),
        "e'": ("e'", "e'"),
        "nil": ("∅", "nil"),
    }
    for symbol, (uni, asc) in expected.items():
        d = parse_kroger_vink(symbol)
        assert (d.format("unicode"), d.format("ascii"), str(d)) == (uni, asc, uni)
    assert parse_kroger_vink("nil") == PERFECT_CRYSTAL


def test_kinds_and_atoms():
    assert parse_kroger_vink("V_Li'").atoms_added() == {"Li": -1}
    assert parse_kroger_vink("Li_i^•").atoms_added() == {"Li": 1}
    assert parse_kroger_vink("Al_Li^••").atoms_added() == {"Al": 1, "Li": -1}
    assert parse_kroger_vink("Li_Li^x").atoms_added() == {}
    assert parse_kroger_vink("V_V'''''").atoms_added() == {"V": -1}  # V on the V site: vacancy
    kinds = [parse_kroger_vink(s).kind for s in ("V_Li'", "Li_i.", "Al_Li..", "Li_Lix", "e'", "h.")]
    assert kinds == ["vacancy", "interstitial", "substitutional", "lattice", "electron", "hole"]


@pytest.mark.parametrize(
    ("symbol", "fragment"),
    [
        ("Xx_Li'", "Xx_Li'"),  # unknown element
        ("V_Li", "no effective-charge mark"),
        ("V_Li'•", "cannot read the effective charge"),
        ("V_i'", "interstitial site"),
        ("e^•", "electron"),
        ("Li'", "needs a site"),
        ("h_Li.", "no site"),
        ("Li_Q^x", "Li_Q^x"),
    ],
)
def test_bad_symbols_raise_input_error_naming_them(symbol, fragment):
    with pytest.raises(InputError, match=fragment.replace("^", r"\^")):
        parse_kroger_vink(symbol)


# -- reactions -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reaction", "host"),
    [
        ("nil -> 2 V_Li' + V_S^••", "Li2S"),  # Schottky in Li2S
        ("∅ → 2V_Li' + V_S..", "Li2S"),
        ("0 = V_Mg'' + V_O^••", "MgO"),
        ("Li_Li^x -> V_Li' + Li_i^•", None),  # Frenkel
        ("Li_Li^× → V_Li' + Li_i^•", "Li2S"),
        ("O_O^x -> V_O^•• + 2e' + 1/2 O2(g)", "Li2O"),  # oxygen exchange with the gas
        ("O_O^x -> V_O.. + 2 e' + 0.5 O2(g)", None),
        ("Li_Li^x -> V_Li' + h^• + Li(s)", None),  # lithium exchange with the metal
        ("Li_Li^x -> V_Li' + h. + Li(g)", "Li2S"),
        ("Al2S3(s) -> 2 Al_Li^•• + 4 V_Li' + 3 S_S^x", "Li2S"),  # doping creates Li2S sites
        ("V_Li' + Li_i^• -> Li_Li^x", None),  # recombination
    ],
)
def test_balanced_reactions_pass(reaction, host):
    r = check_reaction(reaction, host=host)
    assert r.charge("left") == r.charge("right")
    assert r.mass("left") == r.mass("right")
    again = check_reaction(r.format("ascii"), host=host)  # the formatted reaction re-parses
    assert again.format() == r.format()


@pytest.mark.parametrize(
    ("reaction", "host", "balance", "shown"),
    [
        # MgO-style Schottky written for Li2S: the sites are not in the 2:1 ratio
        ("nil -> V_Li'' + V_S^••", "Li2S", "site", ["{Li: 1, S: 1}", "Li:S = 2:1"]),
        # the lithium that leaves must go somewhere
        ("Li_Li^x -> V_Li' + h^•", None, "mass", ["{Li: 1}", "{}"]),
        # one charge too many on the interstitial
        ("Li_Li^x -> V_Li' + Li_i^••", None, "charge", ["charge 0", "charge +1"]),
        ("O_O^x -> V_O^•• + e' + 1/2 O2(g)", None, "charge", ["charge 0", "charge +1"]),
        ("O_O^x -> V_O^•• + 2e' + O2(g)", None, "mass", ["{O: 1}", "{O: 2}"]),
    ],
)
def test_unbalanced_reactions_name_the_balance_and_both_sides(reaction, host, balance, shown):
    with pytest.raises(ReactionBalanceError) as info:
        check_reaction(reaction, host=host)
    err = info.value
    assert err.balance == balance
    message = str(err)
    assert message.startswith(f"{balance} balance fails")
    left, right = parse_reaction(reaction).format().split(" → ")
    assert f"left side {left}" in message and f"right side {right}" in message
    for fragment in shown:
        assert fragment in message
    assert isinstance(err, InputError)


def test_reaction_input_errors():
    with pytest.raises(InputError, match="host="):  # sites created with nothing to compare with
        check_reaction("nil -> 2 V_Li' + V_S^••")
    with pytest.raises(InputError, match="no O sites"):
        check_reaction("O_O^x -> V_O^•• + 2e' + 1/2 O2(g)", host="Li2S")
    with pytest.raises(InputError, match="exactly one arrow"):
        check_reaction("V_Li' + Li_i^•")
    with pytest.raises(InputError, match="cannot read term"):
        check_reaction("Li_Li^x -> V_Li' + Qq(g)")


# -- closed forms ----------------------------------------------------------------------------------


def test_frenkel_closed_form_by_hand():
    # ΔG = 1.0 eV at 600 K, N = N_i: c/N = exp(−ΔG/2kT)
    kT = BOLTZMANN_EV_K * 600.0
    assert frenkel_concentration(1.0, 600.0) == pytest.approx(math.exp(-1.0 / (2 * kT)), rel=1e-14)
    assert frenkel_concentration(1.0, 600.0) == pytest.approx(6.31e-5, rel=1e-3)
    c = frenkel_concentration(1.0, np.array([500.0, 600.0]), 4.0, 1.0)  # sqrt(N Ni) = 2
    assert c[1] == pytest.approx(2 * 6.306e-5, rel=1e-3) and c[0] < c[1]


def test_schottky_closed_form_satisfies_mass_action_and_neutrality():
    t, dg = 900.0, 2.1
    kT = BOLTZMANN_EV_K * t
    dens = {"Li": 3.7e22, "S": 1.85e22}  # per cm³
    c = schottky_concentrations(dg, t, "Li2S", dens)
    assert c["Li"] == pytest.approx(2 * c["S"], rel=1e-13)  # [V_Li'] = 2 [V_S••]
    k = (c["Li"] / dens["Li"]) ** 2 * (c["S"] / dens["S"])
    assert k == pytest.approx(math.exp(-dg / kT), rel=1e-12)
    per_fu = schottky_concentrations(dg, t, "Li2S")
    assert per_fu["S"] == pytest.approx(math.exp(-dg / (3 * kT)), rel=1e-13)
    mx = schottky_concentrations(dg, t, "MgO")
    assert mx["Mg"] == pytest.approx(math.exp(-dg / (2 * kT)), rel=1e-13)


def _solver_frenkel(mu_li: float, t: float):
    defects = [
        Defect.from_symbol("V_Li'", 0.55, site_density=2.0),
        Defect.from_symbol("Li_i^•", 0.45, site_density=1.0),
    ]
    return solve_equilibrium(defects, {"Li": mu_li}, t)


@pytest.mark.parametrize("t", [300.0, 600.0, 1200.0])
@pytest.mark.parametrize("mu_li", [-3.0, 0.0, 2.0])
def test_frenkel_closed_form_equals_solver(t, mu_li):
    r = _solver_frenkel(mu_li, t)
    c = frenkel_concentration(1.0, t, 2.0, 1.0)
    assert r.concentration["V_Li'"] == pytest.approx(c, rel=1e-6)
    assert r.concentration["Li_i^•"] == pytest.approx(c, rel=1e-6)
    assert r.concentration_per_site["V_Li'"] == pytest.approx(c / 2.0, rel=1e-6)
    assert r.charge_imbalance < 1e-8
    # μ_Li and E_F enter only as μ_Li − E_F: the ionic model moves E_F with μ_Li
    assert r.fermi_level_eV - mu_li == pytest.approx(_solver_frenkel(0.0, t).fermi_level_eV)


@pytest.mark.parametrize(("host", "q_cat", "q_an"), [("Li2S", 1, 2), ("MgO", 2, 2), ("Li2O", 1, 2)])
def test_schottky_closed_form_equals_solver(host, q_cat, q_an):
    cat, an = ("Li", "S") if host == "Li2S" else ("Mg", "O") if host == "MgO" else ("Li", "O")
    a = 2 if host.startswith("Li") else 1
    t = 800.0
    mu = {cat: -0.2, an: 0.1}
    e_cat, e_an = 0.9, 0.4
    defects = [
        Defect(f"V_{cat}", e_cat, -q_cat, {cat: -1}, site_density=a * 1.3e22),
        Defect(f"V_{an}", e_an, q_an, {an: -1}, site_density=1.3e22),
    ]
    r = solve_equilibrium(defects, mu, t)
    dg = a * (e_cat + mu[cat]) + (e_an + mu[an])  # the E_F terms cancel for a neutral host
    c = schottky_concentrations(dg, t, host, {cat: a * 1.3e22, an: 1.3e22})
    assert r.concentration[f"V_{cat}"] == pytest.approx(c[cat], rel=1e-6)
    assert r.concentration[f"V_{an}"] == pytest.approx(c[an], rel=1e-6)


def test_formation_free_energy_and_oxygen_potential():
    kT = BOLTZMANN_EV_K * 1000.0
    assert formation_free_energy_eV(2.0, 1000.0, 3.0) == pytest.approx(2.0 - 3.0 * kT)
    mu = oxygen_chemical_potential_eV(np.array([1.0, 1e-10]), 1000.0, -0.5)
    assert mu[0] == pytest.approx(-0.5) and mu[1] == pytest.approx(-0.5 + 0.5 * kT * np.log(1e-10))


# -- the general solver ------------------------------------------------------------------------


def test_fermi_dirac_integral_against_quadrature_and_limits():
    for eta in (-20.0, -3.0, -1.0, -0.5, 0.0, 2.0, 15.0, 45.0, 300.0):
        top = max(eta, 0.0) + 60.0
        ref = quad(
            lambda x, e=eta: np.sqrt(x) / (1.0 + np.exp(min(x - e, 700.0))),
            0.0,
            top,
            points=[max(eta, 0.0)],
            limit=400,
            epsabs=0.0,
            epsrel=1e-13,
        )[0]
        assert math.exp(log_fermi_dirac_half(eta)) == pytest.approx(
            2 / math.sqrt(math.pi) * ref, rel=1e-11
        )
    assert log_fermi_dirac_half(-40.0) == pytest.approx(-40.0, abs=1e-15)  # Boltzmann
    assert math.exp(log_fermi_dirac_half(1e6)) == pytest.approx(
        4 / (3 * math.sqrt(math.pi)) * 1e9, rel=1e-9
    )  # degenerate: (4/3√π) η^{3/2}


def _switch_model():
    """Frenkel pairs in a 3 eV gap, asymmetric on purpose (N ≠ N_i, N_c ≠ N_v, E_0's differ)."""
    defects = [
        Defect.from_symbol("V_Li'", 1.0, site_density=2.0, migration_energy_eV=0.35),
        Defect.from_symbol("Li_i^•", 1.2, site_density=1.0, migration_energy_eV=0.25),
    ]
    return defects, Bands(3.0, conduction_dos=0.5, valence_dos=3.0)


def test_mu_li_switches_vacancy_to_interstitial_at_the_analytic_crossover():
    t = 700.0
    kT = BOLTZMANN_EV_K * t
    defects, bands = _switch_model()
    res = brouwer_diagram(defects, "mu_Li", np.linspace(-0.45, 3.05, 71), T_K=t, bands=bands)
    mechanisms = [r.mechanism for r in res.regimes]
    assert mechanisms[0] == "vacancy" and mechanisms[-1] == "interstitial"
    assert [r.compensated_by for r in res.regimes] == ["h^•", "Li_i^•", "V_Li'", "e'"]
    assert res.dominant[0] == "V_Li'" and res.dominant[-1] == "Li_i^•"
    # analytic crossover: c_i = c_V needs n = p (E_F at the intrinsic level E_i), then
    # 2(μ − E_F) = E0_i − E0_V − kT ln(N_i/N)
    e_i = 1.5 + 0.5 * kT * math.log(3.0 / 0.5)
    mu_star = e_i + 0.5 * (1.2 - 1.0 - kT * math.log(1.0 / 2.0))
    switch = next(k for k, r in enumerate(res.regimes) if r.mechanism == "interstitial")
    assert res.regimes[switch - 1].stop < mu_star < res.regimes[switch].start

    def gap(mu: float) -> float:
        c = solve_equilibrium(defects, {"Li": mu}, t, bands=bands).concentration
        return math.log(c["Li_i^•"] / c["V_Li'"])

    mu_found = brentq(gap, res.regimes[switch - 1].stop, res.regimes[switch].start, xtol=1e-14)
    assert mu_found == pytest.approx(mu_star, abs=1e-9)
    at = solve_equilibrium(defects, {"Li": mu_star}, t, bands=bands)
    assert at.fermi_level_eV == pytest.approx(e_i, abs=1e-9)


def test_sweep_over_thirty_orders_of_magnitude_stays_neutral_without_warnings():
    # dilute limit, wide gap, 400 K: every defect stays below 5 % of its sites, yet the
    # minority vacancy at high μ_Li is ~1e-36 per site
    wide = [
        Defect.from_symbol("V_Li'", 1.5, site_density=2.0, migration_energy_eV=0.35),
        Defect.from_symbol("Li_i^•", 1.5, migration_energy_eV=0.25),
    ]
    defects, bands = _switch_model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            dilute = brouwer_diagram(
                wide, "mu_Li", np.linspace(-1.2, 7.2, 85), T_K=400.0, bands=Bands(6.0, 1.0, 1.0)
            )
            # far outside any physical window, with site exclusion and Fermi–Dirac carriers:
            # E_F leaves the gap and the solver has to follow it
            extreme = brouwer_diagram(
                defects, "mu_Li", np.linspace(-6.0, 9.0, 61), T_K=600.0, bands=bands,
                site_exclusion=True,
            )  # fmt: skip
            fd = brouwer_diagram(
                defects, "mu_Li", np.linspace(-6.0, 9.0, 31), T_K=600.0,
                bands=Bands(3.0, 0.5, 3.0, statistics="fermi-dirac"), site_exclusion=True,
            )  # fmt: skip
    for r in (dilute, extreme, fd):
        span = {k: np.ptp(v) for k, v in r.log10_concentration.items()}
        assert span["V_Li'"] > 30 and span["Li_i^•"] > 30
        assert np.all(r.charge_imbalance < 1e-8)
        assert np.all(np.isfinite(r.fermi_level_eV))
        assert all(np.all(np.isfinite(v)) for v in r.log10_concentration.values())
    assert np.max(dilute.concentration["V_Li'"]) < 0.05 * 2.0
    assert [r.mechanism for r in dilute.regimes][:: len(dilute.regimes) - 1] == [
        "vacancy",
        "interstitial",
    ]
    # site exclusion: never more defects than sites (N = 2 for V_Li', 1 for Li_i^•)
    for r in (extreme, fd):
        assert np.all(r.concentration["V_Li'"] <= 2.0 * (1 + 1e-12))
        assert np.all(r.concentration["Li_i^•"] <= 1.0 * (1 + 1e-12))
    # saturated V_Li' (2 per f.u.) held by holes p = N_v e^{−E_F/kT} = 2, and Li_i^• (1) by
    # electrons n = N_c e^{(E_F − E_g)/kT} = 1: E_F is pinned just outside the gap
    kT = BOLTZMANN_EV_K * 600.0
    assert extreme.fermi_level_eV[0] == pytest.approx(kT * math.log(3.0 / 2.0), abs=1e-9)
    assert extreme.fermi_level_eV[-1] == pytest.approx(3.0 + kT * math.log(1.0 / 0.5), abs=1e-9)
    assert fd.fermi_level_eV[0] < extreme.fermi_level_eV[0]  # degenerate holes need more room


def test_every_point_is_charge_neutral_when_checked_independently():
    defects, bands = _switch_model()
    dop = [Dopant("Al_Li^••", 2, 1e-9)]
    for mu in (-0.3, 0.7, 1.6, 3.0):
        r = solve_equilibrium(defects, {"Li": mu}, 500.0, bands=bands, dopants=dop)
        total = sum(r.charge[k] * r.concentration[k] for k in r.concentration)
        scale = max(abs(r.charge[k]) * r.concentration[k] for k in r.concentration)
        assert abs(total) <= 1e-8 * scale
        assert r.formation_energy_eV["V_Li'"] == pytest.approx(1.0 - r.fermi_level_eV + mu)


def test_site_exclusion_caps_concentrations_and_matches_dilute_limit():
    defects = [Defect.from_symbol("V_Li'", 0.0), Defect.from_symbol("Al_Li^••", -3.0)]
    dil = solve_equilibrium(defects, {"Li": 0.0, "Al": 0.0}, 600.0, bands=Bands(3.0, 1.0, 1.0),
                            site_exclusion=True)  # fmt: skip
    assert sum(dil.concentration_per_site.values()) < 1.0  # they share the Li sites
    dilute = [Defect.from_symbol("V_Li'", 1.5), Defect.from_symbol("Li_i^•", 1.5)]
    a = solve_equilibrium(dilute, {"Li": 0.0}, 600.0)
    b = solve_equilibrium(dilute, {"Li": 0.0}, 600.0, site_exclusion=True)
    assert b.concentration["V_Li'"] == pytest.approx(a.concentration["V_Li'"], rel=1e-10)


def test_dilute_limit_is_warned_about_not_clamped():
    defects = [Defect.from_symbol("V_Li'", 0.05), Defect.from_symbol("Li_i^•", 0.05)]
    with pytest.warns(RuntimeWarning, match="dilute limit"):
        r = solve_equilibrium(defects, {"Li": 0.0}, 600.0)
    assert r.concentration["V_Li'"] == pytest.approx(math.exp(-0.05 / (BOLTZMANN_EV_K * 600)))


def test_fixed_fermi_level_is_evaluated_not_solved():
    defects, bands = _switch_model()
    r = solve_equilibrium(defects, {"Li": 0.0}, 600.0, bands=bands, fermi_level_eV=0.3)
    kT = BOLTZMANN_EV_K * 600.0
    assert r.fermi_level_eV == 0.3
    assert r.concentration["h^•"] == pytest.approx(3.0 * math.exp(-0.3 / kT))
    assert r.concentration["V_Li'"] == pytest.approx(2.0 * math.exp(-(1.0 - 0.3) / kT))
    assert r.charge_imbalance > 0.99  # holes at E_F = 0.3 eV outnumber everything negative


def test_result_to_dict_is_json():
    defects, bands = _switch_model()
    r = solve_equilibrium(defects, {"Li": 1.0}, 600.0, bands=bands)
    d = json.loads(json.dumps(r.to_dict()))
    assert d["fermi_level_eV"] == r.fermi_level_eV and set(d["concentration"]) == set(r.charge)
    b = brouwer_diagram(defects, "mu_Li", [0.0, 1.0, 2.0], T_K=600.0, bands=bands)
    d = json.loads(json.dumps(b.to_dict()))
    assert len(d["regimes"]) == len(b.regimes) and d["variable"] == "mu_Li"
    rx = json.loads(json.dumps(check_reaction("Li_Li^x -> V_Li' + Li_i^•").to_dict()))
    assert rx["reaction_ascii"] == "Li_Li^x -> V_Li' + Li_i."


# -- activation energies -----------------------------------------------------------------------


def test_intrinsic_share_is_half_the_formation_energy():
    dg_f = 1.3
    defects = [
        Defect.from_symbol("V_Li'", 0.5, migration_energy_eV=0.3),
        Defect.from_symbol("Li_i^•", 0.8, migration_energy_eV=0.2),
    ]
    # a wide gap keeps electrons and holes negligible over the whole sweep: intrinsic Frenkel
    res = brouwer_diagram(
        defects, "mu_Li", np.linspace(3.0, 5.0, 9), T_K=650.0, bands=Bands(8.0, 1.0, 1.0)
    )
    assert all(r.compensated_by in ("Li_i^•", "V_Li'") for r in res.regimes)
    for r in res.regimes:
        assert r.formation_share_eV == pytest.approx(dg_f / 2, abs=1e-6)
        assert r.activation_energy_eV == pytest.approx(dg_f / 2 + r.migration_energy_eV, abs=1e-6)
    for name in ("V_Li'", "Li_i^•"):
        np.testing.assert_allclose(res.formation_share_eV[name], dg_f / 2, atol=1e-6)


def test_extrinsic_shares_are_zero_for_the_majority_and_full_for_the_minority():
    dg_f = 1.0
    defects = [
        Defect.from_symbol("V_Li'", 0.4, migration_energy_eV=0.3),
        Defect.from_symbol("Li_i^•", 0.6, migration_energy_eV=0.2),
    ]
    dop = [Dopant("Al_Li^••", 2, 1e-12)]
    conc = np.logspace(-14, -2, 25)
    res = brouwer_diagram(
        defects, "dopant:Al_Li^••", conc, T_K=600.0, fixed_mu={"Li": 0.0}, dopants=dop
    )
    first, last = res.regimes[0], res.regimes[-1]
    assert (first.carrier, first.compensated_by) == ("V_Li'", "Li_i^•")  # intrinsic
    assert (last.carrier, last.compensated_by) == ("V_Li'", "Al_Li^••")  # extrinsic
    assert res.formation_share_eV["V_Li'"][0] == pytest.approx(dg_f / 2, abs=1e-4)
    assert res.formation_share_eV["V_Li'"][-1] == pytest.approx(0.0, abs=1e-4)
    assert res.formation_share_eV["Li_i^•"][-1] == pytest.approx(dg_f, abs=1e-4)
    assert res.concentration["V_Li'"][-1] == pytest.approx(2e-2, rel=1e-4)
    assert last.activation_energy_eV == pytest.approx(0.3, abs=0.05)


def test_po2_sweep_gives_the_minus_one_sixth_power_law():
    # V_O•• compensated by electrons: [V_O] ∝ pO2^(−1/6); O_i'' by holes: ∝ pO2^(+1/6)
    defects = [
        Defect.from_symbol("V_O^••", -3.0, migration_energy_eV=0.6),
        Defect.from_symbol("O_i''", 9.0, migration_energy_eV=0.9),
    ]
    p = np.logspace(-30, -20, 11)
    res = brouwer_diagram(
        defects, "pO2", p, T_K=1000.0, fixed_mu={"O": 0.0}, bands=Bands(5.0, 1.0, 1.0)
    )
    assert set(res.dominant) == {"V_O^••"} and set(res.compensated_by) == {"e'"}
    slope = np.polyfit(np.log10(p), res.log10_concentration["V_O^••"], 1)[0]
    assert slope == pytest.approx(-1 / 6, abs=1e-6)


# -- plot --------------------------------------------------------------------------------------


def test_plot_brouwer_returns_axes_with_lines():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    defects, bands = _switch_model()
    res = brouwer_diagram(defects, "mu_Li", np.linspace(-0.5, 3.0, 15), T_K=600.0, bands=bands)
    ax = plot_brouwer(res)
    assert len(ax.get_lines()) == 4  # two defects, electrons, holes
    assert len(ax.patches) == len(res.regimes)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), res.log10_concentration["V_Li'"])
    assert ax.get_xlabel() == r"$\mu_{\mathrm{Li}}$ (eV)"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[0] == r"$\mathrm{V}_{\mathrm{Li}}^{\prime}$"
    plt.close(ax.figure)


# -- bad input ---------------------------------------------------------------------------------


def test_bad_input_names_the_argument():
    defects, bands = _switch_model()
    with pytest.raises(InputError, match="T_K"):
        solve_equilibrium(defects, {"Li": 0.0}, -300.0)
    with pytest.raises(InputError, match="T_K"):
        frenkel_concentration(1.0, 0.0)
    with pytest.raises(InputError, match="defects is empty"):
        solve_equilibrium([], {"Li": 0.0}, 600.0)
    with pytest.raises(InputError, match="defects is empty"):
        brouwer_diagram([], "mu_Li", [0.0, 1.0], T_K=600.0)
    with pytest.raises(InputError, match="mu lacks"):
        solve_equilibrium(defects, {"S": 0.0}, 600.0)
    with pytest.raises(InputError, match="Xx_i"):
        Defect.from_symbol("Xx_i^•", 1.0)
    with pytest.raises(InputError, match="site_density"):
        Defect.from_symbol("V_Li'", 1.0, site_density=-1.0)
    with pytest.raises(InputError, match="every charged species is negative"):
        solve_equilibrium([Defect.from_symbol("V_Li'", 1.0)], {"Li": 0.0}, 600.0)
    with pytest.raises(InputError, match="vary"):
        brouwer_diagram(defects, "T", [1.0, 2.0], T_K=600.0, bands=bands)
    with pytest.raises(InputError, match="fixed_mu"):
        brouwer_diagram(defects, "mu_Li", [0.0, 1.0], T_K=600.0, fixed_mu={"Li": 0.0})
    with pytest.raises(InputError, match="site_densities"):
        schottky_concentrations(1.0, 600.0, "Li2S", {"Li": 1.0})
    with pytest.raises(InputError, match="no charge-neutral Fermi level"):  # dopant over capacity
        solve_equilibrium(
            [Defect.from_symbol("V_Li'", 0.5), Defect.from_symbol("Li_i^•", 0.5)],
            {"Li": 0.0},
            600.0,
            dopants=[Dopant("Al_Li^••", 2, 5.0)],
            site_exclusion=True,
        )
