"""Local campaign workers: one task at a time, one torch thread, idle OpenMP threads asleep.

Two single-thread processes on 2 cores gave 1018 atom-steps/s of CHGNet MD (294 atoms), one
2-thread process 820; and a 2-thread process spin-waiting while another held a core fell to 35
(issue #17). So each local worker runs one task with one thread and OMP_WAIT_POLICY=PASSIVE.
"""

from __future__ import annotations

import os

from solidion.campaign import execute as ex


def _worker_threads() -> tuple[str | None, str | None, int, int]:
    import torch
    from distributed import get_worker

    return (
        os.environ.get("OMP_WAIT_POLICY"),
        os.environ.get("OMP_NUM_THREADS"),
        torch.get_num_threads(),
        get_worker().state.nthreads,
    )


def test_local_worker_runs_one_single_thread_task_with_a_passive_wait_policy(monkeypatch):
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    with ex.connect(workers=1, log=lambda _: None) as client:
        policy, omp, torch_threads, dask_threads = client.submit(_worker_threads).result()
    assert (policy, omp, torch_threads, dask_threads) == ("PASSIVE", "1", 1, 1)
