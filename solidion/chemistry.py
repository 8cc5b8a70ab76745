"""Chemistry shared by every stage: formal charges of the ions.

The table holds the common formal oxidation states of the elements found in solid
electrolytes (alkali and alkaline-earth cations, the framework metals, the halide and
chalcogenide anions). Users override it wherever a charge is asked for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from solidion.errors import InputError

__all__ = ["FORMAL_CHARGES", "formal_charges"]

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
