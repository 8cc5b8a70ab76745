"""Campaign files for the tests: the tiny 21-atom protocol of tests/pipeline/test_run_e2e.py
written as a campaign's [protocol] table, and a synthetic database of a whole A M X family."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

#: The tiny protocol (relax hard, heat under strong friction, a whiff of NPT), as TOML.
TINY_PROTOCOL = """
[protocol]
n_atoms = 21
checkpoint_every = 20
melt_quench = [
  { ensemble = "relax", max_steps = 150, fmax_eV_A = 0.05 },
  { ensemble = "nvt", T_start_K = 100, T_end_K = 600, duration_ps = 0.03, timestep_fs = 1.0, name = "heat", thermostat = "langevin", friction_per_fs = 0.05 },
  { ensemble = "npt", T_start_K = 600, T_end_K = 600, duration_ps = 0.02, timestep_fs = 1.0, name = "anneal", frame_interval_fs = 5, pdamp_fs = 100, tdamp_fs = 20 },
]
production = [ { ensemble = "nvt", duration_ps = %(production_ps)s, timestep_fs = 2.0, frame_interval_fs = 4, tdamp_fs = 20 } ]
"""


def tiny_campaign(
    folder: Path,
    compositions: Sequence[str],
    temperatures: Sequence[float] = (600.0, 800.0),
    *,
    production_ps: float = 0.1,
    name: str = "tiny",
    seed: int = 3,
    extra: str = "",
) -> Path:
    """Write ``<folder>/<name>.toml`` for the tiny protocol; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    forms = ", ".join(f'"{f}"' for f in compositions)
    temps = ", ".join(f"{t:g}" for t in temperatures)
    path.write_text(
        f'name = "{name}"\noutput = "{name}-out"\ntemperatures = [{temps}]\nseed = {seed}\n'
        f"compositions = [{forms}]\n{extra}\n" + TINY_PROTOCOL % {"production_ps": production_ps}
    )
    return path


def family_store(folder: Path, *, missing: Sequence[str] = (), seed: int = 0):
    """A campaign of the 27-member family whose database holds synthetic analysis results.

    Every composition gets the numbers the comparison page reads (σ(300 K), E_a, H_R and t per
    temperature, ε_a for two environments, convergence flags), drawn at random; the
    compositions in ``missing`` are left failed (their glass) and blocked.
    """
    from solidion.campaign import Store, build_plan, load_campaign
    from solidion.campaign.store import ResultRow

    path = folder / "amx.toml"
    path.write_text(
        'output = "amx-out"\ntemperatures = [600, 700]\npreset = "quick"\n[compositions.family]\n'
    )
    c = load_campaign(path)
    plan = build_plan(c)
    rng = np.random.default_rng(seed)
    with Store.open(c.database) as store:
        store.sync_plan(plan)
        for spec in c.compositions:
            f = spec.formula
            ids = [t.id for t in plan.tasks if t.composition == f]
            for tid in ids:
                store.mark_queued(tid)
            if f in missing:
                store.mark_failed(ids[0], "InputError: synthetic failure")
                store.mark_blocked(ids[1:], f"{ids[0]} failed")
                continue
            out = folder / f"{f}.out"
            out.write_text("")
            rows = [
                ResultRow(
                    None,
                    "arrhenius.conductivity_300K_S_cm",
                    10 ** rng.uniform(-4, -2),
                    10 ** rng.uniform(-5, -3),
                    "S/cm",
                ),
                ResultRow(
                    None,
                    "arrhenius.activation_energy_eV",
                    rng.uniform(0.2, 0.4),
                    rng.uniform(0.01, 0.05),
                    "eV",
                ),
                ResultRow(
                    None,
                    "arrhenius.conductivity_activation_energy_eV",
                    rng.uniform(0.2, 0.4),
                    0.02,
                    "eV",
                ),
                ResultRow(
                    None, "structure.residence_activation_eV.Cl4", rng.uniform(0.3, 0.5), 0.03, "eV"
                ),
                ResultRow(
                    None,
                    "structure.residence_activation_eV.Cl3O1",
                    rng.uniform(0.4, 0.6),
                    None,
                    "eV",
                ),
            ]
            for t in c.temperatures_K:
                rows += [
                    ResultRow(t, "transport.haven_ratio", rng.uniform(0.3, 1.0), 0.05, ""),
                    ResultRow(
                        t,
                        f"transport.transference.einstein.{spec.A}",
                        rng.uniform(0.5, 1.0),
                        0.04,
                        "",
                    ),
                    ResultRow(t, "convergence.converged", 1.0, None, ""),
                    ResultRow(
                        t, "transport.species.Al.tracer_diffusivity_cm2_s", math.nan, None, "cm²/s"
                    ),
                ]
            for tid in ids:
                info = {"output": str(out), "wall_s": 1.0, "host": "h", "pid": 1}
                store.mark_done(
                    tid, str(out), info, results=(f, rows) if tid.startswith("analysis") else None
                )
    return c


@pytest.fixture
def family(tmp_path):
    return family_store(tmp_path, missing=("KInI2.5O0.75",))


# -- the report in a browser ---------------------------------------------------------------------
NUMBERS_JS = """els => els.map(e => ({key: e.dataset.key, value: e.dataset.value,
    source: e.dataset.source ?? null, scale: e.dataset.scale ?? null}))"""
IMAGES_JS = """() => Array.from(document.images).map(i => ({complete: i.complete,
    width: i.naturalWidth, height: i.naturalHeight, alt: i.alt,
    data: i.currentSrc.startsWith('data:image/png;base64,')}))"""


def load_in_browser(browser, path: Path) -> dict:
    """Open a page; return its console/page errors, requests, numbers and images."""
    errors: list[str] = []
    requests: list[str] = []
    page = browser.new_page(viewport={"width": 1150, "height": 900})
    page.on(
        "console",
        lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    out = {
        "errors": errors,
        "requests": requests,
        "numbers": page.eval_on_selector_all("[data-key]", NUMBERS_JS),
        "images": page.evaluate(IMAGES_JS),
        "title": page.title(),
        "text": page.inner_text("body"),
    }
    page.close()
    return out


def check_numbers_equal_database(numbers: list[dict], database: Path) -> int:
    """Every number on the page is the stored value (× its scale); returns how many."""
    from solidion.campaign import Store

    with Store.open_readonly(database) as store:
        rows = store.results()
    stored = {
        (
            r["composition"],
            "series" if r["temperature_K"] is None else f"{r['temperature_K']:g}",
            r["quantity"],
        ): r
        for r in rows
    }
    keys = [n["key"] for n in numbers]
    assert len(set(keys)) == len(keys), "data-key values must be unique"
    for n in numbers:
        _, root, formula, t, quantity, field = n["source"].split("/")
        assert root == "results", n
        row = stored[(formula, t, quantity)]
        raw = row[field]
        got = None if n["value"] == "null" else float(n["value"])
        want = None if raw is None else raw * float(n["scale"] or 1.0)
        assert got == want, (n, row)
    return len(numbers)
