"""The line records its calls: every turn, how each call ended, returning callers resumed.

The same tests run on SQLite and on a real PostgreSQL server (conftest's database_url).
"""

import pytest
import sqlalchemy as sa

from conftest import TOKEN, assert_valid_twiml, twilio_request, walk
from ivr import create_app
from ivr import store as store_mod

CALLER = "+573001234567"


@pytest.fixture
def line(recording_line):
    """make(**config): a line recording into a migrated database of the test's own."""
    return recording_line


def rows(app, table):
    store = app.extensions["ivr"].store
    assert store.flush(10)
    with store.engine.connect() as c:
        return [r._asdict() for r in c.execute(sa.select(table).order_by(*table.primary_key.columns))]


def test_every_turn_is_recorded_with_the_caller_hashed(line):
    app = line()
    c = walk(app, "1,2,3,4,-,9", caller=CALLER)
    turns = rows(app, store_mod.turns)
    assert len(turns) == c.requests
    assert {t["call_sid"] for t in turns} == {c.sid}
    assert [(t["place"], t["step"], t["input"], t["action"], t["outcome"]) for t in turns] == [
        ("start", None, "-", "start", "menu"),
        ("menu", None, "1", "step", "step:1"),
        ("step", 1, "2", "next", "step:2"),
        ("step", 2, "3", "back", "step:1"),
        ("step", 1, "4", "slow", "step:1"),
        ("step", 1, "-", "silence", "step:1"),
        ("step", 1, "9", "wrong", "step:1"),
    ]
    assert [t["slow"] for t in turns][-3:] == [True, True, True]
    # The number never reaches the database: only its keyed hash.
    dump = repr(turns)
    assert "3001234567" not in dump
    assert turns[0]["caller_key"] == app.extensions["ivr"].store.key(CALLER)


def test_words_are_recorded_as_what_the_caller_said(line):
    app = line()
    client = app.test_client()
    twilio_request(client, "POST", "/voice/turn?at=2",
                   {"CallSid": "CAw", "From": CALLER, "SpeechResult": "Eh, siguiente.", "Confidence": "0.9"})
    [turn] = rows(app, store_mod.turns)
    assert (turn["input"], turn["words"], turn["action"], turn["outcome"]) == (
        "speech", "Eh, siguiente.", "next", "step:3")


def test_the_status_callback_records_how_the_call_ended(line):
    app = line()
    r = twilio_request(app.test_client(), "POST", "/voice/status",
                       {"CallSid": "CAend", "CallStatus": "completed", "CallDuration": "184"})
    assert r.status_code == 204
    [status] = rows(app, store_mod.statuses)
    assert (status["call_sid"], status["status"], status["duration_seconds"]) == ("CAend", "completed", 184)


def test_the_status_callback_is_signed_like_every_webhook(line):
    app = line()
    r = app.test_client().post("/voice/status", data={"CallSid": "CAx", "CallStatus": "completed"})
    assert r.status_code == 403


def call_back(app, keys, caller=CALLER):
    return walk(app, keys, caller=caller)


def test_a_caller_who_hung_up_mid_guide_is_offered_their_step(line):
    app = line()
    call_back(app, "2,5,2")  # Paso 5, then 6, then hangs up
    assert app.extensions["ivr"].store.flush(10)
    again = call_back(app, "1,2")
    (first, _), (second, _), *_ = again.turns()
    assert first == ("welcome", "intro", "resume_6")
    assert second[0] == "paso_6"  # 1 goes straight there
    assert again.turns()[2][0][0] == "paso_7"


@pytest.mark.parametrize("keys", ["3", "-", "0"])
def test_anything_but_one_after_the_offer_is_the_usual_menu(line, keys):
    app = line()
    call_back(app, "2,4")
    app.extensions["ivr"].store.flush(10)
    again = call_back(app, keys)
    assert again.turns()[1][0][0] == "menu"


def test_callers_who_finished_or_hid_their_number_are_not_offered_it(line):
    app = line()
    call_back(app, "2,8,2")  # heard the Conclusión
    call_back(app, "2,3", caller="anonymous")
    app.extensions["ivr"].store.flush(10)
    assert call_back(app, "").turns()[0][0][2] == "menu"
    assert call_back(app, "", caller="anonymous").turns()[0][0][2] == "menu"
    assert call_back(app, "", caller="+573009999999").turns()[0][0][2] == "menu"


