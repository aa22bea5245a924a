"""`ivr doctor` on good and broken set-ups: the line served for real over HTTPS on loopback
(a test CA from trustme, trusted through REQUESTS_CA_BUNDLE as a real CA would be)."""

import contextlib
import json
import os
import ssl
import threading

import pytest
import trustme
from click.testing import CliRunner
from werkzeug.serving import make_server

from conftest import TOKEN, free_port
from ivr import create_app, doctor
from ivr.cli import cli
from ivr.settings import documented
from twilio_api import ACCOUNT_SID, FakeTwilio

SETTINGS = tuple(name for name, _, _ in documented())


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Only what a test sets: no developer .env or settings leak in."""
    monkeypatch.setattr("dotenv.load_dotenv", lambda *a, **k: False)
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A certificate for localhost, from a CA that REQUESTS_CA_BUNDLE makes trusted."""
    ca = trustme.CA()
    bundle = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    return bundle, context


@contextlib.contextmanager
def line_over_https(tls, monkeypatch, audio_dir, token=TOKEN, web_phone=False, base=None):
    """The real line served over HTTPS on a free loopback port; yields its base URL."""
    bundle, context = tls
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    port = free_port()
    url = f"https://localhost:{port}"
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": token,
                      "PUBLIC_BASE_URL": base or url, "WEB_PHONE": web_phone})
    server = make_server("127.0.0.1", port, app, threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def use(monkeypatch, **settings):
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def ivr_doctor(*args):
    """`ivr doctor`; Twilio's API (for its alerts) is FakeTwilio, with the credentials the
    environment holds and no alerts (tests/test_alerts.py checks that line)."""
    api = FakeTwilio(auth_token=os.environ.get("TWILIO_AUTH_TOKEN", ""))
    result = CliRunner().invoke(cli, ["doctor", "--timeout", "5", *args],
                                obj={"twilio_http_client": api})
    lines = result.output.splitlines()
    found = {}
    for line in lines[:-1]:  # 'LEVEL check         message', then the summary
        found[line[5:19].strip()] = (line[:5].strip(), line[19:])
    return result, found


def gtts_audio(audio_dir):
    """The committed audio, as if gTTS had made it."""
    manifest = audio_dir / "manifest.json"
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for entry in data["prompts"].values():
        entry["engine"] = "gtts"
    manifest.write_text(json.dumps(data), encoding="utf-8")


@pytest.fixture
def good(monkeypatch, audio_dir, tls, tmp_path):
    """A good deployment: the line over HTTPS, its token and account, gTTS audio, a migrated
    call store."""
    from ivr import store

    gtts_audio(audio_dir)
    database = f"sqlite:///{tmp_path}/calls.sqlite3"
    store.upgrade(database)
    with line_over_https(tls, monkeypatch, audio_dir) as base:
        use(monkeypatch, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            PUBLIC_BASE_URL=base, IVR_AUDIO_DIR=str(audio_dir), DATABASE_URL=database,
            IVR_SECRET_KEY="doctor-secret")
        yield base


def test_a_good_deployment(good, monkeypatch):
    use(monkeypatch, IVR_SMS_FROM="+15005550006", IVR_AGENT_NUMBER="+576015555555",
        IVR_AGENT_HOURS="Mon-Fri 08:00-18:00")
    result, found = ivr_doctor()
    assert result.exit_code == 0, result.output
    assert found["auth token"][0] == "OK"
    assert found["account SID"][0] == "OK"
    # Loopback is all a test can serve: reachable from here, never from Twilio.
    assert found["public URL"] == ("WARN", f"{good} is a local address: Twilio, on the internet, cannot reach it")
    assert found["webhook"] == ("OK", f"{good}/voice accepted a request signed as Twilio signs it "
                                      f"and answered with TwiML")
    assert found["content"][0] == "OK" and "content.toml: " in found["content"][1]
    assert found["speech"] == ("OK", "numbers_and_commands with es-419, speechTimeout 2 s")
    assert found["audio"][0] == "OK"
    assert found["web phone"] == ("OK", "off")
    assert found["texts (7)"] == ("OK", "from +15005550006")
    assert found["person (9)"] == ("OK", "dials +576015555555, hours Mon-Fri 08:00-18:00 (America/Bogota), "
                                         "closed on CO holidays")
    assert found["call store"][0] == "OK" and "one machine only" in found["call store"][1]
    assert found["twilio alerts"] == ("OK", f"in the last 24 h: none about {good}")
    assert found["settings"] == ("OK", "every other setting is well-formed")
    assert result.output.splitlines()[-1] == "0 to fix, 1 warning(s)"


def test_the_days_the_person_is_closed_are_shown(good, monkeypatch):
    use(monkeypatch, IVR_AGENT_NUMBER="+576015555555", IVR_HOLIDAYS="mx",
        IVR_CLOSED_DATES="2026-12-31,2026-12-24")
    assert ivr_doctor()[1]["person (9)"] == (
        "OK", "dials +576015555555, any time, closed on MX holidays, 2026-12-24, 2026-12-31")
    use(monkeypatch, IVR_HOLIDAYS="", IVR_CLOSED_DATES="")  # empty: no holidays at all
    assert ivr_doctor()[1]["person (9)"] == ("OK", "dials +576015555555, any time")


def test_extras_off_are_fine(good):
    result, found = ivr_doctor()
    assert result.exit_code == 0, result.output
    assert found["texts (7)"] == ("OK", "off (IVR_SMS_FROM is not set)")
    assert found["person (9)"] == ("OK", "off (IVR_AGENT_NUMBER is not set)")


def test_espeak_audio_is_a_warning(monkeypatch, audio_dir):
    use(monkeypatch, IVR_AUDIO_DIR=str(audio_dir))
    _, found = ivr_doctor()
    level, message = found["audio"]
    assert level == "WARN"
    assert "were made by the offline engine (espeak), not gTTS: run `ivr audio build --force`" in message


def test_missing_audio_is_a_warning(monkeypatch, no_audio):
    use(monkeypatch, IVR_AUDIO_DIR=str(no_audio))
    _, found = ivr_doctor()
    assert found["audio"][0] == "WARN" and "missing" in found["audio"][1]


def test_a_wrong_token_fails_the_webhook(good, monkeypatch):
    use(monkeypatch, TWILIO_AUTH_TOKEN="not-the-lines-token")
    result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["webhook"][0] == "FAIL"
    assert "refused a request signed with TWILIO_AUTH_TOKEN (403)" in found["webhook"][1]
    assert result.output.splitlines()[-1] == "1 to fix, 1 warning(s)"  # the loopback URL


def test_a_line_that_checks_another_url_fails(monkeypatch, audio_dir, tls):
    gtts_audio(audio_dir)
    with line_over_https(tls, monkeypatch, audio_dir, base="https://ivr.example.com") as base:
        use(monkeypatch, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            PUBLIC_BASE_URL=base, IVR_AUDIO_DIR=str(audio_dir))
        result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["webhook"][0] == "FAIL" and "(403)" in found["webhook"][1]


def test_the_running_line_with_its_web_phone_on_fails(monkeypatch, audio_dir, tls):
    gtts_audio(audio_dir)
    with line_over_https(tls, monkeypatch, audio_dir, web_phone=True) as base:
        use(monkeypatch, TWILIO_AUTH_TOKEN=TOKEN, TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            PUBLIC_BASE_URL=base, IVR_AUDIO_DIR=str(audio_dir))
        result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["web phone"] == ("FAIL", f"{base}/phone answers: the running line has the web "
                                          f"phone on; set IVR_WEB_PHONE=0 and restart it")


def test_web_phone_setting_on_fails(good, monkeypatch):
    use(monkeypatch, IVR_WEB_PHONE="1")
    result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["web phone"][0] == "FAIL" and "set IVR_WEB_PHONE=0" in found["web phone"][1]


def test_nothing_set(monkeypatch):
    result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["auth token"][0] == "FAIL" and "TWILIO_AUTH_TOKEN is not set" in found["auth token"][1]
    assert found["account SID"][0] == "WARN"
    assert found["public URL"][0] == "FAIL" and "PUBLIC_BASE_URL is not set" in found["public URL"][1]
    assert found["webhook"] == ("FAIL", "not checked: needs TWILIO_AUTH_TOKEN and the public URL")
    assert found["content"][0] == "OK"  # the committed content file


def test_http_and_unreachable(monkeypatch):
    use(monkeypatch, TWILIO_AUTH_TOKEN=TOKEN, PUBLIC_BASE_URL=f"http://127.0.0.1:{free_port()}")
    result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["public URL"][0] == "FAIL" and "is not https" in found["public URL"][1]
    assert found["webhook"][0] == "FAIL" and "is unreachable (connection refused)" in found["webhook"][1]


def test_url_option_checks_another_base(good, monkeypatch):
    use(monkeypatch, PUBLIC_BASE_URL="https://ivr.example.com")
    result, found = ivr_doctor("--url", good)
    assert found["webhook"][0] == "OK", result.output


@pytest.mark.parametrize("settings, check, message", [
    ({"IVR_SMS_FROM": "3001234567"}, "texts (7)", "IVR_SMS_FROM must be a Twilio number in E.164"),
    ({"IVR_SMS_FROM": "+15005550006", "TWILIO_ACCOUNT_SID": ""}, "texts (7)", "TWILIO_ACCOUNT_SID is not set"),
    ({"IVR_AGENT_NUMBER": "6015555555"}, "person (9)", "IVR_AGENT_NUMBER must be"),
    ({"IVR_AGENT_NUMBER": "+576015555555", "IVR_AGENT_HOURS": "weekdays"}, "person (9)",
     "IVR_AGENT_HOURS: 'weekdays' is not"),
    ({"IVR_AGENT_NUMBER": "+576015555555", "IVR_TIMEZONE": "Bogota"}, "person (9)", "IVR_TIMEZONE must be"),
    ({"IVR_AGENT_NUMBER": "+576015555555", "IVR_HOLIDAYS": "Colombia"}, "person (9)",
     "IVR_HOLIDAYS must be a country code the holidays package knows"),
    ({"IVR_AGENT_NUMBER": "+576015555555", "IVR_CLOSED_DATES": "2026-12-24, 24/12"}, "person (9)",
     "IVR_CLOSED_DATES: '24/12' is not a date YYYY-MM-DD"),
    ({"TWILIO_ACCOUNT_SID": "AC12"}, "account SID", "TWILIO_ACCOUNT_SID must be AC and 32 hex digits"),
])
def test_malformed_settings_fail_naming_them(good, monkeypatch, settings, check, message):
    use(monkeypatch, **settings)
    result, found = ivr_doctor()
    assert result.exit_code == 1
    level, text = found[check]
    assert level == "FAIL" and message in text, result.output


@pytest.mark.parametrize("settings, messages", [
    ({"IVR_RESUME_HOURS": "two days"}, ["IVR_RESUME_HOURS must be a whole number of at least 1, "
                                        "not 'two days'"]),
    ({"IVR_TRUSTED_PROXIES": "x", "IVR_SMS_PER_DAY": "-1"},
     ["IVR_TRUSTED_PROXIES must be the number of proxies in front of the app (0 or more), not 'x'",
      "IVR_SMS_PER_DAY must be a number of texts (0 or more), not '-1'"]),
    ({"IVR_WEB_PHONE_PASS_REFRESH_SECONDS": "900"},
     ["IVR_WEB_PHONE_PASS_REFRESH_SECONDS must be more than 0 and less than "
      "IVR_WEB_PHONE_PASS_SECONDS (600), not 900"]),
    ({"IVR_WEB_PHONE_PASS_SECONDS": "ten"},
     ["IVR_WEB_PHONE_PASS_SECONDS must be a number of seconds (0 or more), not 'ten'"]),
])
def test_a_setting_no_other_check_reads_fails_as_the_line_would(good, monkeypatch, settings,
                                                                 messages):
    # The line refuses to start on each of these, so the deployment is not good.
    use(monkeypatch, **settings)
    result, _ = ivr_doctor()
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line for line in lines if line.startswith("FAIL")] == [
        f"FAIL settings      {message}" for message in messages]
    assert lines[-1] == f"{len(messages)} to fix, 1 warning(s)"


