"""The report on a known set of calls (both databases), its CLI, its page in Chromium, /report."""

import base64
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from conftest import TOKEN
from ivr import create_app
from ivr import report as report_mod
from ivr import store as store_mod
from ivr.cli import cli
from ivr.settings import ConfigError
from ivr.store import CallStatus, Turn

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)

#: (seconds after the call's start, place, step, input, words, action, outcome)
CALLS = {
    # Guide from Paso 1: repeat, next, slow, back, next again, then the caller hangs up on Paso 2.
    "CA1": (NOW, [
        (0, "start", None, "-", None, "start", "menu"),
        (10, "menu", None, "1", None, "step", "step:1"),
        (40, "step", 1, "1", None, "repeat", "step:1"),
        (60, "step", 1, "2", None, "next", "step:2"),
        (100, "step", 2, "4", None, "slow", "step:2"),
        (110, "step", 2, "3", None, "back", "step:1"),
        (120, "step", 1, "#", None, "next", "step:2"),
    ]),
    # A wrong key, the picker, Paso 8, the Conclusión, then silence: the line says goodbye.
    "CA2": (NOW + timedelta(hours=1), [
        (0, "start", None, "-", None, "start", "menu"),
        (5, "menu", None, "5", None, "wrong", "menu"),
        (10, "menu", None, "2", None, "pick", "pick"),
        (15, "pick", None, "8", None, "step", "step:8"),
        (75, "step", 8, "2", None, "conclusion", "end"),
        (85, "end", None, "-", None, "hangup", "hangup"),
    ]),
    # The day before: words the line did not understand, an SMS, then a person.
    "CA3": (NOW - timedelta(days=1), [
        (0, "start", None, "-", None, "start", "menu"),
        (8, "menu", None, "speech", "Hola, quiero pagar.", "wrong", "menu"),
        (12, "menu", None, "7", None, "sms_sent", "menu"),
        (20, "menu", None, "9", None, "agent", "dial"),
    ]),
    # Two callers back: offered to go on at Paso 5; one takes it, one goes to the menu.
    "CA4": (NOW + timedelta(hours=2), [
        (0, "start", None, "-", None, "resume", "resume:5"),
        (6, "resume", 5, "1", None, "resume", "step:5"),
    ]),
    "CA5": (NOW + timedelta(hours=3), [
        (0, "start", None, "-", None, "resume", "resume:5"),
        (6, "resume", 5, "0", None, "menu", "menu"),
    ]),
}
#: Not callers: ivr doctor's self-check and a web phone trial call.
CHECKS = {
    "CAcheck": (NOW, [(0, "start", None, "-", None, "start", "menu")]),
    "CAweb": (NOW, [(0, "start", None, "-", None, "start", "menu"),
                    (5, "menu", None, "1", None, "step", "step:1")]),
}
STATUSES = [("CA1", "completed", 130), ("CA2", "completed", 90), ("CA3", "completed", 200),
            ("CA4", "completed", 60), ("CA5", "completed", 20), ("CAweb", "canceled", 5)]


def record_calls(store):
    for calls, check in ((CALLS, False), (CHECKS, True)):
        for sid, (start, turns) in calls.items():
            for seconds, place, step, key, words, action, outcome in turns:
                store.record(Turn(sid, "+573001234567", start + timedelta(seconds=seconds), place, step,
                                  key, words, action, outcome, action == "slow", check))
            for c, status, duration in STATUSES:
                if c == sid:
                    store.record(CallStatus(sid, status, duration, start + timedelta(minutes=5), check))
    assert store.flush()


@pytest.fixture
def calls(store):
    record_calls(store)
    return store


