"""Compositions: parsing, formula units, scaling, charge neutrality and the oxyhalide family."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from ase.data import atomic_masses, atomic_numbers

from solidion.chemistry import (
    FORMAL_CHARGES,
    Composition,
    formal_charges,
    oxyhalide_family,
)
from solidion.errors import InputError


# -- parsing -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("formula", "amounts"),
    [
        ("LiAlCl2.5O0.75", {"Li": 1.0, "Al": 1.0, "Cl": 2.5, "O": 0.75}),
        ("Li7La3Zr2O12", {"Li": 7.0, "La": 3.0, "Zr": 2.0, "O": 12.0}),
        ("Na(AlCl2.5O0.75)", {"Na": 1.0, "Al": 1.0, "Cl": 2.5, "O": 0.75}),
        ("Li2(SO4)", {"Li": 2.0, "S": 1.0, "O": 4.0}),
        ("Ca3(PO4)2", {"Ca": 3.0, "P": 2.0, "O": 8.0}),
        ("K4[Fe(CN)6]", {"K": 4.0, "Fe": 1.0, "C": 6.0, "N": 6.0}),
        ("((LiCl)2(AlO1.5)0.5)3", {"Li": 6.0, "Cl": 6.0, "Al": 1.5, "O": 2.25}),
        ("Na(AlCl2.5O0.75)2", {"Na": 1.0, "Al": 2.0, "Cl": 5.0, "O": 1.5}),
        ("LiClLi.5", {"Li": 1.5, "Cl": 1.0}),
        ("(Li0.1)3Cl0.3", {"Li": 0.3, "Cl": 0.3}),
    ],
)
def test_parse_amounts_exact(formula, amounts):
    c = Composition(formula)
    assert c.amounts == amounts
    assert list(c.amounts) == list(amounts)  # order of first appearance
    assert c.elements == list(amounts)


def test_formula_is_normalised_and_round_trips():
    c = Composition("Na(AlCl2.5O0.75)")
    assert c.formula == str(c) == "NaAlCl2.5O0.75"
    assert Composition(c.formula) == c
    assert Composition("Li2(SO4)").formula == "Li2SO4"
    assert Composition("Li0.00001Cl").formula == "Li0.00001Cl"
    assert repr(Composition("FeO", oxidation_states={"Fe": 2})) == (
        "Composition('FeO', oxidation_states={'Fe': 2})"
    )


def test_mapping_and_composition_inputs():
    c = Composition({"Li": 1, "Al": 1, "Cl": 2.5, "O": 0.75})
    assert c == Composition("LiAlCl2.5O0.75")
    assert Composition(c) == c
    assert c["Cl"] == 2.5 and "O" in c and "Na" not in c


@pytest.mark.parametrize(
    ("formula", "problem"),
    [
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("LiXxCl", "unknown element 'Xx' at position 2"),
        ("X", "unknown element 'X'"),
        ("Li(Cl", "'(' at position 2 is never closed"),
        ("LiCl)", "')' at position 4 has no opening"),
        ("Li(Cl]", "'(' at position 2 is closed by ']'"),
        ("Li0Cl", "zero amount '0' for Li"),
        ("LiCl0.0", "zero amount '0.0' for Cl"),
        ("Li(Cl)0", "zero amount '0' for the parenthesised group"),
        ("LiCl-0.5", "negative amount '-0.5' for Cl"),
        ("Li()", "empty parentheses"),
        ("2Li", "amount '2' at position 0 follows no element"),
        ("li", "unexpected character 'l'"),
        ("Li Cl", "unexpected character ' '"),
        ("LiCl..5", "unexpected character '.'"),
    ],
)
def test_bad_formulas_raise_naming_the_problem(formula, problem):
    with pytest.raises(InputError) as err:
        Composition(formula)
    msg = str(err.value)
    assert problem in msg
    assert repr(formula) in msg


@pytest.mark.parametrize(
    ("mapping", "problem"),
    [
        ({}, "empty"),
        ({"Li": 0}, "must be positive"),
        ({"Li": -1.0}, "must be positive"),
        ({"Xx": 1}, "unknown element 'Xx'"),
        ({"Li": float("nan")}, "finite"),
        ({"Li": True}, "finite number"),
    ],
)
def test_bad_mappings_raise(mapping, problem):
    with pytest.raises(InputError, match=problem):
        Composition(mapping)


def test_not_a_formula_raises():
    with pytest.raises(InputError, match="formula must be"):
        Composition(42)  # type: ignore[arg-type]


def test_immutable_and_hashable():
    c = Composition("LiCl")
    with pytest.raises(dataclasses.FrozenInstanceError):
        c._amounts = ()  # type: ignore[misc]
    amounts = c.amounts
    amounts["Li"] = 5.0
    assert c["Li"] == 1.0
    assert Composition("LiCl") == Composition("ClLi")
    assert hash(Composition("LiCl")) == hash(Composition("ClLi"))
    assert Composition("LiCl") != Composition("Li2Cl2")
    assert Composition("FeO") != Composition("FeO", oxidation_states={"Fe": 2})
    assert len({Composition("LiCl"), Composition("ClLi"), Composition("NaCl")}) == 2


# -- formula units and scaling -------------------------------------------------------------------
def test_reduced_formula_unit():
    fu = Composition("LiAlCl2.5O0.75").reduced()
    assert fu.amounts == {"Li": 4.0, "Al": 4.0, "Cl": 10.0, "O": 3.0}
    assert fu.n_atoms == 21.0
    assert Composition("LiAlCl2.5O0.75").formula_unit == fu
    assert Composition("Li2Cl2").reduced() == Composition("LiCl")
    assert Composition("Li7La3Zr2O12").reduced() == Composition("Li7La3Zr2O12")


def test_reduced_reads_rounded_fractions():
    # 0.3333 and 0.6667 stand for 1/3 and 2/3 (relative tolerance 1e-4)
    assert Composition("Li0.3333Cl0.6667").reduced() == Composition("LiCl2")
    assert Composition("Li0.1667O0.0833").reduced() == Composition("Li2O")
    # but 0.33 is 33/100, not 1/3
    assert Composition("Li0.33Cl").reduced() == Composition("Li33Cl100")


def test_reduced_without_integer_unit_raises():
    with pytest.raises(InputError, match="Li0.0001Cl has no integer formula unit"):
        Composition("Li0.0001Cl").reduced()


def test_scaled_to_1300_gives_1302_atoms():
    c = Composition("LiAlCl2.5O0.75").scaled_to(1300)
    assert c == Composition("Li248Al248Cl620O186")
    assert c.n_atoms == 1302.0


@pytest.mark.parametrize(
    ("formula", "n", "expected"),
    [
        ("LiAlCl2.5O0.75", 42, "Li8Al8Cl20O6"),
        ("LiAlCl2.5O0.75", 1, "Li4Al4Cl10O3"),  # at least one formula unit
        ("LiAlCl2.5O0.75", 31, "Li4Al4Cl10O3"),  # 21 is 10 away, 42 is 11
        ("LiAlCl2.5O0.75", 32, "Li8Al8Cl20O6"),
        ("LiCl", 3, "LiCl"),  # tie between 2 and 4 atoms: the smaller
        ("Li7La3Zr2O12", 36, "Li7La3Zr2O12"),  # tie between 24 and 48
        ("Li7La3Zr2O12", 37, "Li14La6Zr4O24"),
    ],
)
def test_scaled_to_small_counts_and_ties(formula, n, expected):
    assert Composition(formula).scaled_to(n) == Composition(expected)


def test_scaled_to_matches_brute_force():
    c = Composition("LiAlCl2.5O0.75")
    for n in range(1, 300):
        k = min(range(1, 30), key=lambda k: (abs(21 * k - n), k))
        assert c.scaled_to(n).n_atoms == 21 * k, n


@pytest.mark.parametrize("n", [0, -5, 2.5, True, "100"])
def test_scaled_to_bad_counts(n):
    with pytest.raises(InputError, match="n_atoms must be a positive integer"):
        Composition("LiCl").scaled_to(n)


def test_symbols():
    assert Composition("Li2O").symbols() == ["Li", "Li", "O"]
    syms = Composition("LiAlCl2.5O0.75").symbols(n_atoms=42)
    assert len(syms) == 42
    assert [syms.count(el) for el in ("Li", "Al", "Cl", "O")] == [8, 8, 20, 6]
    with pytest.raises(InputError, match=r"non-integer amounts \(Cl 2.5, O 0.75\)"):
        Composition("LiAlCl2.5O0.75").symbols()


def test_mass():
    m = {el: atomic_masses[atomic_numbers[el]] for el in ("Li", "Al", "Cl", "O")}
    c = Composition("LiAlCl2.5O0.75")
    assert c.mass_amu == pytest.approx(m["Li"] + m["Al"] + 2.5 * m["Cl"] + 0.75 * m["O"])
    assert c.scaled_to(1300).mass_amu == pytest.approx(62 * 4 * c.mass_amu)


# -- charges -------------------------------------------------------------------------------------
def test_neutral_oxyhalide():
    c = Composition("LiAlCl2.5O0.75")
    assert c.oxidation_states == {"Li": 1, "Al": 3, "Cl": -1, "O": -2}
    assert c.charge == pytest.approx(0.0, abs=1e-12)
    c.check_neutral()
    c.scaled_to(1300).check_neutral()


def test_imbalance_is_named():
    c = Composition("LiAlCl2.5O0.8")
    assert c.charge == pytest.approx(-0.1)
    with pytest.raises(InputError) as err:
        c.check_neutral()
    msg = str(err.value)
    assert msg.startswith("LiAlCl2.5O0.8 is not charge-neutral")
    assert "total formal charge -0.1 per formula" in msg
    assert "Li+1 ×1, Al+3 ×1, Cl-1 ×2.5, O-2 ×0.8" in msg
    assert "oxidation_states=" in msg
    c.check_neutral(tol=0.2)  # within a looser tolerance


def test_oxidation_state_override():
    with pytest.raises(InputError, match="total formal charge -2 per formula"):
        Composition("Fe2O3").check_neutral()  # Fe defaults to +2
    c = Composition("Fe2O3", oxidation_states={"Fe": 3})
    assert c.oxidation_states == {"Fe": 3, "O": -2}
    assert c.oxidation_state_overrides == {"Fe": 3}
    c.check_neutral()
    assert c.scaled_to(10).oxidation_states["Fe"] == 3  # kept through scaling
    assert c.reduced().charge == 0


def test_override_of_absent_element_raises():
    with pytest.raises(InputError, match="oxidation_states given for elements not in FeO: Al"):
        Composition("FeO", oxidation_states={"Al": 3})


def test_non_integer_override_raises():
    with pytest.raises(InputError, match=r"oxidation_states\['Fe'\] must be an integer"):
        Composition("FeO", oxidation_states={"Fe": 2.5})


def test_element_without_default_asks_for_oxidation_states():
    assert "Xe" not in FORMAL_CHARGES
    with pytest.raises(InputError, match=r"no default oxidation state for 'Xe'.*oxidation_states"):
        Composition("XeF2").check_neutral()
    Composition("XeF2", oxidation_states={"Xe": 2}).check_neutral()


def test_formal_charges_api_unchanged():
    assert formal_charges(["Li", "Cl"]) == {"Li": 1.0, "Cl": -1.0}
    assert formal_charges(["Fe", "O"], {"Fe": 3}) == {"Fe": 3.0, "O": -2.0}
    with pytest.raises(InputError, match="not in the system"):
        formal_charges(["Li"], {"Na": 1})


# -- the oxyhalide family ------------------------------------------------------------------------
def test_family_has_27_neutral_members():
    fam = oxyhalide_family()
    expected = [
        f"{a}{m}{x}2.5O0.75"
        for a, m, x in itertools.product(("Li", "Na", "K"), ("Al", "Ga", "In"), ("Cl", "Br", "I"))
    ]
    assert [c.formula for c in fam] == expected
    assert len(set(fam)) == 27
    for c in fam:
        assert c.charge == pytest.approx(0.0, abs=1e-12)
        assert c.reduced().n_atoms == 21


def test_family_accepts_single_strings():
    assert oxyhalide_family("Na", "Ga", "Br") == [Composition("NaGaBr2.5O0.75")]
    assert [c.formula for c in oxyhalide_family(A="Li", X=("F",))] == [
        "LiAlF2.5O0.75",
        "LiGaF2.5O0.75",
        "LiInF2.5O0.75",
    ]


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"A": "Ag"}, "A must be alkali metals"),
        ({"A": ("Li", "Mg")}, "'Mg'"),
        ({"M": "Fe"}, "M must be trivalent"),
        ({"X": "O"}, "X must be halogens"),
        ({"A": ()}, "A must name at least one element"),
        ({"X": ["Cl", 3]}, "got 3"),
    ],
)
def test_family_rejects_wrong_classes(kwargs, problem):
    with pytest.raises(InputError, match=problem):
        oxyhalide_family(**kwargs)
