"""Defect chemistry: Kröger–Vink notation, reaction balance, equilibria and Brouwer diagrams.

Ionic conductivity is carrier concentration × mobility; this module supplies the concentration.

**Notation.** A point defect is written S_L^c (Kröger & Vink, *Solid State Phys.* 3, 307
(1956)): the species S on the site L (``i`` for an interstitial site, ``V`` for a vacancy)
with the effective charge c relative to the perfect lattice, written ``×`` (neutral), one
``•`` per positive and one ``'`` per negative charge. Electrons ``e'`` and holes ``h•`` are
species of their own and ``∅``/``nil`` is the perfect crystal. :func:`parse_kroger_vink` reads
symbols in Unicode (``Li_i^•``) and ASCII (``Li_i.``); :meth:`KrogerVinkDefect.format` writes
them back. :func:`check_reaction` checks a defect reaction for the three conservation laws of
the notation: regular **sites** are created or destroyed only in the host's ratio (interstitial
sites are not regular sites), **mass** (atoms, counted on the species that hold them and on the
reservoir species) is conserved and the effective **charge** (electrons and holes included) is
conserved.

**Equilibria.** In the dilute limit a defect X on N_X sites with configurational degeneracy g
has the concentration (law of mass action; Maier, *Physical Chemistry of Ionic Materials*,
Wiley 2004, ch. 5)

.. math::  c_X = N_X\\, g_X \\exp(-E_f^X / k_B T), \\qquad
           E_f^X = E_0^X + q_X E_F - \\sum_i n_i \\mu_i

where E_0 is the formation energy at E_F = 0 (the valence-band maximum) and μ_i = 0, q the
effective charge and n_i the number of atoms of element i *added* to the crystal (−1 for a
vacancy) (Freysoldt et al., *Rev. Mod. Phys.* 86, 253 (2014); Van de Walle & Neugebauer,
*J. Appl. Phys.* 95, 3851 (2004)). The Fermi level E_F is fixed by charge neutrality,
Σ_X q_X c_X + p − n + Σ_D q_D c_D = 0. Closed forms for intrinsic Frenkel and Schottky
disorder (:func:`frenkel_concentration`, :func:`schottky_concentrations`), the general solver
(:func:`solve_equilibrium`) and the sweep over a chemical potential, an oxygen pressure or a
dopant concentration (:func:`brouwer_diagram`, :func:`plot_brouwer`) build on these equations.

Everything happens in log space (log-sum-exp sums of charge), so concentrations spanning
hundreds of orders of magnitude neither overflow nor lose the root.
"""

from __future__ import annotations

import itertools
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from ase.data import chemical_symbols
from scipy.optimize import brentq
from scipy.special import expit

from solidion.chemistry import Composition
from solidion.errors import InputError, ReactionBalanceError
from solidion.units import BOLTZMANN_EV_K

__all__ = [
    "DILUTE_LIMIT_SITE_FRACTION",
    "PERFECT_CRYSTAL",
    "Bands",
    "BrouwerRegime",
    "BrouwerResult",
    "Defect",
    "DefectReaction",
    "Dopant",
    "EquilibriumResult",
    "KrogerVinkDefect",
    "ReactionTerm",
    "ReservoirSpecies",
    "brouwer_diagram",
    "check_reaction",
    "formation_free_energy_eV",
    "frenkel_concentration",
    "log_fermi_dirac_half",
    "oxygen_chemical_potential_eV",
    "parse_kroger_vink",
    "parse_reaction",
    "plot_brouwer",
    "schottky_concentrations",
    "solve_equilibrium",
]

# ------------------------------------------------------------------------------------------
# Kröger–Vink notation
# ------------------------------------------------------------------------------------------

#: Species label of a vacancy (``V_Li'``). ``V`` always means a vacancy, never vanadium.
VACANCY = "V"
#: Site label of an interstitial site (``Li_i^•``).
INTERSTITIAL = "i"
#: Species label of a conduction electron (``e'``).
ELECTRON = "e"
#: Species label of a valence hole (``h^•``).
HOLE = "h"

_ELEMENTS = frozenset(chemical_symbols[1:])
_NIL_TOKENS = frozenset({"nil", "null", "0", "∅", "Ø", "ø", "⌀"})
_POSITIVE_MARKS = {".": 1, "•": 1, "·": 1, "∙": 1}
_NEGATIVE_MARKS = {"'": 1, "′": 1, "’": 1, "″": 2}
_NEUTRAL_MARKS = frozenset({"x", "X", "×"})
_SYMBOL = re.compile(
    r"^(?P<species>Va|[A-Z][a-z]?|e|h)"
    r"(?:_(?:\{(?P<site_braced>[A-Z][a-z]?|i)\}|(?P<site>[A-Z][a-z]?|i)))?"
    r"(?P<charge>.*)$"
)
_STYLES = ("unicode", "ascii")