def test_summary_of_known_calls(calls):
    s = report_mod.summarize(calls.engine, steps=8)
    assert s["calls"] == 5 and s["completed"] == 1 and s["steps"] == 8
    assert s["reached_step"] == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 1, "6": 0, "7": 0, "8": 1}
    nothing_left = {"transfers": 0, "messages": 0, "callbacks": 0}
    assert s["per_day"] == {"2026-11-19": {"calls": 1, **nothing_left},
                            "2026-11-20": {"calls": 4, **nothing_left}}
    assert s["ended_at"] == {"menu": 1, "step:2": 1, "step:5": 1, "end": 1, "dial": 1}
    assert s["line_hung_up"] == 1
    assert s["per_step"]["1"] == {"repeat": 1, "back": 0, "slow": 0, "silence": 0, "wrong": 0,
                                  "median_seconds": 20.0}  # visits of 30, 20 and 10 s
    assert s["per_step"]["2"] == {"repeat": 0, "back": 1, "slow": 1, "silence": 0, "wrong": 0,
                                  "median_seconds": 25.0}  # 40 and 10 s
    assert s["per_step"]["8"]["median_seconds"] == 60.0
    assert s["per_step"]["5"]["median_seconds"] is None
    assert s["wrong_per_place"] == {"menu": {"wrong_keys": 1, "not_understood": 1}}
    assert s["words_not_understood"] == {"hola, quiero pagar.": 1}
    # CA3's 9 rang the person and the call ended there: a dial, not a transfer taken.
    assert (s["sms_sent"], s["transfers"], s["person"]["dialled"]) == (1, 0, 1)
    assert s["after_nine"] == {"calls": 1, "person": 0, "message": 0, "callback": 0, "ringing": 1,
                               "nothing_left": 0, "went_on": 0}
    assert s["call_status"] == {"completed": 5} and s["median_call_seconds"] == 90
    assert s["not_recorded"] == {"turns": 0, "statuses": 0, "first": None, "last": None}


def test_resumed_counts_callers_who_took_the_offer_not_offers(calls):
    s = report_mod.summarize(calls.engine, steps=8)
    assert (s["resume_offered"], s["resumed"]) == (2, 1)


def test_checks_are_shown_apart_or_counted_when_asked(calls):
    s = report_mod.summarize(calls.engine, steps=8)
    assert (s["calls"], s["checks"], s["include_checks"]) == (5, 2, False)
    assert s["reached_step"]["1"] == 1 and "canceled" not in s["call_status"]
    both = report_mod.summarize(calls.engine, steps=8, include_checks=True)
    assert (both["calls"], both["checks"], both["include_checks"]) == (7, 2, True)
    assert both["reached_step"]["1"] == 2 and both["call_status"]["canceled"] == 1
    assert "Checks (doctor's self-check, web phone calls): 2, not counted" in report_mod.text(s)
    page = report_mod.html(s)
    assert "2 llamadas de prueba (el chequeo de ivr doctor, el teléfono web) no se cuentan." in page


def test_words_kept_before_numbers_were_hidden_are_hidden_in_the_report(store, content):
    store.record(Turn("CAold", None, NOW, "menu", None, "speech", "Mi cuenta 1234 5678", "wrong", "menu"))
    store.flush()
    s = report_mod.summarize(store.engine, steps=8, hide=content.digits.mask)
    assert s["words_not_understood"] == {"mi cuenta ********": 1}


def test_since_and_the_number_of_steps(calls):
    s = report_mod.summarize(calls.engine, date(2026, 11, 20), steps=9, tz=UTC)
    assert s["calls"] == 4 and s["since"] == "2026-11-20T00:00:00+00:00"
    assert list(s["reached_step"]) == [str(n) for n in range(1, 10)]  # the content's steps
    # In Bogotá (UTC-5) the day before ends at 05:00 UTC: the same calls.
    bogota = ZoneInfo("America/Bogota")
    assert report_mod.summarize(calls.engine, date(2026, 11, 20), steps=8, tz=bogota)["calls"] == 4


def test_an_empty_store_reports_zeros(store):
    s = report_mod.summarize(store.engine, steps=8)
    assert s["calls"] == 0 and s["completed"] == 0 and set(s["reached_step"].values()) == {0}
    assert "Calls (all records kept): 0" in report_mod.text(s)
    assert "<svg" in report_mod.html(s)


def test_text_report_names_the_funnel_the_stuck_places_and_its_database(calls, database_url):
    out = report_mod.text(report_mod.summarize(calls.engine, steps=8))
    assert "Calls (all records kept): 5" in out
    assert "Completed (heard the conclusion): 1" in out
    assert "Step 2         1   20.0%" in out
    assert "hola, quiero pagar." in out
    assert "resumed: 1 (of 2 offered)" in out
    assert f"Database: {store_mod.masked(database_url)}\n" in out
    assert not re.search(r"\b(step|resume):[0-9]", out)  # places are named, as on the page


