"""Never a 5xx: whatever breaks inside a webhook, the caller hears TwiML, never Twilio's error."""

import logging

import pytest

from conftest import assert_valid_twiml, walk
from ivr import create_app

CALL_SID = "CA" + "e" * 32


def boom(*args, **kwargs):
    raise RuntimeError("injected failure")


def prompts_of(app, body):
    """The prompt ids a caller hears in a TwiML document (the test app speaks with <Say>)."""
    by_say = {p.say: p.id for p in app.extensions["ivr"].content.prompts.values()}
    return [by_say.get(" ".join((el.text or "").split())) for el in assert_valid_twiml(body).iter("Say")]


def failure_logs(caplog):
    return [r for r in caplog.records if r.name == "ivr.voice" and r.levelno >= logging.WARNING]


@pytest.fixture
def app(say_app):
    # The documents are made before any call, as a line with PUBLIC_BASE_URL makes them at
    # startup: a failure injected into the flow below strikes during a call, not before.
    say_app.extensions["ivr"].documents("http://localhost/")
    return say_app


@pytest.mark.parametrize(
    ("path", "broken"), [("/voice/turn?at=3", "next"), ("/voice", "start"), ("/voice/turn?at=3", "parse")]
)
def test_a_failing_turn_apologises_and_offers_the_menu(app, signed, caplog, monkeypatch, path, broken):
    monkeypatch.setattr(app.extensions["ivr"].flow, broken, boom)
    r = signed("POST", path, {"CallSid": CALL_SID, "Digits": "2"})
    assert r.status_code == 200 and r.mimetype == "text/xml"
    assert prompts_of(app, r.data) == ["sorry", "menu"]
    [record] = failure_logs(caplog)
    assert record.levelno == logging.ERROR
    assert CALL_SID in record.getMessage()
    assert "injected failure" in caplog.text  # the traceback is in the log, for whoever fixes it


def test_when_even_the_apology_fails_the_line_hangs_up_cleanly(app, signed, caplog, monkeypatch):
    monkeypatch.setattr(app.extensions["ivr"], "documents", boom)
    r = signed("POST", "/voice/turn?at=3", {"CallSid": CALL_SID, "Digits": "2"})
    assert r.status_code == 200
    doc = assert_valid_twiml(r.data)
    assert [el.tag for el in doc] == ["Hangup"]
    assert CALL_SID in caplog.text


def test_a_line_that_keeps_failing_ends_the_call(app, monkeypatch):
    monkeypatch.setattr(app.extensions["ivr"].flow, "next", boom)
    # The caller keeps pressing 1; every turn fails. Failures count like silences.
    c = walk(app, ["1"] * 20)
    assert c.turns() == [
        (("welcome", "intro", "menu", "speech_hint"), "1"),
        (("sorry", "menu"), "1"),
        (("sorry", "menu"), "1"),
        (("sorry", "goodbye"), None),
    ]
    assert c.ended_by == "hangup"


def test_silence_after_an_apology_still_ends_the_call(app, monkeypatch):
    original = app.extensions["ivr"].flow.next
    calls = []

    def fail_once(state, key):
        calls.append(key)
        if len(calls) == 1:
            raise RuntimeError("injected failure")
        return original(state, key)

    monkeypatch.setattr(app.extensions["ivr"].flow, "next", fail_once)
    c = walk(app, "1,-,-,-,-")
    assert [t[0] for t in c.turns()][1:] == [
        ("sorry", "menu"), ("still_there", "menu"), ("bye_silence", "goodbye")]
    assert c.ended_by == "hangup"


def test_fallback_url_apologises_and_logs_the_error_without_the_callers_number(app, signed, caplog):
    error_url = "https://ivr.example.com/voice/turn?at=3&s=1&From=%2B573001234567"
    r = signed("POST", "/voice/fallback",
               {"CallSid": CALL_SID, "ErrorCode": "11200", "ErrorUrl": error_url})
    assert r.status_code == 200
    assert prompts_of(app, r.data) == ["sorry", "menu"]
    # The failed turn's silence counter goes on, so repeated failures end the call.
    assert assert_valid_twiml(r.data)[0].get("action") == "http://localhost/voice/turn?at=menu&s=2"
    [record] = failure_logs(caplog)
    msg = record.getMessage()
    assert CALL_SID in msg and "11200" in msg and "/voice/turn" in msg
    assert "3001234567" not in caplog.text


def test_fallback_after_repeated_failures_says_goodbye(app, signed):
    r = signed("GET", "/voice/fallback",
               {"CallSid": CALL_SID, "ErrorCode": "11205", "ErrorUrl": "/voice/turn?at=menu&s=2"})
    doc = assert_valid_twiml(r.data)
    assert prompts_of(app, r.data) == ["sorry", "goodbye"]
    assert doc[-1].tag == "Hangup"


@pytest.mark.parametrize("error_url", ["", "http://[bad", "%%%", "x" * 10000])
def test_fallback_with_any_error_url_offers_the_menu(app, signed, error_url):
    r = signed("POST", "/voice/fallback", {"ErrorCode": "11200", "ErrorUrl": error_url})
    assert prompts_of(app, r.data) == ["sorry", "menu"]


@pytest.mark.parametrize("path", ["/voice/", "/voice/nope", "/voice/turn/extra", "/voice/../etc"])
def test_an_unknown_voice_url_gets_the_menu_not_a_404(app, signed, path):
    r = signed("POST", path, {"CallSid": CALL_SID})
    assert r.status_code == 200
    assert prompts_of(app, r.data) == ["sorry", "menu"]


def test_a_huge_but_acceptable_value_is_just_a_wrong_key(app, signed):
    r = signed("POST", "/voice/turn?at=3", {"CallSid": CALL_SID, "Digits": "1" * 60_000})
    assert prompts_of(app, r.data) == ["wrong_key", "step_keys"]


def test_a_body_too_large_to_read_is_refused_when_signatures_are_on(signed):
    # Twilio never sends this much, and the signature cannot be checked without reading it.
    r = signed("POST", "/voice/turn?at=3", {"Digits": "1" * 100_000})
    assert r.status_code == 403


def test_a_body_too_large_to_read_gets_an_apology_without_a_token(no_audio, caplog):
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio)})
    r = app.test_client().post("/voice/turn?at=3", data={"Digits": "1" * 100_000})
    assert r.status_code == 200
    assert prompts_of(app, r.data) == ["sorry", "menu"]
    assert "413" in caplog.text