@dataclass(frozen=True)
class KrogerVinkDefect:
    """A point defect in Kröger–Vink notation: species S on site L with effective charge q.

    Attributes:
        species: The element on the site, ``"V"`` for a vacancy, ``"e"`` for an electron,
            ``"h"`` for a hole, ``""`` for the perfect crystal.
        site: The element whose regular site it occupies, ``"i"`` for an interstitial site,
            ``""`` for electrons, holes and the perfect crystal.
        charge: The effective charge (relative to the perfect lattice) in units of e.

    Raises:
        InputError: For an unknown element, a vacancy on an interstitial site, an electron or
            hole with a site or a charge other than −1/+1, or a non-integer charge.

    Example:
        >>> d = KrogerVinkDefect("V", "Li", -1)
        >>> d.format(), d.format("ascii"), d.kind, d.atoms_added()
        ("V_Li'", "V_Li'", 'vacancy', {'Li': -1})
        >>> KrogerVinkDefect("Li", "i", 1).format(), KrogerVinkDefect("Li", "i", 1).format("ascii")
        ('Li_i^•', 'Li_i.')
    """

    species: str
    site: str
    charge: int

    def __post_init__(self) -> None:
        if isinstance(self.charge, bool) or not isinstance(self.charge, (int, np.integer)):
            raise InputError(f"charge must be an integer, got {self.charge!r}")
        object.__setattr__(self, "charge", int(self.charge))
        sp, site, q = self.species, self.site, self.charge
        if sp == "" and (site != "" or q != 0):
            raise InputError("the perfect crystal (species '') has no site and no charge")
        if sp in (ELECTRON, HOLE):
            want = -1 if sp == ELECTRON else 1
            if site != "" or q != want:
                raise InputError(
                    f"an {'electron' if sp == ELECTRON else 'hole'} has no site and charge "
                    f"{want:+d}, got site {site!r} and charge {q:+d}"
                )
            return
        if sp not in ("", VACANCY) and sp not in _ELEMENTS:
            raise InputError(f"unknown defect species {sp!r}: use an element, 'V', 'e' or 'h'")
        if sp and site == "":
            raise InputError(f"defect species {sp!r} needs a site (an element or 'i')")
        if site not in ("", INTERSTITIAL) and site not in _ELEMENTS:
            raise InputError(f"unknown site {site!r}: use an element or 'i' (interstitial)")
        if sp == VACANCY and site == INTERSTITIAL:
            raise InputError("a vacancy on an interstitial site (V_i) is not a defect")

    # -- classification ------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        """``perfect``, ``electron``, ``hole``, ``vacancy``, ``interstitial``, ``substitutional``
        (another element on the site) or ``lattice`` (the site's own element, e.g. Li_Li^×)."""
        if self.species == "":
            return "perfect"
        if self.species == ELECTRON:
            return "electron"
        if self.species == HOLE:
            return "hole"
        if self.species == VACANCY:
            return "vacancy"
        if self.site == INTERSTITIAL:
            return "interstitial"
        return "lattice" if self.species == self.site else "substitutional"

    @property
    def is_electronic(self) -> bool:
        """True for electrons and holes."""
        return self.species in (ELECTRON, HOLE)

    @property
    def regular_site(self) -> str | None:
        """The element of the regular lattice site this defect occupies (None if none)."""
        return None if self.site in ("", INTERSTITIAL) else self.site

    def atoms(self) -> dict[str, int]:
        """Atoms this defect holds (its species if that is an element): the mass it carries."""
        return (
            {self.species: 1} if self.kind not in ("perfect", "electron", "hole", "vacancy") else {}
        )

    def atoms_added(self) -> dict[str, int]:
        """Atoms added to the perfect crystal (n_i of E_f = E_0 + qE_F − Σ n_i μ_i)."""
        out: dict[str, int] = {}
        for el, n in [*self.atoms().items(), (self.regular_site, -1)]:
            if el is not None:
                out[el] = out.get(el, 0) + n
        return {el: n for el, n in out.items() if n != 0}

    # -- formatting ----------------------------------------------------------------------------
    def format(self, style: str = "unicode") -> str:
        """The symbol: ``style="unicode"`` (``V_S^••``, ``Li_Li^×``) or ``"ascii"`` (``V_S..``).

        Negative charges are primes in both styles (``V_Li'``, ``V_Li''``);
        :func:`parse_kroger_vink` reads either form back to an equal defect.
        """
        if style not in _STYLES:
            raise InputError(f"style must be 'unicode' or 'ascii', got {style!r}")
        uni = style == "unicode"
        if self.species == "":
            return "∅" if uni else "nil"
        base = self.species if self.site == "" else f"{self.species}_{self.site}"
        if self.charge < 0:
            return base + "'" * -self.charge
        if self.charge > 0:
            return base + ("^" + "•" * self.charge if uni else "." * self.charge)
        return base + ("^×" if uni else "^x")

    def __str__(self) -> str:
        return self.format("unicode")

    def to_dict(self) -> dict[str, object]:
        return {
            "symbol": self.format("unicode"),
            "species": self.species,
            "site": self.site,
            "charge": self.charge,
        }


#: The perfect crystal (``∅``, ``nil``, ``null`` or ``0`` in a reaction).
PERFECT_CRYSTAL = KrogerVinkDefect("", "", 0)


def _parse_charge(text: str, symbol: str) -> int:
    s = text
    if s.startswith("^"):
        s = s[1:]
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    if s == "":
        raise InputError(
            f"Kröger–Vink symbol {symbol!r} has no effective-charge mark: write × (or x) for "
            "neutral, • (or .) per positive and ' per negative charge"
        )
    if s in _NEUTRAL_MARKS:
        return 0
    if all(ch in _POSITIVE_MARKS for ch in s):
        return sum(_POSITIVE_MARKS[ch] for ch in s)
    if all(ch in _NEGATIVE_MARKS for ch in s):
        return -sum(_NEGATIVE_MARKS[ch] for ch in s)
    raise InputError(
        f"Kröger–Vink symbol {symbol!r}: cannot read the effective charge {text!r} (use one "
        "kind of mark: × or x; •, · or .; ' or ′)"
    )


def parse_kroger_vink(symbol: str) -> KrogerVinkDefect:
    """Read a Kröger–Vink symbol in Unicode or ASCII.

    Grammar: ``SPECIES[_SITE][^]CHARGE`` where SPECIES is an element, ``V`` (or ``Va``) for a
    vacancy, ``e`` or ``h``; SITE is an element or ``i`` (braces allowed: ``V_{Li}^{'}``);
    CHARGE is ``×``/``x``/``X`` (neutral), one ``•``/``·``/``.`` per positive charge or one
    ``'``/``′`` per negative charge (``″`` counts two). ``nil``, ``null``, ``0`` and ``∅``
    are the perfect crystal. ``V`` is always a vacancy (Kröger & Vink, *Solid State Phys.* 3,
    307 (1956)), so vanadium cannot be a defect species here (it can be a site: ``V_V^×``).

    Args:
        symbol: The symbol, e.g. ``"V_Li'"``, ``"Li_i^•"``, ``"Li_i."``, ``"V_S^••"``,
            ``"Al_Li.."``, ``"e'"``, ``"h."``.

    Returns:
        The :class:`KrogerVinkDefect`.

    Raises:
        InputError: If the symbol cannot be read (unknown element, no or mixed charge marks).

    Example:
        >>> parse_kroger_vink("V_S^••") == parse_kroger_vink("V_S..")
        True
        >>> d = parse_kroger_vink("Al_Li^••")
        >>> d.species, d.site, d.charge, d.kind
        ('Al', 'Li', 2, 'substitutional')
        >>> parse_kroger_vink("nil") is PERFECT_CRYSTAL or parse_kroger_vink("nil") == PERFECT_CRYSTAL
        True
    """
    if not isinstance(symbol, str):
        raise InputError(f"symbol must be a string, got {symbol!r}")
    text = symbol.strip()
    if text.lower() in _NIL_TOKENS:
        return PERFECT_CRYSTAL
    m = _SYMBOL.match(text)
    if m is None:
        raise InputError(
            f"cannot read Kröger–Vink symbol {symbol!r}: expected SPECIES_SITE^CHARGE such as "
            "V_Li', Li_i^• or Al_Li.., or e', h., nil"
        )
    species = VACANCY if m["species"] == "Va" else m["species"]
    site = m["site_braced"] or m["site"] or ""
    if species in (ELECTRON, HOLE) and site:
        raise InputError(f"symbol {symbol!r}: electrons and holes have no site")
    if species not in (ELECTRON, HOLE) and not site:
        raise InputError(
            f"cannot read Kröger–Vink symbol {symbol!r}: species {species!r} needs a site "
            "after '_' (an element or i)"
        )
    charge = _parse_charge(m["charge"], symbol)
    try:
        return KrogerVinkDefect(species, site, charge)
    except InputError as exc:
        raise InputError(f"symbol {symbol!r}: {exc}") from None


# ------------------------------------------------------------------------------------------
# Defect reactions
# ------------------------------------------------------------------------------------------

_ARROW = re.compile(r"\s*(?:<=>|<->|->|⇌|⇄|→|⟶|=)\s*")
_TERM = re.compile(r"^(?P<coef>\d+(?:\.\d*)?(?:/\d+)?)?\s*(?P<body>\S.*?)\s*$")
_PHASE = re.compile(r"^(?P<formula>.+?)\((?P<phase>[a-z]+)\)$")


@dataclass(frozen=True)
class ReservoirSpecies:
    """A species outside the crystal that exchanges atoms with it: ``O2(g)``, ``Li(s)``.

    Attributes:
        formula: The chemical formula (``"O2"``).
        phase: The phase label written in parentheses (``"g"``), ``""`` if none was written.
    """

    formula: str
    phase: str = ""

    def atoms(self) -> dict[str, Fraction]:
        """Atoms per formula (they count towards the mass balance)."""
        amounts = Composition(self.formula).amounts
        return {el: Fraction(n).limit_denominator(10_000) for el, n in amounts.items()}

    def format(self, style: str = "unicode") -> str:
        """``formula(phase)``, the same in both styles."""
        return f"{self.formula}({self.phase})" if self.phase else self.formula

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class ReactionTerm:
    """One term of a defect reaction: a coefficient and a defect or reservoir species."""

    coefficient: Fraction
    species: KrogerVinkDefect | ReservoirSpecies

    def format(self, style: str = "unicode") -> str:
        c = self.coefficient
        prefix = "" if c == 1 else f"{c} "
        return prefix + self.species.format(style)


@dataclass(frozen=True)
class DefectReaction:
    """A parsed defect reaction ``reactants → products``.

    Attributes:
        reactants: Terms of the left side (the perfect crystal contributes none).
        products: Terms of the right side.
    """

    reactants: tuple[ReactionTerm, ...]
    products: tuple[ReactionTerm, ...]

    @staticmethod
    def _side(terms: tuple[ReactionTerm, ...], style: str) -> str:
        return " + ".join(t.format(style) for t in terms) or PERFECT_CRYSTAL.format(style)

    def format(self, style: str = "unicode") -> str:
        """The reaction in ``"unicode"`` (``→``) or ``"ascii"`` (``->``) style."""
        arrow = " → " if style == "unicode" else " -> "
        return self._side(self.reactants, style) + arrow + self._side(self.products, style)

    def __str__(self) -> str:
        return self.format()

    def sites(self, side: str) -> dict[str, Fraction]:
        """Regular lattice sites per element on ``side`` (``"left"`` or ``"right"``)."""
        out: dict[str, Fraction] = {}
        for t in self._terms(side):
            sp = t.species
            if isinstance(sp, KrogerVinkDefect) and sp.regular_site is not None:
                out[sp.regular_site] = out.get(sp.regular_site, Fraction(0)) + t.coefficient
        return out

    def mass(self, side: str) -> dict[str, Fraction]:
        """Atoms per element on ``side``: defect species (not vacancies) and reservoirs."""
        out: dict[str, Fraction] = {}
        for t in self._terms(side):
            for el, n in t.species.atoms().items():
                out[el] = out.get(el, Fraction(0)) + t.coefficient * n
        return {el: n for el, n in out.items() if n != 0}

    def charge(self, side: str) -> Fraction:
        """Total effective charge on ``side`` (electrons −1, holes +1, reservoirs 0)."""
        return sum(
            (
                t.coefficient * t.species.charge
                for t in self._terms(side)
                if isinstance(t.species, KrogerVinkDefect)
            ),
            Fraction(0),
        )

    def _terms(self, side: str) -> tuple[ReactionTerm, ...]:
        if side not in ("left", "right"):
            raise InputError(f"side must be 'left' or 'right', got {side!r}")
        return self.reactants if side == "left" else self.products

    def to_dict(self) -> dict[str, object]:
        def terms(ts: tuple[ReactionTerm, ...]) -> list[dict[str, object]]:
            return [{"coefficient": str(t.coefficient), "species": str(t.species)} for t in ts]

        return {
            "reaction": self.format("unicode"),
            "reaction_ascii": self.format("ascii"),
            "reactants": terms(self.reactants),
            "products": terms(self.products),
        }


def _parse_term(text: str, reaction: str) -> ReactionTerm | None:
    stripped = text.strip()
    if stripped.lower() in _NIL_TOKENS:
        return None
    m = _TERM.match(stripped)
    if m is None:
        raise InputError(f"reaction {reaction!r} has an empty term")
    coef = Fraction(m["coef"]) if m["coef"] else Fraction(1)
    body = m["body"]
    if coef <= 0:
        raise InputError(f"reaction {reaction!r}: coefficient of {body!r} must be positive")
    if body.lower() in _NIL_TOKENS:
        return None
    if "_" in body or body[0] in (ELECTRON, HOLE):
        return ReactionTerm(coef, parse_kroger_vink(body))
    pm = _PHASE.match(body)
    formula, phase = (pm["formula"], pm["phase"]) if pm else (body, "")
    try:
        Composition(formula)
    except InputError:
        raise InputError(
            f"reaction {reaction!r}: cannot read term {body!r} as a Kröger–Vink symbol "
            "(SPECIES_SITE^CHARGE) or a reservoir species such as O2(g) or Li(s)"
        ) from None
    return ReactionTerm(coef, ReservoirSpecies(formula, phase))


def parse_reaction(reaction: str) -> DefectReaction:
    """Read a defect reaction ``LEFT -> RIGHT`` without checking it (see :func:`check_reaction`).

    Terms are separated by ``+`` and may carry a coefficient (``2 V_Li'``, ``1/2 O2(g)``,
    ``0.5 O2(g)``); the arrow is ``->``, ``→``, ``=``, ``⇌`` or ``<=>``; reservoir species
    are formulas with an optional phase, ``O2(g)``, ``Li(s)``.

    Raises:
        InputError: If there is not exactly one arrow, a side is empty or a term is unreadable.

    Example:
        >>> print(parse_reaction("O_O^x -> V_O.. + 2e' + 1/2 O2(g)"))
        O_O^× → V_O^•• + 2 e' + 1/2 O2(g)
    """
    if not isinstance(reaction, str):
        raise InputError(f"reaction must be a string, got {reaction!r}")
    sides = _ARROW.split(reaction.strip())
    if len(sides) != 2:
        raise InputError(
            f"reaction {reaction!r} must have exactly one arrow (->, →, =, ⇌ or <=>) between "
            "its two sides"
        )
    parsed = []
    for side in sides:
        if not side.strip():
            raise InputError(f"reaction {reaction!r} has an empty side (write nil or ∅)")
        terms = [_parse_term(t, reaction) for t in side.split("+")]
        parsed.append(tuple(t for t in terms if t is not None))
    return DefectReaction(parsed[0], parsed[1])


def _signed(q: Fraction) -> str:
    return "0" if q == 0 else f"+{q}" if q > 0 else f"{q}"


def _fmt_counts(counts: Mapping[str, Fraction], signed: bool = False) -> str:
    items = [f"{el}: {_signed(n) if signed else n}" for el, n in counts.items() if n != 0]
    return "{" + ", ".join(items) + "}"


def check_reaction(
    reaction: str | DefectReaction, host: str | Composition | None = None
) -> DefectReaction:
    """Check a defect reaction for site-ratio, mass and charge balance.

    The three rules of Kröger–Vink reactions (Kröger & Vink, *Solid State Phys.* 3, 307 (1956);
    Maier, *Physical Chemistry of Ionic Materials*, Wiley 2004, §5.2):

    - **site**: regular lattice sites (every defect on an element's site, vacancies included)
      may be created or destroyed only in the host's ratio, e.g. 2 Li : 1 S in Li₂S, as in the
      Schottky reaction ∅ → 2 V_Li' + V_S^••. Interstitial sites are not regular sites;
      electrons, holes and reservoir species occupy none. A reaction that changes the number of
      sites needs ``host``.
    - **mass**: atoms of every element are conserved, counted on the species that hold them: a
      vacancy holds none, an interstitial or substitutional its own atom, a reservoir species
      (``O2(g)``, ``Li(s)``) its formula.
    - **charge**: the sum of effective charges, with electrons (−1) and holes (+1), is the
      same on both sides.

    Args:
        reaction: The reaction text (see :func:`parse_reaction`) or a parsed reaction.
        host: The host formula (``"Li2S"``); needed when the reaction creates or destroys sites.

    Returns:
        The parsed :class:`DefectReaction`.

    Raises:
        ReactionBalanceError: If a balance fails; ``.balance`` is the first failing one of
            ``"site"``, ``"mass"``, ``"charge"`` and the message shows both sides of each.
        InputError: For an unreadable reaction, a site the host lacks, or sites created with no
            ``host`` to compare against.

    Example:
        >>> print(check_reaction("nil -> 2 V_Li' + V_S^••", host="Li2S"))
        ∅ → 2 V_Li' + V_S^••
        >>> check_reaction("Li_Li^x -> V_Li' + Li_i^••")
        Traceback (most recent call last):
        ...
        solidion.errors.ReactionBalanceError: charge balance fails for Li_Li^× → V_Li' + Li_i^••: left side Li_Li^× has charge 0, right side V_Li' + Li_i^•• has charge +1
    """
    r = reaction if isinstance(reaction, DefectReaction) else parse_reaction(reaction)
    text = r.format()
    left, right = r._side(r.reactants, "unicode"), r._side(r.products, "unicode")
    failures: list[tuple[str, str]] = []

    # -- site ratio --
    sites_l, sites_r = r.sites("left"), r.sites("right")
    change = {
        el: sites_r.get(el, Fraction(0)) - sites_l.get(el, Fraction(0))
        for el in dict.fromkeys([*sites_l, *sites_r])
    }
    change = {el: n for el, n in change.items() if n != 0}
    if host is not None:
        host_c = host if isinstance(host, Composition) else Composition(host)
        ratio = {
            el: Fraction(n).limit_denominator(10_000) for el, n in host_c.reduced().amounts.items()
        }
        foreign = [el for el in dict.fromkeys([*sites_l, *sites_r]) if el not in ratio]
        if foreign:
            raise InputError(
                f"host {host_c.formula} has no {', '.join(foreign)} sites, which reaction "
                f"{text} uses; check the host"
            )
        if change:
            first = next(iter(ratio))
            lam = change.get(first, Fraction(0)) / ratio[first]
            if any(change.get(el, Fraction(0)) != lam * n for el, n in ratio.items()):
                host_ratio = ":".join(ratio) + " = " + ":".join(str(n) for n in ratio.values())
                failures.append(
                    (
                        "site",
                        f"site balance fails for {text}: left side {left} has regular sites "
                        f"{_fmt_counts(sites_l)}, right side {right} has "
                        f"{_fmt_counts(sites_r)}; the change {_fmt_counts(change, True)} is not "
                        f"in the ratio of host {host_c.formula} ({host_ratio}); interstitial "
                        "sites do not count",
                    )
                )
    elif change:
        raise InputError(
            f"reaction {text} changes the number of regular sites by "
            f"{_fmt_counts(change, True)}; pass host= (e.g. host='Li2S') to check them against "
            "the host's site ratio"
        )

    # -- mass --
    mass_l, mass_r = r.mass("left"), r.mass("right")
    if mass_l != mass_r:
        failures.append(
            (
                "mass",
                f"mass balance fails for {text}: left side {left} holds atoms "
                f"{_fmt_counts(mass_l)}, right side {right} holds {_fmt_counts(mass_r)} "
                "(vacancies, electrons and holes hold no atoms; atoms leaving the crystal must "
                "appear as a reservoir species such as Li(g) or 1/2 O2(g))",
            )
        )

    # -- charge --
    q_l, q_r = r.charge("left"), r.charge("right")
    if q_l != q_r:
        failures.append(
            (
                "charge",
                f"charge balance fails for {text}: left side {left} has charge {_signed(q_l)}, "
                f"right side {right} has charge {_signed(q_r)}",
            )
        )
    if failures:
        raise ReactionBalanceError("; ".join(m for _, m in failures), balance=failures[0][0])
    return r


# ------------------------------------------------------------------------------------------
# Closed forms for intrinsic disorder
# ------------------------------------------------------------------------------------------


def _temperature(T_K: object, name: str = "T_K") -> np.ndarray:
    t = np.asarray(T_K, dtype=np.float64)
    if not np.all(np.isfinite(t)) or not np.all(t > 0):
        raise InputError(f"{name} must be positive and finite, got {T_K!r}")
    return t


def _positive(x: object, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)) or not np.all(a > 0):
        raise InputError(f"{name} must be positive and finite, got {x!r}")
    return a


