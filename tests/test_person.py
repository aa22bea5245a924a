"""The person (9) and no dead end when nobody answers: the screened transfer, the offer, a
message, a call back and closed days, through the real app with its call store; Twilio's REST
API behind twilio's HTTP seam (tests/twilio_api.py) and a fixed clock where the day matters."""

import json
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import TOKEN, assert_valid_twiml, serving, twilio_request, walk
from ivr import create_app
from ivr import store as store_mod
from ivr.cli import cli
from ivr.store import inbox
from ivr.store.schema import screenings, turns
from twilio_api import ACCOUNT_SID, FakeTwilio

CALLER = "+573001234567"
AGENT = "+576015550199"
BOGOTA = ZoneInfo("America/Bogota")
SECRET = "person-test-secret"


@pytest.fixture
def db_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    store_mod.upgrade(url)
    return url


@pytest.fixture
def api():
    return FakeTwilio(auth_token=TOKEN)


@pytest.fixture
def person_app(no_audio, db_url, api):
    """make(**config): a line with a person, a call store and Twilio's API at the seam."""
    def make(**config):
        return create_app({
            "TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_HTTP_CLIENT": api, "AGENT_NUMBER": AGENT,
            "HOLIDAYS": "", "STORE": True, "DATABASE_URL": db_url, "SECRET_KEY": SECRET, **config,
        })
    return make


def said(app, body) -> list:
    """Prompt ids of a document (these apps speak with <Say>)."""
    by_say = {p.say: p.id for p in app.extensions["ivr"].content.prompts.values()}
    doc = assert_valid_twiml(body)
    return [by_say.get(" ".join("".join(el.itertext()).split())) for el in doc.iter("Say")]


def post(app, path, **values):
    return twilio_request(app.test_client(), "POST", path, {"CallSid": "CAcall", **values})


def rows(app, table):
    store = app.extensions["ivr"].store
    store.flush()
    with store.engine.connect() as c:
        return c.execute(sa.select(table)).all()


# -- the screened transfer ---------------------------------------------------------------------

def test_the_whisper_names_the_line_and_the_step_never_the_number(person_app):
    app = person_app()
    dial = assert_valid_twiml(post(app, "/voice/turn?at=4", From=CALLER, Digits="9").data).find("Dial")
    [number] = dial.findall("Number")
    assert number.text == AGENT
    assert number.get("url") == "http://localhost/voice/whisper?at=4" and number.get("method") == "POST"
    # The person's leg: its From is the caller id, the caller's own number.
    r = post(app, "/voice/whisper?at=4", CallSid="CAleg", ParentCallSid="CAcall", From=CALLER, To=AGENT)
    doc = assert_valid_twiml(r.data)
    assert [el.tag for el in doc] == ["Gather", "Hangup"]  # no key: never bridged
    gather = doc[0]
    assert (gather.get("numDigits"), gather.get("input")) == ("1", "dtmf")
    assert gather.get("action") == "http://localhost/voice/whispered"
    assert said(app, r.data) == ["whisper", "whisper_4", "whisper_take"]
    assert not re.search(r"3001234567|1234567|4567", r.data.decode())
    menu = post(app, "/voice/whisper?at=menu", CallSid="CAleg", ParentCallSid="CAcall", From=CALLER)
    assert said(app, menu.data) == ["whisper", "whisper_menu", "whisper_take"]


@pytest.mark.parametrize("path", ["/voice/whisper?at=4", "/voice/whispered", "/voice/dialed?at=4",
                                  "/voice/recorded?at=record", "/voice/recording?at=record"])
def test_every_person_webhook_is_signature_checked(person_app, path):
    app = person_app()
    r = app.test_client().post(path, data={"CallSid": "CAx", "Digits": "1", "RecordingSid": "RE1"})
    assert r.status_code == 403
    forged = twilio_request(app.test_client(), "POST", path, {"CallSid": "CAx"}, token="not-the-token")
    assert forged.status_code == 403


