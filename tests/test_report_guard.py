"""/report against guessing: failed logins logged, and 10 from one address within 10 minutes
lock it out (429) for 10 minutes, across workers (the count is in the call store). The
time is a fake clock."""

import base64
import logging
from datetime import UTC, datetime, timedelta

import pytest

from conftest import TOKEN
from ivr import create_app
from ivr import report as report_mod
from ivr import store as store_mod

PASSWORD = "p4ss word"
GUESSER, OPERATOR = "203.0.113.7", "198.51.100.2"


class Clock:
    def __init__(self):
        self.now = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)


def basic(password, user="operator"):
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def workers(audio_dir, database_url):
    """workers(n): n apps on one database, as gunicorn's workers are, sharing one fake clock."""
    store_mod.upgrade(database_url)
    clock, apps = Clock(), []

    def make(n=1):
        for _ in range(n):
            app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                              "SECRET_KEY": "s", "STORE": True, "DATABASE_URL": database_url,
                              "REPORT_PASSWORD": PASSWORD})
            app.extensions[report_mod.GUARD].clock = clock
            apps.append(app)
        return apps[-n:], clock

    yield make
    for app in apps:
        app.extensions["ivr"].store.close()


def get(app, address, headers=None):
    return app.test_client().get("/report", headers=headers or {}, environ_base={"REMOTE_ADDR": address})


def test_ten_failures_within_ten_minutes_lock_the_address_out_for_ten_minutes(workers):
    (app,), clock = workers()
    for _ in range(10):
        assert get(app, GUESSER, basic("guess")).status_code == 401
        clock.advance(seconds=50)  # the 10th comes 7.5 minutes after the 1st
    locked = get(app, GUESSER, basic(PASSWORD))  # even the right password, from there
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == str(600 - 50)  # 10 minutes from the 10th failure
    assert "10 minutos" in locked.get_data(as_text=True)
    assert get(app, OPERATOR, basic(PASSWORD)).status_code == 200  # another address is not
    clock.advance(seconds=540)
    assert get(app, GUESSER, basic(PASSWORD)).status_code == 429
    clock.advance(seconds=10)  # the lockout is over
    assert get(app, GUESSER, basic(PASSWORD)).status_code == 200


def test_failures_spread_wider_than_ten_minutes_do_not_lock(workers):
    (app,), clock = workers()
    for _ in range(30):
        assert get(app, GUESSER, basic("guess")).status_code == 401
        clock.advance(minutes=1, seconds=7)  # never 10 within 10 minutes
    assert get(app, GUESSER, basic(PASSWORD)).status_code == 200


def test_a_request_without_credentials_is_not_a_failure(workers):
    (app,), _ = workers()
    for _ in range(20):  # a browser's first request, before it asks for the password
        assert get(app, GUESSER).status_code == 401
    assert get(app, GUESSER, basic(PASSWORD)).status_code == 200


def test_the_lockout_holds_across_workers(workers):
    apps, _ = workers(2)
    for i in range(10):  # spread over both: each has seen only 5
        assert get(apps[i % 2], GUESSER, basic(f"guess{i}")).status_code == 401
    assert [get(app, GUESSER, basic(PASSWORD)).status_code for app in apps] == [429, 429]


def test_each_failure_is_logged_with_address_and_time_never_the_password(workers, caplog):
    (app,), clock = workers()
    with caplog.at_level(logging.WARNING, "ivr.report"):
        for n in range(10):
            get(app, GUESSER, basic(f"secret-guess-{n}", user=f"user-{n}"))
    messages = [r.getMessage() for r in caplog.records if r.name == "ivr.report"]
    assert messages[0] == f"report: failed login from {GUESSER} at 2026-11-20T15:00:00+00:00 (1 in the last 10 minutes)"
    assert len([m for m in messages if "failed login" in m]) == 10
    assert messages[-1] == f"report: {GUESSER} locked out until 2026-11-20T15:10:00+00:00"
    assert not any("secret-guess" in m or "user-" in m for m in messages)


def test_old_failures_are_deleted(workers):
    (app,), clock = workers()
    for _ in range(5):
        get(app, GUESSER, basic("guess"))
    clock.advance(hours=1)
    get(app, OPERATOR, basic("typo"))
    store = app.extensions["ivr"].store
    with store.engine.connect() as c:
        rows = c.execute(store_mod.login_failures.select()).all()
    assert [r.address for r in rows] == [OPERATOR]


def test_the_page_is_refused_while_the_store_cannot_count(workers, tmp_path):
    (app,), _ = workers()
    app.extensions[report_mod.GUARD].engine = store_mod.create_engine(
        f"postgresql://ivr@/ivr?host={tmp_path}&port=1")
    r = get(app, GUESSER, basic(PASSWORD))
    assert r.status_code == 503 and r.headers["Retry-After"] == "60"