def _finite(x: object, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise InputError(f"{name} must be finite, got {x!r}")
    return a


def _out(a: np.ndarray) -> float | np.ndarray:
    return float(a) if np.ndim(a) == 0 else a


def formation_free_energy_eV(
    enthalpy_eV: float | np.ndarray, T_K: float | np.ndarray, entropy_kB: float | np.ndarray = 0.0
) -> float | np.ndarray:
    """ΔG(T) = ΔH − TΔS, with the entropy in units of k_B (ΔS = entropy_kB · k_B).

    Example:
        >>> round(formation_free_energy_eV(1.2, 600.0, entropy_kB=2.0), 6)
        1.096592
    """
    t = _temperature(T_K)
    h = _finite(enthalpy_eV, "enthalpy_eV")
    s = _finite(entropy_kB, "entropy_kB")
    return _out(h - t * BOLTZMANN_EV_K * s)


def frenkel_concentration(
    dG_eV: float | np.ndarray,
    T_K: float | np.ndarray,
    n_sites: float | np.ndarray = 1.0,
    n_interstitial: float | np.ndarray = 1.0,
) -> float | np.ndarray:
    """Vacancy = interstitial concentration of intrinsic Frenkel disorder.

    For Li_Li^× → V_Li' + Li_i^• the law of mass action
    [V_Li'][Li_i^•] = N N_i exp(−ΔG_F/k_BT) and neutrality [V_Li'] = [Li_i^•] give

    .. math::  c = \\sqrt{N N_i}\\, \\exp(-\\Delta G_F / 2 k_B T)

    (dilute limit; Maier, *Physical Chemistry of Ionic Materials*, Wiley 2004, §5.3).

    Args:
        dG_eV: Frenkel-pair formation free energy ΔG_F in eV.
        T_K: Temperature in K (> 0).
        n_sites: Density of regular sites N, in any unit (per m³, per formula unit, 1 for
            a site fraction).
        n_interstitial: Density of interstitial sites N_i, in the same unit.

    Returns:
        The concentration of each defect, in the unit of the site densities.

    Raises:
        InputError: For a non-positive temperature or site density.

    Example:
        >>> c = frenkel_concentration(1.0, 600.0)   # per site, N = N_i
        >>> f"{c:.2e}"
        '6.31e-05'
    """
    t = _temperature(T_K)
    g = _finite(dG_eV, "dG_eV")
    n = _positive(n_sites, "n_sites")
    ni = _positive(n_interstitial, "n_interstitial")
    return _out(np.exp(0.5 * (np.log(n) + np.log(ni)) - g / (2.0 * BOLTZMANN_EV_K * t)))


def schottky_concentrations(
    dG_eV: float | np.ndarray,
    T_K: float | np.ndarray,
    host: str | Composition | Mapping[str, float],
    site_densities: Mapping[str, float] | None = None,
) -> dict[str, float | np.ndarray]:
    """Vacancy concentrations of intrinsic Schottky disorder in a host A_a B_b … .

    The reaction ∅ → a V_A + b V_B + … (one formula unit removed) and the law of mass action
    Π_k ([V_k]/N_k)^{a_k} = exp(−ΔG_S/k_BT), with the vacancies made in the stoichiometric
    ratio [V_k] = a_k u (which, for a neutral host, is also charge neutrality, e.g.
    [V_Li'] = 2[V_S^••] in Li₂S), give

    .. math::  u = \\Big[\\prod_k (N_k/a_k)^{a_k}\\, e^{-\\Delta G_S/k_BT}\\Big]^{1/\\sum_k a_k}

    With N_k = a_k (per formula unit, the default) every sublattice has the site fraction
    exp(−ΔG_S / (Σa_k) k_BT): exp(−ΔG/2kT) for MX, exp(−ΔG/3kT) for M₂X (dilute limit;
    Maier, *Physical Chemistry of Ionic Materials*, Wiley 2004, §5.3).

    Args:
        dG_eV: Schottky formation free energy ΔG_S (per formula unit removed) in eV.
        T_K: Temperature in K (> 0).
        host: The host formula (its integer formula unit gives a_k).
        site_densities: Regular-site density N_k per element in any unit (per m³…); default
            the amounts of the formula unit (concentrations per formula unit).

    Returns:
        ``{element: [V_element]}`` in the unit of the site densities.

    Raises:
        InputError: For a non-positive temperature or density, or densities that do not name
            exactly the host's elements.

    Example:
        >>> c = schottky_concentrations(1.5, 800.0, "Li2S")   # per formula unit
        >>> round(c["Li"] / c["S"], 12), f"{c['S']:.3e}"
        (2.0, '7.082e-04')
    """
    t = _temperature(T_K)
    g = _finite(dG_eV, "dG_eV")
    comp = host if isinstance(host, Composition) else Composition(host)
    a = {el: float(n) for el, n in comp.reduced().amounts.items()}
    if site_densities is None:
        dens = dict(a)
    else:
        if set(site_densities) != set(a):
            raise InputError(
                f"site_densities must name the elements of {comp.formula} ({', '.join(a)}), "
                f"got {', '.join(site_densities)}"
            )
        dens = {el: float(_positive(site_densities[el], f"site_densities[{el!r}]")) for el in a}
    total = sum(a.values())
    log_u = (
        sum(ak * (math.log(dens[el]) - math.log(ak)) for el, ak in a.items())
        - g / (BOLTZMANN_EV_K * t)
    ) / total
    return {el: _out(ak * np.exp(log_u)) for el, ak in a.items()}


# ------------------------------------------------------------------------------------------
# The general solver
# ------------------------------------------------------------------------------------------

#: Site fraction above which a dilute-limit result is warned about (use ``site_exclusion``).
DILUTE_LIMIT_SITE_FRACTION = 0.05
#: The bracket for E_F grows (doubling) up to this distance from its start before giving up.
FERMI_SEARCH_LIMIT_EV = 1.0e4
#: Absolute tolerance on the Fermi level of the neutrality root (eV).
FERMI_LEVEL_XTOL_EV = 1.0e-13
#: Relative temperature step of the central difference d ln c / d(−1/kT).
SHARE_RELATIVE_DT = 1.0e-3

_DEFECT_KINDS = ("vacancy", "interstitial", "substitutional", "lattice", "other")
_ELECTRON_NAME = "e'"
_HOLE_NAME = "h^•"


@dataclass(frozen=True, eq=False)
class Defect:
    """One defect of an equilibrium model.

    Attributes:
        name: A label (a Kröger–Vink symbol from :meth:`from_symbol`).
        formation_energy_eV: E_0, the formation energy at E_F = 0 (valence-band maximum)
            and every μ_i = 0 (the reference state of the chemical potentials).
        charge: Effective charge q.
        atoms_added: n_i per element: +1 for an atom added to the crystal, −1 for one removed.
        site_density: Sites available to the defect, N, in the concentration unit of the model
            (1 for site fractions, or per formula unit, per cm³ …).
        degeneracy: Configurational (orientational, spin) degeneracy g (> 0).
        migration_energy_eV: E_m if the defect is mobile, else None (for Brouwer regimes).
        kind: ``vacancy``, ``interstitial``, ``substitutional``, ``lattice`` or ``other``.
        site: The sublattice label; defects with one label compete for its sites when the
            model uses ``site_exclusion``. None gives each defect sites of its own.
    """

    name: str
    formation_energy_eV: float
    charge: int
    atoms_added: Mapping[str, float] = field(default_factory=dict)
    site_density: float = 1.0
    degeneracy: float = 1.0
    migration_energy_eV: float | None = None
    kind: str = "other"
    site: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"a defect's name must be a non-empty string, got {self.name!r}")
        where = f"defect {self.name!r}"
        if isinstance(self.charge, bool) or not isinstance(self.charge, (int, np.integer)):
            raise InputError(f"{where}: charge must be an integer, got {self.charge!r}")
        object.__setattr__(self, "charge", int(self.charge))
        _finite(self.formation_energy_eV, f"{where}: formation_energy_eV")
        _positive(self.site_density, f"{where}: site_density")
        _positive(self.degeneracy, f"{where}: degeneracy")
        if self.migration_energy_eV is not None:
            _finite(self.migration_energy_eV, f"{where}: migration_energy_eV")
        if self.kind not in _DEFECT_KINDS:
            raise InputError(f"{where}: kind must be one of {', '.join(_DEFECT_KINDS)}")
        atoms = dict(self.atoms_added)
        for el, n in atoms.items():
            if el not in _ELEMENTS:
                raise InputError(f"{where}: atoms_added names unknown element {el!r}")
            _finite(n, f"{where}: atoms_added[{el!r}]")
        object.__setattr__(self, "atoms_added", {el: float(n) for el, n in atoms.items()})

    @classmethod
    def from_symbol(
        cls,
        symbol: str,
        formation_energy_eV: float,
        *,
        site_density: float = 1.0,
        degeneracy: float = 1.0,
        migration_energy_eV: float | None = None,
    ) -> Defect:
        """A defect whose charge, atoms, kind and site come from its Kröger–Vink symbol.

        Example:
            >>> d = Defect.from_symbol("V_Li'", 0.8, migration_energy_eV=0.3)
            >>> d.name, d.charge, d.atoms_added, d.kind, d.site
            ("V_Li'", -1, {'Li': -1.0}, 'vacancy', 'Li')
        """
        kv = parse_kroger_vink(symbol)
        if kv.kind in ("perfect", "electron", "hole"):
            raise InputError(
                f"symbol {symbol!r} is not a lattice defect (electrons and holes come from "
                "bands=Bands(...))"
            )
        return cls(
            name=kv.format("unicode"),
            formation_energy_eV=formation_energy_eV,
            charge=kv.charge,
            atoms_added=kv.atoms_added(),
            site_density=site_density,
            degeneracy=degeneracy,
            migration_energy_eV=migration_energy_eV,
            kind=kv.kind,
            site=kv.site,
        )

    def formation_energy(self, fermi_level_eV: float, mu: Mapping[str, float]) -> float:
        """E_f = E_0 + q E_F − Σ n_i μ_i (Freysoldt et al., Rev. Mod. Phys. 86, 253 (2014))."""
        return (
            self.formation_energy_eV
            + self.charge * fermi_level_eV
            - sum(n * mu[el] for el, n in self.atoms_added.items())
        )