def test_an_old_call_is_not_offered(line):
    app = line(RESUME_HOURS=1)
    call_back(app, "2,4")
    store = app.extensions["ivr"].store
    store.flush(10)
    with store.engine.begin() as c:
        c.execute(sa.update(store_mod.turns).values(at=sa.func.datetime("now", "-2 hours"))
                  if store.engine.dialect.name == "sqlite" else
                  sa.update(store_mod.turns).values(at=sa.func.now() - sa.text("interval '2 hours'")))
    assert call_back(app, "").turns()[0][0][2] == "menu"


def test_the_daily_text_limit_is_shared_by_every_worker(line):
    from twilio_api import ACCOUNT_SID, FakeTwilio

    api = FakeTwilio(auth_token=TOKEN)
    settings = dict(TWILIO_ACCOUNT_SID=ACCOUNT_SID, SMS_FROM="+15005550006", SMS_PER_DAY=2,
                    TWILIO_HTTP_CLIENT=api)
    workers = [line(**settings), line(**settings)]  # two processes' apps, one database
    said = []
    for i, app in enumerate(workers * 2):
        r = twilio_request(app.test_client(), "POST", "/voice/turn?at=menu",
                           {"CallSid": f"CA{i}", "From": CALLER, "Digits": "7"})
        by_say = {p.say: p.id for p in app.extensions["ivr"].content.prompts.values()}
        said.append(by_say[" ".join(assert_valid_twiml(r.data).find(".//Say").text.split())])
        app.extensions["ivr"].store.flush(10)
    assert said == ["sms_sent", "sms_sent", "sms_limit", "sms_limit"]
    assert len(api.messages) == 2


def test_while_the_database_cannot_answer_each_worker_counts_texts_itself(no_audio, tmp_path):
    """The rule (docs/store.md): a text is not refused because the store cannot count; this
    worker's own count of the day decides, so at most IVR_SMS_PER_DAY per worker get through."""
    import shutil

    from twilio_api import ACCOUNT_SID, FakeTwilio

    url = f"sqlite:///{tmp_path}/calls.sqlite3"
    store_mod.upgrade(url)
    api = FakeTwilio(auth_token=TOKEN)
    workers = [create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                           "STORE": True, "DATABASE_URL": url, "SECRET_KEY": "s",
                           "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "SMS_FROM": "+15005550006",
                           "SMS_PER_DAY": 2, "TWILIO_HTTP_CLIENT": api}) for _ in range(2)]
    (tmp_path / "calls.sqlite3").unlink()
    (tmp_path / "calls.sqlite3").mkdir()  # nothing can be read from here on
    said = []
    for i, app in enumerate([workers[0]] * 3 + [workers[1]] * 3):
        app.extensions["ivr"].store.engine.dispose()
        r = twilio_request(app.test_client(), "POST", "/voice/turn?at=menu",
                           {"CallSid": f"CA{i}", "From": CALLER, "Digits": "7"})
        by_say = {p.say: p.id for p in app.extensions["ivr"].content.prompts.values()}
        said.append(by_say[" ".join(assert_valid_twiml(r.data).find(".//Say").text.split())])
    assert said == ["sms_sent", "sms_sent", "sms_limit"] * 2
    assert len(api.messages) == 4
    for app in workers:
        app.extensions["ivr"].store.close()
    shutil.rmtree(tmp_path / "calls.sqlite3")


def test_a_database_gone_mid_call_loses_records_not_the_call(no_audio, tmp_path):
    import shutil

    url = f"sqlite:///{tmp_path}/calls.sqlite3"
    store_mod.upgrade(url)
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                      "STORE": True, "DATABASE_URL": url, "SECRET_KEY": "s"})
    store = app.extensions["ivr"].store
    walk(app, "1")
    assert store.flush(10) and store.recorder.written == 2
    # The file replaced by a folder: every write fails from here.
    (tmp_path / "calls.sqlite3").unlink()
    (tmp_path / "calls.sqlite3").mkdir()
    store.engine.dispose()
    store.recorder.engine.dispose()
    c = walk(app, "1,2,2,-")
    assert [t[0][0] for t in c.turns()][1:4] == ["paso_1", "paso_2", "paso_3"]
    store.flush(10)
    health = app.test_client().get("/healthz").json["store"]
    assert health["lost"] == c.requests and health["written"] == 2
    store.close()
    shutil.rmtree(tmp_path / "calls.sqlite3")