def test_the_report_states_what_it_did_not_record(calls):
    """A worker's losses, written down once its database came back, are the report's blind
    spots for the period."""
    with calls.engine.begin() as c:
        c.execute(store_mod.losses.insert(), [
            {"at": NOW, "first_at": NOW - timedelta(minutes=3), "last_at": NOW - timedelta(minutes=1),
             "turns": 40, "statuses": 2, "worker": "web1:100"},
            {"at": NOW, "first_at": NOW - timedelta(minutes=2), "last_at": NOW,
             "turns": 7, "statuses": 0, "worker": "web1:101"},
            {"at": NOW, "first_at": NOW - timedelta(days=9), "last_at": NOW - timedelta(days=9),
             "turns": 1000, "statuses": 0, "worker": "web1:99"},  # before the period
        ])
    s = report_mod.summarize(calls.engine, date(2026, 11, 20), steps=8, tz=UTC)
    assert s["not_recorded"] == {"turns": 47, "statuses": 2,
                                 "first": "2026-11-20T14:57:00+00:00", "last": "2026-11-20T15:00:00+00:00"}
    assert "47 turns not recorded (2 call statuses), 2026-11-20T14:57 to 2026-11-20T15:00 UTC" in report_mod.text(s)
    page = report_mod.html(s)
    assert "<b>47 turnos sin registrar</b> y 2 finales de llamada" in page
    assert report_mod.summarize(calls.engine, steps=8)["not_recorded"]["turns"] == 1047


def test_tables_use_the_charts_names_and_counts_are_whole_numbers(calls):
    page = report_mod.html(report_mod.summarize(calls.engine, steps=8))
    for table in ("per-step", "wrong", "ended"):
        rows = page[page.index(f'<table id="{table}">'):]
        rows = rows[:rows.index("</table>")]
        assert "step:" not in rows and "resume:" not in rows, table
    assert "<td>Paso 2</td><td>1</td>" in page and "<td>Conclusión</td><td>1</td>" in page
    assert "<td>Llamando a una persona</td><td>1</td>" in page
    charts = report_mod.charts(report_mod.summarize(calls.engine, steps=8), report_mod.strings("es"))
    for name, svg in charts.items():
        labels = re.findall(r"<text[^>]*>([^<]*)</text>", svg)
        assert [x for x in labels if re.fullmatch(r"[0-9.]+", x) and not x.isdigit()] == [], name
    assert "Paso 2" in charts["dropoff"] and "step:2" not in charts["dropoff"]


def test_the_page_speaks_spanish_unless_told_english(calls):
    s = report_mod.summarize(calls.engine, steps=8)
    es, en = report_mod.html(s), report_mod.html(s, "en")
    assert '<html lang="es">' in es and "Llamadas por día" in es and "Calls per day" not in es
    assert '<html lang="en">' in en and "Calls per day" in en and "Llamadas por día" not in en
    assert "<td>Step 2</td>" in en and "<td>Conclusion</td>" in en


def test_each_language_has_every_string():
    """One file per language, the same keys in each, and every key the templates use."""
    from ivr import ROOT
    from ivr.settings import REPORT_LANGUAGES

    keys = {language: set(report_mod.strings(language)) for language in REPORT_LANGUAGES}
    assert keys["es"] == keys["en"]
    used = set()
    for template in [ROOT / "ivr/templates/report.html", *(ROOT / "ivr/templates/report").glob("*.html")]:
        used |= set(re.findall(r"\bt\.(\w+)", template.read_text(encoding="utf-8")))
    assert used - {"format"} <= keys["es"]
    page = report_mod.page
    assert {f"col_{c}" for c in (*page.STEP_COLUMNS, *page.DAY_COLUMNS, *page.PERSON_COLUMNS)} <= keys["es"]
    summary = report_mod.summary
    assert {f"person_{k}" for k in summary.PERSON} <= keys["es"]
    assert {f"after_{k}" for k in summary.AFTER_NINE} <= keys["es"]


# -- the CLI ---------------------------------------------------------------------------------

