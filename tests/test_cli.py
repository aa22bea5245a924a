"""The `ivr` command, through click's CliRunner: scripted calls, in-process and over HTTP."""

import pytest
from click.testing import CliRunner
from flask import abort, request
from twilio.request_validator import RequestValidator

from conftest import TOKEN, Tiny, doc, free_port, serving
from ivr import create_app
from ivr.cli import cli


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """Only what a test sets: no developer .env, token or public URL leaks in."""
    monkeypatch.setattr("dotenv.load_dotenv", lambda *a, **k: False)
    for name in ("TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL", "IVR_CALL_PLAYER"):
        monkeypatch.delenv(name, raising=False)


def ivr(*args):
    return CliRunner().invoke(cli, list(args))


# -- the group: help, version, where the line is -------------------------------------------


def test_h_is_help_and_help_says_where_the_line_is():
    short, long = ivr("-h"), ivr("--help")
    assert short.exit_code == long.exit_code == 0
    assert short.output == long.output
    assert long.output.startswith("Usage: ") and "Commands:" in long.output
    settings = long.output[long.output.index("Where the line is"):].splitlines()
    # Kept as lines (not rewrapped into a paragraph), one setting each.
    assert [line.split()[0] for line in settings[1:3]] == ["IVR_CONTENT", "IVR_AUDIO_DIR"]
    assert ".env" in settings[0]
    assert ivr("audio", "check", "-h").output == ivr("audio", "check", "--help").output


def test_version_is_the_distributions():
    from importlib.metadata import version

    result = ivr("--version")
    assert result.exit_code == 0
    assert result.output == f"ivr, version {version('linea-alcanos')}\n"


def test_a_missing_content_file_names_the_setting(monkeypatch, tmp_path):
    monkeypatch.setenv("IVR_CONTENT", str(tmp_path / "nope.toml"))
    for args in (["call", "--keys", "1"], ["audio", "check"]):
        result = ivr(*args)
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: {tmp_path / 'nope.toml'}: no such file")
        assert "IVR_CONTENT" in result.output and result.output.count("\n") == 1


@pytest.mark.parametrize("folder, problem", [
    ("nowhere", "does not exist: every prompt is spoken with <Say>"),
    ("empty", "has no usable manifest.json: every prompt is spoken with <Say>"),
])
@pytest.mark.parametrize("args", [["call", "--keys", "1,-"], ["audio", "check"]])
def test_a_wrong_audio_folder_is_one_warning(monkeypatch, tmp_path, folder, problem, args):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("IVR_AUDIO_DIR", str(tmp_path / folder))
    result = ivr(*args)
    warnings = [line for line in result.output.splitlines() if "IVR_AUDIO_DIR" in line]
    assert warnings == [f"warning: audio folder {tmp_path / folder} (IVR_AUDIO_DIR) {problem}"
                        + (" (build it with `ivr audio build`)" if folder == "empty" else "")]
    assert result.output.startswith("warning: ")  # before the transcript or the list
    assert "Traceback" not in result.output


def test_the_shipped_audio_gives_no_warning_to_a_call():
    # The offline engine's note is for `ivr serve` and /healthz, not for trying the line.
    result = ivr("call", "--keys", "1,-")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("LINE  [welcome]") and "warning" not in result.output


def test_audio_commands_need_no_call_store(monkeypatch, tmp_path):
    # A deployment's .env holds the token; its IVR_SECRET_KEY may not be set yet when the
    # operator builds the audio (Going live), and recordings are not calls to record.
    from ivr import paths

    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-token")
    monkeypatch.delenv("IVR_SECRET_KEY", raising=False)
    monkeypatch.setenv("IVR_STORE", "1")  # as a deployment has it (the tests' default is off)
    result = ivr("audio", "check")
    assert result.exit_code == 0, result.output
    assert " 0 stale, 0 missing; slow: " in result.output and "warning" not in result.output
    assert not (tmp_path / "instance").exists() and paths.instance_path() == str(tmp_path / "instance")


@pytest.mark.parametrize("token", ["", "a-token"])
def test_scripted_call_prints_the_transcript(monkeypatch, no_audio, token, caplog):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)  # with a token, the call is signed
    result = ivr("call", "--keys", "2,5,-")
    assert result.exit_code == 0, result.output
    warning, *lines = result.output.splitlines()
    # An audio folder without a manifest: said once, then every prompt is <Say>.
    assert warning == (f"warning: audio folder {no_audio} (IVR_AUDIO_DIR) has no usable manifest.json:"
                       " every prompt is spoken with <Say> (build it with `ivr audio build`)")
    assert lines[0].startswith("LINE  [welcome] Hola")
    assert "KEYS  2" in lines
    assert any(ln.startswith("LINE  [paso_5] Paso cinco.") for ln in lines)
    assert "KEYS  (silence)" in lines
    assert lines[-1] == "END   the caller hung up"
    # Nothing is served, so there is no unauthenticated webhook to warn about.
    assert "NOT authenticated" not in caplog.text


