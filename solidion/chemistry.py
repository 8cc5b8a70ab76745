"""Chemistry shared by every stage: formal charges, ionic radii and compositions.

The table :data:`FORMAL_CHARGES` holds the common formal oxidation states of the elements found
in solid electrolytes (alkali and alkaline-earth cations, the framework metals, the halide and
chalcogenide anions). Users override it wherever a charge is asked for.

:class:`Composition` parses chemical formulas with fractional amounts and parentheses
(``LiAlCl2.5O0.75``, ``Na(AlCl2.5O0.75)``, ``Ca3(PO4)2``), finds the integer formula unit, scales
it to a number of atoms and checks charge neutrality. :func:`oxyhalide_family` lists the
A M X\\ :sub:`2.5` O\\ :sub:`0.75` amorphous oxyhalides of the reference study (Binci, Jun et al.
2026).
"""

from __future__ import annotations

import itertools
import math
import numbers
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
from ase.data import atomic_masses, atomic_numbers, chemical_symbols

from solidion.errors import InputError

__all__ = [
    "ALKALI_METALS",
    "FORMAL_CHARGES",
    "FORMULA_UNIT_MAX_MULTIPLIER",
    "FORMULA_UNIT_RTOL",
    "HALOGENS",
    "IONIC_RADII_A",
    "Composition",
    "formal_charges",
    "oxyhalide_family",
]

#: Default formal charge (oxidation state) per element.
FORMAL_CHARGES: dict[str, int] = {
    **dict.fromkeys(["H", "Li", "Na", "K", "Rb", "Cs", "Ag", "Cu", "Tl"], 1),
    **dict.fromkeys(["Be", "Mg", "Ca", "Sr", "Ba", "Zn", "Cd", "Pb", "Mn", "Fe", "Co", "Ni"], 2),
    **dict.fromkeys(["B", "Al", "Ga", "In", "Sc", "Y", "La", "Gd", "Bi", "Cr"], 3),
    **dict.fromkeys(["C", "Si", "Ge", "Sn", "Ti", "Zr", "Hf", "Ce"], 4),
    **dict.fromkeys(["P", "As", "Sb", "Nb", "Ta", "V"], 5),
    **dict.fromkeys(["Mo", "W"], 6),
    **dict.fromkeys(["F", "Cl", "Br", "I"], -1),
    **dict.fromkeys(["O", "S", "Se", "Te"], -2),
    "N": -3,
}

#: The alkali metals that carry a +1 formal charge (A in A M X\ :sub:`2.5` O\ :sub:`0.75`).
ALKALI_METALS: tuple[str, ...] = ("Li", "Na", "K", "Rb", "Cs")
#: The halogens that carry a −1 formal charge (X in A M X\ :sub:`2.5` O\ :sub:`0.75`).
HALOGENS: tuple[str, ...] = ("F", "Cl", "Br", "I")

