"""The report on what callers got from key 9, and the operator's inbox on /report: calls walked
through the real line (a person, messages, call backs, closed days) into the real store (both
databases), then counted, shown on the page (in Chromium too) and written to a file that holds
no caller's number."""

import base64
import json
import logging
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import TOKEN, walk
from ivr import create_app
from ivr import report as report_mod
from ivr import store as store_mod
from ivr.cli import cli
from ivr.store import inbox
from twilio_api import ACCOUNT_SID, FakeTwilio

AGENT = "+576015550199"
SECRET = "report-person-secret"
PASSWORD = "p4ss word"
BOGOTA = ZoneInfo("America/Bogota")
#: Where the walked calls are put in time afterwards (the webhooks stamp the real clock):
#: 10:00 in Bogotá on a Thursday.
START = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
DAY = "2026-12-03"
#: The one caller who asks for a call back: the number only /report and `ivr inbox` show.
CALLBACK_CALLER = "+573001234567"

#: (caller, keys): each call from a number of its own (a returning number would be offered
#: its step back, and ask for a call back only once).
OPEN_CALLS = [
    ("+573000000001", "1,9,dial:completed"),                   # Paso 1: the person takes it
    ("+573000000002", "9,dial:declined,0"),                    # answered, not taken; the menu
    ("+573000000003", "1,2,9,dial:no-answer,1,record:14"),     # Paso 2: a message
    (CALLBACK_CALLER, "9,dial:busy,2,1"),                      # the menu: a call back
    ("+573000000005", "1,9,dial:failed"),                      # Paso 1: hangs up at the offer
]
#: On a closed day the line never rings the person.
CLOSED_CALLS = [("+573000000006", "9,1,record:9")]             # the menu: a message


def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def make_line(no_audio):
    """make_line(url, **config): the line with a person, a call store and /report."""
    def make(url, **config):
        return create_app({
            "TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_HTTP_CLIENT": FakeTwilio(auth_token=TOKEN),
            "AGENT_NUMBER": AGENT, "HOLIDAYS": "", "STORE": True, "DATABASE_URL": url,
            "SECRET_KEY": SECRET, "REPORT_PASSWORD": PASSWORD, **config,
        })
    return make


def settle(engine):
    """Put every turn, message and call-back request at START on (in the order written),
    as bench/simulate.py places its calls: the counts are the webhooks' own rows."""
    turns = store_mod.turns
    with engine.begin() as c:
        ids = c.execute(sa.select(turns.c.id).order_by(turns.c.id)).scalars().all()
        if ids:
            c.execute(turns.update().where(turns.c.id == sa.bindparam("row"))
                      .values(at=sa.bindparam("new_at")),
                      [{"row": id_, "new_at": START + timedelta(seconds=i)} for i, id_ in enumerate(ids)])
        c.execute(inbox.messages.update().values(at=START))
        c.execute(inbox.callbacks.update().values(at=START))


@pytest.fixture
def walked(make_line, database_url):
    """The calls above walked through the line into a store on `database_url`: the line
    open, then the same line on a closed day (IVR_CLOSED_DATES, its clock on that day)."""
    store_mod.upgrade(database_url)
    app = make_line(database_url)
    for caller, keys in OPEN_CALLS:
        walk(app, keys, caller=caller)
    closed_day = datetime(2026, 12, 24, 10, 0, tzinfo=BOGOTA)
    closed = make_line(database_url, CLOSED_DATES="2026-12-24", CLOCK=lambda: closed_day)
    for caller, keys in CLOSED_CALLS:
        walk(closed, keys, caller=caller)
    for each in (app, closed):
        assert each.extensions["ivr"].store.flush()
    closed.extensions["ivr"].store.close()
    settle(app.extensions["ivr"].store.engine)
    yield app
    app.extensions["ivr"].store.close()


def summary_of(app):
    line = app.extensions["ivr"]
    return report_mod.summarize(line.store.engine, steps=line.content.steps, tz=BOGOTA)


def test_sent_to_a_person_counts_only_the_transfers_the_person_took(walked):
    s = summary_of(walked)
    assert s["transfers"] == 1
    assert s["person"] == {"dialled": 5, "accepted": 1, "no_answer": 1, "busy": 1, "failed": 1,
                           "declined": 1, "closed_hours": 0, "closed_holiday": 0, "closed_day": 1}
    # The conversation ended with the line's goodbye: the call ended with the person, not
    # hung up on by the line.
    assert s["ended_at"]["person"] == 1 and s["line_hung_up"] == 0
    text = report_mod.text(s)
    assert "sent to a person (they took the call): 1;" in text
    assert ("rang the person 5 times: took the call (pressed 1) 1, answered and did not take it 1, "
            "no answer 1, busy 1, the call failed 1") in text


