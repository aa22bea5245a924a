"""The web phone: the page, its audio variant, and a real call in Chromium."""

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import soundfile
from flask import Response

from conftest import TOKEN, Tiny, doc, serving
from ivr import ROOT, create_app
from ivr.player import KEYS
from ivr.player import settings as player_settings
from webpage import clocked_page, open_phone, until


@pytest.fixture
def app(audio_dir):
    return create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                       "WEB_PHONE": True})


def page_config(html: str) -> dict:
    start = html.index('<script id="phone-config" type="application/json">') + 50
    return json.loads(html[start:html.index("</script>", start)])


def test_page_has_keypad_call_buttons_and_a_live_transcript(client):
    r = client.get("/phone")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = r.get_data(as_text=True)
    for key in "0123456789*#":
        assert f'data-key="{key}"' in html
    assert 'id="call"' in html and 'id="hangup"' in html
    assert 'role="log" aria-live="polite"' in html
    assert 'aria-label="asterisco"' in html and 'aria-label="numeral"' in html
    config = page_config(html)
    assert config["voiceUrl"] == "/voice"
    # The keys and the player's limits come from ivr/player.py, not from copies in the JS.
    assert config["settings"] == player_settings() and config["settings"]["keys"] == KEYS
    for script in ("player.js", "phone.js"):
        assert KEYS not in (ROOT / "ivr" / "static" / script).read_text(encoding="utf-8")
    assert '<label for="phrase">' in html and 'id="phrase"' in html
    laid_out = [html[i + 10] for i in range(len(html)) if html.startswith('data-key="', i)]
    assert "".join(laid_out) == "123456789*0#"  # a phone's keypad, rows of three
    pid = config["catalog"]["files"][client.application.extensions["ivr"].audio.file_for("paso_1")]
    assert pid["prompt"] == "paso_1" and "www.alcanos.com.co" in pid["text"]


def test_page_never_holds_the_auth_token_but_a_pass_the_webhooks_accept(client, app):
    html = client.get("/phone").get_data(as_text=True)
    assert app.config["TWILIO_AUTH_TOKEN"] not in html
    config = page_config(html)
    assert config["pass"] and config["header"] == "X-Web-Phone"
    r = client.post("/voice", data={"CallSid": "CAweb"}, headers={"X-Web-Phone": config["pass"]})
    assert r.status_code == 200 and r.mimetype == "text/xml"


@pytest.mark.parametrize("value", ["", "forged", "eyJ3ZWItcGhvbmUiOjF9.x.y"])
def test_webhooks_refuse_a_missing_or_forged_pass(client, value):
    headers = {"X-Web-Phone": value} if value else {}
    assert client.post("/voice", data={"CallSid": "CAweb"}, headers=headers).status_code == 403


def test_a_pass_from_another_line_is_refused(client, audio_dir):
    other = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": "other",
                     "WEB_PHONE": True})
    foreign = page_config(other.test_client().get("/phone").get_data(as_text=True))["pass"]
    assert client.post("/voice", headers={"X-Web-Phone": foreign}).status_code == 403


def test_pass_is_worthless_once_the_web_phone_is_off(app, audio_dir):
    issued = page_config(app.test_client().get("/phone").get_data(as_text=True))["pass"]
    off = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "WEB_PHONE": False,
                      "TWILIO_AUTH_TOKEN": app.config["TWILIO_AUTH_TOKEN"]})
    assert off.test_client().post("/voice", headers={"X-Web-Phone": issued}).status_code == 403


def test_web_phone_can_be_switched_off(audio_dir):
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "WEB_PHONE": False})
    client = app.test_client()
    assert client.get("/phone").status_code == 404
    name = app.extensions["ivr"].audio.file_for("welcome")
    assert client.get(f"/phone/audio/{name}").status_code == 404