@pytest.fixture
def env(monkeypatch):
    """Only what a test sets: no developer .env or settings leak in."""
    monkeypatch.setattr("dotenv.load_dotenv", lambda *a, **k: False)
    for name in ("DATABASE_URL", "IVR_RETENTION_DAYS", "IVR_TIMEZONE", "IVR_CONTENT", "IVR_REPORT_LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def ivr(*args):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("command", [("report",), ("db", "prune")])
def test_reading_a_default_store_the_line_never_made_makes_no_file(env, command):
    from ivr import paths

    default = Path(paths.instance_path()) / "ivr.sqlite3"
    result = ivr(*command)
    assert result.exit_code == 1
    assert result.output == (f"Error: no call store at {default} yet: the line makes it on its first "
                             f"call (or set DATABASE_URL to the line's database)\n")
    assert not default.exists() and not default.parent.exists()


def test_cli_upgrade_then_report_json(env, database_url, tmp_path):
    env.setenv("DATABASE_URL", database_url)
    refused = ivr("report", "--json")
    assert refused.exit_code == 1
    assert refused.output.strip().endswith("has no schema: run `ivr db upgrade`")
    assert len(refused.output.strip().splitlines()) == 1

    done = ivr("db", "upgrade")
    assert done.exit_code == 0 and f"schema at revision {store_mod.HEAD}" in done.output
    s = store_mod.Store.open(database_url, b"k")
    record_calls(s)
    s.close()

    env.setenv("IVR_TIMEZONE", "UTC")
    result = ivr("report", "--json", "--since", "2026-11-01", "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[:result.output.rindex("}") + 1])
    assert (data["calls"], data["completed"], data["checks"]) == (5, 1, 2)
    assert data["reached_step"] == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 1, "6": 0, "7": 0, "8": 1}
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 3 and '<html lang="es">' in page and "Llamadas por día" in page

    text = ivr("report")
    assert text.exit_code == 0 and "Calls (all records kept): 5" in text.output
    assert text.output.startswith(f"Database: {store_mod.masked(database_url)}\n")
    assert "Calls (all records kept): 7" in ivr("report", "--include-checks").output

    env.setenv("IVR_REPORT_LANGUAGE", "en")
    assert ivr("report", "--html", str(tmp_path / "en.html")).exit_code == 0
    assert '<html lang="en">' in (tmp_path / "en.html").read_text()
    env.setenv("IVR_REPORT_LANGUAGE", "fr")
    refused = ivr("report", "--html", str(tmp_path / "fr.html"))
    assert refused.output == "Error: IVR_REPORT_LANGUAGE must be es or en, not 'fr'\n"


def test_a_calls_day_is_the_lines_day(env, database_url):
    """IVR_TIMEZONE (default America/Bogota, UTC-5) decides a call's day: a call at 02:00
    UTC on the 20th is the evening of the 19th in Bogotá."""
    env.setenv("DATABASE_URL", database_url)
    assert ivr("db", "upgrade").exit_code == 0
    s = store_mod.Store.open(database_url, b"k")
    for sid, when in (("CAlate", datetime(2026, 11, 20, 2, 0, tzinfo=UTC)),     # 19th, 21:00 Bogotá
                      ("CAearly", datetime(2026, 11, 20, 6, 0, tzinfo=UTC))):  # 20th, 01:00 Bogotá
        s.record(Turn(sid, None, when, "start", None, "-", None, "start", "menu", False))
    assert s.flush()
    s.close()

    def per_day(*args):
        result = ivr("report", "--json", *args)
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        return {day: n["calls"] for day, n in data["per_day"].items()}, data["calls"]

    assert per_day() == ({"2026-11-19": 1, "2026-11-20": 1}, 2)  # IVR_TIMEZONE unset
    # --since is a day in the line's time zone too: the 20th starts at 05:00 UTC.
    assert per_day("--since", "2026-11-20") == ({"2026-11-20": 1}, 1)
    env.setenv("IVR_TIMEZONE", "UTC")
    assert per_day() == ({"2026-11-20": 2}, 2)
    assert per_day("--since", "2026-11-20") == ({"2026-11-20": 2}, 2)


def test_cli_prune_keeps_the_retention_period(env, database_url):
    env.setenv("DATABASE_URL", database_url)
    assert ivr("db", "upgrade").exit_code == 0
    s = store_mod.Store.open(database_url, b"k")
    now = datetime.now(UTC)
    for days in (120, 95, 30, 0):
        s.record(Turn(f"CA{days}", None, now - timedelta(days=days), "menu", None, "1", None,
                      "step", "step:1", False))
    s.flush()
    result = ivr("db", "prune")  # IVR_RETENTION_DAYS defaults to 90
    assert result.exit_code == 0 and result.output.startswith("deleted 2 record(s) older than")
    env.setenv("IVR_RETENTION_DAYS", "7")
    assert ivr("db", "prune").output.startswith("deleted 1 record(s)")
    assert ivr("db", "prune", "--days", "1").output.startswith("deleted 0 record(s)")
    assert report_mod.summarize(s.engine)["calls"] == 1
    s.close()


