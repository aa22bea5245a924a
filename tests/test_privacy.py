"""No caller's digits in clear, and checks apart from callers.

A number a caller says (a phone or account number, in digits or in the content file's number
words) is hidden before it is stored or logged. The doctor's self-check and web phone trial
calls are recorded as checks, not as callers.
"""

import logging

import pytest
import sqlalchemy as sa

from conftest import twilio_request
from ivr import phone
from ivr import store as store_mod
from ivr.checks import SELF_CHECK_CALL_SID
from ivr.speech import DigitMask

CALLER = "+573001234567"


@pytest.fixture
def line(recording_line):
    """make(**config): a line recording into a migrated database of the test's own."""
    return recording_line


def turns(app):
    store = app.extensions["ivr"].store
    assert store.flush(10)
    t = store_mod.turns
    with store.engine.connect() as c:
        return c.execute(sa.select(t.c.call_sid, t.c.words, t.c.is_check).order_by(t.c.id)).all()


@pytest.mark.parametrize("said, kept", [
    ("3005551234", "**********"),
    ("Mi número es 300 555 1234.", "Mi número es **********."),
    ("tres cero cero cinco cinco cinco uno dos", "********"),
    ("Tres, cero, cero, cinco.", "****."),
    ("Cuenta 12-34, por favor", "Cuenta ****, por favor"),
    ("nueve ocho 7 6 y nada más", "**** y nada más"),  # words and digits in one run
    ("séptimo octavo noveno primero", "****"),  # every phrase of [listen.numbers] counts
    # Fewer than 4: nothing to hide, and what the line should learn stays readable.
    ("paso cinco", "paso cinco"),
    ("tres cero cero", "tres cero cero"),
    ("dos 2 y dos 2", "dos 2 y dos 2"),
    ("Eh, siguiente.", "Eh, siguiente."),
])
def test_long_numbers_are_hidden_in_what_a_caller_said(content, said, kept):
    assert content.digits.mask(said) == kept


def test_the_number_words_come_from_the_content_file():
    """The mask knows no language: English number words, given, are hidden as well."""
    mask = DigitMask(["one", "two", "three", "four"])
    assert mask.mask("one two three four") == "****"
    assert DigitMask().mask("tres cero cero cinco 1234") == "tres cero cero cinco ****"


def test_a_spoken_number_is_never_stored_nor_logged_in_clear(line, caplog):
    app = line()
    with caplog.at_level(logging.INFO, "ivr.webhook"):
        for sid, said in (("CAdigits", "3005551234"), ("CAwords", "tres cero cero cinco cinco cinco uno dos")):
            r = twilio_request(app.test_client(), "POST", "/voice/turn?at=menu",
                               {"CallSid": sid, "From": CALLER, "SpeechResult": said, "Confidence": "0.9"})
            assert r.status_code == 200
        twilio_request(app.test_client(), "POST", "/voice/turn?at=menu",
                       {"CallSid": "CAkeys", "From": CALLER, "Digits": "30055512"})
    assert [(sid, words) for sid, words, _ in turns(app)] == [
        ("CAdigits", "**********"), ("CAwords", "********"), ("CAkeys", None)]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "input=**********" in logged and "input=********" in logged
    assert "555" not in logged and "cinco" not in logged


def test_self_check_and_web_phone_calls_are_recorded_as_checks(line):
    app = line(WEB_PHONE="1")
    client = app.test_client()
    twilio_request(client, "POST", "/voice", {"CallSid": "CAcaller", "From": CALLER})
    twilio_request(client, "POST", "/voice", {"CallSid": SELF_CHECK_CALL_SID, "From": "+15005550006"})
    r = client.post("/voice", data={"CallSid": "CAweb"}, headers={phone.HEADER: phone.issue_pass(app)})
    assert r.status_code == 200
    twilio_request(client, "POST", "/voice/status",
                   {"CallSid": SELF_CHECK_CALL_SID, "CallStatus": "completed", "CallDuration": "3"})
    assert [(sid, check) for sid, _, check in turns(app)] == [
        ("CAcaller", False), (SELF_CHECK_CALL_SID, True), ("CAweb", True)]
    with app.extensions["ivr"].store.engine.connect() as c:
        assert c.execute(sa.select(store_mod.statuses.c.is_check)).scalars().all() == [True]
