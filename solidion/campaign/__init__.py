"""Campaigns: composition × temperature grids of the main job, run on Dask.

A campaign file (TOML or YAML; :mod:`solidion.campaign.config`) names compositions — a list,
or the A M X₂.₅O₀.₇₅ family of the reference study (Binci, Jun et al. 2026) — temperatures, a
protocol, a potential, seeds and replicas. :func:`build_plan` turns it into a task graph (one
melt-and-quench per composition, one production MD per composition × temperature × replica,
one analysis per composition) with a cost estimate; :func:`run_campaign` runs the graph on a
Dask cluster (local by default) and records every task and every number in a SQLite database
in the output root (:class:`Store`); :func:`build_campaign_report` draws the cross-composition
comparison from that database.

Typical use::

    from solidion.campaign import build_campaign_report, load_campaign, run_campaign

    campaign = load_campaign("docs/examples/quick_campaign.toml")
    summary = run_campaign(campaign, workers=2)
    build_campaign_report(campaign)      # -> <output>/campaign_report.html

dask is imported only when a campaign runs.
"""

from __future__ import annotations

from solidion.campaign.config import Campaign, CompositionSpec, load_campaign, parse_campaign
from solidion.campaign.execute import RunSummary, connect, run_campaign
from solidion.campaign.plan import (
    REFERENCE_THROUGHPUT,
    Estimate,
    Plan,
    Task,
    Throughput,
    build_plan,
    estimate,
    measure_throughput,
)
from solidion.campaign.report import build_campaign_report, export_table
from solidion.campaign.store import ResultRow, Snapshot, Store, result_rows

__all__ = [
    "REFERENCE_THROUGHPUT",
    "Campaign",
    "CompositionSpec",
    "Estimate",
    "Plan",
    "ResultRow",
    "RunSummary",
    "Snapshot",
    "Store",
    "Task",
    "Throughput",
    "build_campaign_report",
    "build_plan",
    "connect",
    "estimate",
    "export_table",
    "load_campaign",
    "measure_throughput",
    "parse_campaign",
    "result_rows",
    "run_campaign",
]
