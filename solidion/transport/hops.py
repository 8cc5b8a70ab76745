"""Counting hops of mobile ions: how much ionic motion a trajectory actually sampled.

A hop is counted each time an ion moves farther than ``hop_A`` from its current anchor; the
anchor then moves to where the ion is (Ferraro-style site-free counting, no site lattice
needed, so it works for glasses). Vibrations (a few tenths of an Å) never reach the usual
2 Å threshold, while Li–Li and Li–site distances in halides and oxides are 2.5–3.5 Å. The count
is the sampling statistic the convergence panel reports: a transport coefficient estimated from
a handful of hops per ion is anecdotal whatever its error bar says.
"""

from __future__ import annotations

import numpy as np

from solidion.errors import InputError

__all__ = ["count_hops"]


def count_hops(positions: np.ndarray, hop_A: float = 2.0) -> np.ndarray:
    """Hops of each atom: displacements beyond ``hop_A`` from a moving anchor.

    Args:
        positions: Unwrapped positions (n_frames, n_atoms, 3), Å.
        hop_A: Hop distance threshold, Å.

    Returns:
        Number of hops per atom, (n_atoms,).

    Example:
        >>> x = np.zeros((5, 1, 3)); x[2:, 0, 0] = 2.5; x[4:, 0, 0] = 5.1
        >>> count_hops(x).tolist()
        [2]
    """
    x = np.asarray(positions, dtype=np.float64)
    if x.ndim != 3 or x.shape[-1] != 3:
        raise InputError(f"positions must be (n_frames, n_atoms, 3), got {x.shape}")
    if not hop_A > 0:
        raise InputError(f"hop_A must be positive, got {hop_A}")
    anchor = x[0].copy()
    hops = np.zeros(x.shape[1], dtype=np.int64)
    r2 = hop_A * hop_A
    for frame in x[1:]:
        moved = np.einsum("ij,ij->i", frame - anchor, frame - anchor) > r2
        hops += moved
        anchor[moved] = frame[moved]
    return hops