def test_acceptance_is_noted_by_parent_call_and_read_back_by_another_worker(person_app, database_url):
    """The whisper and the <Dial action> often reach different workers (or machines): the
    answer goes through the call store, keyed by the whisper's ParentCallSid."""
    store_mod.upgrade(database_url)
    whisper_worker = person_app(DATABASE_URL=database_url)
    action_worker = person_app(DATABASE_URL=database_url)
    taken = post(whisper_worker, "/voice/whispered", CallSid="CAleg1", ParentCallSid="CAcall", Digits="1")
    assert list(assert_valid_twiml(taken.data)) == []  # nothing more on the leg: bridged
    [row] = rows(whisper_worker, screenings)
    assert (row.call_sid, row.dial_call_sid, row.accepted) == ("CAcall", "CAleg1", True)
    done = post(action_worker, "/voice/dialed?at=4", DialCallStatus="completed", DialCallSid="CAleg1")
    assert said(action_worker, done.data) == ["goodbye"]
    # A later transfer of the same call that the person let go is not taken.
    post(whisper_worker, "/voice/whispered", CallSid="CAleg2", ParentCallSid="CAcall", Digits="5")
    again = post(action_worker, "/voice/dialed?at=4", DialCallStatus="completed", DialCallSid="CAleg2")
    assert said(action_worker, again.data)[0] == "agent_declined"
    for app in (whisper_worker, action_worker):
        app.extensions["ivr"].store.close()


def test_a_wrong_key_in_the_whisper_hangs_up_the_persons_leg(person_app):
    app = person_app()
    r = post(app, "/voice/whispered", CallSid="CAleg", ParentCallSid="CAcall", Digits="7")
    assert [el.tag for el in assert_valid_twiml(r.data)] == ["Hangup"]
    assert [r.accepted for r in rows(app, screenings)] == [False]


@pytest.mark.parametrize("keys, action, prompt", [
    ("1,9,dial:completed", "dial_accepted", "goodbye"),
    ("1,9,dial:declined,-,-,-", "dial_declined", "agent_declined"),
    ("1,9,-,-,-,-", "dial_no_answer", "agent_no_answer"),
    ("1,9,dial:busy,-,-,-", "dial_busy", "agent_busy"),
    ("1,9,dial:failed,-,-,-", "dial_failed", "agent_failed"),
])
def test_the_turns_say_whether_the_person_took_the_call(person_app, keys, action, prompt):
    """The report counts as sent to a person only the transfers the person took."""
    app = person_app()
    c = walk(app, keys, caller=CALLER)
    assert prompt in c.prompts()
    dialed = [t for t in rows(app, turns) if t.action.startswith("dial_")]
    assert [(t.action, t.place, t.step) for t in dialed] == [(action, "step", 1)]


# -- the offer ---------------------------------------------------------------------------------

