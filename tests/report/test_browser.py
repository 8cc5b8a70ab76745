"""The report rendered in headless Chromium: no console or page errors, no network request,
every image decoded, the numbers in the page equal to results.json, the red box visible.

Chromium is driven through Playwright's Python API with the system browser
(:mod:`tests.report.chromium`); the tests skip, with the reason, where either is missing.
"""

from __future__ import annotations

import json
import math

import pytest

from tests.report.chromium import chromium, chromium_unavailable
from tests.report.conftest import resolve_pointer

_WHY = chromium_unavailable()
pytestmark = pytest.mark.skipif(_WHY is not None, reason=f"browser test: {_WHY}")

NUMBERS_JS = """els => els.map(e => ({
    key: e.dataset.key, value: e.dataset.value, source: e.dataset.source ?? null,
    scale: e.dataset.scale ?? null, derived: e.dataset.derived ?? null}))"""
IMAGES_JS = """() => Array.from(document.images).map(i => ({
    complete: i.complete, width: i.naturalWidth, height: i.naturalHeight, alt: i.alt,
    data: i.currentSrc.startsWith('data:image/png;base64,')}))"""


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def transport_only_html(tmp_path_factory, transport_only):
    from solidion.report import build_report

    return build_report(transport_only, tmp_path_factory.mktemp("min") / "report.html")


class Loaded:
    """A page loaded in the browser with everything it reported while loading."""

    def __init__(self, browser, path):
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page(viewport={"width": 1150, "height": 900})
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri(), wait_until="load")


@pytest.fixture(scope="module")
def loaded(browser, report_dir):
    page = Loaded(browser, report_dir / "report.html")
    yield page
    page.page.close()


def test_loads_without_errors_or_network(loaded, browser, transport_only_html):
    assert loaded.errors == []
    assert all(u.startswith(("file:", "data:")) for u in loaded.requests), loaded.requests
    assert loaded.page.title() == "solidion report: LiAlCl2.5O0.75"
    other = Loaded(browser, transport_only_html)
    assert other.errors == []
    assert all(u.startswith(("file:", "data:")) for u in other.requests)
    assert len(other.page.evaluate(IMAGES_JS)) == 2
    other.page.close()


def test_every_image_decodes(loaded):
    images = loaded.page.evaluate(IMAGES_JS)
    assert len(images) == 8
    for img in images:
        assert img["complete"] and img["width"] > 100 and img["height"] > 100, img
        assert img["data"] and len(img["alt"]) > 20


def test_numbers_in_page_equal_results(loaded, report_dir):
    results = json.loads((report_dir / "results.json").read_text())
    found = loaded.page.eval_on_selector_all("[data-key]", NUMBERS_JS)
    by_key = {n["key"]: n for n in found}
    assert len(by_key) == len(found) > 50
    for n in found:
        got = None if n["value"] == "null" else float(n["value"])
        if n["source"] is None:
            assert n["derived"], n
            continue
        raw = resolve_pointer(results, n["source"])
        scale = float(n["scale"] or 1.0)
        assert got == (None if raw is None else float(raw) * scale), n
    sigma = results["transport"]["arrhenius"]["conductivity_300K_S_cm"]
    assert float(by_key["sigma_300K_mS_cm"]["value"]) == sigma["value"] * 1000
    assert float(by_key["sigma_300K_mS_cm_stderr"]["value"]) == sigma["stderr"] * 1000
    # the upper end of the fit's Student-t interval (n − 2 degrees of freedom)
    high = results["transport"]["arrhenius"]["fits"]["conductivity"]["interval_300K_S_cm"][1]
    assert float(by_key["sigma_300K_mS_cm_high"]["value"]) == high * 1000
    assert high > sigma["value"] * math.exp(sigma["stderr"] / sigma["value"])
    ea = results["transport"]["arrhenius"]["activation_energy_eV"]["value"]
    assert float(by_key["Ea_eV"]["value"]) == ea
    for r in results["transport"]["results"]:
        t = f"{r['temperature_K']:g}K"
        assert float(by_key[f"haven_ratio_{t}"]["value"]) == r["haven_ratio"]["value"]
        for short, long in (
            ("E", "einstein"),
            ("NE", "nernst_einstein"),
            ("cNE", "cluster_nernst_einstein"),
        ):
            want = r["transference"][long]["Li"]["value"]
            assert float(by_key[f"t_Li_{short}_{t}"]["value"]) == want
    # the headline number is on screen, as text, not only in attributes
    sigma_el = loaded.page.locator('[data-key="sigma_300K_mS_cm"]')
    assert sigma_el.is_visible()
    # shown to the precision of its error (two significant digits of the stderr)
    shown = float(sigma_el.inner_text())
    assert abs(shown - sigma["value"] * 1000) <= max(0.05 * shown, 0.5 * sigma["stderr"] * 1000)


def test_red_warning_is_visible_and_red(loaded):
    box = loaded.page.locator(".warning-unconverged")
    assert box.count() == 1 and box.is_visible()
    assert "quick preset: numbers are not converged" in box.inner_text()
    style = box.evaluate(
        "e => { const s = getComputedStyle(e); return [s.borderTopColor, s.backgroundColor]; }"
    )
    assert style[0] == "rgb(198, 40, 40)"
    top = box.evaluate("e => e.getBoundingClientRect().top")
    assert top < 900  # in the first screenful
