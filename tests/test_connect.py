"""`ivr twilio connect`: the self-check against the real app over real HTTP on loopback, and
the number's settings through twilio's Client and a Twilio API behind its HTTP seam."""

import threading

import pytest
from click.testing import CliRunner
from flask import Flask, request
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from conftest import TOKEN, free_port, serving
from ivr import connect, create_app
from ivr.cli import cli
from twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, number

NUMBER = "+573001234567"
NUMBERS = f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Only what a test sets: no developer .env, token or public URL leaks in."""
    monkeypatch.setattr("dotenv.load_dotenv", lambda *a, **k: False)
    for name in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def line(audio_dir, token=TOKEN, **config):
    return create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": token,
                       "WEB_PHONE": False, **config})


# -- the self-check, against the real app ----------------------------------------------------


def test_self_check_passes_with_the_lines_token(audio_dir):
    with serving(line(audio_dir)) as base:
        check = connect.self_check(base, TOKEN, ACCOUNT_SID, NUMBER)
    assert (check.kind, check.ok, check.url) == ("ok", True, f"{base}/voice")


def test_self_check_a_wrong_token_is_refused(audio_dir):
    with serving(line(audio_dir)) as base:
        check = connect.self_check(base, "not-the-token")
    assert check.kind == "refused" and not check.ok
    assert "refused a request signed with TWILIO_AUTH_TOKEN (403)" in check.message
    assert f"PUBLIC_BASE_URL={base}" in check.message


def test_self_check_a_line_that_checks_another_url_is_refused(audio_dir):
    # The line believes Twilio calls https://ivr.example.com: a proxy/base URL mismatch.
    with serving(line(audio_dir, PUBLIC_BASE_URL="https://ivr.example.com")) as base:
        check = connect.self_check(base, TOKEN)
    assert check.kind == "refused"


def test_self_check_signs_for_the_lines_public_url(audio_dir):
    # The same line, checked at the URL it was told is its own (a tunnel's, here the loopback).
    port = free_port()
    app = line(audio_dir, PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        assert connect.self_check(f"http://127.0.0.1:{port}", TOKEN).ok
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_self_check_nothing_listening_is_unreachable():
    check = connect.self_check(f"http://127.0.0.1:{free_port()}", TOKEN)
    assert check.kind == "unreachable"
    assert "is unreachable (connection refused)" in check.message


def other_site(**routes):
    site = Flask("other")
    for path, (body, status, mimetype) in routes.items():
        site.add_url_rule(path, path, lambda body=body, status=status, mimetype=mimetype: (
            site.response_class(body, status, mimetype=mimetype)), methods=["POST"])
    return site


@pytest.mark.parametrize("body, mimetype, problem", [
    ("<html><body>It works!</body></html>", "text/html", "the root element is <html>, not <Response>"),
    ('{"status": "ok"}', "application/json", "not XML: application/json"),
    ("<Response><Say>hi", "text/xml", "not XML: text/xml"),
])
def test_self_check_an_answer_that_is_not_twiml(body, mimetype, problem):
    with serving(other_site(**{"/voice": (body, 200, mimetype)})) as base:
        check = connect.self_check(base, TOKEN)
    assert check.kind == "not_twiml"
    assert f"answered 200 but not TwiML ({problem})" in check.message


def test_self_check_other_statuses():
    with serving(other_site(**{"/voice": ("oops", 500, "text/plain")})) as base:
        check = connect.self_check(base, TOKEN)
        assert check.kind == "http" and "answered HTTP 500" in check.message
        missing = connect.self_check(base + "/nowhere", TOKEN)
        assert missing.kind == "http" and "answered HTTP 404" in missing.message  # POST not routed


def test_self_check_a_redirect_is_named():
    site = Flask("redirecting")
    site.add_url_rule("/voice", "voice", lambda: site.redirect("https://ivr.example.com/voice", 301),
                      methods=["POST"])
    with serving(site) as base:
        check = connect.self_check(base, TOKEN)
    assert check.kind == "redirect"
    assert "redirects (301) to https://ivr.example.com/voice" in check.message


def test_self_check_sends_what_twilio_sends(audio_dir):
    seen = {}
    site = Flask("recorder")

    @site.post("/voice")
    def voice():
        seen.update(form=request.form.to_dict(), headers=dict(request.headers))
        return site.response_class("<Response/>", mimetype="text/xml")

    with serving(site) as base:
        assert connect.self_check(base, TOKEN, ACCOUNT_SID, NUMBER).ok
    assert RequestValidator(TOKEN).validate(f"{base}/voice", seen["form"],
                                            seen["headers"]["X-Twilio-Signature"])
    assert seen["form"]["To"] == NUMBER and seen["form"]["AccountSid"] == ACCOUNT_SID
    assert seen["form"]["CallSid"] == connect.SELF_CHECK_CALL_SID
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


@pytest.mark.parametrize("value", ["ivr.example.com", "ftp://x", "https://x.org/?a=1", "", None, "https://"])
def test_base_url_must_be_a_plain_http_url(value):
    with pytest.raises(connect.ConnectError, match="the base URL must look like https://"):
        connect.base_url(value)


def test_base_url_drops_the_trailing_slash():
    assert connect.base_url(" https://x.org/alcanos/ ") == "https://x.org/alcanos"


# -- ivr twilio connect ----------------------------------------------------------------------


@pytest.fixture
def api():
    return FakeTwilio(numbers=[number("+15005550000"), number(NUMBER)])


@pytest.fixture
def env(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)


@pytest.fixture
def served(audio_dir):
    """The line, served on loopback with the account's token."""
    with serving(line(audio_dir, token=AUTH_TOKEN)) as base:
        yield base