def test_a_call_the_line_ends_exits_0(monkeypatch, no_audio):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    result = ivr("call", "--keys", "1,-,-,-")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "END   the line hung up"


def test_broken_content_is_one_readable_line(monkeypatch, tmp_path):
    bad = tmp_path / "content.toml"
    bad.write_text("[prompts.welcome]\n", encoding="utf-8")
    monkeypatch.setenv("IVR_CONTENT", str(bad))
    result = ivr("call", "--keys", "1")
    assert result.exit_code == 1
    assert result.output == f"Error: {bad}: prompt 'welcome' has no `text`\n"


def test_an_undocumented_speech_pair_stops_the_line_in_one_line(monkeypatch, tmp_path):
    """The old es-CO: no silent fallback, one line naming the file, the pair and the choices."""
    from ivr import ROOT

    mine = tmp_path / "content.toml"
    text = (ROOT / "content.toml").read_text(encoding="utf-8")
    mine.write_text(text.replace('language = "es-419"', 'language = "es-CO"'), encoding="utf-8")
    monkeypatch.setenv("IVR_CONTENT", str(mine))
    result = ivr("call", "--keys", "1")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith(
        f"Error: {mine}: [speech] model 'numbers_and_commands' with language 'es-CO' is not a "
        f"pair Twilio documents; use numbers_and_commands with es-419 or es; ")


@pytest.mark.parametrize("args, message", [
    ([], "give the keys to press with --keys"),  # CliRunner's stdin is no terminal
    (["--keys", "1,x"], "--keys: 'x' is not keys"),
    (["--keys", "1", "--url", "localhost:5000"], "--url 'localhost:5000' must look like http://"),
])
def test_usage_mistakes_are_named(args, message):
    result = ivr("call", *args)
    assert result.exit_code == 2
    assert f"Error: {message}" in result.output


# -- signing in-process ------------------------------------------------------------------


def checking(app, token):
    """`app` refusing, like the real line will, requests whose signature does not match
    the URL the app sees; returns the list of URLs it accepted."""
    accepted = []

    @app.before_request
    def check():
        url = request.base_url + ("?" + request.query_string.decode() if request.query_string else "")
        params = request.form.to_dict() if request.method == "POST" else {}
        if not RequestValidator(token).validate(url, params, request.headers.get("X-Twilio-Signature", "")):
            abort(403)
        accepted.append(url)

    return accepted


@pytest.mark.parametrize("public, first", [
    ("", "http://localhost/voice"),
    ("https://linea.example.co", "https://linea.example.co/voice"),
])
def test_in_process_calls_are_signed_for_the_url_the_app_sees(monkeypatch, no_audio, public, first):
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "PUBLIC_BASE_URL": public,
                      "TWILIO_AUTH_TOKEN": TOKEN})
    accepted = checking(app, TOKEN)
    monkeypatch.setattr("ivr.cli.call.make_app", lambda **kw: app)
    result = ivr("call", "--keys", "2,5,-")
    assert result.exit_code == 0, result.output
    assert "Paso cinco" in result.output
    assert accepted[0] == first
    assert len(accepted) == 4  # answer, 2, 5, silence


def test_a_token_mismatch_is_one_readable_line(monkeypatch, no_audio):
    # The server checks signatures with its token; this machine's .env has another one.
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN})
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "another-token")
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    with serving(app) as base:
        result = ivr("call", "--keys", "1", "--url", f"{base}/voice")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: POST {base}/voice answered 403: the server refused the signature"
        " — is TWILIO_AUTH_TOKEN the same on both sides?\n"
    )


# -- --url: a running server over real HTTP ----------------------------------------------


def test_url_walks_a_running_server(monkeypatch, no_audio):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    server_app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio)})
    with serving(server_app) as base:
        result = ivr("call", "--url", f"{base}/voice", "--keys", "2,5,3,-")
    assert result.exit_code == 0, result.output
    heard = [ln.split("]")[0].removeprefix("LINE  [") for ln in result.output.splitlines() if ln.startswith("LINE")]
    assert heard == ["welcome", "intro", "menu", "speech_hint", "pick", "paso_5", "step_keys", "paso_4", "step_keys",
                     "still_there", "step_keys"]


