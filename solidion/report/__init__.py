"""The report stage: one self-contained HTML page (and PNG figures) from a run's results.

Example (a dictionary in the layout of ``results.json``; see :mod:`solidion.report.results`)::

    from solidion.report import build_report, load_results, save_figures

    build_report("runs/LiAlCl2.5O0.75")            # -> runs/LiAlCl2.5O0.75/report.html
    save_figures(load_results("runs/LiAlCl2.5O0.75"), "runs/LiAlCl2.5O0.75/figures")

matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

from solidion.report.figures import ReportFigure, render_figures, save_figures
from solidion.report.html import build_report, render_html
from solidion.report.results import load_results, normalise_results

__all__ = [
    "ReportFigure",
    "build_report",
    "load_results",
    "normalise_results",
    "render_figures",
    "render_html",
    "save_figures",
]
