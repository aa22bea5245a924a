"""Remake docs/report.png: `ivr report --html` on a simulated week of calls, in Debian's Chromium.

    .venv/bin/python docs/report_screenshot.py

The calls are bench/simulate.py's: placed through the real app, recorded by its webhooks.
"""

import sys
import tempfile
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.simulate import simulate  # noqa: E402
from ivr import report, store  # noqa: E402

OUT = Path(__file__).with_name("report.png")
BOGOTA = ZoneInfo("America/Bogota")

with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{tmp}/ivr.sqlite3"
    calls = simulate(url, days=7, calls=60, end=date(2026, 11, 27))["calls"]
    engine = store.create_engine(url)
    page_file = Path(tmp) / "report.html"
    page_file.write_text(report.html(report.summarize(engine, steps=8, tz=BOGOTA)), encoding="utf-8")
    engine.dispose()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium",
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1000, "height": 1400})
        page.goto(page_file.as_uri())
        page.screenshot(path=str(OUT))
        browser.close()
print(f"{calls} simulated calls; wrote {OUT}")
