"""Only Twilio gets in: signatures, proxies and the public base URL; the audio route's walls."""

import json
import logging
import os

import pytest

from conftest import TOKEN, assert_valid_twiml, sign, twilio_request
from ivr import ROOT, create_app
from ivr.audio import text_hash
from ivr.content import load
from ivr.settings import ConfigError

CALL = {"CallSid": "CA" + "5" * 32, "From": "+573001234567", "To": "+576015550100"}
PUBLIC = "https://ivr.example.com"
#: What a reverse proxy in front of the app adds when Twilio calls https://ivr.example.com.
FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.com",
             "X-Forwarded-For": "54.172.60.1"}


def heard_menu(r):
    """The response is TwiML offering the main menu (welcome or not)."""
    assert r.status_code == 200, r.data
    doc = assert_valid_twiml(r.data)
    return doc[0].tag == "Gather" and "at=menu" in doc[0].get("action")


def test_signed_request_is_answered(signed):
    assert heard_menu(signed("POST", "/voice", CALL))


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_missing_signature_is_403_and_logged_without_secrets(client, caplog, method):
    r = client.open("/voice/turn?at=menu", method=method, data=CALL if method == "POST" else None,
                    environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert r.status_code == 403
    assert len(r.data) < 100 and b"<Response" not in r.data
    [refusal] = [rec for rec in caplog.records if rec.name == "ivr.security"]
    assert refusal.levelno == logging.WARNING
    msg = refusal.getMessage()
    assert "/voice/turn" in msg and "203.0.113.9" in msg and "no X-Twilio-Signature" in msg
    assert TOKEN not in caplog.text


def test_forged_signature_is_403_and_the_signature_is_not_logged(client, caplog):
    forged = sign("http://localhost/voice", CALL, token="not-the-token")
    r = client.post("/voice", data=CALL, headers={"X-Twilio-Signature": forged})
    assert r.status_code == 403
    assert "does not match" in caplog.text
    assert forged not in caplog.text and TOKEN not in caplog.text


def test_changed_parameters_break_the_signature(client):
    headers = {"X-Twilio-Signature": sign("http://localhost/voice/turn?at=3", {"Digits": "1"})}
    assert client.post("/voice/turn?at=3", data={"Digits": "1"}, headers=headers).status_code == 200
    assert client.post("/voice/turn?at=3", data={"Digits": "2"}, headers=headers).status_code == 403
    assert client.post("/voice/turn?at=4", data={"Digits": "1"}, headers=headers).status_code == 403
    extra = {"Digits": "1", "From": "+15550000000"}
    assert client.post("/voice/turn?at=3", data=extra, headers=headers).status_code == 403


def test_signature_for_another_host_is_403(signed):
    assert signed("POST", "/voice", CALL, signed_for="http://localhost").status_code == 200
    assert signed("POST", "/voice", CALL, signed_for="http://ivr.other.com").status_code == 403


def test_get_is_signed_with_its_query_string(client):
    query = "/voice?CallSid=CA1&From=%2B573001234567&To=%2B576015550100"
    good = {"X-Twilio-Signature": sign("http://localhost" + query)}
    path_only = {"X-Twilio-Signature": sign("http://localhost/voice")}
    assert heard_menu(client.get(query, headers=good))
    assert client.get(query, headers=path_only).status_code == 403
    # Twilio never signs a '?' with nothing after it (Flask's full_path would add one).
    assert heard_menu(client.get("/voice", headers=path_only))


def test_behind_a_trusted_proxy_the_forwarded_https_url_is_checked(make_app):
    client = make_app(TRUSTED_PROXIES=1).test_client()
    r = twilio_request(client, "POST", "/voice", CALL, signed_for=PUBLIC, headers=FORWARDED)
    assert heard_menu(r)
    # The proxy said https: a signature for http:// is not what Twilio made.
    r = twilio_request(client, "POST", "/voice", CALL, signed_for="http://ivr.example.com",
                       headers=FORWARDED)
    assert r.status_code == 403


def test_forwarded_headers_are_ignored_unless_proxies_are_trusted(make_app):
    client = make_app().test_client()
    r = twilio_request(client, "POST", "/voice", CALL, signed_for=PUBLIC, headers=FORWARDED)
    assert r.status_code == 403
    # Anyone can send X-Forwarded-*: without trust, the app checks the URL it really got.
    r = twilio_request(client, "POST", "/voice", CALL, headers=FORWARDED)
    assert heard_menu(r)


def test_trusted_proxy_prefix_is_part_of_the_signed_url_and_the_twiml(make_app):
    client = make_app(TRUSTED_PROXIES=1).test_client()
    headers = {**FORWARDED, "X-Forwarded-Prefix": "/alcanos"}
    r = twilio_request(client, "POST", "/voice/turn?at=2", {"Digits": "2"},
                       signed_for=PUBLIC + "/alcanos", headers=headers)
    assert r.status_code == 200
    doc = assert_valid_twiml(r.data)
    assert doc[0].get("action") == "https://ivr.example.com/alcanos/voice/turn?at=3"


def test_public_base_url_rebuilds_the_signed_url(make_app):
    client = make_app(PUBLIC_BASE_URL=PUBLIC + "/alcanos/").test_client()
    r = twilio_request(client, "POST", "/voice/turn?at=2", {"Digits": "2"},
                       signed_for=PUBLIC + "/alcanos")
    assert r.status_code == 200
    assert assert_valid_twiml(r.data)[0].get("action") == PUBLIC + "/alcanos/voice/turn?at=3"
    # What the app itself sees (http://localhost) is not what Twilio signed.
    assert twilio_request(client, "POST", "/voice/turn?at=2", {"Digits": "2"}).status_code == 403


def test_public_base_url_wins_over_forwarded_headers(make_app):
    client = make_app(PUBLIC_BASE_URL=PUBLIC, TRUSTED_PROXIES=1).test_client()
    spoofed = {**FORWARDED, "X-Forwarded-Host": "ivr.other.com"}
    r = twilio_request(client, "POST", "/voice", CALL, signed_for=PUBLIC, headers=spoofed)
    assert heard_menu(r)


def test_default_port_in_the_signed_url_is_accepted(make_app):
    # Twilio is not consistent about ':443'; twilio's RequestValidator tries both forms.
    client = make_app(PUBLIC_BASE_URL=PUBLIC).test_client()
    r = twilio_request(client, "POST", "/voice", CALL, signed_for=PUBLIC + ":443")
    assert heard_menu(r)


def test_without_a_token_the_line_works_but_warns_loudly(no_audio, caplog):
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio)})
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("webhooks are NOT authenticated: set TWILIO_AUTH_TOKEN" in r.getMessage()
               for r in warnings)
    assert heard_menu(app.test_client().post("/voice", data=CALL))