def test_browser_audio_is_pcm_made_from_the_telephone_file(client, app):
    name = app.extensions["ivr"].audio.file_for("paso_2")
    with client.get(f"/phone/audio/{name}") as r:
        assert r.status_code == 200 and r.mimetype == "audio/wav"
        browser = soundfile.info(io.BytesIO(r.data))
        etag = r.headers["ETag"]
        assert r.cache_control.max_age >= 30 * 24 * 3600
    phone = soundfile.info(app.extensions["ivr"].audio.directory / name)
    assert (browser.subtype, phone.subtype) == ("PCM_16", "ULAW")
    assert browser.frames == phone.frames and browser.samplerate == phone.samplerate == 8000
    with client.get(f"/phone/audio/{name}", headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304


@pytest.mark.parametrize("name", ["nope.wav", "../content.toml", "manifest.json"])
def test_browser_audio_serves_only_manifest_files(client, name):
    assert client.get(f"/phone/audio/{name}").status_code == 404


@pytest.fixture
def server(app):
    """The app on a real HTTP port, as a browser reaches it."""
    with serving(app) as base:
        yield base


def test_a_call_in_chromium(server, browser, tmp_path):
    phone_sized = {"width": 390, "height": 844}
    page, errors = open_phone(browser, f"{server}/phone", viewport=phone_sized)
    page.get_by_role("button", name="Llamar").click()
    until(page, '#transcript li[data-prompt="menu"]')

    page.evaluate("audioRate = 1")  # Paso 1 at its own pace, so that a key can interrupt it
    page.get_by_role("button", name="1", exact=True).click()
    paso_1 = page.locator('#transcript li[data-prompt="paso_1"]').first
    paso_1.wait_for()
    assert "www.alcanos.com.co" in paso_1.inner_text()
    page.wait_for_function(
        "() => document.querySelector('#transcript li[data-prompt=paso_1]').dataset.audio === 'playing'")

    page.keyboard.press("2")  # the keyboard works too, and interrupts Paso 1's audio
    page.wait_for_selector('#transcript li[data-prompt="paso_2"]')
    assert paso_1.get_attribute("data-audio") == "stopped"

    page.evaluate("audioRate = 16")
    page.get_by_role("button", name="3", exact=True).click()
    page.wait_for_function(
        "() => document.querySelectorAll('#transcript li[data-prompt=paso_1]').length === 2")

    # Paso 1 and the keys play out, then the 10 s Gather timeout: the keys are reminded.
    until(page, '#transcript li[data-prompt="still_there"]')
    heard = page.eval_on_selector_all(
        "#transcript li", "items => items.map(i => i.dataset.prompt || i.className)")
    assert heard[-2:] == ["system", "still_there"]  # the timeout shows as silence
    page.screenshot(path=str(tmp_path / "phone.png"))

    page.get_by_role("button", name="Colgar").click()
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'ended'")
    assert page.get_by_role("button", name="Llamar").is_enabled()
    assert errors == []


def test_audio_deleted_while_running_is_404_not_an_error(client, app):
    name = app.extensions["ivr"].audio.file_for("paso_4")
    (app.extensions["ivr"].audio.directory / name).unlink()
    assert client.get(f"/phone/audio/{name}").status_code == 404
    assert client.get(f"/audio/{name}").status_code == 404


@pytest.fixture
def public_server(audio_dir):
    """The line behind a public base URL that is not the address the browser uses."""
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": "t",
                      "PUBLIC_BASE_URL": "https://ivr.example.com", "WEB_PHONE": True})
    with serving(app) as base:
        yield base


def test_web_phone_works_when_the_twiml_names_a_public_base_url(public_server, browser):
    page, errors = open_phone(browser, f"{public_server}/phone")
    page.get_by_role("button", name="Llamar").click()
    page.wait_for_selector('#transcript li[data-prompt="welcome"]')
    page.keyboard.press("2")
    page.wait_for_selector('#transcript li[data-prompt="pick"]')
    page.keyboard.press("6")
    page.wait_for_function(  # played (fast: it may be over already), not blocked
        "() => ['playing', 'ended'].includes("
        "document.querySelector('#transcript li[data-prompt=paso_6]')?.dataset.audio)")
    page.get_by_role("button", name="Colgar").click()
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'ended'")
    assert errors == []


def test_with_a_token_the_web_phone_is_off_unless_asked_for(audio_dir):
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN})
    client = app.test_client()
    assert client.get("/phone").status_code == 404
    assert client.post("/phone/pass").status_code == 404
    # Without a token (local use) it is on by default.
    local = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir)})
    assert local.test_client().get("/phone").status_code == 200