def test_where_callers_ended_up_after_nine(walked):
    s = summary_of(walked)
    assert s["after_nine"] == {"calls": 6, "person": 1, "message": 2, "callback": 1, "ringing": 0,
                               "nothing_left": 1, "went_on": 1}
    # The failed dial left its caller at the offer from Paso 1, named as the charts name it.
    assert s["ended_at"]["offer:1"] == 1
    page = report_mod.html(s)
    assert "<td>Opciones sin persona (Paso 1)</td><td>1</td>" in page
    assert "<td>Habló con una persona</td><td>1</td>" in page
    charts = report_mod.charts(s, report_mod.strings("es"))
    assert "Opciones sin persona (Paso 1)" in charts["dropoff"]
    for name, drawn in (*charts.items(), ("page", page), ("text", report_mod.text(s))):
        assert not re.search(r"\b(step|offer|record|callback|resume):[0-9]", drawn), name
    en = report_mod.html(s, "en")
    assert "<td>Options without a person (Step 1)</td><td>1</td>" in en


def test_messages_and_call_backs_by_day_and_by_place(walked):
    s = summary_of(walked)
    assert (s["messages"], s["callbacks"]) == (2, 1)
    assert s["per_day"] == {DAY: {"calls": 6, "transfers": 1, "messages": 2, "callbacks": 1}}
    assert s["person_per_place"] == {
        "menu": {"asked": 3, "transfers": 0, "messages": 1, "callbacks": 1},
        "step:1": {"asked": 2, "transfers": 1, "messages": 0, "callbacks": 0},
        "step:2": {"asked": 1, "transfers": 0, "messages": 1, "callbacks": 0},
    }
    # The inbox's own count agrees: the same turns, the same period, checks left out.
    counts = inbox.by_day_and_step(walked.extensions["ivr"].store.engine, tz=BOGOTA)
    assert counts["messages"] == {DAY: {"menu": 1, "step:2": 1}}
    page = report_mod.html(s)
    assert '<div class="card" id="messages-left"><b>2</b>' in page
    assert '<div class="card" id="callbacks-asked"><b>1</b>' in page
    assert f"<tr><td>{DAY}</td><td>6</td><td>1</td><td>2</td><td>1</td></tr>" in page
    assert "<td>Paso 2</td><td>1</td><td>0</td><td>1</td><td>0</td>" in page


def test_handled_call_backs_still_count(walked):
    """The count comes from the turns: a request handled (deleted, number and all) was made."""
    engine = walked.extensions["ivr"].store.engine
    assert inbox.close(engine, "c1", START)
    s = summary_of(walked)
    assert s["callbacks"] == 1 and s["open_inbox"]["callbacks"] == 0


def test_checks_leave_nothing_in_the_counts(store):
    """A web phone trial call hears a message kept, and keeps nothing: its turns are checks."""
    for sid, check in (("CAcaller", False), ("CAtrial", True)):
        store.record(store_mod.Turn(sid, None, START, "record", 4, "-", None, inbox.MESSAGE_KEPT,
                                    "menu", False, check))
    assert store.flush()
    assert inbox.by_day_and_step(store.engine, tz=BOGOTA)["messages"] == {DAY: {"step:4": 1}}
    both = inbox.by_day_and_step(store.engine, tz=BOGOTA, include_checks=True)
    assert both["messages"] == {DAY: {"step:4": 2}}
    assert report_mod.summarize(store.engine, steps=8, tz=BOGOTA)["messages"] == 1
    assert report_mod.summarize(store.engine, steps=8, tz=BOGOTA, include_checks=True)["messages"] == 2


# -- the inbox on /report -------------------------------------------------------------------------

def test_report_shows_the_inbox_with_the_number_in_clear_never_logged_nor_cached(walked, caplog):
    client = walked.test_client()
    assert client.get("/report").status_code == 401
    with caplog.at_level(logging.DEBUG):
        r = client.get("/report", headers=basic("operator", PASSWORD))
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    page = r.get_data(as_text=True)
    assert '<html lang="es">' in page and "Bandeja de entrada" in page
    assert "Llamadas por devolver (1)" in page and "Mensajes (2)" in page
    callbacks = page[page.index('<table id="callbacks">'):]
    callbacks = callbacks[:callbacks.index("</table>")]
    assert "<code>c1</code>" in callbacks and "2026-12-03 10:00" in callbacks
    assert f'<a href="tel:{CALLBACK_CALLER}">{CALLBACK_CALLER}</a>' in callbacks
    assert "Menú principal" in callbacks
    messages = page[page.index('<table id="messages">'):]
    messages = messages[:messages.index("</table>")]
    assert "<code>m1</code>" in messages and "<td>14 s</td>" in messages and "Paso 2" in messages
    urls = re.findall(r'<a href="(https://[^"]+)" rel="noreferrer">', messages)
    assert len(urls) == 2 and all(
        re.fullmatch(r"https://api\.twilio\.com/2010-04-01/Accounts/AC[0-9a-f]{32}/Recordings/RE[0-9a-f]{32}", u)
        for u in urls)
    # Shown, never logged: not the number, nor its national digits.
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert CALLBACK_CALLER[3:] not in logged
    # The ID is the one `ivr inbox done` takes: closed there, gone from the page.
    result = CliRunner().invoke(cli, ["inbox", "done", "c1"],
                                env={"DATABASE_URL": walked.extensions["ivr"].settings.database_url,
                                     "IVR_SECRET_KEY": SECRET})
    assert result.output == "closed c1\n"
    again = client.get("/report", headers=basic("operator", PASSWORD)).get_data(as_text=True)
    assert "Llamadas por devolver (0)" in again and CALLBACK_CALLER not in again


