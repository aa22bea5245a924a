"""Remake docs/web-phone.png: a call in Debian's Chromium after "1", "2", "3" and a silence.

    .venv/bin/python docs/screenshot.py
"""

import threading
from pathlib import Path

from playwright.sync_api import sync_playwright
from werkzeug.serving import make_server

from ivr import create_app

OUT = Path(__file__).with_name("web-phone.png")

app = create_app({"TWILIO_AUTH_TOKEN": "screenshot-token", "WEB_PHONE": True, "STORE": False})
server = make_server("127.0.0.1", 0, app, threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
with sync_playwright() as p:
    browser = p.chromium.launch(
        executable_path="/usr/bin/chromium",
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--autoplay-policy=no-user-gesture-required"],
    )
    page = browser.new_page(viewport={"width": 900, "height": 840})
    page.goto(f"http://127.0.0.1:{server.server_port}/phone")
    page.get_by_role("button", name="Llamar").click()
    page.wait_for_selector('#transcript li[data-prompt="menu"]')
    for key, prompt in (("1", "paso_1"), ("2", "paso_2"), ("3", "paso_1")):
        page.keyboard.press(key)
        page.wait_for_function(
            f"() => [...document.querySelectorAll('#transcript li')].pop().dataset.prompt === '{prompt}'")
    page.wait_for_selector('#transcript li[data-prompt="still_there"]', timeout=60_000)
    page.get_by_role("button", name="5").focus()
    page.screenshot(path=str(OUT))
    browser.close()
server.shutdown()
print(f"wrote {OUT}")
