"""Transport analysis: MSD, tracer and charge diffusion, Onsager matrix, conductivity three
ways, Haven ratio, transference numbers and Arrhenius fits — each with a calibrated error bar.
"""

from solidion.transport.analysis import (
    Conductivity,
    OnsagerEntry,
    SpeciesTransport,
    TransportResult,
    analyze,
)
from solidion.transport.estimate import Estimate
from solidion.transport.msd import cross_msd_fft, diffusive_onset, msd_fft

__all__ = [
    "Conductivity",
    "Estimate",
    "OnsagerEntry",
    "SpeciesTransport",
    "TransportResult",
    "analyze",
    "cross_msd_fft",
    "diffusive_onset",
    "msd_fft",
]