#: Ionic radius in Å per ``(element, oxidation state)``, for six-fold coordination unless noted
#: (R. D. Shannon, *Acta Cryst.* A32, 751 (1976); high-spin values for the 3d ions). It covers
#: the default states of :data:`FORMAL_CHARGES` and common alternatives.
IONIC_RADII_A: dict[tuple[str, int], float] = {
    ("H", 1): 0.0,  # Shannon's radii are negative (−0.38/−0.18 Å): counted as a point
    ("Li", 1): 0.76,
    ("Na", 1): 1.02,
    ("K", 1): 1.38,
    ("Rb", 1): 1.52,
    ("Cs", 1): 1.67,
    ("Ag", 1): 1.15,
    ("Cu", 1): 0.77,
    ("Tl", 1): 1.5,
    ("Au", 1): 1.37,
    ("Be", 2): 0.45,
    ("Mg", 2): 0.72,
    ("Ca", 2): 1.0,
    ("Sr", 2): 1.18,
    ("Ba", 2): 1.35,
    ("Zn", 2): 0.74,
    ("Cd", 2): 0.95,
    ("Hg", 2): 1.02,
    ("Pb", 2): 1.19,
    ("Mn", 2): 0.83,
    ("Fe", 2): 0.78,
    ("Co", 2): 0.745,
    ("Ni", 2): 0.69,
    ("Cu", 2): 0.73,
    ("Ag", 2): 0.94,
    ("Pd", 2): 0.86,
    ("Pt", 2): 0.8,
    ("Eu", 2): 1.17,
    ("Ge", 2): 0.73,
    ("B", 3): 0.27,
    ("Al", 3): 0.535,
    ("Ga", 3): 0.62,
    ("In", 3): 0.8,
    ("Tl", 3): 0.885,
    ("Sc", 3): 0.745,
    ("Y", 3): 0.9,
    ("La", 3): 1.032,
    ("Ce", 3): 1.01,
    ("Pr", 3): 0.99,
    ("Nd", 3): 0.983,
    ("Sm", 3): 0.958,
    ("Eu", 3): 0.947,
    ("Gd", 3): 0.938,
    ("Tb", 3): 0.923,
    ("Dy", 3): 0.912,
    ("Ho", 3): 0.901,
    ("Er", 3): 0.89,
    ("Tm", 3): 0.88,
    ("Yb", 3): 0.868,
    ("Lu", 3): 0.861,
    ("Bi", 3): 1.03,
    ("Sb", 3): 0.76,
    ("As", 3): 0.58,
    ("P", 3): 0.44,
    ("Cr", 3): 0.615,
    ("Fe", 3): 0.645,
    ("Mn", 3): 0.645,
    ("Co", 3): 0.61,
    ("Ni", 3): 0.6,
    ("Ti", 3): 0.67,
    ("V", 3): 0.64,
    ("Rh", 3): 0.665,
    ("Au", 3): 0.85,
    ("C", 4): 0.16,
    ("Si", 4): 0.4,
    ("Ge", 4): 0.53,
    ("Sn", 4): 0.69,
    ("Pb", 4): 0.775,
    ("Ti", 4): 0.605,
    ("Zr", 4): 0.72,
    ("Hf", 4): 0.71,
    ("Ce", 4): 0.87,
    ("Mn", 4): 0.53,
    ("V", 4): 0.58,
    ("Nb", 4): 0.68,
    ("Mo", 4): 0.65,
    ("W", 4): 0.66,
    ("Ru", 4): 0.62,
    ("Ir", 4): 0.625,
    ("Pt", 4): 0.625,
    ("Re", 4): 0.63,
    ("Te", 4): 0.97,
    ("Th", 4): 0.94,
    ("U", 4): 0.89,
    ("P", 5): 0.38,
    ("As", 5): 0.46,
    ("Sb", 5): 0.6,
    ("Bi", 5): 0.76,
    ("Nb", 5): 0.64,
    ("Ta", 5): 0.64,
    ("V", 5): 0.54,
    ("N", 5): 0.13,
    ("I", 5): 0.95,
    ("Mo", 6): 0.59,
    ("W", 6): 0.6,
    ("Cr", 6): 0.44,
    ("S", 6): 0.29,
    ("Se", 6): 0.42,
    ("Te", 6): 0.56,
    ("Cl", 7): 0.27,
    ("I", 7): 0.53,
    ("F", -1): 1.33,
    ("Cl", -1): 1.81,
    ("Br", -1): 1.96,
    ("I", -1): 2.2,
    ("O", -2): 1.4,
    ("S", -2): 1.84,
    ("Se", -2): 1.98,
    ("Te", -2): 2.21,
    ("N", -3): 1.46,  # CN IV
}

#: Relative tolerance with which an amount must match a fraction p/m to count as rational
#: (see :meth:`Composition.reduced`).
FORMULA_UNIT_RTOL: float = 1e-4
#: Largest multiplier :meth:`Composition.reduced` tries before giving up.
FORMULA_UNIT_MAX_MULTIPLIER: int = 1000

