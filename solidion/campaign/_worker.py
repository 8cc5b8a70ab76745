"""Worker-side setup of solidion's local Dask clusters (imported only where dask is)."""

from __future__ import annotations

import logging

from distributed.diagnostics.plugin import WorkerPlugin


def drop_compute_failed(record: logging.LogRecord) -> bool:
    """Logging filter: drop Dask's "Compute Failed" record of a task that raised.

    The campaign client already records that failure with its message in the database and
    prints it on one line; the worker's copy would repeat it as a multi-line dump.
    """
    return not str(record.msg).startswith("Compute Failed")


class QuietTaskFailures(WorkerPlugin):
    """Install :func:`drop_compute_failed` on each worker (also on workers restarted later)."""

    name = "solidion-quiet-task-failures"

    def setup(self, worker: object) -> None:
        logging.getLogger("distributed.worker").addFilter(drop_compute_failed)