def ivr(api, *args):
    return CliRunner().invoke(cli, ["twilio", "connect", *args], obj={"twilio_http_client": api})


def test_connect_sets_the_three_webhooks(api, env, served):
    result = ivr(api, NUMBER, "--url", served)
    assert result.exit_code == 0, result.output
    record = api.numbers[1]
    assert (record["voice_url"], record["voice_method"]) == (f"{served}/voice", "POST")
    assert (record["voice_fallback_url"], record["voice_fallback_method"]) == (f"{served}/voice/fallback", "POST")
    assert (record["status_callback"], record["status_callback_method"]) == (f"{served}/voice/status", "POST")
    assert api.numbers[0]["voice_url"] == "https://demo.twilio.com/welcome/voice/"  # the other number
    [update] = [r for r in api.requests if r.method == "POST"]
    assert update.path == f"{NUMBERS}/{record['sid']}.json"
    assert update.data == {
        "VoiceUrl": f"{served}/voice", "VoiceMethod": "POST",
        "VoiceFallbackUrl": f"{served}/voice/fallback", "VoiceFallbackMethod": "POST",
        "StatusCallback": f"{served}/voice/status", "StatusCallbackMethod": "POST",
    }
    assert all(r.auth == (ACCOUNT_SID, AUTH_TOKEN) for r in api.requests)
    assert "check: " in result.output and "answered with TwiML" in result.output
    assert result.output.splitlines()[-1] == f"connected: calls to {NUMBER} now reach {served}/voice"


def test_connect_finds_the_number_by_its_sid(api, env, served):
    sid = api.numbers[1]["sid"]
    result = ivr(api, sid, "--url", served)
    assert result.exit_code == 0, result.output
    assert api.calls() == [("GET", f"{NUMBERS}/{sid}.json"), ("POST", f"{NUMBERS}/{sid}.json")]
    assert api.numbers[1]["voice_url"] == f"{served}/voice"


def test_connect_finds_the_number_among_many(env, served):
    numbers = [number(f"+1500555{i:04d}") for i in range(60)] + [number(NUMBER)]
    api = FakeTwilio(numbers=numbers)
    result = ivr(api, NUMBER, "--url", served)
    assert result.exit_code == 0, result.output
    assert numbers[-1]["voice_url"] == f"{served}/voice"


def test_connect_picks_the_number_that_is_exactly_the_one_asked_for(env, served):
    """Twilio's PhoneNumber filter matches numbers that contain the digits (FakeTwilio filters
    so too): a longer number holding NUMBER's digits comes first, and must be left alone."""
    longer = "+44" + NUMBER[1:]  # +44573001234567 contains 573001234567
    numbers = [number(longer), number(NUMBER)]
    api = FakeTwilio(numbers=numbers)
    assert NUMBER[1:] in longer and longer != NUMBER
    result = ivr(api, NUMBER, "--url", served)
    assert result.exit_code == 0, result.output
    [listed] = [r for r in api.requests if r.method == "GET" and r.path.endswith("IncomingPhoneNumbers.json")]
    assert listed.params["PhoneNumber"] == NUMBER  # Twilio was asked for it, and answered both
    assert numbers[1]["voice_url"] == f"{served}/voice"
    assert numbers[0]["voice_url"] == "https://demo.twilio.com/welcome/voice/"  # untouched
    [update] = api.calls("POST")
    assert update[1].endswith(f"/{numbers[1]['sid']}.json")
    assert result.output.splitlines()[-1] == f"connected: calls to {NUMBER} now reach {served}/voice"


def test_only_longer_numbers_is_not_the_number(env):
    api = FakeTwilio(numbers=[number("+44" + NUMBER[1:]), number(NUMBER + "9")])
    result = ivr(api, NUMBER, "--url", "https://ivr.example.com")
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {NUMBER} is not a phone number of account {ACCOUNT_SID}")
    assert api.calls("POST") == []


def test_connect_base_defaults_to_public_base_url(api, env, served, monkeypatch):
    monkeypatch.setenv("PUBLIC_BASE_URL", served + "/")
    result = ivr(api, NUMBER)
    assert result.exit_code == 0, result.output
    assert api.numbers[1]["voice_url"] == f"{served}/voice"


