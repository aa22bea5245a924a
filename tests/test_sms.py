"""ivr/sms.py: segments as carriers count them, the settings, and texts sent through twilio's
Client to a Twilio API behind its own HTTP seam (tests/twilio_api.py)."""

import logging
import socket
import threading
from types import SimpleNamespace

import pytest
import requests
from twilio.http.http_client import TwilioHttpClient

import twilio_api
from conftest import read_settings
from ivr import sms
from ivr.settings import ConfigError
from twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

CALLER = "+573001234567"
SENDER = "+15005550006"
SERVICE = "MG" + "0123456789abcdef" * 2
#: Seconds a test waits for a hung request before it fails (against a hang, never asserted).
GUARD = 30

# -- segments --------------------------------------------------------------------------------


@pytest.mark.parametrize("text, expected", [
    ("", ("GSM-7", 1)),
    ("a" * 160, ("GSM-7", 1)),
    ("a" * 161, ("GSM-7", 2)),
    ("a" * 306, ("GSM-7", 2)),
    ("a" * 307, ("GSM-7", 3)),
    ("a" * 459, ("GSM-7", 3)),
    ("a" * 460, ("GSM-7", 4)),
    # Spanish letters in the GSM basic set: é ñ Ñ ü ¿ ¡ keep GSM-7.
    ("¿Querés pagar? ¡Ñoño, pingüino, café!", ("GSM-7", 1)),
    # The extension table counts two septets: 80 euro signs fill one SMS, 81 need two.
    ("€" * 80, ("GSM-7", 1)),
    ("€" * 81, ("GSM-7", 2)),
    ("[]{}|~^\\" * 10, ("GSM-7", 1)),
    # A part never splits an escape pair: 152 letters and '€' do not fit in 153 septets.
    ("a" * 152 + "€" + "a" * 10, ("GSM-7", 2)),
    ("a" * 152 + "€" + "a" * 152, ("GSM-7", 3)),
    # á, í, ó, ú are not GSM: the whole text goes as UCS-2.
    ("Paso 1: Accedé al sitio oficial de Alcanos", ("GSM-7", 1)),
    ("Iniciá sesión", ("UCS-2", 1)),
    ("á" * 70, ("UCS-2", 1)),
    ("á" * 71, ("UCS-2", 2)),
    ("á" * 134, ("UCS-2", 2)),
    ("á" * 135, ("UCS-2", 3)),
    ("á" + "a" * 200, ("UCS-2", 3)),
    # Curly quotes (the seed's “Oficina Virtual”) are not GSM either.
    ("“Pagar”", ("UCS-2", 1)),
    # Outside the BMP: two UTF-16 units each, never split between parts.
    ("😀" * 35, ("UCS-2", 1)),
    ("😀" * 36, ("UCS-2", 2)),
    ("a" * 66 + "😀" + "a" * 10, ("UCS-2", 2)),
    ("a" * 66 + "😀" + "a" * 66, ("UCS-2", 3)),
])
def test_segments_counts_as_carriers_do(text, expected):
    assert sms.segments(text) == expected
    encoding, count = sms.segments(text)  # a plain pair too
    assert (encoding, count) == expected


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [SENDER, "+5712345678", SERVICE, " +15005550006 "])
def test_sender_accepts_e164_and_messaging_services(value):
    found = read_settings(SMS_FROM=value, TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN="x")
    assert found.sms_from == value.strip()


@pytest.mark.parametrize("value", [
    "15005550006", "+0123456789", "+1234567", "+1234567890123456", "+57 300 123 4567",
    "MG123", "MG" + "g" * 32, "PN" + "0" * 32, 573001234567,
])
def test_sender_refuses_anything_else_naming_the_setting(value):
    with pytest.raises(ConfigError, match=r"^IVR_SMS_FROM must be a Twilio number in E\.164"):
        read_settings(SMS_FROM=value)


@pytest.mark.parametrize("value", ["", None])
def test_texter_is_off_without_a_sender(value):
    assert sms.texter(read_settings(TWILIO_ACCOUNT_SID=ACCOUNT_SID, TWILIO_AUTH_TOKEN="x")) is None
    assert sms.texter(read_settings(SMS_FROM=value)) is None


@pytest.mark.parametrize("config, message", [
    ({"SMS_FROM": "12345"}, "IVR_SMS_FROM must be"),
    ({"SMS_FROM": SENDER, "TWILIO_AUTH_TOKEN": "x"}, "TWILIO_ACCOUNT_SID is not set"),
    ({"SMS_FROM": SENDER, "TWILIO_ACCOUNT_SID": "ACnope", "TWILIO_AUTH_TOKEN": "x"},
     "TWILIO_ACCOUNT_SID must be AC and 32 hex digits"),
    ({"SMS_FROM": SENDER, "TWILIO_ACCOUNT_SID": ACCOUNT_SID}, "TWILIO_AUTH_TOKEN is not"),
])
def test_texter_settings_errors_name_the_setting(config, message):
    with pytest.raises(ConfigError, match=message):
        read_settings(**config)