@pytest.mark.parametrize("args, message", [
    (["db", "prune", "--days", "0"], "Invalid value for '--days'"),
    (["report", "--since", "yesterday"], "Invalid value for '--since'"),
])
def test_cli_bad_options_are_one_readable_line(env, tmp_path, args, message):
    env.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    result = ivr(*args)
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_cli_bad_settings_and_unreachable_databases_are_one_line(env, tmp_path):
    env.setenv("DATABASE_URL", f"postgres://ivr:s3cret@/ivr?host={tmp_path}&port=1")
    for args in (["db", "upgrade"], ["db", "prune"], ["report"]):
        result = ivr(*args)
        assert result.exit_code == 1
        assert result.output.startswith("Error: cannot reach the database postgresql+psycopg://ivr:***@")
        assert "s3cret" not in result.output and len(result.output.strip().splitlines()) == 1
    env.setenv("DATABASE_URL", "mysql://localhost/ivr")
    assert "only PostgreSQL and SQLite" in ivr("db", "upgrade").output
    env.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    env.setenv("IVR_RETENTION_DAYS", "soon")
    assert ivr("db", "prune").output == "Error: IVR_RETENTION_DAYS must be a whole number of at least 1, not 'soon'\n"


def test_report_html_file_that_cannot_be_written(env, tmp_path):
    env.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/x.sqlite3")
    assert ivr("db", "upgrade").exit_code == 0
    result = ivr("report", "--html", str(tmp_path / "missing" / "r.html"))
    assert result.exit_code == 1 and "cannot write" in result.output


# -- the page in Chromium --------------------------------------------------------------------

def test_the_report_page_in_chromium(calls, tmp_path, browser):
    page_file = tmp_path / "report.html"
    page_file.write_text(report_mod.html(report_mod.summarize(calls.engine, steps=8)), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    errors, requests_made = [], []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests_made.append(r.url))
    page.goto(page_file.as_uri())
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.locator("#calls b").inner_text() == "5"
    assert page.locator("#completed b").inner_text() == "1"
    assert page.locator("#checks").is_visible()  # the checks, apart
    for chart in ("#funnel-chart", "#dropoff-chart", "#per-day-chart"):
        box = page.locator(f"{chart} svg").bounding_box()
        assert box["width"] > 300 and box["height"] > 100, chart
    # The funnel's bars and their labels are drawn: the step names are real text.
    funnel = page.locator("#funnel-chart svg").text_content()
    assert "Paso 1" in funnel and "Conclusión" in funnel
    assert page.locator("#per-step tr").count() == 10  # header, 8 steps, the Conclusión
    assert page.locator("#per-step tr").nth(2).locator("td").first.inner_text() == "Paso 2"
    page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    page.close()
    assert errors == []
    assert requests_made == [page_file.as_uri()]  # self-contained: nothing else fetched


# -- /report and the app ---------------------------------------------------------------------

def basic(user, password):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def line_app(audio_dir, **config):
    return create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                       "SECRET_KEY": "line-secret", "STORE": True, **config})


def test_report_page_needs_the_operator_and_the_password(audio_dir, database_url):
    store_mod.upgrade(database_url)
    app = line_app(audio_dir, DATABASE_URL=database_url, REPORT_PASSWORD="p4ss word")
    record_calls(app.extensions["ivr"].store)
    client = app.test_client()
    for headers in ({}, basic("operator", "wrong"), basic("admin", "p4ss word"),
                    {"Authorization": "Bearer p4ss word"}):
        r = client.get("/report", headers=headers)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic ")
    r = client.get("/report", headers=basic("operator", "p4ss word"))
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    assert html.count("<svg") == 3 and '<div class="card" id="calls"><b>5</b>' in html
    assert '<html lang="es">' in html
    assert 'id="database"' not in html and "sqlite" not in html  # no paths or hosts online
    r = client.get("/report?since=2026-11-20", headers=basic("operator", "p4ss word"))
    assert '<div class="card" id="calls"><b>4</b>' in r.get_data(as_text=True)
    r = client.get("/report?checks=1", headers=basic("operator", "p4ss word"))
    assert '<div class="card" id="calls"><b>7</b>' in r.get_data(as_text=True)
    r = client.get("/report?since=x", headers=basic("operator", "p4ss word"))
    assert r.status_code == 400 and r.get_data(as_text=True) == "since debe ser una fecha como 2026-11-01\n"
    app.extensions["ivr"].store.close()