def test_a_pass_expires_within_minutes(audio_dir):
    now = [datetime(2026, 12, 3, 10, 0, tzinfo=UTC)]
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                      "WEB_PHONE": True, "CLOCK": lambda: now[0]})
    client = app.test_client()
    issued = page_config(client.get("/phone").get_data(as_text=True))["pass"]
    headers = {"X-Web-Phone": issued}
    assert client.post("/voice", data={"CallSid": "CAweb"}, headers=headers).status_code == 200
    now[0] += timedelta(minutes=10)
    assert client.post("/voice", data={"CallSid": "CAweb"}, headers=headers).status_code == 200
    now[0] += timedelta(seconds=1)  # ten minutes and a second later...
    assert client.post("/voice", data={"CallSid": "CAweb"}, headers=headers).status_code == 403
    # ...the page's new pass works again.
    fresh = client.post("/phone/pass").json["pass"]
    r = client.post("/voice", data={"CallSid": "CAweb"}, headers={"X-Web-Phone": fresh})
    assert r.status_code == 200


def test_the_signature_check_knows_nothing_of_the_web_phone():
    import subprocess
    import sys

    code = "import sys, ivr.security; print(sorted(m for m in sys.modules if m.startswith('ivr')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ivr.phone" not in loaded.stdout and "ivr.security" in loaded.stdout


# -- saying something ----------------------------------------------------------------------

STATIC = ROOT / "ivr" / "static"


@pytest.fixture
def speech_line(client):
    """The real /phone page in front of a tiny line whose <Gather>s listen for speech."""
    # Under /assets/: Tiny, a Flask app, has a /static/ route of its own.
    files = {f"/assets/{p.name}": Response(p.read_text(encoding="utf-8"), mimetype=mime)
             for p, mime in ((STATIC / "player.js", "text/javascript"),
                             (STATIC / "phone.js", "text/javascript"), (STATIC / "phone.css", "text/css"))}
    tiny = Tiny({
        "/phone": Response(client.get("/phone").get_data(as_text=True).replace("/static/", "/assets/"),
                           mimetype="text/html"),
        "/voice": doc('<Gather input="dtmf speech" language="es-MX" action="/voice/turn" timeout="30">'
                      "<Say>Decí siguiente</Say></Gather>"),
        "/voice/turn": doc('<Gather action="/voice/end" timeout="30"><Say>Ahora solo teclas</Say></Gather>'),
        # The page renews its pass before a call; this tiny line checks none.
        "/phone/pass": Response('{"pass": "any"}', mimetype="application/json"),
        **files,
    })
    with serving(tiny.app) as base:
        yield tiny, base


def test_the_say_field_sends_a_phrase_as_speech(speech_line, browser):
    tiny, base = speech_line
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{base}/phone")
    field = page.get_by_label("Decile algo a la línea")
    field.fill("hola")
    page.get_by_role("button", name="Decir").click()  # no call yet: nobody listens
    page.wait_for_selector("#transcript li.system")
    assert "no escuchaba" in page.inner_text("#transcript")

    page.get_by_role("button", name="Llamar").click()
    page.wait_for_selector("#transcript li.line")
    field.click()
    page.keyboard.type("paso 5")  # digits typed in the field are words, not keys
    field.fill("Siguiente.")
    field.press("Enter")
    page.wait_for_selector("#transcript li.said")
    assert page.text_content("#transcript li.said") == "Dijiste:Siguiente."  # label, then words
    # The next document is playing, so its request has been made.
    page.wait_for_selector("#transcript li.line >> nth=1")
    turn = [s for s in tiny.seen if s.path.startswith("/voice/turn")][0]
    assert (turn.values["SpeechResult"], turn.values["Confidence"]) == ("Siguiente.", "0.92")
    assert "Digits" not in turn.values

    # The next <Gather> listens for keys only: the phrase is not heard, and the page says so.
    field.fill("atrás")
    page.get_by_role("button", name="Decir").click()
    page.wait_for_selector("#transcript li.system")  # the call's own transcript: only this
    assert page.inner_text("#transcript li.system") == "La línea no escuchaba voz: atrás"
    assert not [s for s in tiny.seen if s.path.startswith("/voice/end")]
    page.get_by_role("button", name="Colgar").click()
    page.wait_for_function("() => document.getElementById('status').dataset.state === 'ended'")
    assert errors == []


# -- the extras: a person (9) and a text (7) ------------------------------------------------


