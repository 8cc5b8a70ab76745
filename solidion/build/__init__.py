"""Build stage: starting structures for the melt–quench and MD stages.

:func:`random_cell` packs a composition at random into a cubic periodic box (amorphous start);
:func:`from_structure` reads an existing (crystal) structure to be amorphised by the melt.
"""

from __future__ import annotations

from solidion.build.crystal import from_structure
from solidion.build.random import default_min_distances, estimate_density_g_cm3, random_cell

__all__ = ["default_min_distances", "estimate_density_g_cm3", "from_structure", "random_cell"]