@dataclass(frozen=True)
class Dopant:
    """A charged species at a fixed concentration (an aliovalent dopant frozen in).

    Attributes:
        name: A label (``"Al_Li^••"``).
        charge: Effective charge.
        concentration: Fixed concentration, in the model's concentration unit (≥ 0).
    """

    name: str
    charge: int
    concentration: float

    def __post_init__(self) -> None:
        if isinstance(self.charge, bool) or not isinstance(self.charge, (int, np.integer)):
            raise InputError(f"dopant {self.name!r}: charge must be an integer")
        c = float(self.concentration)
        if not math.isfinite(c) or c < 0:
            raise InputError(
                f"dopant {self.name!r}: concentration must be finite and ≥ 0, got {c!r}"
            )


@dataclass(frozen=True)
class Bands:
    """Band edges and effective densities of states for electrons and holes.

    The valence-band maximum is E_F = 0 and the conduction-band minimum the band gap. With
    ``statistics="boltzmann"`` n = N_c exp(−(E_g − E_F)/kT) and p = N_v exp(−E_F/kT); with
    ``"fermi-dirac"`` the exponentials become the Fermi–Dirac integral F_½ (parabolic bands;
    e.g. Sze & Ng, *Physics of Semiconductor Devices*, Wiley 2007, §1.5). N_c and N_v are
    taken as independent of temperature.

    Attributes:
        band_gap_eV: E_g (> 0).
        conduction_dos: N_c, in the model's concentration unit.
        valence_dos: N_v, in the same unit.
        statistics: ``"boltzmann"`` or ``"fermi-dirac"``.
    """

    band_gap_eV: float
    conduction_dos: float
    valence_dos: float
    statistics: str = "boltzmann"

    def __post_init__(self) -> None:
        _positive(self.band_gap_eV, "bands.band_gap_eV")
        _positive(self.conduction_dos, "bands.conduction_dos")
        _positive(self.valence_dos, "bands.valence_dos")
        if self.statistics not in ("boltzmann", "fermi-dirac"):
            raise InputError(
                f"bands.statistics must be 'boltzmann' or 'fermi-dirac', got {self.statistics!r}"
            )


