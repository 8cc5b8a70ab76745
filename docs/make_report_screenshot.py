"""Save a full-page screenshot of a report: a run's, or one from synthetic data.

    .venv/bin/python docs/make_report_screenshot.py [out.png] [RUN_DIR]

With RUN_DIR (e.g. ``runs/LiAlCl2.5O0.75`` after ``make run``) the page of that run is shot;
without it, the synthetic example below.

The results come from solidion's own analyses of a synthetic lattice-hopping toy (no MD, no
potential; ``tests/report/synthetic.py``), run under the ``quick`` preset label, so the page
shows the red "not converged" box. The page is rendered by the system Chromium through
Playwright (``pip install playwright``; no browser download) and written to
``docs/report_example.png`` by default.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from solidion.report import build_report  # noqa: E402
from tests.report.chromium import chromium, chromium_unavailable  # noqa: E402
from tests.report.synthetic import synthetic_results  # noqa: E402

#: CSS pixels of the browser window (the page's content is at most 1100 px wide).
VIEWPORT = {"width": 1150, "height": 900}


def main(out: Path, run_dir: Path | None = None) -> Path:
    """Build the report (of ``run_dir``, or synthetic) and screenshot it to ``out``."""
    why = chromium_unavailable()
    if why:
        raise SystemExit(f"cannot take the screenshot: {why}")
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp)
        if run_dir is not None:
            (run / "results.json").write_text((run_dir / "results.json").read_text())
        else:
            (run / "results.json").write_text(json.dumps(synthetic_results(), indent=1))
        page_path = build_report(run)
        with chromium() as browser:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(page_path.as_uri())
            page.screenshot(path=str(out), full_page=True)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "report_example.png"
    print(main(target, Path(sys.argv[2]) if len(sys.argv) > 2 else None))