def test_dry_run_shows_both_and_changes_nothing(api, env, served):
    result = ivr(api, NUMBER, "--url", served, "--dry-run")
    assert result.exit_code == 0, result.output
    assert api.calls("POST") == []
    assert api.numbers[1]["voice_url"] == "https://demo.twilio.com/welcome/voice/"
    lines = result.output.splitlines()
    [voice] = [ln for ln in lines if ln.strip().startswith("voice URL")]
    assert voice.split() == ["voice", "URL", "https://demo.twilio.com/welcome/voice/", f"{served}/voice"]
    [method] = [ln for ln in lines if ln.strip().startswith("voice method")]
    assert method.split() == ["voice", "method", "POST", "POST", "(same)"]
    [status] = [ln for ln in lines if ln.strip().startswith("status callback")]
    assert status.split() == ["status", "callback", "-", f"{served}/voice/status"]
    assert lines[-1] == "dry run: nothing changed"


def test_a_twiml_app_on_the_number_is_cleared(env, served):
    api = FakeTwilio(numbers=[number(NUMBER, voice_application_sid="AP" + "b" * 32)])
    result = ivr(api, NUMBER, "--url", served)
    assert result.exit_code == 0, result.output
    assert "TwiML app" in result.output
    assert api.numbers[0]["voice_application_sid"] == ""


def test_a_number_on_a_sip_trunk_is_not_changed(env, served):
    api = FakeTwilio(numbers=[number(NUMBER, trunk_sid="TK" + "c" * 32)])
    result = ivr(api, NUMBER, "--url", served)
    assert result.exit_code == 1
    assert "belongs to SIP trunk TK" in result.output
    assert api.calls("POST") == []


@pytest.mark.parametrize("make_line, message", [
    (lambda d: line(d, token="another-token"), "refused a request signed with TWILIO_AUTH_TOKEN (403)"),
    (lambda d: line(d, token=AUTH_TOKEN, PUBLIC_BASE_URL="https://ivr.example.com"), "(403)"),
])
def test_a_failed_check_changes_nothing(api, env, audio_dir, make_line, message):
    with serving(make_line(audio_dir)) as base:
        result = ivr(api, NUMBER, "--url", base)
    assert result.exit_code == 1
    assert result.output.startswith("Error: not connected: ")
    assert message in result.output
    assert len(result.output.splitlines()) == 1
    assert api.calls("POST") == []


def test_unreachable_base_changes_nothing_unless_the_check_is_skipped(api, env):
    base = f"http://127.0.0.1:{free_port()}"
    result = ivr(api, NUMBER, "--url", base)
    assert result.exit_code == 1 and "is unreachable" in result.output
    assert api.calls("POST") == []
    result = ivr(api, NUMBER, "--url", base, "--skip-check")
    assert result.exit_code == 0, result.output
    assert api.numbers[1]["voice_url"] == f"{base}/voice"
    assert "is not https" in result.output  # CliRunner mixes stderr in


@pytest.mark.parametrize("make_api, args, message", [
    (lambda: FakeTwilio(auth_token="other"), [NUMBER],
     "Error: Twilio refused the credentials (error 20003): check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
    (lambda: FakeTwilio(numbers=[number("+15005550000")]), [NUMBER],
     f"Error: {NUMBER} is not a phone number of account {ACCOUNT_SID}"),
    (lambda: FakeTwilio(), ["PN" + "d" * 32],
     f"Error: PN{'d' * 32} is not a phone number of account {ACCOUNT_SID}"),
    (lambda: FakeTwilio(offline=True), [NUMBER],
     "Error: cannot reach Twilio's API at api.twilio.com (unknown host): no network?"),
    (lambda: FakeTwilio(), ["3001234567"], "Error: NUMBER must be a phone number in E.164"),
])
def test_one_line_errors(env, make_api, args, message):
    api = make_api()
    result = ivr(api, *args, "--url", "https://ivr.example.com")
    assert result.exit_code == 1
    assert result.output.startswith(message), result.output
    assert len(result.output.splitlines()) == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize("env_vars, message", [
    ({}, "TWILIO_ACCOUNT_SID is not set"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT_SID}, "TWILIO_AUTH_TOKEN is not set"),
    ({"TWILIO_ACCOUNT_SID": "AC123", "TWILIO_AUTH_TOKEN": "x"}, "TWILIO_ACCOUNT_SID must be AC and 32 hex"),
])
def test_missing_settings(api, monkeypatch, env_vars, message):
    for name, value in env_vars.items():
        monkeypatch.setenv(name, value)
    result = ivr(api, NUMBER, "--url", "https://ivr.example.com")
    assert result.exit_code == 1
    assert message in result.output
    assert api.requests == []


def test_no_base_url_is_a_usage_error(api, env):
    result = ivr(api, NUMBER)
    assert result.exit_code == 2
    assert "give the line's public address with --url BASE, or set PUBLIC_BASE_URL" in result.output
    result = ivr(api, NUMBER, "--url", "ivr.example.com")
    assert result.exit_code == 1 and "the base URL must look like https://" in result.output