def test_report_in_english_names_the_inbox_in_english(walked, make_line):
    url = walked.extensions["ivr"].settings.database_url
    english = make_line(url, REPORT_LANGUAGE="en")
    page = english.test_client().get("/report", headers=basic("operator", PASSWORD)).get_data(as_text=True)
    assert "Call backs to make (1)" in page and "Messages (2)" in page and "Main menu" in page
    assert "Bandeja" not in page and "Llamadas por devolver" not in page
    english.extensions["ivr"].store.close()


def test_a_number_the_secret_cannot_open_says_why(walked, make_line):
    url = walked.extensions["ivr"].settings.database_url
    other = make_line(url, SECRET_KEY="another secret")
    page = other.test_client().get("/report", headers=basic("operator", PASSWORD)).get_data(as_text=True)
    assert "(no se puede descifrar: ¿cambió IVR_SECRET_KEY?)" in page
    other.extensions["ivr"].store.close()


# -- the file on disk ------------------------------------------------------------------------------

def number_forms(number):
    """The ways a Colombian number could be written out: E.164, without +, national, spaced."""
    national = number[3:]
    return (number, number[1:], national, f"{national[:3]} {national[3:6]} {national[6:]}",
            f"{national[:3]}-{national[3:6]}-{national[6:]}")


def test_the_html_file_holds_no_number_nor_recording_and_the_json_has_the_counts(walked, monkeypatch,
                                                                                 tmp_path):
    monkeypatch.setattr("dotenv.load_dotenv", lambda *a, **k: False)
    monkeypatch.setenv("DATABASE_URL", walked.extensions["ivr"].settings.database_url)
    monkeypatch.setenv("IVR_SECRET_KEY", SECRET)
    monkeypatch.delenv("IVR_REPORT_LANGUAGE", raising=False)
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["report", "--json", "--html", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[:result.output.rindex("}") + 1])
    assert data["per_day"][DAY] == {"calls": 6, "transfers": 1, "messages": 2, "callbacks": 1}
    assert data["person_per_place"]["menu"] == {"asked": 3, "transfers": 0, "messages": 1, "callbacks": 1}
    assert data["open_inbox"] == {"callbacks": 1, "messages": 2, "oldest": START.isoformat()}
    page = out.read_text(encoding="utf-8")
    assert "Llamadas por devolver: 1 · Mensajes: 2." in page and "El más antiguo es del 2026-12-03 10:00." in page
    assert "se ven en /report (con contraseña)" in page
    assert '<table id="callbacks">' not in page and 'id="inbox-private"' not in page
    for text in (page, result.output):
        for form in number_forms(CALLBACK_CALLER):
            assert form not in text, form
        # Twilio serves a recording's media to whoever has its URL unless the account
        # enforces HTTP auth on media URLs: no recording's URL or SID leaves in a file.
        assert "api.twilio.com" not in text and not re.search(r"\bRE[0-9a-f]{32}\b", text)


# -- the page in Chromium ---------------------------------------------------------------------

def test_the_report_page_with_its_inbox_in_chromium(walked, tmp_path, browser):
    served = walked.test_client().get("/report", headers=basic("operator", PASSWORD))
    page_file = tmp_path / "report.html"
    page_file.write_bytes(served.data)
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors, requests_made = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests_made.append(r.url))
    page.goto(page_file.as_uri())
    assert page.locator("#inbox-private").is_visible()
    row = page.locator("#callbacks tr").nth(1)
    assert row.locator("td").nth(0).inner_text() == "c1"
    assert row.locator("a").get_attribute("href") == f"tel:{CALLBACK_CALLER}"
    assert page.locator("#messages tr").count() == 3  # the header, two messages
    box = page.locator("#messages").bounding_box()
    assert box["width"] <= 1000  # the long recording URLs wrap inside the page
    assert page.locator("#transfers b").inner_text() == "1"
    assert page.locator("#person tr").count() == 10  # header, rang, 5 endings, 3 closed
    assert page.locator("#after-nine tr.total td").nth(1).inner_text() == "6"
    dropoff = page.locator("#dropoff-chart svg").text_content()
    assert "Opciones sin persona (Paso 1)" in dropoff and "offer:" not in dropoff
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
    assert errors == []
    assert requests_made == [page_file.as_uri()]  # self-contained: nothing else fetched