@pytest.fixture
def extras_server(no_audio):
    """The line with both extras on (texts to twilio's HTTP seam) and the web phone, served."""
    from twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

    api = FakeTwilio()
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                      "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "SMS_FROM": "+15005550006",
                      "AGENT_NUMBER": "+576015555555", "TWILIO_HTTP_CLIENT": api, "HOLIDAYS": "",
                      "WEB_PHONE": True})
    with serving(app) as base:
        yield base, api


def transcript(page) -> list[str]:
    return page.eval_on_selector_all("#transcript li", "items => items.map(i => i.innerText)")


def test_the_web_phone_shows_a_person_dialled_and_the_texts_answer(extras_server, browser):
    base, api = extras_server
    page, errors = open_phone(browser, f"{base}/phone")
    panel = page.get_by_role("group", name="Llamando a una persona")
    assert not panel.is_visible()
    page.get_by_role("button", name="Llamar").click()
    until(page, '#transcript li[data-prompt="menu_agent"]')

    # 7: the web phone's requests are not signed by Twilio: a trial call hears what a caller
    # would and sees the message, which is sent to nobody.
    page.keyboard.press("7")
    until(page, '#transcript li[data-prompt="sms_sent"]')
    shown = page.inner_text("#transcript li.sms")
    assert shown.startswith("Mensaje de texto (llamada de prueba: no se envía a nadie):")
    assert "www.alcanos.com.co" in shown and "8 Guardá el comprobante" in shown
    assert api.messages == [] and api.requests == []

    # 9: the line dials the person; the page says whom and offers how they answer.
    page.keyboard.press("9")
    until(page, '#transcript li[data-prompt="agent_connecting"]')
    until(page, "#person:not([hidden])")
    assert panel.inner_text().startswith("Llamando a una persona: +576015555555")
    assert "nadie contesta en 25 s" in panel.inner_text()
    assert "Llamando a una persona: +576015555555" in transcript(page)
    # Not screened-relevant buttons: "answers without taking it" shows for a screened transfer.
    assert panel.get_by_role("button", name="Atiende y no la toma").is_visible()
    panel.get_by_role("button", name="Ocupado").click()
    until(page, '#transcript li[data-prompt="agent_busy"]')
    assert not panel.is_visible()
    lines = transcript(page)
    assert lines[lines.index("Llamando a una persona: +576015555555") + 1] == "Ocupado"
    # Busy: why, then the offer (this line keeps no store: the menu and the text).
    until(page, '#transcript li[data-prompt="offer_menu"]')
    page.keyboard.press("0")
    until(page, '#transcript li[data-prompt="menu_agent"] >> nth=-1')

    # 9 again, and the person takes the call: the page shows what they heard first.
    page.keyboard.press("9")
    until(page, "#person:not([hidden])")  # after the words that say the line is dialling
    page.get_by_role("button", name="Atiende y habla").click()
    until(page, '#transcript li[data-prompt="goodbye"]')
    lines = transcript(page)
    assert "La persona escucha:Llamada de la Línea Alcanos." in lines
    assert "La persona escucha:La persona estaba en el menú principal." in lines
    assert "+576015555555" not in " ".join(line for line in lines if line.startswith("La persona escucha"))
    assert "La persona tomó la llamada (marcó 1)" in lines
    assert "Atendió y la conversación terminó (60 s)" in lines
    until(page, "() => document.getElementById('status').dataset.state === 'ended'")
    assert not panel.is_visible()
    assert errors == []


# -- the pass, renewed ----------------------------------------------------------------------


def test_pass_lifetimes_are_settings_checked_at_startup(audio_dir):
    from ivr.settings import ConfigError

    base = {"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN, "WEB_PHONE": True}
    app = create_app({**base, "WEB_PHONE_PASS_SECONDS": "30", "WEB_PHONE_PASS_REFRESH_SECONDS": 10})
    assert page_config(app.test_client().get("/phone").get_data(as_text=True))["passRefreshSeconds"] == 10
    with pytest.raises(ConfigError, match="IVR_WEB_PHONE_PASS_REFRESH_SECONDS must be more than 0 and less"):
        create_app({**base, "WEB_PHONE_PASS_SECONDS": 30, "WEB_PHONE_PASS_REFRESH_SECONDS": 30})
    with pytest.raises(ConfigError, match="IVR_WEB_PHONE_PASS_SECONDS must be a number of seconds"):
        create_app({**base, "WEB_PHONE_PASS_SECONDS": "soon"})


@pytest.fixture
def short_pass_server(no_audio):
    """The line with a web phone pass that lives 3 s, renewed every second during a call, on
    a clock the test moves (now[0])."""
    now = [datetime(2026, 12, 3, 10, 0, tzinfo=UTC)]
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                      "WEB_PHONE": True, "WEB_PHONE_PASS_SECONDS": 3,
                      "WEB_PHONE_PASS_REFRESH_SECONDS": 1, "CLOCK": lambda: now[0]})
    with serving(app) as base:
        yield app, base, now