_GL_X, _GL_W = np.polynomial.legendre.leggauss(48)
_FD_SERIES_K = np.arange(1, 61, dtype=np.float64)


def _gauss_legendre(f: Callable[[np.ndarray], np.ndarray], a: float, b: float) -> float:
    half = 0.5 * (b - a)
    return float(half * np.dot(_GL_W, f(half * _GL_X + 0.5 * (a + b))))


def log_fermi_dirac_half(eta: float) -> float:
    """ln F_½(η), the normalised complete Fermi–Dirac integral of order ½.

    .. math::  F_{1/2}(\\eta) = \\frac{2}{\\sqrt\\pi}\\int_0^\\infty
               \\frac{\\sqrt{x}\\,dx}{1 + e^{x-\\eta}}

    so that n = N_c F_½((E_F − E_c)/kT) → N_c e^η for η ≪ 0. For η < −1 the alternating series
    Σ (−1)^{k+1} e^{kη}/k^{3/2} (60 terms); otherwise 48-point Gauss–Legendre panels around the
    Fermi edge (√x substitution at 0). Relative accuracy ~1e-13.

    Example:
        >>> round(float(np.exp(log_fermi_dirac_half(0.0))), 10)   # (1 − 2^{-1/2}) ζ(3/2)
        0.7651470246
    """
    eta = float(eta)
    if not math.isfinite(eta):
        raise InputError(f"eta must be finite, got {eta!r}")
    if eta < -1.0:
        k = _FD_SERIES_K[: min(_FD_SERIES_K.size, int(40.0 / -eta) + 2)]  # e^{kη} < 1e-17
        signs = np.where(k % 2 == 1, 1.0, -1.0)
        s = float(np.sum(signs * np.exp((k - 1.0) * eta) / k**1.5))
        return eta + math.log(s)

    def integrand(x: np.ndarray) -> np.ndarray:
        return np.sqrt(x) * expit(eta - x)

    def integrand_t(t: np.ndarray) -> np.ndarray:  # x = t², dx = 2t dt
        return 2.0 * t * t * expit(eta - t * t)

    low = max(eta - 40.0, 0.0)
    total = 2.0 / 3.0 * low**1.5  # below the edge the occupation is 1 to e^-40
    points = sorted(
        {low, max(eta - 10.0, low), max(eta - 2.0, low), max(eta, low), eta + 2.0, eta + 10.0}
        | {eta + 25.0, eta + 45.0}
    )
    for a, b in itertools.pairwise(points):
        if b <= a:
            continue
        if a == 0.0:
            total += _gauss_legendre(integrand_t, 0.0, math.sqrt(b))
        else:
            total += _gauss_legendre(integrand, a, b)
    return math.log(2.0 / math.sqrt(math.pi) * total)


def _lse(x: np.ndarray) -> float:
    """log Σ exp(x) without overflow; −inf for an empty array."""
    if x.size == 0:
        return -math.inf
    m = float(np.max(x))
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.sum(np.exp(x - m))))


class _Model:
    """A defect model compiled to arrays; charge and concentrations as functions of E_F."""

    def __init__(
        self,
        defects: Sequence[Defect],
        dopants: Sequence[Dopant],
        bands: Bands | None,
        site_exclusion: bool,
    ) -> None:
        if isinstance(defects, Defect) or not isinstance(defects, Iterable):
            raise InputError("defects must be a sequence of Defect")
        defects = list(defects)
        if not defects:
            raise InputError("defects is empty: give at least one Defect")
        if not all(isinstance(d, Defect) for d in defects):
            raise InputError("defects must hold Defect objects (see Defect.from_symbol)")
        dopants = list(dopants or ())
        if not all(isinstance(d, Dopant) for d in dopants):
            raise InputError("dopants must hold Dopant objects")
        if bands is not None and not isinstance(bands, Bands):
            raise InputError(f"bands must be a Bands or None, got {bands!r}")
        names = [d.name for d in defects] + [d.name for d in dopants]
        if bands is not None:
            names += [_ELECTRON_NAME, _HOLE_NAME]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise InputError(f"defects and dopants need distinct names; repeated: {dup}")
        self.defects = defects
        self.dopants = dopants
        self.bands = bands
        self.site_exclusion = bool(site_exclusion)
        self.names = [d.name for d in defects]
        self.q = np.array([d.charge for d in defects], dtype=np.float64)
        self.e0 = np.array([d.formation_energy_eV for d in defects], dtype=np.float64)
        self.log_n_sites = np.log([d.site_density for d in defects])
        self.log_g = np.log([d.degeneracy for d in defects])
        self.elements = sorted({el for d in defects for el, n in d.atoms_added.items() if n})
        self.n = np.array(
            [[d.atoms_added.get(el, 0.0) for el in self.elements] for d in defects],
            dtype=np.float64,
        ).reshape(len(defects), len(self.elements))
        self.pos = self.q > 0
        self.neg = self.q < 0
        self.log_q_pos = np.log(self.q[self.pos])
        self.log_q_neg = np.log(-self.q[self.neg])
        dop_pos = sum(d.charge * d.concentration for d in dopants if d.charge > 0)
        dop_neg = sum(-d.charge * d.concentration for d in dopants if d.charge < 0)
        self.log_dop_pos = math.log(dop_pos) if dop_pos > 0 else -math.inf
        self.log_dop_neg = math.log(dop_neg) if dop_neg > 0 else -math.inf
        self.groups: list[np.ndarray] = []
        if self.site_exclusion:
            labels: dict[object, list[int]] = {}
            for k, d in enumerate(defects):
                labels.setdefault(d.site if d.site is not None else ("own", k), []).append(k)
            for label, idx in labels.items():
                dens = {defects[k].site_density for k in idx}
                if len(dens) > 1:
                    raise InputError(
                        f"defects on site {label!r} share its sites but give different "
                        f"site_density values {sorted(dens)}"
                    )
                self.groups.append(np.array(idx))

    def mu_vector(self, mu: Mapping[str, float]) -> np.ndarray:
        if not isinstance(mu, Mapping):
            raise InputError(f"mu must be a mapping {{element: μ in eV}}, got {mu!r}")
        missing = [el for el in self.elements if el not in mu]
        if missing:
            raise InputError(
                f"mu lacks the chemical potential of {', '.join(missing)}, which the defects "
                "add or remove (give μ in eV relative to the reference of E_0)"
            )
        return np.array([float(_finite(mu[el], f"mu[{el!r}]")) for el in self.elements])

    def log_defects(self, ef: float, mu_vec: np.ndarray, kT: float) -> np.ndarray:
        energy = self.e0 + self.q * ef - self.n @ mu_vec
        a = self.log_g - energy / kT
        out = self.log_n_sites + a
        for idx in self.groups:  # c = N g e^{-E/kT} / (1 + Σ_group g e^{-E/kT})
            out[idx] -= np.logaddexp(0.0, _lse(a[idx]))
        return out

    def log_carriers(self, ef: float, kT: float) -> tuple[float, float]:
        b = self.bands
        if b is None:
            return -math.inf, -math.inf
        eta_n, eta_p = (ef - b.band_gap_eV) / kT, -ef / kT
        if b.statistics == "boltzmann":
            return math.log(b.conduction_dos) + eta_n, math.log(b.valence_dos) + eta_p
        return (
            math.log(b.conduction_dos) + log_fermi_dirac_half(eta_n),
            math.log(b.valence_dos) + log_fermi_dirac_half(eta_p),
        )

    def log_charges(
        self, ef: float, mu_vec: np.ndarray, kT: float
    ) -> tuple[float, float, np.ndarray, float, float]:
        """ln(total positive charge), ln(total negative charge), and the log concentrations."""
        lc = self.log_defects(ef, mu_vec, kT)
        ln, lp = self.log_carriers(ef, kT)
        pos = np.concatenate([lc[self.pos] + self.log_q_pos, [lp, self.log_dop_pos]])
        neg = np.concatenate([lc[self.neg] + self.log_q_neg, [ln, self.log_dop_neg]])
        return _lse(pos), _lse(neg), lc, ln, lp

    def check_solvable(self) -> None:
        has_pos = bool(self.pos.any()) or self.bands is not None or self.log_dop_pos > -math.inf
        has_neg = bool(self.neg.any()) or self.bands is not None or self.log_dop_neg > -math.inf
        if not (self.pos.any() or self.neg.any() or self.bands is not None):
            raise InputError(
                "defects are all neutral and there are no bands: the Fermi level is not fixed "
                "by charge neutrality; pass fermi_level_eV="
            )
        if not has_pos or not has_neg:
            sign = "positive" if has_pos else "negative"
            raise InputError(
                f"every charged species is {sign}: no Fermi level makes the crystal neutral; "
                "add defects, dopants or bands of the other sign"
            )

    @staticmethod
    def _no_root(side: str) -> None:
        raise InputError(
            f"no charge-neutral Fermi level within ±{FERMI_SEARCH_LIMIT_EV:g} eV: the {side} "
            "charge outweighs the other sign at every E_F (fixed dopants beyond the capacity of "
            "the defects' sites?)"
        )

    def solve(self, mu_vec: np.ndarray, kT: float, guess: float | None = None) -> float:
        """The Fermi level where the total charge vanishes (f = ln P − ln M decreases in E_F)."""

        def f(ef: float) -> float:
            lp, lm, *_ = self.log_charges(ef, mu_vec, kT)
            return lp - lm

        if guess is None:
            guess = 0.5 * self.bands.band_gap_eV if self.bands is not None else 0.0
        lo, hi = guess - 0.5, guess + 0.5
        f_lo, f_hi = f(lo), f(hi)
        step = 1.0
        while f_lo < 0.0:  # the root lies below lo
            if step > FERMI_SEARCH_LIMIT_EV:
                self._no_root("negative")
            hi, f_hi = lo, f_lo
            lo -= step
            f_lo = f(lo)
            step *= 2.0
        step = 1.0
        while f_hi > 0.0:  # the root lies above hi
            if step > FERMI_SEARCH_LIMIT_EV:
                self._no_root("positive")
            lo, f_lo = hi, f_hi
            hi += step
            f_hi = f(hi)
            step *= 2.0
        if f_lo == 0.0:
            return lo
        if f_hi == 0.0:
            return hi
        return float(brentq(f, lo, hi, xtol=FERMI_LEVEL_XTOL_EV, rtol=4 * np.finfo(float).eps))