def test_url_requests_are_signed_when_a_token_is_set(monkeypatch):
    tiny = Tiny({"/voice": doc('<Gather action="/voice/turn" numDigits="1"/>'),
                 "/voice/turn": doc("<Hangup/>")}, token=TOKEN)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    with serving(tiny.app) as base:
        result = ivr("call", "--url", f"{base}/voice", "--keys", "4")
    assert result.exit_code == 0, result.output
    assert [s.signed for s in tiny.seen] == [True, True]


@pytest.mark.parametrize("served, token, message", [
    (doc("<Hangup/>"), "wrong", "POST {base}/voice answered 403: the server refused the signature"
                                " — is TWILIO_AUTH_TOKEN the same on both sides?"),
    (doc("<Hangup/>"), None, "POST {base}/voice answered 403: the server refused the request"
                             " — if it checks signatures, set TWILIO_AUTH_TOKEN to its token"),
    (lambda req: ("boom", 500), TOKEN, "POST {base}/voice answered HTTP 500"),
    (doc("<Enqueue>q</Enqueue>"), TOKEN, "cannot play <Enqueue> (in {base}/voice)"),
])
def test_url_failures_are_one_readable_line(monkeypatch, served, token, message):
    tiny = Tiny({"/voice": served}, token=TOKEN)
    if token:
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)
    with serving(tiny.app) as base:
        result = ivr("call", "--url", f"{base}/voice", "--keys", "1")
    assert result.exit_code == 1
    assert result.output == "Error: " + message.format(base=base) + "\n"


def test_an_unreachable_url_is_one_readable_line():
    port = free_port()
    result = ivr("call", "--url", f"http://127.0.0.1:{port}/voice", "--keys", "1")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot reach 127.0.0.1:{port}: connection refused (is the server running, on that port?)\n"
    )


def test_keys_the_line_does_not_take_are_shown_not_lost(monkeypatch, no_audio):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    result = ivr("call", "--keys", "2,5#")
    assert result.exit_code == 0, result.output
    keys = [ln for ln in result.output.splitlines() if ln.startswith("KEYS")]
    assert keys == ["KEYS  2", "KEYS  5", "KEYS  (not taken: #)"]


def test_keys_can_say_words_with_a_confidence(monkeypatch):
    tiny = Tiny({
        "/voice": doc('<Gather input="dtmf speech" language="es-MX" action="/voice/turn"><Say>Decí</Say></Gather>'),
        "/voice/turn": doc('<Gather input="dtmf speech" action="/voice/last"><Say>Otra</Say></Gather>'),
        "/voice/last": doc('<Gather action="/voice/end"><Say>Solo teclas</Say></Gather>'),
    })
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with serving(tiny.app) as base:
        result = ivr("call", "--url", f"{base}/voice",
                     "--keys", r"say:siguiente,say@0.3:eh\, paso cinco,say:menú")
    assert result.exit_code == 0, result.output
    said = [ln for ln in result.output.splitlines() if ln.startswith("SAYS")]
    assert said == ["SAYS  siguiente", "SAYS  eh, paso cinco  (confidence 0.3)",
                    "SAYS  (not heard: menú; the line listens for keys only there)"]
    assert [(s.values.get("SpeechResult"), s.values.get("Confidence"), "Digits" in s.values)
            for s in tiny.seen[1:]] == [("siguiente", "0.92", False), ("eh, paso cinco", "0.3", False)]


@pytest.mark.parametrize("keys, message", [
    ("1,say:", "'say:' says nothing"),
    ("say@alto:hola", "'say@alto:hola': the confidence after 'say@' is a number from 0 to 1"),
    ("say@1.5:hola", "the confidence after 'say@' is a number from 0 to 1"),
])
def test_a_bad_say_entry_is_named(keys, message):
    result = ivr("call", "--keys", keys)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output


# -- the extras: a text (7) and a person (9) ----------------------------------------------


@pytest.fixture
def extras(monkeypatch, no_audio):
    """The line with both extras on, its texts going to twilio's HTTP seam (FakeTwilio)."""
    from twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("IVR_SMS_FROM", "+15005550006")
    monkeypatch.setenv("IVR_AGENT_NUMBER", "+576015555555")
    monkeypatch.delenv("IVR_AGENT_HOURS", raising=False)
    # Empty turns the holidays off (the default, CO, would close the person on a holiday).
    monkeypatch.setenv("IVR_HOLIDAYS", "")
    return FakeTwilio()


def call_with(api, keys):
    return CliRunner().invoke(cli, ["call", "--keys", keys], obj={"twilio_http_client": api})