def test_the_settings_other_checks_report_are_settings():
    # A setting renamed in ivr/settings.py must not drop out of every check.
    assert doctor.REPORTED - set(SETTINGS) == set()


def test_broken_content_fails(monkeypatch, tmp_path):
    bad = tmp_path / "content.toml"
    bad.write_text("[prompts.welcome]\n", encoding="utf-8")
    use(monkeypatch, IVR_CONTENT=str(bad))
    result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["content"] == ("FAIL", f"{bad}: prompt 'welcome' has no `text`")
    assert found["speech"] == ("FAIL", "not checked: the content file does not load")
    assert found["audio"] == ("FAIL", "not checked: the content file does not load")


def test_the_speech_pair_in_use_is_shown_and_an_undocumented_one_fails(monkeypatch, tmp_path):
    from ivr import ROOT

    mine = tmp_path / "content.toml"
    text = (ROOT / "content.toml").read_text(encoding="utf-8")
    mine.write_text(text.replace('model = "numbers_and_commands"', 'model = "phone_call"')
                    .replace('language = "es-419"', 'language = "es-US"')
                    .replace("timeout = 2", "timeout = 1"), encoding="utf-8")
    use(monkeypatch, IVR_CONTENT=str(mine))
    _, found = ivr_doctor()
    assert found["speech"] == ("OK", "phone_call with es-US, speechTimeout 1 s")
    mine.write_text(text.replace('language = "es-419"', 'language = "es-CO"'), encoding="utf-8")
    result, found = ivr_doctor()
    assert result.exit_code == 1
    level, message = found["content"]
    assert level == "FAIL" and message.startswith(
        f"{mine}: [speech] model 'numbers_and_commands' with language 'es-CO' is not a pair "
        f"Twilio documents; use numbers_and_commands with es-419 or es;")