@dataclass(frozen=True)
class EquilibriumResult:
    """Defect concentrations at charge neutrality.

    Concentrations are in the unit of the site densities (site fractions when every
    ``site_density`` is 1; per formula unit, per cm³ … as the caller chose).

    Attributes:
        temperature_K: T.
        fermi_level_eV: E_F above the valence-band maximum.
        chemical_potentials_eV: The μ_i used.
        concentration: Every species (defects, dopants, ``e'`` and ``h^•``).
        concentration_per_site: Defects only, c / N_site.
        formation_energy_eV: Defects only, E_f at the Fermi level.
        charge: Effective charge of every species.
        dominant_positive: Species with the largest positive charge q·c.
        dominant_negative: Species with the largest negative charge |q|·c.
        charge_imbalance: |P − M| / max(P, M) of the total positive and negative charge.
    """

    temperature_K: float
    fermi_level_eV: float
    chemical_potentials_eV: dict[str, float]
    concentration: dict[str, float]
    concentration_per_site: dict[str, float]
    formation_energy_eV: dict[str, float]
    charge: dict[str, int]
    dominant_positive: str | None
    dominant_negative: str | None
    charge_imbalance: float

    def to_dict(self) -> dict[str, object]:
        return {
            "temperature_K": self.temperature_K,
            "fermi_level_eV": self.fermi_level_eV,
            "chemical_potentials_eV": dict(self.chemical_potentials_eV),
            "concentration": dict(self.concentration),
            "concentration_per_site": dict(self.concentration_per_site),
            "formation_energy_eV": dict(self.formation_energy_eV),
            "charge": dict(self.charge),
            "dominant_positive": self.dominant_positive,
            "dominant_negative": self.dominant_negative,
            "charge_imbalance": self.charge_imbalance,
        }


