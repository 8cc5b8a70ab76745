"""Quick-look figures of the structure analyses (matplotlib, imported only when called).

Each function draws on ``ax`` (a new figure when None) and returns the Axes; nothing is shown,
so the functions work under a non-interactive backend such as Agg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from solidion.structure.polyhedra import FragmentResult, PolyhedraResult
    from solidion.structure.rdf import RDFResult

__all__ = ["plot_fragments", "plot_polyhedra", "plot_rdf"]


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(5.0, 3.5), layout="constrained")
    return ax


def plot_rdf(result: RDFResult, ax: Axes | None = None) -> Axes:
    """g_AB(r) on ``ax`` and N_AB(r) on a twin y axis, the first minimum marked.

    Returns:
        The Axes of g(r); N(r) is drawn on its twin, the next Axes in ``ax.figure.axes``.
    """
    ax = _axes(ax)
    a, b = result.pair
    ax.plot(result.r_A, result.g, color="C0", label=f"g$_{{{a}-{b}}}$(r)")
    ax.axhline(1.0, color="0.7", lw=0.8, zorder=0)
    ax.set_xlabel("r (Å)")
    ax.set_ylabel("g(r)", color="C0")
    ax.set_xlim(0, float(result.r_edges_A[-1]))
    twin = ax.twinx()
    twin.plot(result.r_edges_A, result.coordination, color="C1", ls="--")
    twin.set_ylabel(f"N$_{{{a}-{b}}}$(r)", color="C1")
    rc = result.first_minimum_A()
    if rc is not None:
        ax.axvline(rc, color="0.4", ls=":", lw=1)
        n = result.coordination_at(rc)
        ax.set_title(f"{a}–{b}: first minimum {rc:.2f} Å, N = {n:.2f}", fontsize="medium")
    else:
        ax.set_title(f"{a}–{b}", fontsize="medium")
    return ax


def plot_polyhedra(result: PolyhedraResult, ax: Axes | None = None) -> Axes:
    """Bar chart of the fraction of each polyhedron class."""
    ax = _axes(ax)
    labels = list(result.fractions)
    x = np.arange(len(labels))
    ax.bar(x, [result.fractions[k] for k in labels], color="C2")
    ax.set_xticks(x, [f"{result.center}{k}" for k in labels], rotation=45, ha="right")
    ax.set_ylabel("fraction of polyhedra")
    ax.set_ylim(0, 1)
    ax.set_title(
        f"{result.center} polyhedra, mean coordination {result.mean_coordination:.2f}",
        fontsize="medium",
    )
    return ax


def plot_fragments(result: FragmentResult, ax: Axes | None = None) -> Axes:
    """Histogram of fragment sizes (number of M per fragment, mean count per frame)."""
    ax = _axes(ax)
    sizes = np.array(sorted(result.size_histogram), dtype=int)
    counts = np.array([result.size_histogram[s] for s in sizes])
    ax.bar(sizes, counts, width=0.8, color="C3")
    ax.set_xlabel(f"fragment size (number of {result.center})")
    ax.set_ylabel("fragments per frame")
    if 0 < sizes.size <= 20:
        ax.set_xticks(sizes)
    ax.set_title(f"mean size {result.mean_size:.2f}", fontsize="medium")
    return ax
