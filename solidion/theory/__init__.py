"""The theory layer: defect chemistry, hopping rates, vibrations and pathway percolation.

Conductivity is carrier concentration × mobility. The MD side of solidion measures mobilities
(and, with the full correlation picture, the Haven ratio); this layer supplies the other half
and the models that explain the numbers:

- :mod:`solidion.theory.defects` — Kröger–Vink notation, reaction balance, Schottky/Frenkel
  equilibria, a charge-neutrality solver for arbitrary defect sets and Brouwer diagrams.
- :mod:`solidion.theory.hopping` — transition-state theory, Vineyard prefactors (from frequency
  lists or from any ASE calculator through NEB + finite-difference Hessians), random-walk
  diffusivities, Nernst–Einstein with valence and the isotope effect.
- :mod:`solidion.theory.vibrations` — phonon-assisted hopping, vibrational densities of states
  from MD and soft-mode extrapolation.
- :mod:`solidion.theory.percolation` — connected migration networks and their dimensionality
  under periodic boundaries.

Submodules are imported on use (``from solidion.theory import defects``), so importing the
package is cheap.
"""

from __future__ import annotations

__all__ = ["defects", "hopping", "percolation", "vibrations"]