def test_done_when_no_answer_then_a_message_that_ivr_inbox_lists(person_app, db_url, monkeypatch):
    """A scripted call 1,9 with dial:no-answer leaves a message, and `ivr inbox --json` lists
    it: the scripted call is `ivr call` against the line served over HTTP."""
    app = person_app()
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("IVR_SECRET_KEY", SECRET)
    with serving(app) as base:
        result = CliRunner().invoke(cli, ["call", "--url", f"{base}/voice", "--from", CALLER,
                                          "--keys", "1,9,dial:no-answer,1,record:14"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "DIAL  (no-answer)" in lines and "SAYS  (a message: 14 s)" in lines
    assert any(line.startswith("LINE  [record_thanks]") for line in lines)
    app.extensions["ivr"].store.flush()
    listed = json.loads(CliRunner().invoke(cli, ["inbox", "--json"]).output)
    [message] = listed["messages"]
    assert (message["id"], message["seconds"], message["where"]) == ("m1", 14, "step:1")
    assert message["recording_url"].startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert listed["callbacks"] == []


def test_done_when_busy_then_a_call_back_whose_number_only_the_inbox_shows(person_app, db_url, monkeypatch,
                                                                           tmp_path):
    app = person_app()
    c = walk(app, "9,dial:busy,2,1", caller=CALLER)
    assert [t[0][:6] for t in c.turns()][2] == (
        "callback_number", "digit_4", "digit_5", "digit_6", "digit_7", "callback_keys")
    assert "callback_saved" in c.prompts()
    app.extensions["ivr"].store.flush()
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("IVR_SECRET_KEY", SECRET)
    listed = json.loads(CliRunner().invoke(cli, ["inbox", "--json"]).output)
    assert [(i["id"], i["number"], i["where"]) for i in listed["callbacks"]] == [("c1", CALLER, "menu")]
    app.extensions["ivr"].store.close()
    # The database's files, byte for byte (the SQLite file and its write-ahead log), never
    # hold the number, in any of the ways it could be written.
    files = list(tmp_path.glob("ivr.sqlite3*"))
    assert files
    raw = b"".join(f.read_bytes() for f in files)
    for form in (CALLER, CALLER[1:], CALLER[3:], "300 123 4567", "300-123-4567"):
        assert form.encode() not in raw and form.encode("utf-16-le") not in raw, form


def test_done_when_a_closed_date_today_never_dials_and_offers_the_message(person_app):
    today = datetime.now(BOGOTA).date().isoformat()
    app = person_app(CLOSED_DATES=f"2020-01-01, {today}")
    c = walk(app, "9,1,record:14", caller=CALLER)
    assert not any(e.kind == "dial" for e in c.events)  # the player shows every <Dial> so
    assert c.turns()[1][0] == ("agent_closed_day", "offer_message", "offer_callback", "offer_menu")
    assert "record_thanks" in c.prompts()
    assert [t.action for t in rows(app, turns)][1] == "closed_day"


def test_on_a_holiday_the_line_says_hoy_es_festivo(person_app):
    holiday = datetime(2026, 12, 8, 10, 0, tzinfo=BOGOTA)  # Immaculate Conception, a Tuesday
    app = person_app(HOLIDAYS="CO", CLOCK=lambda: holiday)
    r = post(app, "/voice/turn?at=2", From=CALLER, Digits="9")
    assert said(app, r.data)[0] == "agent_holiday"
    assert "Hoy es festivo" in app.extensions["ivr"].content["agent_holiday"].text
    # The day after, open.
    after = person_app(HOLIDAYS="CO", CLOCK=lambda: datetime(2026, 12, 9, 10, 0, tzinfo=BOGOTA))
    assert assert_valid_twiml(post(after, "/voice/turn?at=2", From=CALLER, Digits="9").data).find("Dial") is not None


@pytest.mark.parametrize("words, first", [
    ("Quiero dejar un mensaje.", "record_prompt"),
    ("Que me llamen, por favor.", "callback_number"),
    ("Menú.", "menu"),
])
def test_the_offer_understands_words(person_app, words, first):
    app = person_app()
    r = post(app, "/voice/turn?at=offer&step=3", From=CALLER, SpeechResult=words, Confidence="0.9")
    assert said(app, r.data)[0] == first


def test_seven_at_the_offer_texts_the_caller_and_the_offer_stays(person_app, api):
    app = person_app(SMS_FROM="+15005550006")
    r = post(app, "/voice/turn?at=offer&step=4", From=CALLER, Digits="7")
    assert said(app, r.data) == ["sms_sent", "offer_message", "offer_callback", "offer_menu", "menu_sms"]
    assert assert_valid_twiml(r.data)[0].get("action") == "http://localhost/voice/turn?at=offer&step=4&t=1"
    assert [m["to"] for m in api.messages] == [CALLER]


@pytest.mark.parametrize("caller", ["anonymous", "+266696687", "client:web", "6015550100", ""])
def test_a_withheld_or_foreign_looking_number_cannot_be_called_back(person_app, caller):
    app = person_app()
    r = post(app, "/voice/turn?at=offer", From=caller, Digits="2")
    assert said(app, r.data) == ["callback_impossible", "offer_message", "offer_callback", "offer_menu"]
    assert rows(app, inbox.callbacks) == []


@pytest.mark.parametrize(("path", "kept"), [("/voice/turn?at=offer&step=4&s=2", "at=offer&step=4"),
                                            ("/voice/turn?at=offer&w=1&slow=1", "at=offer&w=1&slow=1")])
def test_without_a_number_to_call_back_the_offer_waits_with_its_silences_back(person_app, path, kept):
    """A withheld number: the offer is said again and waits for a key there, the silences
    starting over (the caller pressed 2), the step, wrong keys and slow voice kept; the call
    store notes why."""
    app = person_app()
    doc = assert_valid_twiml(post(app, path, From="anonymous", Digits="2").data)
    assert [el.tag for el in doc] == ["Gather", "Redirect"]
    assert doc[0].get("action") == "http://localhost/voice/turn?" + kept
    assert [t.action for t in rows(app, turns)] == ["callback_none"]


def test_one_call_back_request_per_number(person_app):
    app = person_app()
    first = post(app, "/voice/turn?at=callback&step=2", From=CALLER, Digits="1")
    assert said(app, first.data)[0] == "callback_saved"
    again = post(app, "/voice/turn?at=callback", From=CALLER, Digits="1", CallSid="CAother")
    assert said(app, again.data)[0] == "callback_already"
    [row] = rows(app, inbox.callbacks)
    assert (row.step, row.call_sid) == (2, "CAcall")


def test_anything_but_1_at_the_read_back_goes_back_to_the_offer_and_counts(person_app):
    app = person_app()
    c = walk(app, "9,dial:busy,2,5,2,0,2,3", caller=CALLER)
    prompts = [t[0][0] for t in c.turns()]
    assert prompts[2:8] == ["callback_number", "offer_message", "callback_number", "offer_message",
                            "callback_number", "bye_wrong"]
    assert rows(app, inbox.callbacks) == []
    silent = walk(app, "9,dial:busy,2,-,-,-", caller=CALLER)
    assert [t[0][0] for t in silent.turns()][3:] == ["still_there", "still_there", "bye_silence"]


def test_the_read_back_speaks_each_digit_and_its_reminder_does_not_repeat_them(person_app):
    app = person_app()
    r = post(app, "/voice/turn?at=offer", From="+573001230905", Digits="2")
    assert said(app, r.data) == ["callback_number", "digit_0", "digit_9", "digit_0", "digit_5", "callback_keys"]
    quiet = post(app, "/voice/turn?at=callback")
    assert said(app, quiet.data) == ["still_there", "callback_keys"]



def test_the_read_back_starts_the_silences_again_and_is_recorded_as_such(person_app):
    """2 after two silences at the offer: the read-back gives the caller their silences back
    (a silence there reminds the keys, not goodbye), and the call store notes it."""
    app = person_app()
    r = post(app, "/voice/turn?at=offer&step=3&s=2", From="+573001230905", Digits="2")
    action = assert_valid_twiml(r.data).find("Gather").get("action")
    assert action == "http://localhost/voice/turn?at=callback&step=3"
    quiet = post(app, action.removeprefix("http://localhost"), From="+573001230905")
    assert said(app, quiet.data) == ["still_there", "callback_keys"]
    assert [(t.place, t.input, t.action) for t in rows(app, turns)][0] == ("offer", "2", "callback_ask")

# -- a message ---------------------------------------------------------------------------------

def test_the_record_document_is_what_twilio_documents(person_app):
    app = person_app()
    r = post(app, "/voice/turn?at=offer&step=5", From=CALLER, Digits="1")
    doc = assert_valid_twiml(r.data)
    assert [el.tag for el in doc] == ["Say", "Record", "Redirect"]
    record = doc[1]
    assert record.attrib == {
        "action": "http://localhost/voice/recorded?at=record&step=5", "method": "POST",
        "maxLength": "120", "playBeep": "true", "finishOnKey": "#", "timeout": "8",
        "recordingStatusCallback": "http://localhost/voice/recording?at=record&step=5",
        "recordingStatusCallbackMethod": "POST", "recordingStatusCallbackEvent": "completed absent",
    }
    # An empty recording gets no action request: the <Redirect> says so, without a recording.
    assert doc[2].text == record.get("action")



@pytest.mark.parametrize(("path", "slow"), [("/voice/turn?at=offer&step=5", False),
                                            ("/voice/turn?at=offer&step=5&slow=1", True)])
def test_the_message_prompt_keeps_the_callers_voice_speed(person_app, path, slow):
    """A caller who asked for the slow voice hears "leave your message" slowly too."""
    app = person_app()
    doc = assert_valid_twiml(post(app, path, From=CALLER, Digits="1").data)
    [say] = doc.findall("Say")
    rates = [el.get("rate") for el in say.iter("prosody")]
    assert rates == (["75%"] if slow else [])
    assert doc.find("Record").get("action").endswith("&slow=1") == slow


def test_the_record_and_the_whisper_post_back_and_declare_their_encoding(person_app):
    """The message's <Redirect> and the whisper's <Gather> come back by POST (the signed
    form the webhooks read); the person has 6 s to press 1; both documents say UTF-8."""
    app = person_app()
    record = post(app, "/voice/turn?at=offer&step=5", From=CALLER, Digits="1").data
    whisper = post(app, "/voice/whisper?at=4", CallSid="CAleg", ParentCallSid="CAcall", From=CALLER).data
    for body in (record, whisper):
        assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), body[:60]
    assert assert_valid_twiml(record).find("Redirect").get("method") == "POST"
    gather = assert_valid_twiml(whisper).find("Gather")
    assert (gather.get("timeout"), gather.get("method")) == ("6", "POST")

def recording(n: int, seconds: int) -> dict:
    sid = f"RE{n:032x}"
    return {"RecordingSid": sid, "RecordingDuration": str(seconds),
            "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"}


def test_a_short_or_silent_recording_is_not_kept_and_a_short_one_is_deleted(person_app, api):
    app = person_app()
    short = recording(1, 1)
    api.recordings.add(short["RecordingSid"])
    r = post(app, "/voice/recorded?at=record&step=2", From=CALLER, **short)
    assert said(app, r.data)[0] == "record_empty"
    assert post(app, "/voice/recording?at=record&step=2", RecordingStatus="completed", **short).status_code == 204
    assert short["RecordingSid"] not in api.recordings  # deleted through twilio's Client
    assert api.calls("DELETE") == [
        ("DELETE", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{short['RecordingSid']}.json")]
    # Silence: Twilio makes no action request, the <Redirect> comes, and the callback says absent.
    nothing = post(app, "/voice/recorded?at=record&step=2", From=CALLER)
    assert said(app, nothing.data)[0] == "record_empty"
    absent = post(app, "/voice/recording?at=record&step=2", RecordingStatus="absent", **recording(2, 0))
    assert absent.status_code == 204 and len(api.requests) == 1
    assert rows(app, inbox.messages) == []


def test_the_status_callback_keeps_a_message_the_action_missed_once(person_app):
    app = person_app()
    long = recording(3, 30)
    post(app, "/voice/recording?at=record&step=6", RecordingStatus="completed", **long)
    post(app, "/voice/recorded?at=record&step=6", From=CALLER, Digits="#", **long)
    [row] = rows(app, inbox.messages)
    assert (row.step, row.duration_seconds, row.recording_sid) == (6, 30, long["RecordingSid"])
    # The recording status callback carries no From: the row has no caller key, and never
    # the number.
    assert CALLER[1:] not in str(tuple(row))


def test_a_trial_call_from_the_web_phone_keeps_no_message(person_app):
    app = person_app(WEB_PHONE=True)
    client = app.test_client()
    pass_ = client.post("/phone/pass").json["pass"]
    r = client.post("/voice/recorded?at=record", data={"CallSid": "CAweb", **recording(4, 20)},
                    headers={"X-Web-Phone": pass_})
    assert said(app, r.data)[0] == "record_thanks"
    assert rows(app, inbox.messages) == []


def test_without_a_secret_key_no_call_back_is_offered(no_audio, tmp_path):
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    store_mod.upgrade(url)
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "AGENT_NUMBER": AGENT, "HOLIDAYS": "",
                      "STORE": True, "DATABASE_URL": url})
    r = app.test_client().post("/voice/dialed?at=2", data={"CallSid": "CA1", "DialCallStatus": "busy"})
    assert said(app, r.data) == ["agent_busy", "offer_message", "offer_menu"]
    app.extensions["ivr"].store.close()


@pytest.fixture
def store_down(person_app, monkeypatch):
    """A line with a person whose call store cannot keep a message or a call back."""
    app = person_app()
    store = app.extensions["ivr"].store

    def down(*args, **kwargs):
        raise store_mod.StoreError("the call store is not answering")

    monkeypatch.setattr(store, "keep_message", down)
    monkeypatch.setattr(store, "request_callback", down)
    return app


def test_the_store_down_keeps_the_call_going(store_down):
    app = store_down
    r = post(app, "/voice/recorded?at=record", From=CALLER, **recording(5, 20))
    assert said(app, r.data)[:2] == ["record_failed", "offer_message"]
    r = post(app, "/voice/turn?at=callback", From=CALLER, Digits="1")
    assert said(app, r.data)[:2] == ["callback_failed", "offer_message"]


def test_the_message_was_left_at_the_callers_step_by_day(person_app):
    """What the report will count: messages and call backs by day and by step."""
    app = person_app()
    walk(app, "1,2,9,dial:no-answer,1,record:20", caller=CALLER)
    walk(app, "9,dial:busy,2,1", caller="+573005550000")
    app.extensions["ivr"].store.flush()
    today = datetime.now(UTC).astimezone(BOGOTA).date().isoformat()
    counts = inbox.by_day_and_step(app.extensions["ivr"].store.engine, tz=BOGOTA)
    assert counts["messages"] == {today: {"step:2": 1}}
    assert counts["callbacks"] == {today: {"menu": 1}}


def test_every_document_of_a_line_with_a_person_validates(person_app, audio_dir):
    """All the documents made up front (the offer, the messages, the call back, at every step
    and counter), and those made per call (the <Dial>, the read-back, the whisper), against
    Twilio's schema; with the committed audio (<Play>) and without it (<Say>)."""
    from ivr.flow import OFFER, STEP, State

    texts = {"SMS_FROM": "+15005550006"}
    for app in (person_app(**texts), person_app(AUDIO_DIR=str(audio_dir), **texts)):
        line = app.extensions["ivr"]
        documents = line.documents("https://ivr.example.com")
        up_front = len(documents)  # the offer's documents are made on first use
        every = documents.every()
        assert len(every) == len({t.sound for t in line.flow.turns()}) > up_front > 400
        for document in every.values():
            assert_valid_twiml(document)
        state = State(STEP, 3, slow=True)
        assert_valid_twiml(line.twiml.dial(line.flow.dial(state), "https://ivr.example.com", CALLER))
        read_back = line.flow.callback_confirm(State(OFFER, 3), "0917")
        assert_valid_twiml(line.twiml.render(read_back, "https://ivr.example.com"))
        for step in (None, 0, 1, 8):
            assert_valid_twiml(line.twiml.whisper(step, "https://ivr.example.com"))


@pytest.mark.parametrize(("path", "values", "first"), [
    ("/voice/recorded?at=record&step=2", recording(6, 20), "record_failed"),
    ("/voice/turn?at=callback&step=2&s=1", {"Digits": "1"}, "callback_failed"),
])
def test_with_the_store_down_the_offer_waits_for_a_key_again(store_down, path, values, first):
    """A message or a call back the store could not keep: the caller hears so, and the offer
    waits for a key again at their step, the silences starting over; the call goes on."""
    app = store_down
    r = post(app, path, From=CALLER, **values)
    assert said(app, r.data)[0] == first
    doc = assert_valid_twiml(r.data)
    assert [el.tag for el in doc] == ["Gather", "Redirect"]
    assert doc[0].get("action") == "http://localhost/voice/turn?at=offer&step=2"