def test_texter_from_settings_uses_twilio_with_a_short_timeout():
    texter = sms.texter(read_settings(SMS_FROM=SERVICE, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
                                      TWILIO_AUTH_TOKEN=AUTH_TOKEN))
    assert texter.sender == SERVICE
    assert isinstance(texter.client.http_client, TwilioHttpClient)
    assert texter.client.http_client.timeout == 5


# -- sending ---------------------------------------------------------------------------------


@pytest.fixture
def api():
    return FakeTwilio()


def texter(api, sender=SENDER, **kw):
    return sms.Texter(ACCOUNT_SID, AUTH_TOKEN, sender, http_client=api, **kw)


def test_a_text_goes_to_the_caller_from_the_number(api):
    result = texter(api).send(CALLER, "Oficina Virtual: www.alcanos.com.co")
    assert result.sent and result.reason == "sent" and result.code is None
    assert result.sid == api.messages[0]["sid"] and result.sid.startswith("SM")
    [request] = api.requests
    assert (request.method, request.path) == ("POST", f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json")
    assert request.data == {"To": CALLER, "From": SENDER, "Body": "Oficina Virtual: www.alcanos.com.co"}
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)


def test_a_text_through_a_messaging_service(api):
    result = texter(api, SERVICE).send(CALLER, "hola")
    assert result.sent
    assert api.requests[0].data == {"To": CALLER, "MessagingServiceSid": SERVICE, "Body": "hola"}
    assert api.messages[0]["status"] == "accepted"


@pytest.mark.parametrize("code, reason", [
    (21211, "invalid_number"),
    (21610, "unsubscribed"),
    (21614, "not_mobile"),
])
def test_twilio_errors_are_a_result_not_an_exception(api, code, reason, caplog):
    api.message_errors[CALLER] = code
    with caplog.at_level(logging.INFO, logger="ivr.sms"):
        result = texter(api).send(CALLER, "hola")
    assert (result.sent, result.code, result.reason) == (False, code, reason)
    assert result.detail  # Twilio's short reason
    assert CALLER not in result.detail
    assert "+********4567" in caplog.text and CALLER not in caplog.text


def test_wrong_credentials_are_reported_as_such():
    api = FakeTwilio(auth_token="another")
    result = texter(api).send(CALLER, "hola")
    assert (result.sent, result.code, result.reason, result.detail) == (
        False, 20003, "credentials", "Unable to create record: Authenticate")


@pytest.mark.parametrize("to", ["", None, "anonymous", "client:web-phone", "+266696687"[:5], "573001234567"])
def test_no_number_to_text_makes_no_request(api, to):
    result = texter(api).send(to, "hola")
    assert (result.sent, result.reason) == (False, "invalid_number")
    assert api.requests == []


def test_no_network_is_a_result(caplog):
    result = texter(FakeTwilio(offline=True)).send(CALLER, "hola")
    assert (result.sent, result.reason) == (False, "network")
    assert CALLER not in caplog.text


def fake_sleep(monkeypatch) -> list[float]:
    """The fake Twilio API waits on a fake clock: the seconds it would have slept, in order.
    A Twilio slower than the client's timeout waits the timeout, then gives up as requests does."""
    waits = []
    monkeypatch.setattr(twilio_api, "time", SimpleNamespace(sleep=waits.append))
    return waits


def test_a_slow_twilio_is_a_timeout_result(monkeypatch):
    # An HTTP client brings its own timeout (twilio's Client passes none per request).
    api = FakeTwilio(delay=5, client_timeout=0.2)
    waits = fake_sleep(monkeypatch)
    result = texter(api).send(CALLER, "hola")
    assert (result.sent, result.reason) == (False, "timeout")
    assert api.requests[0].timeout == 0.2
    assert waits == [0.2]  # the client's 0.2 s, once: neither Twilio's 5 s nor a retry


@pytest.fixture
def hanging_proxy():
    """An HTTP proxy that accepts connections and never answers: a Twilio that hangs."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_the_real_http_client_does_not_hold_a_webhook(monkeypatch, hanging_proxy, caplog):
    # twilio's own TwilioHttpClient, the Texter's default, through a proxy that never answers.
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.setenv(name, hanging_proxy)
    timeouts, send = [], requests.Session.send

    def sent(session, request, **kw):  # the timeout the real client gives requests
        timeouts.append(kw.get("timeout"))
        return send(session, request, **kw)

    monkeypatch.setattr(requests.Session, "send", sent)
    results = []
    texting = threading.Thread(daemon=True, target=lambda: results.append(
        sms.Texter(ACCOUNT_SID, AUTH_TOKEN, SENDER, timeout=0.3).send(CALLER, "hola")))
    texting.start()
    # Against a hang only (never asserted as a duration): without a timeout, it waits for ever.
    texting.join(GUARD)
    assert results, "the text is still waiting for a proxy that never answers"
    (result,) = results
    assert (result.sent, result.reason) == (False, "timeout"), result
    assert timeouts == [0.3]  # the Texter's timeout reached the socket, for the one request
    assert CALLER not in caplog.text


def test_an_unexpected_failure_is_a_result(api, monkeypatch):
    t = texter(api)
    monkeypatch.setattr(t, "_create", lambda to, body: 1 / 0)
    result = t.send(CALLER, "hola")
    assert (result.sent, result.reason) == (False, "error")