def test_a_call_longer_than_a_pass_lives_keeps_working(short_pass_server, browser):
    app, base, now = short_pass_server
    page = clocked_page(browser)
    errors, webhooks, renewals = [], [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("response", lambda r: webhooks.append(r.status) if "/voice" in r.url else None)
    page.on("request", lambda r: renewals.append(r.method) if r.url.endswith("/phone/pass") else None)
    page.goto(f"{base}/phone")
    stale = page_config(page.content())["pass"]
    now[0] += timedelta(seconds=4)  # the pass the page came with has expired...
    client = app.test_client()
    assert client.post("/voice", headers={"X-Web-Phone": stale}).status_code == 403
    page.get_by_role("button", name="Llamar").click()  # ...so the page fetches a new one
    until(page, '#transcript li[data-prompt="menu"]')
    page.keyboard.press("2")
    until(page, '#transcript li[data-prompt="pick"]')
    page.keyboard.press("3")
    until(page, '#transcript li[data-prompt="paso_3"]')
    for heard in range(2, 6):  # each key a webhook, over twice as long as a pass lives
        now[0] += timedelta(seconds=1.5)  # the line's time and the page's move together
        page.clock.run_for(1500)
        page.keyboard.press("1")  # repeat the step
        until(page, "() => document.querySelectorAll('#transcript li[data-prompt=paso_3]').length"
                    f" === {heard}")
    assert page.eval_on_selector("#status", "s => s.dataset.state") == "inCall"
    assert webhooks and set(webhooks) == {200}
    assert len(renewals) >= 6  # one before the call, then one a second
    page.get_by_role("button", name="Colgar").click()
    until(page, "() => document.getElementById('status').dataset.state === 'ended'")
    assert errors == []


# -- nobody takes the call: a message ---------------------------------------------------------


@pytest.fixture
def message_server(no_audio, tmp_path):
    """The line with a person and a call store (so a message can be left), served."""
    from ivr import store

    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    store.upgrade(url)
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                      "AGENT_NUMBER": "+576015555555", "HOLIDAYS": "", "WEB_PHONE": True,
                      "STORE": True, "DATABASE_URL": url, "SECRET_KEY": "web-phone-test"})
    with serving(app) as base:
        yield base


def test_the_web_phone_shows_grabando_while_a_message_is_recorded(message_server, browser):
    page, errors = open_phone(browser, f"{message_server}/phone")
    page.get_by_role("button", name="Llamar").click()
    until(page, '#transcript li[data-prompt="menu_agent"]')
    page.keyboard.press("9")
    until(page, "#person:not([hidden])")
    page.get_by_role("button", name="Atiende y no la toma").click()
    until(page, '#transcript li[data-prompt="agent_declined"]')
    assert "La persona no tomó la llamada" in transcript(page)
    assert "Atendió y colgó sin tomar la llamada" in transcript(page)
    until(page, '#transcript li[data-prompt="offer_message"]')
    page.keyboard.press("1")
    recording = page.get_by_role("group", name="Grabando")
    until(page, "#recording:not([hidden])")
    assert page.eval_on_selector("#status", "s => s.dataset.state") == "recording"
    assert page.inner_text("#status") == "Grabando tu mensaje"
    assert "(tono)" in transcript(page)
    # The page counts the seconds spoken; # (the message's finish key) ends it after a few.
    until(page, "() => Number(document.querySelector('.recording-seconds').textContent) >= 3")
    page.keyboard.press("#")
    until(page, '#transcript li[data-prompt="record_thanks"]')
    assert not recording.is_visible()
    assert page.eval_on_selector("#status", "s => s.dataset.state") == "inCall"
    assert any(line.startswith("Dejaste un mensaje de") for line in transcript(page))
    page.get_by_role("button", name="Colgar").click()
    until(page, "() => document.getElementById('status').dataset.state === 'ended'")
    assert errors == []
