"""The HTML report without a browser: self-contained, valid images, numbers equal to the results,
the red convergence warning, missing blocks, assembling analysis JSON, bad input."""

from __future__ import annotations

import base64
import copy
import io
import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from scipy import stats

from solidion import InputError
from solidion.report import (
    build_report,
    load_results,
    render_figures,
    render_html,
    save_figures,
)
from tests.report.conftest import resolve_pointer

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ALL_FIGURES = {
    "convergence",
    "arrhenius",
    "conductivity",
    "msd",
    "rdf",
    "polyhedra",
    "fragments",
    "residence",
}
QUICK_TEXT = "quick preset: numbers are not converged — for a demonstration of the pipeline only"


class _Tags(HTMLParser):
    """Every start tag with its attributes, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def tags(page: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(page)
    return parser.tags


def numbers(page: str) -> dict[str, dict[str, str | None]]:
    """The data attributes of every element with a data-key, by key (keys must be unique)."""
    found = [a for _, a in tags(page) if "data-key" in a]
    keys = [a["data-key"] for a in found]
    assert len(keys) == len(set(keys)), "data-key values must be unique"
    return {a["data-key"]: a for a in found}


def as_float(text: str | None) -> float | None:
    return None if text in (None, "null") else float(text)


def check_sourced_numbers(results: dict, found: dict[str, dict]) -> int:
    """Every number with a data-source equals the value it points to, times data-scale."""
    n = 0
    for key, a in found.items():
        if a.get("data-source") is None:
            assert a.get("data-derived"), f"{key}: neither data-source nor data-derived"
            continue
        raw = resolve_pointer(results, a["data-source"])
        scale = float(a.get("data-scale") or 1.0)
        got = as_float(a["data-value"])
        if raw is None:
            assert got is None, key
        else:
            assert got == float(raw) * scale, key
        n += 1
    return n


@pytest.fixture(scope="module")
def page(report_dir) -> str:
    return (report_dir / "report.html").read_text(encoding="utf-8")


# -- the page --------------------------------------------------------------------------------------
def test_default_output_and_atomic_write(report_dir, quick_results, tmp_path, monkeypatch):
    assert (report_dir / "report.html").is_file()
    assert [p.name for p in report_dir.iterdir() if p.name.startswith(".")] == []
    # a write that fails half-way leaves the previous page untouched and no temporary file
    target = tmp_path / "report.html"
    target.write_text("previous page")
    real_write_text = Path.write_text

    def broken(self, data, *args, **kwargs):
        real_write_text(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError("disk full")

    monkeypatch.setattr(Path, "write_text", broken)
    monkeypatch.setattr("solidion.report.html.render_figures", lambda results: ())
    with pytest.raises(OSError, match="disk full"):
        build_report(quick_results, target)
    monkeypatch.undo()
    assert target.read_text() == "previous page"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_page_is_self_contained(page):
    assert page.startswith("<!DOCTYPE html>")
    assert "http://" not in page and "https://" not in page
    assert "@import" not in page and "url(" not in page
    for tag, attrs in tags(page):
        assert tag != "script", "the page needs no script at all"
        for name in ("src", "href"):
            value = attrs.get(name)
            if value is None:
                continue
            assert value.startswith(("data:", "#")), f"<{tag} {name}={value[:40]}>"
        if tag == "link":
            assert "stylesheet" not in (attrs.get("rel") or "")
    assert "<style>" in page


def test_every_image_is_an_embedded_png(page):
    import numpy as np
    from matplotlib.image import imread

    imgs = [a for t, a in tags(page) if t == "img"]
    assert len(imgs) == len(ALL_FIGURES)
    for attrs in imgs:
        src = attrs["src"]
        assert src.startswith("data:image/png;base64,")
        assert len(attrs.get("alt") or "") > 20
        png = base64.b64decode(src.split(",", 1)[1], validate=True)
        assert png.startswith(PNG_SIGNATURE)
        pixels = imread(io.BytesIO(png), format="png")
        assert pixels.ndim == 3 and pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert np.ptp(pixels) > 0  # not a blank image
    ids = {a["id"].removeprefix("fig-") for t, a in tags(page) if t == "figure"}
    assert ids == ALL_FIGURES


def test_summary_numbers_equal_results(page, quick_results):
    found = numbers(page)
    assert check_sourced_numbers(quick_results, found) > 50
    arr = quick_results["transport"]["arrhenius"]
    sigma = arr["conductivity_300K_S_cm"]
    assert as_float(found["sigma_300K_mS_cm"]["data-value"]) == sigma["value"] * 1000
    assert as_float(found["sigma_300K_mS_cm_stderr"]["data-value"]) == sigma["stderr"] * 1000
    low = as_float(found["sigma_300K_mS_cm_low"]["data-value"])
    high = as_float(found["sigma_300K_mS_cm_high"]["data-value"])
    # the fit's Student-t interval (3 temperatures leave 1 degree of freedom: wider than ±1σ)
    fit = arr["fits"]["conductivity"]
    assert [low, high] == [1000 * b for b in fit["interval_300K_S_cm"]]
    rel = sigma["stderr"] / sigma["value"]
    q = stats.t.ppf(0.5 + fit["confidence"] / 2, fit["dof"])
    assert low == pytest.approx(sigma["value"] * 1000 * math.exp(-q * rel), rel=1e-9)
    assert high == pytest.approx(sigma["value"] * 1000 * math.exp(q * rel), rel=1e-9)
    assert as_float(found["Ea_eV"]["data-value"]) == arr["activation_energy_eV"]["value"]
    assert as_float(found["Ea_eV_stderr"]["data-value"]) == arr["activation_energy_eV"]["stderr"]
    assert (
        as_float(found["Ea_sigma_eV"]["data-value"])
        == arr["conductivity_activation_energy_eV"]["value"]
    )
    assert as_float(found["D_300K_cm2_s"]["data-value"]) == arr["diffusivity_300K_cm2_s"]["value"]
    for r in quick_results["transport"]["results"]:
        t = f"{r['temperature_K']:g}K"
        assert as_float(found[f"haven_ratio_{t}"]["data-value"]) == r["haven_ratio"]["value"]
        for short, long in (
            ("E", "einstein"),
            ("NE", "nernst_einstein"),
            ("cNE", "cluster_nernst_einstein"),
        ):
            t_li = r["transference"][long]["Li"]
            assert as_float(found[f"t_Li_{short}_{t}"]["data-value"]) == t_li["value"]
            assert as_float(found[f"t_Li_{short}_{t}_stderr"]["data-value"]) == t_li["stderr"]
            sig = r["conductivity_S_cm"][long]
            assert as_float(found[f"sigma_{short}_mS_cm_{t}"]["data-value"]) == sig["value"] * 1000
        d = r["species"]["Li"]["tracer_diffusivity_cm2_s"]["value"]
        assert as_float(found[f"D_Li_cm2_s_{t}"]["data-value"]) == d
    for c in quick_results["convergence"]:
        t = f"{c['temperature_K']:g}K"
        assert as_float(found[f"duration_ps_{t}"]["data-value"]) == c["duration_ps"]
        assert as_float(found[f"n_hops_{t}"]["data-value"]) == c["n_hops"]
        assert as_float(found[f"length_over_onset_{t}"]["data-value"]) == pytest.approx(
            c["duration_ps"] / c["diffusive_onset_ps"]
        )
    for label, est in quick_results["structure"]["residence_activation_eV"].items():
        assert as_float(found[f"epsilon_a_{label}_eV"]["data-value"]) == est["value"]


def test_header_and_warnings_listed(page, quick_results):
    for text in ("LiAlCl2.5O0.75", "Li36Al27Cl99O9", "quick", "synthetic", "600, 700, 800 K"):
        assert text in page
    section = page[page.index('<section id="warnings">') :]
    for w in quick_results["warnings"]:
        assert _html_text(w) in section
    n = len(re.findall(r"<li>", section))
    assert n == len(set(quick_results["warnings"]))


def _html_text(s: str) -> str:
    import html

    return html.escape(s, quote=True)


# -- the red convergence warning -----------------------------------------------------------------------
def red_box(page: str) -> str | None:
    m = re.search(r'<div class="warning-unconverged"[^>]*>(.*?)</div>', page, re.S)
    return None if m is None else m.group(1)


def test_red_warning_for_quick_preset(page):
    box = red_box(page)
    assert box is not None
    assert QUICK_TEXT in box
    # it comes before any number
    assert page.index("warning-unconverged") < page.index("data-key")


def test_red_warning_for_unconverged_temperature(converged_results):
    res = copy.deepcopy(converged_results)
    res["convergence"][1]["converged"] = False
    res["convergence"][1]["reasons"] = ["only 2.0 hops per Li ion observed; need ≥ 10"]
    box = red_box(render_html(res, figures=()))
    assert box is not None
    assert "700 K not converged" in box and "2.0 hops per Li ion" in box
    assert "quick preset" not in box


def test_red_warning_always_for_unconverged_preset(converged_results):
    res = copy.deepcopy(converged_results)
    res["preset"] = "quick"
    res["preset_converged"] = False
    res["convergence"] = None  # even with no convergence block at all
    box = red_box(render_html(res, figures=()))
    assert box is not None and QUICK_TEXT in box


def test_no_red_warning_when_converged(converged_results):
    page = render_html(converged_results, figures=())
    assert red_box(page) is None
    assert 'class="warning-unconverged"' not in page
    assert "Every temperature passed the convergence checks" in page


# -- missing blocks ----------------------------------------------------------------------------------------
def test_transport_only_results(transport_only, tmp_path):
    out = build_report(transport_only, tmp_path / "r.html")
    page = out.read_text()
    assert {a["id"] for t, a in tags(page) if t == "figure"} == {
        "fig-arrhenius",
        "fig-conductivity",
    }
    for note in ("Structure panels omitted", "Convergence panel omitted", "MSD plot omitted"):
        assert note in page
    assert red_box(page) is None
    assert check_sourced_numbers(transport_only, numbers(page)) > 10


@pytest.mark.parametrize(
    "drop", [("transport",), ("structure", "msd"), ("transport", "structure", "msd", "convergence")]
)
def test_missing_blocks_never_crash(converged_results, drop):
    res = copy.deepcopy(converged_results)
    for key in drop:
        res[key] = None
    page = render_html(res, figures=())
    assert "</html>" in page
    if "transport" in drop:
        assert "Transport summary omitted" in page
    check_sourced_numbers(res, numbers(page))


def test_empty_and_sparse_results():
    assert render_figures({}) == ()
    page = render_html({})
    assert "Transport summary omitted" in page and "Structure panels omitted" in page
    sparse = {"transport": {"results": [], "arrhenius": None, "warnings": []}, "warnings": ["x"]}
    assert "Per-temperature transport omitted" in render_html(sparse)


# -- figures -----------------------------------------------------------------------------------------------
def test_save_figures_and_figures_dir(transport_only, tmp_path):
    written = save_figures(transport_only, tmp_path / "figs")
    assert [p.name for p in written] == ["arrhenius.png", "conductivity.png"]
    for p in written:
        assert p.read_bytes().startswith(PNG_SIGNATURE)
    # build_report writes the same PNGs in the same pass when asked
    build_report(transport_only, tmp_path / "r.html", figures_dir=tmp_path / "figs2")
    for p in written:
        assert (tmp_path / "figs2" / p.name).read_bytes() == p.read_bytes()


# -- load_results ---------------------------------------------------------------------------------------
def _analysis_dir(tmp_path: Path, quick_results: dict, *, series: str) -> Path:
    """The JSON files `solidion analyze --json` / `solidion structure --json` write."""
    d = tmp_path / "analysis"
    d.mkdir()
    if series == "transport":
        (d / "transport.json").write_text(json.dumps(quick_results["transport"]))
        for r in quick_results["structure"]["results"]:
            (d / f"structure_{r['temperature_K']:g}.json").write_text(json.dumps(r))
    else:
        for r in quick_results["transport"]["results"]:
            (d / f"analyze_{r['temperature_K']:g}.json").write_text(json.dumps(r))
        (d / "structure.json").write_text(json.dumps(quick_results["structure"]))
    return d


def test_load_results_from_results_json(report_dir, quick_results):
    assert load_results(report_dir) == quick_results
    assert load_results(report_dir / "results.json") == quick_results


def test_load_results_assembles_single_analyses(tmp_path, quick_results, monkeypatch):
    d = _analysis_dir(tmp_path, quick_results, series="structure")
    res = load_results(d)
    assert res["formula"] is None and res["msd"] is None and res["convergence"] is None
    assert res["structure"] == quick_results["structure"]
    assert res["transport"]["results"] == quick_results["transport"]["results"]
    assert res["mobile"] == "Li" and res["temperatures_K"] == [600.0, 700.0, 800.0]
    # the Arrhenius fit across the separate files is the one analyze_series makes
    want = quick_results["transport"]["arrhenius"]
    got = res["transport"]["arrhenius"]
    assert got.keys() == want.keys()
    for k in want.keys() - {"fits"}:
        assert got[k]["value"] == pytest.approx(want[k]["value"], rel=1e-9)
        assert got[k]["stderr"] == pytest.approx(want[k]["stderr"], rel=1e-9)
    for kind, fit in want["fits"].items():
        assert got["fits"][kind].keys() == fit.keys()
        for k, v in fit.items():
            if k == "excluded":
                assert got["fits"][kind][k] == v
            else:
                assert got["fits"][kind][k] == pytest.approx(v, rel=1e-9)
    monkeypatch.setattr("solidion.report.html.render_figures", lambda results: ())
    out = build_report(d)
    assert out == d / "report.html"
    page = out.read_text()
    assert "Convergence panel omitted" in page and "sigma_300K_mS_cm" in page


def test_load_results_assembles_series_and_single_structures(tmp_path, quick_results):
    d = _analysis_dir(tmp_path, quick_results, series="transport")
    res = load_results(d)
    assert res["transport"] == quick_results["transport"]
    assert res["structure"]["results"] == quick_results["structure"]["results"]
    want = quick_results["structure"]["residence_activation_eV"]
    got = res["structure"]["residence_activation_eV"]
    assert got.keys() == want.keys()
    for k in want:
        assert got[k]["value"] == pytest.approx(want[k]["value"], rel=1e-9)


def test_load_results_single_analysis_file(tmp_path, quick_results):
    f = tmp_path / "one.json"
    f.write_text(json.dumps(quick_results["transport"]["results"][0]))
    res = load_results(f)
    assert len(res["transport"]["results"]) == 1 and res["transport"]["arrhenius"] is None
    assert "Arrhenius summary (σ at 300 K, E_a) omitted" in render_html(res, figures=())


# -- bad input -------------------------------------------------------------------------------------------------
def test_bad_paths_name_the_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match=re.escape(str(missing))):
        load_results(missing)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match=re.escape(str(empty)) + ".*no results.json"):
        build_report(empty)
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.json").write_text('{"hello": 1}')
    with pytest.raises(InputError, match=re.escape(str(junk / "a.json")) + ".*not a results"):
        load_results(junk)
    (junk / "a.json").write_text('{"results": [1, 2')
    with pytest.raises(InputError, match=re.escape(str(junk / "a.json")) + ".*not valid JSON"):
        load_results(junk)
    (junk / "a.json").write_text("[1, 2]")
    with pytest.raises(InputError, match=re.escape(str(junk / "a.json"))):
        load_results(junk)


def test_duplicate_temperatures_and_mixed_inputs(tmp_path, quick_results):
    d = tmp_path / "dup"
    d.mkdir()
    r = quick_results["transport"]["results"][0]
    (d / "a.json").write_text(json.dumps(r))
    (d / "b.json").write_text(json.dumps(r))
    with pytest.raises(InputError, match=r"b\.json.*at 600 K.*a\.json"):
        load_results(d)
    (d / "b.json").write_text(json.dumps(quick_results))  # a results.json under another name
    with pytest.raises(InputError, match=r"b\.json.*cannot be combined"):
        load_results(d)


def test_bad_arguments(quick_results, tmp_path):
    with pytest.raises(InputError, match="out_html is required"):
        build_report(quick_results)
    with pytest.raises(InputError, match=re.escape(str(tmp_path / "no" / "r.html"))):
        build_report(quick_results, tmp_path / "no" / "r.html")
    with pytest.raises(InputError, match="out_html=.*is a directory"):
        build_report(quick_results, tmp_path)
    with pytest.raises(InputError, match="'transport' must be a JSON object"):
        build_report({**quick_results, "transport": [1]}, tmp_path / "r.html")
    with pytest.raises(InputError, match="results must be a dictionary or a path"):
        build_report(42, tmp_path / "r.html")  # type: ignore[arg-type]
    (tmp_path / "file").write_text("x")
    with pytest.raises(InputError, match="figures_dir=.*not a directory"):
        build_report(quick_results, tmp_path / "r.html", figures_dir=tmp_path / "file")
    assert not (tmp_path / "r.html").exists()
