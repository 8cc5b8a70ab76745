"""Local structure and mechanism: g(r) and coordination, M–anion polyhedra and their network,
residence times of the mobile ion by environment, distinct-particle and van Hove correlations.
"""

from solidion.structure.correlations import (
    DistinctResult,
    VanHoveResult,
    distinct_correlation,
    distinct_correlations,
    van_hove,
)
from solidion.structure.polyhedra import FragmentResult, PolyhedraResult, fragments, polyhedra
from solidion.structure.rdf import RDFResult, first_minimum, rdf, rdf_all_pairs
from solidion.structure.residence import (
    ResidenceClass,
    ResidenceResult,
    activation_to_dict,
    assign_hosts,
    residence_activation,
    residence_times,
)
from solidion.structure.summary import (
    StructureResult,
    StructureSeries,
    analyze_structure,
    analyze_structure_series,
)

__all__ = [
    "DistinctResult",
    "FragmentResult",
    "PolyhedraResult",
    "RDFResult",
    "ResidenceClass",
    "ResidenceResult",
    "StructureResult",
    "StructureSeries",
    "VanHoveResult",
    "activation_to_dict",
    "analyze_structure",
    "analyze_structure_series",
    "assign_hosts",
    "distinct_correlation",
    "distinct_correlations",
    "first_minimum",
    "fragments",
    "polyhedra",
    "rdf",
    "rdf_all_pairs",
    "residence_activation",
    "residence_times",
    "van_hove",
]
