"""The cross-composition page and table of a whole A M X family (synthetic database): every
number on the page is the stored one, the page loads clean in headless Chromium, and the
CSV/Parquet table round-trips; a withheld number reads "withheld" with its reason."""

from __future__ import annotations

import csv
import math
from html.parser import HTMLParser

import pytest

from solidion.campaign import Store, build_campaign_report, export_table, load_campaign
from solidion.campaign.report import summary_rows
from solidion.errors import InputError
from tests.campaign.conftest import check_numbers_equal_database, load_in_browser, tiny_campaign
from tests.campaign.test_store import (
    REASON_HR,
    REASON_SIGMA_E,
    REASON_SIGMA_FIT,
    REASON_T_E,
    results_json,
)
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


# -- withheld numbers (hand-made results, no browser) --------------------------------------------
class _Cells(HTMLParser):
    """Elements with ``data-key``: their attributes and text; and the page's notes (``<li>``)."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: dict[str, dict] = {}
        self.notes: list[str] = []
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        key = a.get("data-key")
        if key is not None:
            self.cells[key] = {**a, "text": ""}
        if tag == "li" and str(a.get("id", "")).startswith("withheld"):
            self.notes.append("")
            key = "<li>"
        self._open.append((tag, key))

    def handle_endtag(self, tag):
        while self._open and self._open.pop()[0] != tag:
            pass

    def handle_data(self, data):
        for _, key in self._open:
            if key == "<li>":
                self.notes[-1] += data
            elif key is not None:
                self.cells[key]["text"] += data


def _handmade_campaign(tmp_path):
    """Li…: H_R, σ_E, t_E at 600 K and σ(300 K) withheld; Na…: every number given."""
    from solidion.campaign import build_plan, result_rows

    c = load_campaign(tiny_campaign(tmp_path, ["LiAlCl2.5O0.75", "NaAlCl2.5O0.75"], [600.0, 700.0]))
    plan = build_plan(c)
    docs = {
        "LiAlCl2.5O0.75": results_json("Li", withheld=True),
        "NaAlCl2.5O0.75": results_json("Na", withheld=False),
    }
    out = tmp_path / "done.out"
    out.write_text("")
    with Store.open(c.database) as store:
        store.sync_plan(plan)
        for t in plan.tasks:
            store.mark_queued(t.id)
            rows = (
                (t.composition, result_rows(docs[t.composition])) if t.kind == "analysis" else None
            )
            store.mark_done(t.id, str(out), {}, results=rows)
    return c, docs


def _numbers(page: _Cells) -> list[dict]:
    """The page's numbers as :func:`check_numbers_equal_database` takes them."""
    return [
        {
            "key": k,
            "value": a["data-value"],
            "source": a["data-source"],
            "scale": a.get("data-scale"),
        }
        for k, a in page.cells.items()
    ]


def test_withheld_numbers_read_withheld_with_their_reason(tmp_path):
    c, _ = _handmade_campaign(tmp_path)
    page = _Cells()
    page.feed(build_campaign_report(c).read_text(encoding="utf-8"))
    assert check_numbers_equal_database(_numbers(page), c.database) == len(page.cells) > 20
    li = "LiAlCl2.5O0.75"
    for key, reason in {
        f"sigma_300K_mS_cm__{li}": REASON_SIGMA_FIT,
        f"Ea_sigma_eV__{li}": REASON_SIGMA_FIT,
        f"haven_ratio_600K__{li}": REASON_HR,
        f"t_mobile_E_600K__{li}": REASON_T_E,
    }.items():
        cell = page.cells[key]
        assert cell["text"] == "withheld" and cell["class"] == "withheld", cell
        assert cell["title"] == cell["data-withheld"] == reason  # the tooltip
        assert cell["data-value"] == "null" and cell["data-source"].endswith("/value")
    # each reason once in the notes below the table, naming the cells it explains
    assert len(page.notes) == 3
    assert any(n.endswith(REASON_HR) and f"{li}, H_R 600 K" in n for n in page.notes)
    assert any(
        n.endswith(REASON_SIGMA_FIT) and f"{li}, σ(300 K); {li}, Eₐ of σT" in n for n in page.notes
    )
    assert not any(REASON_SIGMA_E in n for n in page.notes)  # σ_E at 600 K is not a column
    # given numbers are numbers: no stray "withheld"
    assert page.cells[f"haven_ratio_700K__{li}"]["data-value"] == repr(0.45)
    assert page.cells[f"Ea_eV__{li}"]["data-value"] == repr(0.31)
    # the summary table (and its CSV download) carries the reasons too
    summary = {r["composition"]: r for r in summary_rows(c)}
    assert summary[li]["sigma_300K_S_cm"] is None
    assert summary[li]["sigma_300K_S_cm_withheld"] == REASON_SIGMA_FIT
    assert summary[li]["haven_ratio_600K_withheld"] == REASON_HR
    assert summary[li]["haven_ratio_700K_withheld"] is None
    assert summary["NaAlCl2.5O0.75"]["sigma_300K_S_cm_withheld"] is None


def test_given_numbers_are_the_results(tmp_path):
    c, docs = _handmade_campaign(tmp_path)
    page = _Cells()
    page.feed(build_campaign_report(c).read_text(encoding="utf-8"))
    na = "NaAlCl2.5O0.75"
    doc = docs[na]["transport"]
    arr = doc["arrhenius"]
    want = {
        f"sigma_300K_mS_cm__{na}": arr["conductivity_300K_S_cm"]["value"] * 1000.0,
        f"sigma_300K_mS_cm__{na}_stderr": arr["conductivity_300K_S_cm"]["stderr"] * 1000.0,
        f"Ea_eV__{na}": arr["activation_energy_eV"]["value"],
        f"Ea_eV__{na}_stderr": arr["activation_energy_eV"]["stderr"],
        f"Ea_sigma_eV__{na}": arr["conductivity_activation_energy_eV"]["value"],
    }
    for run in doc["results"]:
        t = f"{run['temperature_K']:g}K"
        want[f"haven_ratio_{t}__{na}"] = run["haven_ratio"]["value"]
        want[f"haven_ratio_{t}__{na}_stderr"] = run["haven_ratio"]["stderr"]
        want[f"t_mobile_E_{t}__{na}"] = run["transference"]["einstein"]["Na"]["value"]
    for key, value in want.items():
        cell = page.cells[key]
        assert "data-withheld" not in cell and float(cell["data-value"]) == value, key
    assert not any(na in n for n in page.notes)
    summary = {r["composition"]: r for r in summary_rows(c)}[na]
    assert summary["sigma_300K_S_cm"] == arr["conductivity_300K_S_cm"]["value"]
    assert summary["haven_ratio_600K"] == doc["results"][0]["haven_ratio"]["value"]