def test_with_a_token_there_is_no_warning(make_app, caplog):
    make_app()
    assert "NOT authenticated" not in caplog.text


def test_settings_come_from_the_environment(monkeypatch, no_audio):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "env-token")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("PUBLIC_BASE_URL", PUBLIC)
    monkeypatch.setenv("IVR_TRUSTED_PROXIES", "2")
    app = create_app()
    settings = app.extensions["ivr"].settings
    assert settings.twilio_account_sid == "AC" + "1" * 32
    assert settings.trusted_proxies == 2
    r = twilio_request(app.test_client(), "POST", "/voice", CALL, token="env-token",
                       signed_for=PUBLIC)
    assert heard_menu(r)


@pytest.mark.parametrize("proxies", ["many", -1, 1.5, True, "²", ""])
def test_a_bad_trusted_proxy_count_is_refused(make_app, proxies):
    with pytest.raises(ConfigError, match="IVR_TRUSTED_PROXIES"):
        make_app(TRUSTED_PROXIES=proxies)


def test_a_trusted_proxy_count_may_be_text(make_app):
    client = make_app(TRUSTED_PROXIES="1").test_client()
    r = twilio_request(client, "POST", "/voice", CALL, signed_for=PUBLIC, headers=FORWARDED)
    assert heard_menu(r)


@pytest.mark.parametrize(("value", "on"), [("1", True), ("0", False), ("off", False),
                                           ("On", True), ("no", False), (False, False)])
def test_web_phone_setting_is_read_strictly(make_app, value, on):
    app = make_app(WEB_PHONE=value)
    assert app.extensions["ivr"].settings.web_phone_on is on
    assert app.test_client().get("/phone").status_code == (200 if on else 404)


@pytest.mark.parametrize("value", ["maybe", "2", "disabled", 1.5])
def test_a_web_phone_setting_that_is_neither_on_nor_off_is_refused(make_app, value):
    with pytest.raises(ConfigError, match="IVR_WEB_PHONE must be 1 or 0"):
        make_app(WEB_PHONE=value)


@pytest.mark.parametrize("value", ["lots", -5, "64k"])
def test_a_bad_body_limit_is_refused(make_app, value):
    with pytest.raises(ConfigError, match="IVR_MAX_CONTENT_LENGTH must be a size in bytes"):
        make_app(MAX_CONTENT_LENGTH=value)


