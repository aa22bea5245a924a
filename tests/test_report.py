"""The report on a known set of calls (both databases), its CLI, its page in Chromium, /report."""

import base64
import json
from datetime import UTC, date, datetime, timedelta
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
}
STATUSES = [("CA1", "completed", 130), ("CA2", "completed", 90), ("CA3", "completed", 200)]


def record_calls(store):
    for sid, (start, turns) in CALLS.items():
        for seconds, place, step, key, words, action, outcome in turns:
            store.record(Turn(sid, "+573001234567", start + timedelta(seconds=seconds), place, step,
                              key, words, action, outcome, action == "slow"))
        store.record(CallStatus(sid, *next((s, d) for c, s, d in STATUSES if c == sid),
                                start + timedelta(minutes=5)))
    assert store.flush()


@pytest.fixture
def calls(store):
    record_calls(store)
    return store


def test_summary_of_known_calls(calls):
    s = report_mod.summarize(calls.engine, steps=8)
    assert s["calls"] == 3 and s["completed"] == 1 and s["steps"] == 8
    assert s["reached_step"] == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0, "8": 1}
    assert s["calls_per_day"] == {"2026-11-19": 1, "2026-11-20": 2}
    assert s["ended_at"] == {"step:2": 1, "end": 1, "dial": 1} and s["line_hung_up"] == 1
    assert s["per_step"]["1"] == {"repeat": 1, "back": 0, "slow": 0, "silence": 0, "wrong": 0,
                                  "median_seconds": 20.0}  # visits of 30, 20 and 10 s
    assert s["per_step"]["2"] == {"repeat": 0, "back": 1, "slow": 1, "silence": 0, "wrong": 0,
                                  "median_seconds": 25.0}  # 40 and 10 s
    assert s["per_step"]["8"]["median_seconds"] == 60.0
    assert s["per_step"]["5"]["median_seconds"] is None
    assert s["wrong_per_place"] == {"menu": {"wrong_keys": 1, "not_understood": 1}}
    assert s["words_not_understood"] == {"hola, quiero pagar.": 1}
    assert (s["sms_sent"], s["transfers"]) == (1, 1)
    assert s["call_status"] == {"completed": 3} and s["median_call_seconds"] == 130


def test_since_and_the_number_of_steps(calls):
    s = report_mod.summarize(calls.engine, date(2026, 11, 20), steps=9, tz=UTC)
    assert s["calls"] == 2 and s["since"] == "2026-11-20T00:00:00+00:00"
    assert list(s["reached_step"]) == [str(n) for n in range(1, 10)]  # the content's steps
    # In Bogotá (UTC-5) the day before ends at 05:00 UTC: the same calls.
    bogota = ZoneInfo("America/Bogota")
    assert report_mod.summarize(calls.engine, date(2026, 11, 20), steps=8, tz=bogota)["calls"] == 2


def test_an_empty_store_reports_zeros(store):
    s = report_mod.summarize(store.engine, steps=8)
    assert s["calls"] == 0 and s["completed"] == 0 and set(s["reached_step"].values()) == {0}
    assert "Calls (all records kept): 0" in report_mod.text(s)
    assert "<svg" in report_mod.html(s)


def test_text_report_names_the_funnel_and_the_stuck_places(calls):
    out = report_mod.text(report_mod.summarize(calls.engine, steps=8))
    assert "Calls (all records kept): 3" in out
    assert "Completed (heard the conclusion): 1" in out
    assert "step  2       1   33.3%" in out
    assert "hola, quiero pagar." in out


# -- the CLI ---------------------------------------------------------------------------------

@pytest.fixture
def env(monkeypatch):
    """Only what a test sets: no developer .env or settings leak in."""
    monkeypatch.setattr("dotenv.load_dotenv", lambda *a, **k: False)
    for name in ("DATABASE_URL", "IVR_RETENTION_DAYS", "IVR_TIMEZONE", "IVR_CONTENT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def ivr(*args):
    return CliRunner().invoke(cli, list(args))


def test_cli_upgrade_then_report_json(env, database_url, tmp_path):
    env.setenv("DATABASE_URL", database_url)
    refused = ivr("report", "--json")
    assert refused.exit_code == 1
    assert refused.output.strip().endswith("has no schema: run `ivr db upgrade`")
    assert len(refused.output.strip().splitlines()) == 1

    done = ivr("db", "upgrade")
    assert done.exit_code == 0 and "schema at revision 0003" in done.output
    s = store_mod.Store.open(database_url, b"k")
    record_calls(s)
    s.close()

    env.setenv("IVR_TIMEZONE", "UTC")
    result = ivr("report", "--json", "--since", "2026-11-01", "--html", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[:result.output.rindex("}") + 1])
    assert (data["calls"], data["completed"]) == (3, 1)
    assert data["reached_step"] == {"1": 1, "2": 1, "3": 0, "4": 0, "5": 0, "6": 0, "7": 0, "8": 1}
    page = (tmp_path / "r.html").read_text()
    assert page.count("<svg") == 3 and "Calls per day" in page

    text = ivr("report")
    assert text.exit_code == 0 and "Calls (all records kept): 3" in text.output


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
    assert page.locator("#calls b").inner_text() == "3"
    assert page.locator("#completed b").inner_text() == "1"
    for chart in ("#funnel-chart", "#dropoff-chart", "#per-day-chart"):
        box = page.locator(f"{chart} svg").bounding_box()
        assert box["width"] > 300 and box["height"] > 100, chart
    # The funnel's bars and their labels are drawn: the step names are real text.
    funnel = page.locator("#funnel-chart svg").text_content()
    assert "Paso 1" in funnel and "Conclusión" in funnel
    assert page.locator("#per-step tr").count() == 9  # header + 8 steps
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
    assert html.count("<svg") == 3 and '<div class="card" id="calls"><b>3</b>' in html
    r = client.get("/report?since=2026-11-20", headers=basic("operator", "p4ss word"))
    assert '<div class="card" id="calls"><b>2</b>' in r.get_data(as_text=True)
    assert client.get("/report?since=x", headers=basic("operator", "p4ss word")).status_code == 400
    app.extensions["ivr"].store.close()


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
    assert sum(s["ended_at"].values()) == made["calls"] and len(s["calls_per_day"]) >= 3
