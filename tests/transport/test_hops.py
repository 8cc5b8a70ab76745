import numpy as np
import pytest

from solidion.errors import InputError
from solidion.transport.hops import count_hops


def test_hops_between_sites_are_counted_and_vibrations_are_not():
    rng = np.random.default_rng(0)
    sites = np.array([[0.0, 0, 0], [3.0, 0, 0], [3.0, 3.0, 0]])
    path = [0] * 30 + [1] * 30 + [2] * 30 + [1] * 30  # three hops
    x = sites[path][:, None, :] + rng.normal(0, 0.15, (120, 1, 3))
    still = rng.normal(0, 0.15, (120, 1, 3))
    assert count_hops(np.concatenate([x, still], axis=1)).tolist() == [3, 0]


def test_matches_a_naive_loop():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 0.6, (200, 7, 3)).cumsum(axis=0)
    expect = []
    for i in range(7):
        anchor, n = x[0, i], 0
        for f in range(1, 200):
            if np.linalg.norm(x[f, i] - anchor) > 2.0:
                n, anchor = n + 1, x[f, i]
        expect.append(n)
    assert count_hops(x).tolist() == expect
    with pytest.raises(InputError, match="hop_A"):
        count_hops(x, 0)