def test_a_new_check_is_one_function(monkeypatch):
    checks = list(doctor.CHECKS)
    monkeypatch.setattr(doctor, "CHECKS", checks)

    @doctor.check
    def database(d):
        return doctor.Finding(doctor.WARN, "database", "not reachable")

    @doctor.check
    def broken(d):
        raise RuntimeError("boom")

    result, found = ivr_doctor()
    assert found["database"] == ("WARN", "not reachable")
    assert found["broken"] == ("FAIL", "the check itself failed: RuntimeError: boom")
    assert result.exit_code == 1


def test_an_unmigrated_database_fails_naming_the_command(good, monkeypatch, tmp_path):
    use(monkeypatch, DATABASE_URL=f"sqlite:///{tmp_path}/empty.sqlite3")
    result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["call store"][0] == "FAIL" and "ivr db upgrade" in found["call store"][1]


def test_an_unreachable_database_fails(good, monkeypatch):
    use(monkeypatch, DATABASE_URL="postgresql://ivr:secret@127.0.0.1:1/ivr")
    result, found = ivr_doctor()
    assert result.exit_code == 1
    level, message = found["call store"]
    assert level == "FAIL" and "secret" not in message


def test_a_store_without_its_key_fails(good, monkeypatch):
    monkeypatch.delenv("IVR_SECRET_KEY")
    result, found = ivr_doctor()
    assert result.exit_code == 1
    assert found["call store"] == ("FAIL", "IVR_SECRET_KEY is not set: the line refuses to start "
                                           "without it (it keys caller numbers)")


def test_the_default_sqlite_file_is_left_for_the_line_to_make(good, monkeypatch, tmp_path):
    from flask import Flask

    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(tmp_path / "instance"))
    monkeypatch.delenv("DATABASE_URL")
    _, found = ivr_doctor()
    assert found["call store"] == ("OK", "the default SQLite file, made on first use")
    assert not (tmp_path / "instance").exists()
