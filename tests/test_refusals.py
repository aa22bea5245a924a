"""What an unsigned request gets (ivr/security.py): a short 403, and one log line that
names the method, the path (never the query: a GET's holds the caller's number), the sender
and the reason; and the on/off settings read strictly."""

import logging

import pytest

from conftest import assert_valid_twiml, sign
from ivr import create_app
from ivr.settings import ConfigError

CALLER = "+573001234567"
NUMBER_PARAMS = "CallSid=CA1&From=%2B573001234567&Caller=%2B573001234567"


def refusals(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "ivr.security"]


def webhook_lines(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "ivr.webhook"]


def test_a_refusal_is_short_plain_text(client):
    r = client.post("/voice", data={"CallSid": "CA1"})
    assert (r.status_code, r.mimetype, r.data) == (403, "text/plain", b"Forbidden: not signed by Twilio\n")


def test_a_refusal_logs_method_path_sender_and_reason(client, caplog):
    caplog.set_level(logging.INFO)
    path = "/voice/turn?at=menu&" + NUMBER_PARAMS + "&odd=a?b"
    r = client.get(path, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 403
    assert refusals(caplog) == [
        "refused GET http://localhost/voice/turn from 203.0.113.9: no X-Twilio-Signature"]
    # The webhook's own line says it was refused, and neither line holds the number.
    [line] = webhook_lines(caplog)
    assert " outcome=refused status=403 " in line
    assert CALLER not in caplog.text and "573001234567" not in caplog.text


def test_a_long_path_is_logged_up_to_200_characters(client, caplog):
    path = "/voice/" + "a" * 300
    client.post(path, data={"CallSid": "CA1"}, headers={"X-Twilio-Signature": "forged"})
    [message] = refusals(caplog)
    url = "http://localhost" + path
    assert message == f"refused POST {url[:200]}... from 127.0.0.1: a signature that does not match"


def test_a_request_whose_url_cannot_be_read_is_refused_and_logged_without_it(app, client, caplog, monkeypatch):
    from ivr import security

    def unreadable(line):
        raise ValueError("no URL")

    monkeypatch.setattr(security, "signed_url", unreadable)
    r = client.post("/voice", data={"CallSid": "CA1"}, headers={"X-Twilio-Signature": "x"})
    assert r.status_code == 403
    assert refusals(caplog)[-1] == "refused POST - from 127.0.0.1: a request the check could not read"


def test_a_query_that_is_not_utf8_is_still_checked(client):
    """Bytes that are not UTF-8 in the query are read as U+FFFD, as the signer reads them:
    the signature decides, not a decoding error."""
    raw = "at=menu&x=\xff"  # WSGI strings are bytes as latin-1: this is the byte 0xFF
    url = "http://localhost/voice/turn?at=menu&x=\ufffd"
    good = client.post("/voice/turn", data={"CallSid": "CA1"},
                       environ_overrides={"QUERY_STRING": raw},
                       headers={"X-Twilio-Signature": sign(url, {"CallSid": "CA1"})})
    # Let in; werkzeug cannot parse such a query into request.args, so the caller hears the
    # apology and the menu (Twilio percent-encodes its URLs: a proxy must have changed it).
    assert good.status_code == 200
    gather = assert_valid_twiml(good.data).find("Gather")
    assert gather is not None and "at=menu" in gather.get("action")
    bad = client.post("/voice/turn", data={"CallSid": "CA1"},
                      environ_overrides={"QUERY_STRING": raw},
                      headers={"X-Twilio-Signature": sign(url, {"CallSid": "CA2"})})
    assert bad.status_code == 403


@pytest.mark.parametrize(("value", "on"), [(1, True), (0, False), (True, True), ("TRUE", True),
                                           (" yes ", True), ("false", False)])
def test_the_web_phone_switch_takes_numbers_and_words(make_app, value, on):
    assert make_app(WEB_PHONE=value).extensions["ivr"].settings.web_phone_on is on


@pytest.mark.parametrize("value", [2, -1, None, "10"])
def test_a_web_phone_switch_that_is_not_on_or_off_is_refused(make_app, value):
    with pytest.raises(ConfigError) as e:
        make_app(WEB_PHONE=value) if value is not None else make_app(WEB_PHONE=[])
    assert str(e.value).startswith("IVR_WEB_PHONE must be 1 or 0 (on or off), not ")


def test_a_body_too_large_to_check_is_refused_and_says_so(make_app, caplog):
    client = make_app(MAX_CONTENT_LENGTH=100).test_client()
    r = client.post("/voice", data={"CallSid": "CA1", "pad": "x" * 200},
                    headers={"X-Twilio-Signature": "x"})
    assert r.status_code == 403
    assert refusals(caplog)[-1] == ("refused POST http://localhost/voice from 127.0.0.1: a body "
                                    "that cannot be read (too large?), so it cannot be checked")


def test_a_check_that_breaks_is_logged_with_its_traceback(app, signed, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["ivr"].validator, "compute_signature", broken)
    assert signed("POST", "/voice/turn?at=3", {"Digits": "2"}).status_code == 403
    failed = [r for r in caplog.records if r.name == "ivr.security" and r.exc_info]
    assert [r.getMessage() for r in failed] == ["signature check failed"]
    assert refusals(caplog)[-1].endswith(": a request the check could not read")


def test_numbers_given_as_text_are_read_as_numbers(make_app):
    app = make_app(MAX_CONTENT_LENGTH="100", TRUSTED_PROXIES="2")
    settings = app.extensions["ivr"].settings
    assert (settings.max_content_length, settings.trusted_proxies) == (100, 2)
    assert app.config["MAX_CONTENT_LENGTH"] == 100  # what Flask reads
    r = app.test_client().post("/voice", data={"pad": "x" * 200}, headers={"X-Twilio-Signature": "x"})
    assert r.status_code == 403


def test_a_bad_proxy_count_names_the_setting_and_what_it_means(make_app):
    with pytest.raises(ConfigError) as e:
        make_app(TRUSTED_PROXIES="two")
    assert str(e.value) == ("IVR_TRUSTED_PROXIES must be the number of proxies in front of the "
                            "app (0 or more), not 'two'")


def test_behind_two_proxies_the_url_twilio_used_is_checked(make_app, caplog):
    """Each proxy appends to X-Forwarded-*: with two trusted, the second value from the
    right is what Twilio used (scheme, host, port, prefix) and who sent it."""
    client = make_app(TRUSTED_PROXIES=2).test_client()
    forwarded = {"X-Forwarded-Proto": "https, http", "X-Forwarded-Host": "ivr.example.com, inner",
                 "X-Forwarded-Port": "8443, 80", "X-Forwarded-Prefix": "/alcanos, /",
                 "X-Forwarded-For": "54.172.60.1, 10.0.0.2"}
    url = "https://ivr.example.com:8443/alcanos/voice"
    data = {"CallSid": "CA1"}
    r = client.post("/voice", data=data, headers={**forwarded, "X-Twilio-Signature": sign(url, data)},
                    environ_base={"REMOTE_ADDR": "10.0.0.3"})
    assert r.status_code == 200
    assert b'action="https://ivr.example.com:8443/alcanos/voice/turn?at=menu"' in r.data
    r = client.post("/voice", data=data, headers={**forwarded, "X-Twilio-Signature": "x"},
                    environ_base={"REMOTE_ADDR": "10.0.0.3"})
    assert r.status_code == 403
    assert refusals(caplog)[-1] == (f"refused POST {url} from 54.172.60.1: a signature that does "
                                    f"not match")


def test_without_a_token_the_warning_says_what_to_set(no_audio, caplog):
    create_app({"TESTING": True, "AUDIO_DIR": str(no_audio)})
    assert refusals(caplog) == [
        "webhooks are NOT authenticated: set TWILIO_AUTH_TOKEN (anyone can call this line's "
        "webhooks; fine for local use only)"]