def test_ivr_call_shows_the_text_sent_and_the_person_dialled(extras):
    result = call_with(extras, "7,9,dial:busy,0,9,dial:completed")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    # Key 7: the text went out through Twilio's Messages API, to the caller's own number.
    sent = lines.index("KEYS  7") + 1
    assert lines[sent].startswith("LINE  [sms_sent] Listo: te mandamos un mensaje de texto")
    [message] = extras.messages
    assert (message["to"], message["from"]) == ("+573001234567", "+15005550006")
    # Key 9: the <Dial> to the person, the caller's number as caller id; busy: why, and the
    # offer (a message, a call back: this in-process call has a throwaway store of its own);
    # a person who takes the call after the whisper: the goodbye.
    assert lines.count("DIAL  +576015555555 (caller id +573001234567)") == 2
    busy = lines.index("DIAL  (busy)")
    assert lines[busy - 1] == "DIAL  +576015555555 (caller id +573001234567)"
    assert [line.split("]")[0] for line in lines[busy + 1:busy + 6]] == [
        "LINE  [agent_busy", "LINE  [offer_message", "LINE  [offer_callback", "LINE  [offer_menu",
        "LINE  [menu_sms"]
    done = lines.index("DIAL  (completed, 60 s)")
    assert lines[done - 4:done] == [
        "PERSON hears [whisper] Llamada de la Línea Alcanos.",
        "PERSON hears [whisper_menu] La persona estaba en el menú principal.",
        "PERSON hears [whisper_take] Para tomar la llamada, marcá uno.",
        "PERSON takes the call (1)",
    ]
    assert lines[done + 1].startswith("LINE  [goodbye]")
    assert lines[-1] == "END   the line hung up"


def test_a_dial_with_no_entry_is_no_answer_and_the_call_goes_on(extras):
    result = call_with(extras, "9,0")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    no_answer = lines.index("DIAL  (no-answer)")
    assert lines[no_answer + 1].startswith("LINE  [agent_no_answer]")
    assert "KEYS  0" in lines[no_answer:]  # the 0 went to the menu after it, not to the <Dial>
    assert lines[-1] == "END   the caller hung up"


def test_ivr_call_leaves_a_message_nobody_keeps(extras, tmp_path, monkeypatch):
    """An in-process call is a trial: its message goes to a store thrown away after it."""
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    result = call_with(extras, "9,dial:declined,1,record:14")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "PERSON does not take the call" in lines and "DIAL  (completed, 5 s)" in lines
    beep = lines.index("LINE  (beep)")
    assert lines[beep - 2:beep] == ["KEYS  1", lines[beep - 1]] and "[record_prompt]" in lines[beep - 1]
    assert lines[beep + 1] == "SAYS  (a message: 14 s)"
    assert lines[beep + 2].startswith("LINE  [record_thanks] Gracias, recibimos tu mensaje.")
    # Nothing written where the command ran, nor in the line's instance folder.
    assert list(here.iterdir()) == [] and not (tmp_path / "instance").exists()


@pytest.mark.parametrize("keys, message", [
    ("9,dial:ringing", "--keys: 'dial:ringing': after 'dial:' comes one of no-answer, completed"),
    ("dial:busy", "the script says dial:busy where the line waits for keys, not at a <Dial>"),
    ("9,record:soon", "--keys: 'record:soon': after 'record:' comes the seconds spoken, like record:14"),
    ("record:14", "the script says record:14 where the line waits for keys, not at a <Record>"),
])
def test_dial_entries_are_checked(extras, keys, message):
    result = call_with(extras, keys)
    assert result.exit_code in (1, 2)
    assert f"Error: {message}" in result.output
    assert "Traceback" not in result.output


def test_from_sets_the_callers_number_the_line_texts(extras):
    result = CliRunner().invoke(cli, ["call", "--keys", "7", "--from", "+573009998877"],
                                obj={"twilio_http_client": extras})
    assert result.exit_code == 0, result.output
    assert "LINE  [sms_sent]" in result.output
    assert [m["to"] for m in extras.messages] == ["+573009998877"]


def test_with_twilios_real_api_the_call_comes_from_a_withheld_number(extras, monkeypatch):
    # No test seam: a text would go out for real, so `ivr call` keeps the caller's number back.
    sent = []
    monkeypatch.setattr("ivr.sms.Texter.send", lambda self, to, body: sent.append(to))
    result = ivr("call", "--keys", "7,9")
    assert result.exit_code == 0, result.output
    lines = [ln for ln in result.output.splitlines() if not ln.startswith("warning: audio folder")]
    assert lines[0].startswith("NOTE  texts (7) are on: this call comes from a withheld number")
    assert any(ln.startswith("LINE  [sms_not_mobile]") for ln in lines) and sent == []
    assert "DIAL  +576015555555" in lines  # no caller id to show the person


def test_a_malformed_from_is_a_usage_error():
    result = ivr("call", "--keys", "1", "--from", "3001234567")
    assert result.exit_code == 2
    assert "Error: --from '3001234567' must be a number in E.164" in result.output
