"""Local structure: radial distribution functions and coordination."""

from solidion.structure.rdf import RDFResult, first_minimum, rdf

__all__ = ["RDFResult", "first_minimum", "rdf"]