#: Amounts are rounded to this many significant digits, so that ``0.1*3`` reads as ``0.3``.
_SIGNIFICANT_DIGITS = 12
#: Tolerance below which an amount counts as an integer (:attr:`Composition.is_integer`).
_INTEGER_ATOL = 1e-9
_ELEMENTS = frozenset(chemical_symbols[1:])  # index 0 is ASE's dummy "X"
_CLOSING = {"(": ")", "[": "]"}
_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")


def formal_charges(
    species: Iterable[str], overrides: Mapping[str, float] | None = None
) -> dict[str, float]:
    """Formal charge of each species: ``overrides`` first, then :data:`FORMAL_CHARGES`.

    Raises:
        InputError: If a species has no default charge and none is given, or an override names
            a species that is not present.

    Example:
        >>> formal_charges(["Li", "Al", "Cl", "O"])
        {'Li': 1.0, 'Al': 3.0, 'Cl': -1.0, 'O': -2.0}
    """
    species = list(species)
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(species)
    if unknown:
        raise InputError(
            f"charges given for species not in the system: {', '.join(sorted(unknown))} "
            f"(present: {', '.join(species)})"
        )
    out: dict[str, float] = {}
    for s in species:
        if s in overrides:
            out[s] = float(overrides[s])
        elif s in FORMAL_CHARGES:
            out[s] = float(FORMAL_CHARGES[s])
        else:
            raise InputError(f"no default formal charge for {s!r}; pass charges={{'{s}': z}}")
    return out


# -- formulas ----------------------------------------------------------------------------------
def _format_amount(x: float) -> str:
    """``1`` → ``""``, ``3.0`` → ``"3"``, ``2.5`` → ``"2.5"``, ``1e-05`` → ``"0.00001"``."""
    if x == 1:
        return ""
    if float(x).is_integer():
        return str(int(x))
    return format(Decimal(repr(float(x))), "f")


def _format_formula(amounts: Mapping[str, float]) -> str:
    return "".join(f"{el}{_format_amount(n)}" for el, n in amounts.items())


def _clean(x: float) -> float:
    """Round away float noise from multiplying out parentheses (``0.1*3`` → ``0.3``)."""
    return float(f"{x:.{_SIGNIFICANT_DIGITS}g}")


def _parse_formula(formula: str) -> dict[str, float]:
    """Amounts per element of a formula, in order of first appearance.

    Grammar: ``formula := group+``; ``group := Element [number] | "(" formula ")" [number]
    | "[" formula "]" [number]``; ``number := 12 | 2.5 | .75``. Element symbols are
    case-sensitive and checked against the periodic table.
    """
    text = formula.strip()
    if not text:
        raise InputError(f"invalid formula {formula!r}: it is empty")

    def fail(problem: str) -> InputError:  # positions count from the stripped text
        return InputError(f"invalid formula {text!r}: {problem}")

    def number(pos: int, what: str) -> tuple[float, int]:
        if pos < len(text) and text[pos] == "-":
            m = _NUMBER.match(text, pos + 1)
            shown = text[pos : m.end()] if m else "-"
            raise fail(f"negative amount {shown!r} for {what} at position {pos}")
        m = _NUMBER.match(text, pos)
        if m is None:
            return 1.0, pos
        value = float(m.group())
        if value == 0:
            raise fail(f"zero amount {m.group()!r} for {what} at position {pos}")
        return value, m.end()

    def group_list(pos: int, closing: str | None, opened_at: int) -> tuple[dict[str, float], int]:
        out: dict[str, float] = {}
        while pos < len(text):
            c = text[pos]
            if c in _CLOSING:
                inner, end = group_list(pos + 1, _CLOSING[c], pos)
                if not inner:
                    raise fail(f"empty parentheses at position {pos}")
                mult, pos = number(end, "the parenthesised group")
                for el, n in inner.items():
                    out[el] = out.get(el, 0.0) + n * mult
            elif c in ")]":
                if closing is None:
                    raise fail(f"unbalanced parentheses: {c!r} at position {pos} has no opening")
                if c != closing:
                    raise fail(
                        f"unbalanced parentheses: {text[opened_at]!r} at position {opened_at} "
                        f"is closed by {c!r} at position {pos}"
                    )
                return out, pos + 1
            elif c.isupper():
                end = pos + 1
                while end < len(text) and text[end].islower():
                    end += 1
                symbol = text[pos:end]
                if symbol not in _ELEMENTS:
                    raise fail(f"unknown element {symbol!r} at position {pos}")
                amount, pos = number(end, symbol)
                out[symbol] = out.get(symbol, 0.0) + amount
            elif c in "-.0123456789" and (m := _NUMBER.match(text, pos + (c == "-"))):
                raise fail(f"amount {text[pos : m.end()]!r} at position {pos} follows no element")
            else:
                raise fail(f"unexpected character {c!r} at position {pos}")
        if closing is not None:
            raise fail(
                f"unbalanced parentheses: {text[opened_at]!r} at position {opened_at} "
                "is never closed"
            )
        return out, pos

    amounts, _ = group_list(0, None, -1)
    return {el: _clean(n) for el, n in amounts.items()}