def _species_logs(
    model: _Model, lc: np.ndarray, ln: float, lp: float
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names, log concentrations and charges of every species (defects, dopants, carriers)."""
    names = list(model.names) + [d.name for d in model.dopants]
    with np.errstate(divide="ignore"):
        logs = list(lc) + [
            math.log(d.concentration) if d.concentration > 0 else -math.inf for d in model.dopants
        ]
    charges = list(model.q) + [float(d.charge) for d in model.dopants]
    if model.bands is not None:
        names += [_ELECTRON_NAME, _HOLE_NAME]
        logs += [ln, lp]
        charges += [-1.0, 1.0]
    return names, np.array(logs), np.array(charges)


def _role(model: _Model, name: str) -> str:
    if name in model.names:
        return "defect"
    return "carrier" if name in (_ELECTRON_NAME, _HOLE_NAME) else "dopant"


def _dominant(names: list[str], logs: np.ndarray, charges: np.ndarray, sign: int) -> str | None:
    sel = np.flatnonzero(np.sign(charges) == sign)
    if sel.size == 0:
        return None
    w = logs[sel] + np.log(np.abs(charges[sel]))
    if not np.isfinite(w).any():
        return None
    return names[int(sel[np.argmax(w)])]


def _warn_dilute(model: _Model, max_fraction: float, max_name: str) -> None:
    if not model.site_exclusion and max_fraction > DILUTE_LIMIT_SITE_FRACTION:
        warnings.warn(
            f"{max_name} reaches {max_fraction:.3g} per site, beyond the dilute limit "
            f"({DILUTE_LIMIT_SITE_FRACTION:g}) of c = N g exp(−E_f/kT); solve with "
            "site_exclusion=True or check the formation energies",
            RuntimeWarning,
            stacklevel=3,
        )


def solve_equilibrium(
    defects: Sequence[Defect],
    mu: Mapping[str, float],
    T_K: float,
    *,
    dopants: Sequence[Dopant] = (),
    bands: Bands | None = None,
    site_exclusion: bool = False,
    fermi_level_eV: float | None = None,
) -> EquilibriumResult:
    """Concentrations of a defect set at the Fermi level that makes the crystal neutral.

    Each defect has E_f = E_0 + q E_F − Σ_i n_i μ_i (Freysoldt et al., *Rev. Mod. Phys.* 86,
    253 (2014); Van de Walle & Neugebauer, *J. Appl. Phys.* 95, 3851 (2004)) and, in the
    dilute limit, c = N g exp(−E_f/k_BT) (Maier, *Physical Chemistry of Ionic Materials*,
    2004). With ``site_exclusion=True`` the defects sharing a ``site`` label obey lattice-gas
    (Fermi–Dirac-like) statistics, c_k = N g_k e^{−E_k/kT} / (1 + Σ_j g_j e^{−E_j/kT}), so
    that they never fill more than the N sites. E_F solves

    .. math::  \\sum_X q_X c_X(E_F) + p(E_F) - n(E_F) + \\sum_D q_D c_D = 0,

    found as the root of ln P(E_F) − ln M(E_F) (positive against negative charge, each a
    log-sum-exp), which decreases monotonically in E_F: the bracket starts around mid-gap and
    doubles outward (beyond the gap if needed), then Brent's method converges to 1e-13 eV.

    Args:
        defects: The defects (at least one); see :class:`Defect` and :meth:`Defect.from_symbol`.
        mu: Chemical potential μ_i (eV) of every element the defects add or remove, relative to
            the reference of E_0.
        T_K: Temperature in K (> 0).
        dopants: Charged species at fixed concentrations.
        bands: Electrons and holes (band gap, N_c, N_v); None for an ionic-only model.
        site_exclusion: Lattice-gas statistics instead of the dilute limit.
        fermi_level_eV: Evaluate at this Fermi level instead of solving for neutrality (a
            Fermi level pinned from outside); the imbalance is then reported, not zeroed.

    Returns:
        An :class:`EquilibriumResult`.

    Raises:
        InputError: For an empty defect set, a non-positive temperature, a missing μ, or a
            model no Fermi level can neutralise (all charges of one sign).

    Warns:
        RuntimeWarning: If, in the dilute limit, a defect fills more than
            :data:`DILUTE_LIMIT_SITE_FRACTION` of its sites.

    Example:
        >>> defects = [Defect.from_symbol("V_Li'", 0.6), Defect.from_symbol("Li_i^•", 0.4)]
        >>> r = solve_equilibrium(defects, {"Li": 0.0}, 600.0)
        >>> c = r.concentration_per_site
        >>> f"{c['Li_i^•']:.2e}", r.dominant_positive, r.dominant_negative
        ('6.31e-05', 'Li_i^•', "V_Li'")
    """
    model = _Model(defects, dopants, bands, site_exclusion)
    t = float(_temperature(T_K))
    mu_vec = model.mu_vector(mu)
    kT = BOLTZMANN_EV_K * t
    if fermi_level_eV is None:
        model.check_solvable()
        ef = model.solve(mu_vec, kT)
    else:
        ef = float(_finite(fermi_level_eV, "fermi_level_eV"))
    lp_tot, lm_tot, lc, ln, lp = model.log_charges(ef, mu_vec, kT)
    names, logs, charges = _species_logs(model, lc, ln, lp)
    imbalance = (
        0.0 if lp_tot == lm_tot else float(-np.expm1(-abs(lp_tot - lm_tot)))
    )  # |P−M|/max(P,M)
    per_site = lc - model.log_n_sites
    k_max = int(np.argmax(per_site))
    _warn_dilute(model, float(np.exp(per_site[k_max])), model.names[k_max])
    mu_used = {el: float(v) for el, v in zip(model.elements, mu_vec, strict=True)}
    return EquilibriumResult(
        temperature_K=t,
        fermi_level_eV=ef,
        chemical_potentials_eV=mu_used,
        concentration={n: float(np.exp(v)) for n, v in zip(names, logs, strict=True)},
        concentration_per_site={
            n: float(np.exp(v)) for n, v in zip(model.names, per_site, strict=True)
        },
        formation_energy_eV={d.name: d.formation_energy(ef, mu_used) for d in model.defects},
        charge={n: int(q) for n, q in zip(names, charges, strict=True)},
        dominant_positive=_dominant(names, logs, charges, 1),
        dominant_negative=_dominant(names, logs, charges, -1),
        charge_imbalance=imbalance,
    )


# ------------------------------------------------------------------------------------------
# Brouwer diagrams
# ------------------------------------------------------------------------------------------


def oxygen_chemical_potential_eV(
    pO2: float | np.ndarray,
    T_K: float | np.ndarray,
    mu_O_standard_eV: float = 0.0,
    p0: float = 1.0,
) -> float | np.ndarray:
    """μ_O = μ_O^0 + ½ k_B T ln(pO₂/p⁰) (ideal gas; ½ because O₂ holds two atoms).

    Args:
        pO2: Oxygen partial pressure (> 0), in the unit of ``p0``.
        T_K: Temperature in K.
        mu_O_standard_eV: μ_O^0 at p⁰ and T (half the O₂ standard chemical potential, on the
            reference of the defect energies).
        p0: Standard pressure, in the unit of ``pO2`` (1 bar when pO2 is in bar).

    Example:
        >>> round(oxygen_chemical_potential_eV(1e-20, 1000.0, -1.0), 4)
        -2.9842
    """
    t = _temperature(T_K)
    p = _positive(pO2, "pO2")
    p_ref = float(_positive(p0, "p0"))
    mu0 = _finite(mu_O_standard_eV, "mu_O_standard_eV")
    return _out(mu0 + 0.5 * BOLTZMANN_EV_K * t * np.log(p / p_ref))


@dataclass(frozen=True)
class BrouwerRegime:
    """Consecutive points with one dominant mobile defect and one majority counter-charge.

    Attributes:
        carrier: The dominant mobile defect (largest concentration among those with a
            migration energy; among all defects if none has one).
        mechanism: Its kind: ``vacancy``, ``interstitial``, ``substitutional``, ….
        compensated_by: The species of opposite charge with the largest |q|·c (its
            neutrality partner, e.g. ``Li_i^•`` in the intrinsic Frenkel regime), or None.
        start: First value of the swept variable in the regime.
        stop: Last value.
        n_points: Number of points.
        formation_share_eV: Median over the regime of d ln c / d(−1/k_BT) of the carrier
            (E_f/2 in intrinsic Frenkel or binary Schottky disorder, 0 when fixed by a dopant).
        formation_share_range_eV: (min, max) of that slope over the regime.
        migration_energy_eV: E_m of the carrier (None if not mobile).
        activation_energy_eV: formation_share_eV + E_m (None without E_m).
    """

    carrier: str
    mechanism: str
    compensated_by: str | None
    start: float
    stop: float
    n_points: int
    formation_share_eV: float
    formation_share_range_eV: tuple[float, float]
    migration_energy_eV: float | None
    activation_energy_eV: float | None

    def to_dict(self) -> dict[str, object]:
        return {
            "carrier": self.carrier,
            "mechanism": self.mechanism,
            "compensated_by": self.compensated_by,
            "start": self.start,
            "stop": self.stop,
            "n_points": self.n_points,
            "formation_share_eV": self.formation_share_eV,
            "formation_share_range_eV": list(self.formation_share_range_eV),
            "migration_energy_eV": self.migration_energy_eV,
            "activation_energy_eV": self.activation_energy_eV,
        }


@dataclass(frozen=True, eq=False)
class BrouwerResult:
    """Equilibria along a sweep of μ_X, pO₂ or a dopant concentration.

    Attributes:
        variable: What was swept (``"mu_Li"``, ``"pO2"``, ``"dopant:Al_Li^••"``).
        values: The swept values (eV for μ; pressure ratio pO₂/p⁰; concentration).
        temperature_K: T.
        fermi_level_eV: E_F at each point.
        log10_concentration: log10 c of every species at each point (no overflow).
        concentration: c of every species at each point (unit of the site densities).
        charge: Effective charge of every species.
        role: ``"defect"``, ``"dopant"`` or ``"carrier"`` (e', h^•) for every species.
        formation_share_eV: d ln c / d(−1/k_BT) of every species at each point, by central
            differences at T(1 ± 1e-3) with the swept quantity held fixed.
        dominant: The dominant mobile defect at each point.
        compensated_by: Its majority counter-charge at each point.
        charge_imbalance: |P − M| / max(P, M) at each point.
        regimes: The :class:`BrouwerRegime` list, in sweep order.
    """

    variable: str
    values: np.ndarray
    temperature_K: float
    fermi_level_eV: np.ndarray
    log10_concentration: dict[str, np.ndarray]
    concentration: dict[str, np.ndarray]
    charge: dict[str, int]
    role: dict[str, str]
    formation_share_eV: dict[str, np.ndarray]
    dominant: tuple[str, ...]
    compensated_by: tuple[str | None, ...]
    charge_imbalance: np.ndarray
    regimes: tuple[BrouwerRegime, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready; concentrations as log10 (they may span hundreds of decades)."""
        return {
            "variable": self.variable,
            "values": self.values.tolist(),
            "temperature_K": self.temperature_K,
            "fermi_level_eV": self.fermi_level_eV.tolist(),
            "log10_concentration": {k: v.tolist() for k, v in self.log10_concentration.items()},
            "charge": dict(self.charge),
            "role": dict(self.role),
            "formation_share_eV": {k: v.tolist() for k, v in self.formation_share_eV.items()},
            "dominant": list(self.dominant),
            "compensated_by": list(self.compensated_by),
            "charge_imbalance": self.charge_imbalance.tolist(),
            "regimes": [r.to_dict() for r in self.regimes],
        }


def brouwer_diagram(
    defects: Sequence[Defect],
    vary: str,
    values: Sequence[float] | np.ndarray,
    *,
    T_K: float,
    fixed_mu: Mapping[str, float] | None = None,
    dopants: Sequence[Dopant] = (),
    bands: Bands | None = None,
    site_exclusion: bool = False,
) -> BrouwerResult:
    """Solve the neutrality condition along a sweep and find the transport regimes.

    ``vary`` picks the swept quantity:

    - ``"mu_X"`` (e.g. ``"mu_Li"``): μ_X in eV; every other μ from ``fixed_mu``.
    - ``"pO2"``: the oxygen pressure ratio pO₂/p⁰, with
      μ_O = μ_O^0 + ½ k_BT ln(pO₂/p⁰) (:func:`oxygen_chemical_potential_eV`), where
      ``fixed_mu["O"]`` is μ_O^0.
    - ``"dopant:NAME"``: the concentration of the dopant ``NAME`` (one of ``dopants``).

    At each point the dominant mobile defect is the one with the largest concentration among
    the defects with a migration energy. A regime is a run of consecutive points with the same
    dominant mobile defect and the same majority counter-charge (the Brouwer approximation
    of the neutrality condition, e.g. [V_Li'] = [Li_i^•] or [V_Li'] = [h^•]). Its effective
    activation energy for conduction is E_a = d ln c/d(−1/k_BT) + E_m: the slope is E_f/2 in
    intrinsic Frenkel (or binary Schottky) disorder, 0 for a carrier fixed by a dopant and the
    full E_f for a minority carrier against a fixed majority (Maier 2004, §5.7; Kröger,
    *The Chemistry of Imperfect Crystals*, North-Holland 1964). The slope is taken numerically
    from solutions at T(1 ± 1e-3) with the swept quantity (μ, pO₂ with μ_O^0, or the dopant
    concentration) held fixed.

    Args:
        defects: The defects; give ``migration_energy_eV`` to the mobile ones.
        vary: ``"mu_X"``, ``"pO2"`` or ``"dopant:NAME"``.
        values: The values of the swept quantity (≥ 2; > 0 for pO2 and dopants).
        T_K: Temperature in K.
        fixed_mu: μ (eV) of the other elements the defects exchange.
        dopants: Fixed charged species.
        bands: Electrons and holes, or None.
        site_exclusion: Lattice-gas statistics instead of the dilute limit.

    Returns:
        A :class:`BrouwerResult`.

    Raises:
        InputError: For an unknown ``vary``, a μ given twice, too few or bad values, or any
            error of :func:`solve_equilibrium`.

    Example:
        Frenkel pairs (ΔG_F = 1.4 eV) in a 3 eV gap, concentrations per site:

        >>> defects = [Defect.from_symbol("V_Li'", 0.7, migration_energy_eV=0.3),
        ...            Defect.from_symbol("Li_i^•", 0.7, migration_energy_eV=0.2)]
        >>> res = brouwer_diagram(defects, "mu_Li", np.linspace(0.05, 2.95, 30), T_K=600.0,
        ...                       bands=Bands(3.0, 1.0, 1.0))
        >>> for r in res.regimes:
        ...     print(f"{r.carrier:7} {r.mechanism:12} [{r.compensated_by}] "
        ...           f"mu_Li {r.start:.2f}..{r.stop:.2f} eV, Ea ≈ {r.activation_energy_eV:.2f} eV")
        V_Li'   vacancy      [h^•] mu_Li 0.05..0.65 eV, Ea ≈ 0.83 eV
        V_Li'   vacancy      [Li_i^•] mu_Li 0.75..1.45 eV, Ea ≈ 1.00 eV
        Li_i^•  interstitial [V_Li'] mu_Li 1.55..2.25 eV, Ea ≈ 0.90 eV
        Li_i^•  interstitial [e'] mu_Li 2.35..2.95 eV, Ea ≈ 0.73 eV
    """
    model = _Model(defects, dopants, bands, site_exclusion)
    t = float(_temperature(T_K))
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.all(np.isfinite(x)):
        raise InputError("values must be a 1-D sequence of at least two finite numbers")
    fixed = dict(fixed_mu or {})
    dopant_index: int | None = None
    if vary.startswith("mu_"):
        el = vary[3:]
        if el not in _ELEMENTS:
            raise InputError(f"vary={vary!r}: {el!r} is not an element")
        if el in fixed:
            raise InputError(f"fixed_mu gives μ_{el}, which vary={vary!r} sweeps; leave it out")

        def mu_at(v: float, _t: float) -> dict[str, float]:
            return {**fixed, el: v}

    elif vary == "pO2":
        if "O" not in fixed:
            raise InputError("vary='pO2' needs fixed_mu['O'], the standard μ_O^0 at p0")
        _positive(x, "values (pO2)")

        def mu_at(v: float, tt: float) -> dict[str, float]:
            mu_o = oxygen_chemical_potential_eV(v, tt, fixed["O"])
            return {**fixed, "O": float(mu_o)}

    elif vary.startswith("dopant:"):
        name = vary[len("dopant:") :]
        hits = [k for k, d in enumerate(model.dopants) if d.name == name]
        if not hits:
            raise InputError(
                f"vary={vary!r}: no dopant named {name!r} among {[d.name for d in model.dopants]}"
            )
        dopant_index = hits[0]
        _positive(x, "values (dopant concentrations)")

        def mu_at(v: float, _t: float) -> dict[str, float]:
            return fixed

    else:
        raise InputError(f"vary must be 'mu_X', 'pO2' or 'dopant:NAME', got {vary!r}")

    dt = SHARE_RELATIVE_DT * t
    temps = (t, t - dt, t + dt)
    guesses: list[float | None] = [None, None, None]
    n_pts = x.size
    n_species = len(model.names) + len(model.dopants) + (2 if model.bands is not None else 0)
    logs = np.empty((3, n_pts, n_species))
    ef_out = np.empty(n_pts)
    imbalance = np.empty(n_pts)
    names: list[str] = []
    charges = np.zeros(n_species)
    max_fraction, max_name = -math.inf, ""
    for i, v in enumerate(x):
        if dopant_index is not None:
            dops = list(model.dopants)
            d = dops[dopant_index]
            dops[dopant_index] = Dopant(d.name, d.charge, float(v))
            point = _Model(model.defects, dops, model.bands, model.site_exclusion)
        else:
            point = model
        point.check_solvable()
        for j, tt in enumerate(temps):
            kT = BOLTZMANN_EV_K * tt
            mu_vec = point.mu_vector(mu_at(float(v), tt))
            ef = point.solve(mu_vec, kT, guesses[j])
            guesses[j] = ef
            lp_tot, lm_tot, lc, ln, lp = point.log_charges(ef, mu_vec, kT)
            names, logs[j, i], charges = _species_logs(point, lc, ln, lp)
            if j == 0:
                ef_out[i] = ef
                imbalance[i] = 0.0 if lp_tot == lm_tot else -np.expm1(-abs(lp_tot - lm_tot))
                per_site = lc - point.log_n_sites
                k = int(np.argmax(per_site))
                if per_site[k] > max_fraction:
                    max_fraction, max_name = float(per_site[k]), point.names[k]
    _warn_dilute(model, math.exp(max_fraction), max_name)

    beta = 1.0 / (BOLTZMANN_EV_K * np.array(temps))
    with np.errstate(invalid="ignore"):
        slope = -(logs[2] - logs[1]) / (beta[2] - beta[1])  # d ln c / d(−β)
    slope[~np.isfinite(slope)] = 0.0  # a species at zero concentration (a zero dopant)

    n_def = len(model.names)
    mobile = [k for k, d in enumerate(model.defects) if d.migration_energy_eV is not None]
    candidates = np.array(mobile if mobile else range(n_def))
    dominant_idx = candidates[np.argmax(logs[0][:, candidates], axis=1)]
    dominant = tuple(names[k] for k in dominant_idx)
    partners: list[str | None] = []
    for i, k in enumerate(dominant_idx):
        sign = int(np.sign(charges[k]))
        partners.append(None if sign == 0 else _dominant(names, logs[0, i], charges, -sign))

    regimes: list[BrouwerRegime] = []
    start = 0
    for i in range(1, n_pts + 1):
        if i < n_pts and dominant_idx[i] == dominant_idx[start] and partners[i] == partners[start]:
            continue
        k = int(dominant_idx[start])
        d = model.defects[k]
        s = slope[start:i, k]
        share = float(np.median(s))
        em = d.migration_energy_eV
        regimes.append(
            BrouwerRegime(
                carrier=d.name,
                mechanism=d.kind,
                compensated_by=partners[start],
                start=float(x[start]),
                stop=float(x[i - 1]),
                n_points=i - start,
                formation_share_eV=share,
                formation_share_range_eV=(float(s.min()), float(s.max())),
                migration_energy_eV=em,
                activation_energy_eV=None if em is None else share + float(em),
            )
        )
        start = i

    log10 = logs[0] / math.log(10.0)
    return BrouwerResult(
        variable=vary,
        values=x,
        temperature_K=t,
        fermi_level_eV=ef_out,
        log10_concentration={n: log10[:, k].copy() for k, n in enumerate(names)},
        concentration={n: np.exp(logs[0][:, k]) for k, n in enumerate(names)},
        charge={n: int(q) for n, q in zip(names, charges, strict=True)},
        role={n: _role(model, n) for n in names},
        formation_share_eV={n: slope[:, k].copy() for k, n in enumerate(names)},
        dominant=dominant,
        compensated_by=tuple(partners),
        charge_imbalance=imbalance,
        regimes=tuple(regimes),
    )


def _mathtext(name: str) -> str:
    """A Kröger–Vink name as matplotlib mathtext (``V_Li'`` → V with subscript Li, prime)."""
    try:
        d = parse_kroger_vink(name)
    except InputError:
        return name
    if d.charge > 0:
        marks = r"\bullet" * d.charge
    elif d.charge < 0:
        marks = r"\prime" * -d.charge
    else:
        marks = r"\times"
    site = rf"_{{\mathrm{{{d.site}}}}}" if d.site else ""
    return rf"$\mathrm{{{d.species}}}{site}^{{{marks}}}$" if d.species else name


def plot_brouwer(result: BrouwerResult, ax=None, *, species: Sequence[str] | None = None):
    """Draw log10 concentration against the swept variable, with the regimes shaded.

    Defects are solid lines, electrons and holes dashed, fixed dopants dotted. Each regime is
    a shaded band labelled with its carrier, mechanism and E_a. pO₂ and dopant sweeps are
    drawn against log10 of the value. Returns the matplotlib Axes.

    Args:
        result: A :class:`BrouwerResult`.
        ax: Axes to draw on; a new figure when None.
        species: The species to draw (default all).
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 4.0))
    log_x = result.variable == "pO2" or result.variable.startswith("dopant:")
    x = np.log10(result.values) if log_x else result.values
    chosen = list(result.log10_concentration) if species is None else list(species)
    unknown = [s for s in chosen if s not in result.log10_concentration]
    if unknown:
        raise InputError(f"species {unknown} are not in this diagram")
    line_style = {"defect": "-", "carrier": "--", "dopant": ":"}
    for name in chosen:
        y = result.log10_concentration[name]
        finite = np.isfinite(y)
        if finite.any():
            style = line_style[result.role[name]]
            ax.plot(x[finite], y[finite], style, lw=1.5, label=_mathtext(name))
    bounds = [x[0]]
    idx = 0
    for r in result.regimes[:-1]:
        idx += r.n_points
        bounds.append(0.5 * (x[idx - 1] + x[idx]))
    bounds.append(x[-1])
    for k, r in enumerate(result.regimes):
        ax.axvspan(bounds[k], bounds[k + 1], color=f"C{k % 10}", alpha=0.08, lw=0)
        label = f"{_mathtext(r.carrier)}\n{r.mechanism}"
        if r.activation_energy_eV is not None:
            label += f"\nEₐ≈{r.activation_energy_eV:.2f} eV"
        ax.text(
            0.5 * (bounds[k] + bounds[k + 1]),
            0.98,
            label,
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=7,
        )
    if result.variable.startswith("mu_"):
        xlabel = rf"$\mu_{{\mathrm{{{result.variable[3:]}}}}}$ (eV)"
    elif result.variable == "pO2":
        xlabel = r"log$_{10}$ (pO$_2$/p$^0$)"
    else:
        xlabel = f"log$_{{10}}$ [{_mathtext(result.variable[len('dopant:') :])}]"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("log$_{10}$ concentration")
    ax.set_title(f"T = {result.temperature_K:g} K", fontsize=9)
    ax.legend(frameon=False, fontsize=7, loc="lower right")
    return ax
