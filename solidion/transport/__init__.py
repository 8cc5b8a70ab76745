"""Transport analysis: MSD, tracer and charge diffusion, Onsager matrix, conductivity three
ways, Haven ratio, transference numbers and Arrhenius fits — each with a calibrated error bar.
"""

from solidion.transport.analysis import (
    Conductivity,
    OnsagerEntry,
    SpeciesTransport,
    TransportResult,
    analyze,
    tracer_diffusivity,
)
from solidion.transport.arrhenius import ArrheniusFit, fit_arrhenius, plot_arrhenius
from solidion.transport.estimate import Estimate
from solidion.transport.msd import cross_msd_fft, diffusive_onset, msd_fft
from solidion.transport.series import TransportSeries, analyze_series

__all__ = [
    "ArrheniusFit",
    "Conductivity",
    "Estimate",
    "OnsagerEntry",
    "SpeciesTransport",
    "TransportResult",
    "TransportSeries",
    "analyze",
    "analyze_series",
    "cross_msd_fft",
    "diffusive_onset",
    "fit_arrhenius",
    "msd_fft",
    "plot_arrhenius",
    "tracer_diffusivity",
]
