"""The trust block in results.json and in the HTML report (red box, data-key/data-value)."""

from __future__ import annotations

import html
import re

import pytest

from solidion.report import build_report, render_html

WARNING = (
    "outside the training domain: 31.0 % of local environments at 900 K lie outside the "
    "fine-tuning data (limit 5 %); the potential extrapolates there"
)


def trust(out_900: bool = True) -> dict:
    def row(t: float, frac: float, bad: bool) -> dict:
        return {
            "source": f"T{t:g}K/00_production.h5",
            "temperature_K": t,
            "n_frames": 50,
            "n_environments": 2100,
            "fraction_out_of_domain": frac,
            "fraction_out_by_species": {"Li": frac},
            "relative_distance_median": 0.61,
            "relative_distance_p99": 1.7,
            "relative_distance_max": 2.25,
            "n_unknown_environments": 0,
            "unknown_species": [],
            "limit_fraction": 0.05,
            "out_of_domain": bad,
        }

    return {
        "available": True,
        "checkpoint": "/x/model.pt",
        "reference": {"quantile": 0.99, "calibration": "210 held-out environments", "n_frames": 30},
        "limit_fraction": 0.05,
        "results": [row(600, 0.012, False), row(900, 0.31 if out_900 else 0.02, out_900)],
        "out_of_domain": out_900,
        "warnings": [WARNING] if out_900 else [],
    }


def red_trust_box(page: str) -> str | None:
    m = re.search(r'<div class="warning-untrusted"[^>]*>(.*?)</div>', page, re.S)
    return None if m is None else m.group(1)


def values(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-key="([^"]+)" data-value="([^"]+)"', page))


def test_out_of_domain_run_gets_a_red_box_and_numbers():
    page = render_html(
        {"formula": "LiAlCl2.5O0.75", "trust": trust(), "warnings": [WARNING]}, figures=()
    )
    box = red_trust_box(page)
    assert box is not None and "900 K outside the training domain" in box
    assert "31 % of local environments" in box and "600 K" not in box
    v = values(page)
    assert float(v["trust_out_of_domain_percent_900K"]) == pytest.approx(31.0)
    assert float(v["trust_out_of_domain_percent_600K"]) == pytest.approx(1.2)
    assert float(v["trust_relative_distance_p99_900K"]) == 1.7
    assert 'data-source="/trust/results/1/fraction_out_of_domain"' in page
    # every trust number is the stored one (times its data-scale) at its JSON pointer
    block, checked = trust(), 0
    for m in re.finditer(
        r'data-key="(trust_[^"]+)" data-value="([^"]+)" data-source="/trust/results/(\d)/([a-z0-9_]+)"'
        r'(?: data-scale="([^"]+)")?',
        page,
    ):
        stored = block["results"][int(m.group(3))][m.group(4)]
        assert float(m.group(2)) == float(stored) * float(m.group(5) or 1.0), m.group(1)
        checked += 1
    assert checked == 12  # six numbers per temperature
    assert '<a href="#trust">Training domain</a>' in page
    # the warning is listed once, attributed to the trust check
    section = page[page.index('<section id="warnings">') :]
    assert section.count(html.escape(WARNING, quote=True)) == 1 and "[trust]" in section


def test_in_domain_runs_get_a_note_not_a_box():
    page = render_html({"trust": trust(out_900=False)}, figures=())
    assert red_trust_box(page) is None
    assert "Every production run stays within the training domain" in page


def test_pretrained_potential_says_no_reference_is_available():
    block = {
        "available": False,
        "reason": "pretrained potential 'chgnet': no training-domain reference is stored",
        "results": [],
        "warnings": [],
    }
    page = render_html({"trust": block}, figures=())
    assert red_trust_box(page) is None
    assert "No training-domain check: pretrained potential" in page
    assert 'id="trust"' in page and "Training domain" in page


def test_no_trust_block_no_section(tmp_path):
    page = render_html({"formula": "X"}, figures=())
    assert 'id="trust"' not in page and "#trust" not in page
    out = build_report({"formula": "X", "trust": trust()}, tmp_path / "r.html")
    assert red_trust_box(out.read_text()) is not None
    from solidion.errors import InputError

    with pytest.raises(InputError, match="'trust' must be a JSON object"):
        render_html({"trust": [1, 2]}, figures=())


@pytest.mark.filterwarnings("ignore::UserWarning")  # the short LGPS slice is not diffusive
def test_assemble_results_lists_trust_warnings(lgps):
    from solidion.pipeline.results import assemble_results
    from solidion.transport.series import analyze_series

    traj = lgps[::10]
    series = analyze_series([traj], [600.0], "Li")
    res = assemble_results(series, [traj], "Li", meta={"trust": trust()})
    assert res["trust"]["out_of_domain"] is True
    assert WARNING in res["warnings"]