def test_web_phone_with_a_token_is_announced(make_app, caplog):
    with caplog.at_level(logging.WARNING):
        make_app(WEB_PHONE=True)
    assert "the web phone is on" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        make_app(WEB_PHONE=False)
    assert "web phone" not in caplog.text


@pytest.mark.parametrize("length", ["²", "1e3", "-1", " 12"])
def test_an_unreadable_content_length_is_refused_not_answered(client, length):
    r = client.post("/voice/turn?at=3", data="Digits=2", headers={
        "Content-Type": "application/x-www-form-urlencoded", "Content-Length": length,
        "X-Twilio-Signature": "forged"})
    assert r.status_code == 403


def test_a_failing_check_refuses_the_request(app, signed, monkeypatch, caplog):
    def broken(*args):
        raise RuntimeError("boom")

    monkeypatch.setattr(app.extensions["ivr"].validator, "compute_signature", broken)
    r = signed("POST", "/voice/turn?at=3", {"Digits": "2", **CALL})
    assert r.status_code == 403
    assert "signature check failed" in caplog.text


def test_every_voice_route_is_checked(client):
    for path in ("/voice", "/voice/turn?at=1", "/voice/fallback", "/voice/anything"):
        assert client.post(path, data=CALL).status_code == 403, path


def test_health_needs_no_signature_and_reports_what_is_loaded(client, app):
    r = client.get("/healthz")
    assert r.status_code == 200
    line = app.extensions["ivr"]
    assert r.json == {
        "status": "ok",
        "pid": os.getpid(),  # which worker answered
        "content": {"file": "content.toml", "prompts": len(line.content.prompts), "steps": 8},
        "audio": {**line.audio.summary(), "offline_engine_only": True},
    }
    assert r.json["audio"]["prompts"] == len(line.content.prompts)
    assert str(line.content.path.parent) not in r.get_data(as_text=True)  # public: no paths


@pytest.fixture
def one_file_app(tmp_path):
    """An app whose audio folder has one current file, a stray file and a secret beside it."""
    audio = tmp_path / "audio"
    audio.mkdir()
    say = load(ROOT / "content.toml")["welcome"].say
    manifest = {"prompts": {"welcome": {"file": "welcome-1.wav", "text_sha256": text_hash(say),
                                        "engine": "test"}}}
    (audio / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    (audio / "welcome-1.wav").write_bytes(b"RIFF-welcome")
    (audio / "stray.wav").write_bytes(b"RIFF-stray")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    return create_app({"TESTING": True, "AUDIO_DIR": str(audio), "TWILIO_AUTH_TOKEN": TOKEN})


def test_audio_route_serves_the_manifest_files(one_file_app):
    with one_file_app.test_client().get("/audio/welcome-1.wav") as r:
        assert r.status_code == 200 and r.data == b"RIFF-welcome"


@pytest.mark.parametrize(
    "path",
    [
        "/audio/../content.toml", "/audio/..%2fcontent.toml", "/audio/%2e%2e/app.py",
        "/audio/%2e%2e%2fapp.py", "/audio/..%5capp.py", "/audio//etc/passwd",
        "/audio/%2fetc%2fpasswd", "/audio/manifest.json", "/audio/nope.wav", "/audio/.gitkeep",
        "/audio/%00.wav", "/audio/" + "a" * 5000, "/audio/stray.wav", "/audio/../secret.txt",
        "/audio/..%2fsecret.txt", "/audio/%2e%2e%2fsecret.txt", "/audio/welcome-1.wav/",
        "/audio/./welcome-1.wav", "/audio/" + str(ROOT / "content.toml"),
    ],
)
def test_audio_route_serves_nothing_outside_the_manifest(one_file_app, path):
    with one_file_app.test_client().get(path) as r:
        assert r.status_code == 404
        assert not [m for m in (b"RIFF", b"secret", b"[prompts", b"create_app") if m in r.data]


def test_dotenv_is_read_from_the_directory_the_command_runs_in(tmp_path, monkeypatch):
    from ivr.settings import from_environment

    (tmp_path / ".env").write_text("TWILIO_AUTH_TOKEN=from-dotenv\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    try:
        assert from_environment()["TWILIO_AUTH_TOKEN"] == "from-dotenv"
    finally:
        os.environ.pop("TWILIO_AUTH_TOKEN", None)  # load_dotenv wrote it into the process