def _as_oxidation_state(element: str, z: object) -> int:
    if isinstance(z, bool) or not isinstance(z, numbers.Real) or not float(z).is_integer():
        raise InputError(f"oxidation_states[{element!r}] must be an integer, got {z!r}")
    return int(z)


@dataclass(frozen=True, init=False, eq=False, repr=False)
class Composition:
    """An immutable chemical composition: amount per element, in order of appearance.

    Amounts may be fractional (``LiAlCl2.5O0.75``); parentheses and brackets group and
    multiply (``Ca3(PO4)2``, ``K4[Fe(CN)6]``); an element that appears twice is summed. Two
    compositions are equal when they hold the same amounts (in any order) and the same
    oxidation-state overrides.

    Args:
        formula: A formula string, a mapping ``{element: amount}``, or another composition.
        oxidation_states: Overrides of :data:`FORMAL_CHARGES` for elements of this composition,
            e.g. ``{"Fe": 3}``.

    Raises:
        InputError: For an empty formula, an unknown element, unbalanced parentheses, a zero or
            negative amount, or an oxidation state given for an element that is not present.

    Example:
        >>> c = Composition("Na(AlCl2.5O0.75)")
        >>> c.amounts
        {'Na': 1.0, 'Al': 1.0, 'Cl': 2.5, 'O': 0.75}
        >>> c.reduced()
        Composition('Na4Al4Cl10O3')
        >>> str(Composition("LiAlCl2.5O0.75").scaled_to(1300))
        'Li248Al248Cl620O186'
    """

    _amounts: tuple[tuple[str, float], ...]
    _oxidation_overrides: tuple[tuple[str, int], ...]

    def __init__(
        self,
        formula: str | Mapping[str, float] | Composition,
        oxidation_states: Mapping[str, int] | None = None,
    ) -> None:
        overrides: dict[str, int] = {}
        if isinstance(formula, Composition):
            amounts = formula.amounts
            overrides.update(formula._oxidation_overrides)
        elif isinstance(formula, str):
            amounts = _parse_formula(formula)
        elif isinstance(formula, Mapping):
            amounts = self._check_mapping(formula)
        else:
            raise InputError(
                f"formula must be a string or a mapping {{element: amount}}, got {formula!r}"
            )
        if oxidation_states is not None:
            if not isinstance(oxidation_states, Mapping):
                raise InputError(
                    f"oxidation_states must be a mapping {{element: z}}, got {oxidation_states!r}"
                )
            absent = [el for el in oxidation_states if el not in amounts]
            if absent:
                raise InputError(
                    f"oxidation_states given for elements not in {_format_formula(amounts)}: "
                    f"{', '.join(map(str, absent))}"
                )
            overrides.update({el: _as_oxidation_state(el, z) for el, z in oxidation_states.items()})
        object.__setattr__(self, "_amounts", tuple(amounts.items()))
        object.__setattr__(
            self,
            "_oxidation_overrides",
            tuple((el, overrides[el]) for el in amounts if el in overrides),
        )

    @staticmethod
    def _check_mapping(mapping: Mapping[str, float]) -> dict[str, float]:
        if not mapping:
            raise InputError("invalid composition {}: it is empty")
        out: dict[str, float] = {}
        for el, n in mapping.items():
            if el not in _ELEMENTS:
                raise InputError(f"invalid composition {dict(mapping)!r}: unknown element {el!r}")
            if isinstance(n, bool) or not isinstance(n, numbers.Real) or not math.isfinite(n):
                raise InputError(
                    f"invalid composition {dict(mapping)!r}: amount of {el} must be a finite "
                    f"number, got {n!r}"
                )
            if n <= 0:
                raise InputError(
                    f"invalid composition {dict(mapping)!r}: amount of {el} must be positive, "
                    f"got {n}"
                )
            out[el] = _clean(float(n))
        return out

    # -- basic views ---------------------------------------------------------------------------
    @property
    def amounts(self) -> dict[str, float]:
        """Amount per element (a fresh dict, in order of appearance)."""
        return dict(self._amounts)

    @property
    def elements(self) -> list[str]:
        """Element symbols in order of appearance."""
        return [el for el, _ in self._amounts]

    @property
    def formula(self) -> str:
        """The normalised formula: parentheses multiplied out, amounts of 1 left implicit."""
        return _format_formula(self.amounts)

    @property
    def n_atoms(self) -> float:
        """Number of atoms in the stated formula (a float: amounts may be fractional)."""
        return float(sum(n for _, n in self._amounts))

    @property
    def is_integer(self) -> bool:
        """Whether every amount is a whole number (to within 1e-9)."""
        return all(abs(n - round(n)) <= _INTEGER_ATOL for _, n in self._amounts)

    @property
    def mass_amu(self) -> float:
        """Mass of the stated formula in amu (ASE's standard atomic masses)."""
        return float(sum(n * atomic_masses[atomic_numbers[el]] for el, n in self._amounts))

    def __getitem__(self, element: str) -> float:
        return dict(self._amounts)[element]

    def __contains__(self, element: object) -> bool:
        return element in dict(self._amounts)

    def __str__(self) -> str:
        return self.formula

    def __repr__(self) -> str:
        extra = ""
        if self._oxidation_overrides:
            extra = f", oxidation_states={dict(self._oxidation_overrides)!r}"
        return f"Composition({self.formula!r}{extra})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Composition):
            return NotImplemented
        return dict(self._amounts) == dict(other._amounts) and dict(
            self._oxidation_overrides
        ) == dict(other._oxidation_overrides)

    def __hash__(self) -> int:
        return hash((frozenset(self._amounts), frozenset(self._oxidation_overrides)))

    def _with_amounts(self, amounts: Mapping[str, float]) -> Composition:
        return Composition(amounts, oxidation_states=dict(self._oxidation_overrides) or None)

    # -- formula units ---------------------------------------------------------------------------
    def reduced(self) -> Composition:
        """The smallest integer formula unit: ``LiAlCl2.5O0.75`` → ``Li4Al4Cl10O3``.

        The multiplier is the smallest integer m ≤ :data:`FORMULA_UNIT_MAX_MULTIPLIER` for which
        every amount a lies within ``FORMULA_UNIT_RTOL · max(a, 1)`` of a fraction p/m with
        p ≥ 1, so that amounts written to four decimals (``0.3333``, ``0.1667``) are read as the
        fractions they stand for. The integer amounts are then divided by their greatest common
        divisor (``Li2Cl2`` → ``LiCl``).

        Raises:
            InputError: If no such multiplier exists (an amount is irrational to the tolerance,
                or needs a denominator above the limit).

        Example:
            >>> Composition("Li0.3333Cl0.3333").reduced(), Composition("Li2Cl2").reduced()
            (Composition('LiCl'), Composition('LiCl'))
        """
        a = np.array([n for _, n in self._amounts])
        m = np.arange(1, FORMULA_UNIT_MAX_MULTIPLIER + 1, dtype=np.float64)[:, None]
        scaled = a[None, :] * m
        p = np.rint(scaled)
        ok = ((p >= 1) & (np.abs(scaled - p) <= m * FORMULA_UNIT_RTOL * np.maximum(a, 1.0))).all(
            axis=1
        )
        if not ok.any():
            raise InputError(
                f"{self.formula} has no integer formula unit: no multiplier up to "
                f"{FORMULA_UNIT_MAX_MULTIPLIER} makes every amount a whole number (to a relative "
                f"tolerance of {FORMULA_UNIT_RTOL:g}); give amounts as simple fractions"
            )
        ints = [int(v) for v in p[int(np.argmax(ok))]]
        g = math.gcd(*ints)
        return self._with_amounts(
            {el: float(v // g) for el, v in zip(self.elements, ints, strict=True)}
        )

    @property
    def formula_unit(self) -> Composition:
        """The smallest integer formula unit (same as :meth:`reduced`)."""
        return self.reduced()

    def scaled_to(self, n_atoms: int) -> Composition:
        """The integer multiple of the formula unit with the atom count closest to ``n_atoms``.

        Ties go to the smaller multiple; the result holds at least one formula unit.

        Args:
            n_atoms: Target number of atoms (a positive integer).

        Raises:
            InputError: If ``n_atoms`` is not a positive integer, or there is no formula unit.

        Example:
            >>> c = Composition("LiAlCl2.5O0.75")
            >>> c.scaled_to(42), c.scaled_to(1300).n_atoms
            (Composition('Li8Al8Cl20O6'), 1302.0)
        """
        integral = isinstance(n_atoms, numbers.Integral) or (
            isinstance(n_atoms, numbers.Real) and float(n_atoms).is_integer()
        )
        if isinstance(n_atoms, bool) or not integral:
            raise InputError(f"n_atoms must be a positive integer, got {n_atoms!r}")
        target = int(n_atoms)
        if target <= 0:
            raise InputError(f"n_atoms must be a positive integer, got {n_atoms!r}")
        unit = self.reduced()
        per_unit = round(unit.n_atoms)
        q, r = divmod(target, per_unit)
        k = q if (q >= 1 and r <= per_unit - r) else q + 1
        return unit._with_amounts({el: n * k for el, n in unit.amounts.items()})

    def symbols(self, n_atoms: int | None = None) -> list[str]:
        """One element symbol per atom, grouped by element in order of appearance.

        Args:
            n_atoms: If given, the symbols of :meth:`scaled_to` ``(n_atoms)``; otherwise the
                composition itself must hold whole numbers of atoms.

        Raises:
            InputError: If the amounts are not whole numbers and ``n_atoms`` is not given.

        Example:
            >>> Composition("Li2O").symbols()
            ['Li', 'Li', 'O']
        """
        if n_atoms is not None:
            return self.scaled_to(n_atoms).symbols()
        if not self.is_integer:
            frac = ", ".join(f"{el} {n:g}" for el, n in self._amounts if abs(n - round(n)) > 1e-9)
            raise InputError(
                f"{self.formula} has non-integer amounts ({frac}); use .reduced() or "
                "symbols(n_atoms=...) to get whole atoms"
            )
        return [el for el, n in self._amounts for _ in range(round(n))]

    # -- charges ---------------------------------------------------------------------------------
    @property
    def oxidation_state_overrides(self) -> dict[str, int]:
        """The oxidation states given at construction (a fresh dict; empty if none)."""
        return dict(self._oxidation_overrides)

    @property
    def oxidation_states(self) -> dict[str, int]:
        """Formal oxidation state per element: the overrides, then :data:`FORMAL_CHARGES`.

        Raises:
            InputError: If an element has neither an override nor a default.
        """
        overrides = dict(self._oxidation_overrides)
        out: dict[str, int] = {}
        for el in self.elements:
            if el in overrides:
                out[el] = overrides[el]
            elif el in FORMAL_CHARGES:
                out[el] = FORMAL_CHARGES[el]
            else:
                raise InputError(
                    f"no default oxidation state for {el!r} in {self.formula}; pass "
                    f"oxidation_states={{'{el}': z}}"
                )
        return out

    @property
    def charge(self) -> float:
        """Total formal charge of the stated formula, Σ_i n_i z_i (0 for a neutral compound)."""
        z = self.oxidation_states
        return float(sum(n * z[el] for el, n in self._amounts))

    def check_neutral(self, tol: float = 1e-6) -> None:
        """Raise unless the formula is charge-neutral, |Σ_i n_i z_i| ≤ ``tol``.

        Raises:
            InputError: Naming the imbalance and each element's charge and amount.

        Example:
            >>> Composition("LiAlCl2.5O0.75").check_neutral()
            >>> Composition("LiAlCl2.5O0.8").check_neutral()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            solidion.errors.InputError: LiAlCl2.5O0.8 is not charge-neutral: total formal charge -0.1 per formula (Li+1 ×1, Al+3 ×1, Cl-1 ×2.5, O-2 ×0.8); ...
        """
        if not (isinstance(tol, numbers.Real) and tol >= 0):
            raise InputError(f"tol must be a non-negative number, got {tol!r}")
        z = self.oxidation_states
        q = self.charge
        if abs(q) > tol:
            terms = ", ".join(f"{el}{z[el]:+d} ×{n:g}" for el, n in self._amounts)
            raise InputError(
                f"{self.formula} is not charge-neutral: total formal charge {q:+.6g} per formula "
                f"({terms}); pass oxidation_states=... if the defaults are wrong"
            )


def _members(name: str, given: str | Iterable[str]) -> list[str]:
    items = [given] if isinstance(given, str) else list(given)
    if not items:
        raise InputError(f"{name} must name at least one element")
    return items


def oxyhalide_family(
    A: str | Iterable[str] = ("Li", "Na", "K"),
    M: str | Iterable[str] = ("Al", "Ga", "In"),
    X: str | Iterable[str] = ("Cl", "Br", "I"),
) -> list[Composition]:
    """The amorphous oxyhalides A M X\\ :sub:`2.5` O\\ :sub:`0.75` over A × M × X.

    Each member is charge-neutral: (+1) + (+3) + 2.5·(−1) + 0.75·(−2) = 0 (Binci, Jun et al.
    2026 studied the 27 members of the default product).

    Args:
        A: Alkali metals (+1), one symbol or several.
        M: Trivalent metals (+3 in :data:`FORMAL_CHARGES`).
        X: Halogens (−1).

    Returns:
        Compositions in the order of :func:`itertools.product` (A slowest, X fastest).

    Raises:
        InputError: If a symbol is not of its class, or a class is empty.

    Example:
        >>> fam = oxyhalide_family()
        >>> len(fam), str(fam[0]), str(fam[-1])
        (27, 'LiAlCl2.5O0.75', 'KInI2.5O0.75')
    """
    a_list, m_list, x_list = _members("A", A), _members("M", M), _members("X", X)
    for name, items, ok, what in (
        (
            "A",
            a_list,
            lambda s: s in ALKALI_METALS,
            f"alkali metals (+1: {', '.join(ALKALI_METALS)})",
        ),
        ("M", m_list, lambda s: FORMAL_CHARGES.get(s) == 3, "trivalent metals (+3)"),
        ("X", x_list, lambda s: s in HALOGENS, f"halogens (−1: {', '.join(HALOGENS)})"),
    ):
        bad = [s for s in items if not (isinstance(s, str) and ok(s))]
        if bad:
            raise InputError(f"{name} must be {what}; got {', '.join(map(repr, bad))}")
    out = []
    for a, m, x in itertools.product(a_list, m_list, x_list):
        c = Composition(f"{a}{m}{x}2.5O0.75")
        c.check_neutral()
        out.append(c)
    return out