def test_report_page_in_english_when_set(audio_dir, tmp_path):
    url = f"sqlite:///{tmp_path}/x.sqlite3"
    store_mod.upgrade(url)
    app = line_app(audio_dir, DATABASE_URL=url, REPORT_PASSWORD="pw", REPORT_LANGUAGE="en")
    r = app.test_client().get("/report", headers=basic("operator", "pw"))
    assert '<html lang="en">' in r.get_data(as_text=True)
    assert app.test_client().get("/report").get_data(as_text=True) == "Authentication required.\n"
    app.extensions["ivr"].store.close()
    with pytest.raises(ConfigError, match=r"^IVR_REPORT_LANGUAGE must be es or en, not 'es_CO'$"):
        line_app(audio_dir, DATABASE_URL=url, REPORT_PASSWORD="pw", REPORT_LANGUAGE="es_CO")


def test_no_report_page_without_a_password(audio_dir, database_url):
    store_mod.upgrade(database_url)
    app = line_app(audio_dir, DATABASE_URL=database_url)
    assert app.test_client().get("/report", headers=basic("operator", "")).status_code == 404
    app.extensions["ivr"].store.close()


def test_the_default_sqlite_file_is_made_in_the_instance_folder(audio_dir, tmp_path, monkeypatch):
    from flask import Flask

    # The app's instance folder, where Flask finds it, moved out of the checkout.
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path / "instance"))
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "SECRET_KEY": "s", "STORE": True})
    store = app.extensions["ivr"].store
    assert (tmp_path / "instance" / "ivr.sqlite3").exists()  # created and migrated: zero set-up
    store_mod.check(store.engine)
    store.close()


def test_the_app_refuses_an_unmigrated_database(audio_dir, database_url):
    with pytest.raises(store_mod.StoreError, match="run `ivr db upgrade`"):
        line_app(audio_dir, DATABASE_URL=database_url)


def test_the_store_needs_a_secret_key_when_the_line_is_served(audio_dir, tmp_path):
    with pytest.raises(ConfigError, match="IVR_SECRET_KEY is not set"):
        line_app(audio_dir, SECRET_KEY="", DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
    app = line_app(audio_dir, SECRET_KEY="", STORE="0")
    assert app.extensions["ivr"].store is None


@pytest.mark.parametrize("name, value", [("RETENTION_DAYS", "0"), ("RESUME_HOURS", "two days")])
def test_bad_store_settings_are_refused_by_name(audio_dir, tmp_path, name, value):
    with pytest.raises(ConfigError, match=f"IVR_{name} must be a whole number"):
        line_app(audio_dir, DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3", **{name: value})


def test_healthz_shows_what_this_worker_wrote_and_lost(audio_dir, tmp_path):
    store_mod.upgrade(f"sqlite:///{tmp_path}/x.sqlite3")
    app = line_app(audio_dir, DATABASE_URL=f"sqlite:///{tmp_path}/x.sqlite3")
    store = app.extensions["ivr"].store
    store.record(Turn("CA1", None, datetime.now(UTC), "menu", None, "1", None, "step",
                      "step:1", False))
    store.flush()
    health = app.test_client().get("/healthz").get_json()
    assert health["store"] == {"backend": "sqlite", "written": 1, "lost": 0, "queued": 0}
    assert "x.sqlite3" not in json.dumps(health)  # no paths or URLs on a public endpoint
    store.close()


def test_a_simulated_week_walks_the_real_flow_into_the_report(store, database_url):
    import importlib.util

    from ivr import ROOT

    spec = importlib.util.spec_from_file_location("simulate", ROOT / "bench" / "simulate.py")
    simulate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(simulate)
    # The calls go through the real app, whose webhooks record them in this database.
    made = simulate.simulate(database_url, days=3, calls=20, end=NOW)
    s = report_mod.summarize(store.engine, steps=8)
    assert s["calls"] == made["calls"] > 30 and made["lost"] == 0
    reached = list(s["reached_step"].values())
    assert reached[0] >= reached[-1] >= s["completed"] > 0  # a funnel
    assert sum(s["ended_at"].values()) == made["calls"] and len(s["per_day"]) >= 3
