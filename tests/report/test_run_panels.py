"""Report panels of the MD protocol: the error against simulated time (--until-converged) and
the glass's density and pressure."""

from __future__ import annotations

import copy

from solidion.report import render_figures, render_html


def _with_history(results):
    doc = copy.deepcopy(results)
    doc["until_converged"] = {"diffusivity_rel_err": 0.2}
    for i, conv in enumerate(doc["convergence"]):
        errors = [0.6, 0.42, 0.29, 0.19 + 0.01 * i]
        conv["history"] = [
            {"duration_ps": 2.0 * 2**k, "diffusivity_rel_err": e, "met": e <= 0.2}
            for k, e in enumerate(errors)
        ]
        conv["target_met"] = conv["history"][-1]["met"]
    return doc


def test_history_gives_the_figure_with_its_target(quick_results):
    figs = {f.name: f for f in render_figures(_with_history(quick_results))}
    fig = figs["error_history"]
    assert fig.png.startswith(b"\x89PNG")
    assert "target of 20 %" in fig.alt
    page = render_html(_with_history(quick_results))
    assert 'id="fig-error_history"' in page
    # inside the convergence section, after its own figure
    assert page.index('id="fig-convergence"') < page.index('id="fig-error_history"')


def test_no_history_no_figure(quick_results):
    assert "error_history" not in {f.name for f in render_figures(quick_results)}
    bad = _with_history(quick_results)
    for conv in bad["convergence"]:
        conv["history"] = [{"duration_ps": None, "diffusivity_rel_err": None}]
    assert "error_history" not in {f.name for f in render_figures(bad)}


def test_report_shows_the_glass(quick_results):
    doc = dict(quick_results)
    doc["glass"] = {
        "stage": "anneal",
        "temperature_K": 600.0,
        "density_g_cm3": 1.4123,
        "pressure_GPa": 0.031,
        "pressure_std_GPa": 0.4,
    }
    page = render_html(doc)
    assert 'data-key="glass_density" data-value="1.4123"' in page
    assert 'data-source="/glass/pressure_GPa"' in page
    assert "second half at 600 K" in page
