"""The cross-composition page and table of a whole A M X family (synthetic database): every
number on the page is the stored one, the page loads clean in headless Chromium, and the
CSV/Parquet table round-trips."""

from __future__ import annotations

import csv
import math

import pytest

from solidion.campaign import Store, build_campaign_report, export_table, load_campaign
from solidion.campaign.report import summary_rows
from solidion.errors import InputError
from tests.campaign.conftest import check_numbers_equal_database, load_in_browser, tiny_campaign
from tests.report.chromium import chromium, chromium_unavailable

_WHY = chromium_unavailable()


@pytest.fixture(scope="module")
def browser():
    if _WHY is not None:
        pytest.skip(f"browser test: {_WHY}")
    with chromium() as b:
        yield b


def test_family_page_in_the_browser(family, browser):
    html = build_campaign_report(family)
    assert html == family.output / "campaign_report.html"
    page = load_in_browser(browser, html)
    assert page["errors"] == []
    assert all(u.startswith(("file:", "data:")) for u in page["requests"]), page["requests"]
    assert page["title"] == "solidion campaign: amx"
    # 26 analysed compositions × (σ, E_a, E_a σT, H_R ×2, t ×2: value and stderr) + ε_a (2 envs,
    # one without a stderr)
    per = 2 * (3 + 2 * 2) + 2 + 1
    assert check_numbers_equal_database(page["numbers"], family.database) == 26 * per
    images = page["images"]
    assert len(images) == 2
    for img in images:
        assert img["complete"] and img["width"] > 300 and img["height"] > 200, img
        assert img["data"] and "compositions" in img["alt"]
    text = page["text"]
    assert "vs A" not in text  # axis titles live in the figure, not the page text
    assert "KInI2.5O0.75" in text and "InputError: synthetic failure" in text
    assert "quick: numbers are not converged" in text  # the demonstration preset is flagged
    by_key = {n["key"]: n for n in page["numbers"]}
    with Store.open_readonly(family.database) as store:
        row = next(
            r
            for r in store.results("NaGaBr2.5O0.75")
            if r["quantity"] == "arrhenius.conductivity_300K_S_cm"
        )
    assert float(by_key["sigma_300K_mS_cm__NaGaBr2.5O0.75"]["value"]) == row["value"] * 1000
    assert "t_mobile_E_600K__KAlCl2.5O0.75" in by_key  # K is the mobile ion of K compounds


def test_summary_and_table_exports(family, tmp_path):
    rows = summary_rows(family)
    assert len(rows) == 27
    k = {r["composition"]: r for r in rows}
    assert k["KInI2.5O0.75"]["state"] == "failed" and k["KInI2.5O0.75"]["sigma_300K_S_cm"] is None
    na = k["NaAlI2.5O0.75"]
    assert (na["A"], na["M"], na["X"], na["mobile"], na["state"]) == ("Na", "Al", "I", "Na", "done")
    assert na["converged_700K"] is True and na["haven_ratio_700K_stderr"] == 0.05
    with Store.open_readonly(family.database) as store:
        stored = store.results()
    # CSV: every stored number, exactly (repr of floats), NaN stored as null → empty
    path = export_table(family, tmp_path / "t.csv")
    with path.open() as fh:
        got = list(csv.DictReader(fh))
    assert len(got) == len(stored) == 26 * (5 + 2 * 4)
    for a, b in zip(got, stored, strict=True):
        assert a["composition"] == b["composition"] and a["quantity"] == b["quantity"]
        assert (float(a["value"]) if a["value"] else None) == b["value"]
        assert (float(a["stderr"]) if a["stderr"] else None) == b["stderr"]
        assert a["temperature_K"] == (
            "" if b["temperature_K"] is None else repr(b["temperature_K"])
        )
    assert any(r["quantity"].endswith("tracer_diffusivity_cm2_s") and r["value"] == "" for r in got)
    # Parquet: the same table with typed nulls
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(export_table(family, tmp_path / "t.parquet")).to_pylist()
    assert table == [{k: r[k] for k in table[0]} for r in stored]
    assert math.isclose(
        sum(r["value"] for r in table if r["quantity"] == "transport.haven_ratio"),
        sum(r["value"] for r in stored if r["quantity"] == "transport.haven_ratio"),
    )
    with pytest.raises(InputError, match=r"\.csv or \.parquet"):
        export_table(family, tmp_path / "t.xlsx")


def test_page_before_any_analysis(tmp_path, browser):
    from solidion.campaign import build_plan

    c = load_campaign(tiny_campaign(tmp_path, ["Li3InCl6", "LiAlCl2.5O0.75"]))
    with pytest.raises(InputError, match="no campaign database"):
        build_campaign_report(c)
    with Store.open(c.database) as store:
        store.sync_plan(build_plan(c))
    html = build_campaign_report(c, tmp_path / "r.html")
    page = load_in_browser(browser, html)
    assert page["errors"] == [] and page["numbers"] == [] and page["images"] == []
    assert "Comparison figure omitted: no composition has been analysed yet" in page["text"]
    assert "numbers are not converged" in page["text"]
    with pytest.raises(InputError, match="650 K is not one of the campaign's"):
        build_campaign_report(c, temperature_K=650)
