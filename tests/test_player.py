"""The TwiML player against small hand-written documents, verb by verb.

`Tiny` (conftest) serves the documents and records every request, so each test sees
what the player sent, not only what it played.
"""

import pytest
from flask import Response

from conftest import TOKEN, WAV, Tiny, doc, free_port, serving
from ivr.player import (
    DIAL_TIMEOUT,
    MAX_LOOPS,
    MAX_REQUESTS,
    Call,
    CallerHangUp,
    Catalog,
    Dial,
    DialOutcome,
    Gather,
    HttpTransport,
    Keypad,
    PlayerError,
    ScriptedKeypad,
    Speech,
)


def kinds(call):
    return [(e.kind, e.text) for e in call.events]


# -- <Say>, <Play>, <Pause> ----------------------------------------------------------------


def test_verbs_run_in_order_and_the_end_of_the_document_hangs_up():
    tiny = Tiny({
        "/start": doc("<Say>Hola</Say>", "<Pause length=\"3\"/>", "<Play>/a.wav</Play>", "<Pause/>"),
        "/a.wav": Response(WAV, mimetype="audio/wav"),
    })
    c = tiny.call()
    assert kinds(c) == [
        ("say", "Hola"), ("pause", "3"), ("play", "[audio a.wav]"), ("pause", "1"), ("end", ""),
    ]
    assert c.ended_by == "end"
    assert c.events[2].audio == WAV
    assert tiny.paths() == [("POST", "/start"), ("GET", "/a.wav")]


def test_say_keeps_the_words_inside_ssml_tags():
    tiny = Tiny({"/start": doc('<Say language="es-MX">Paso <prosody rate="slow">uno</prosody>.\n  Listo</Say>')})
    assert tiny.call().events[0].text == "Paso uno. Listo"


@pytest.mark.parametrize("loop, times", [("1", 1), ("3", 3), ("0", MAX_LOOPS), ("5000", MAX_LOOPS)])
def test_loop_repeats_say_and_play_and_loop_zero_is_capped(loop, times):
    tiny = Tiny({
        "/start": doc(f'<Say loop="{loop}">Otra vez</Say>', f'<Play loop="{loop}">/a.wav</Play>'),
        "/a.wav": Response(WAV, mimetype="audio/wav"),
    })
    c = tiny.call()
    assert [e.kind for e in c.events] == ["say"] * times + ["play"] * times + ["end"]
    assert tiny.paths().count(("GET", "/a.wav")) == 1  # fetched once, played `times`


def test_play_resolves_relative_and_absolute_urls_and_fetches_each_once():
    tiny = Tiny({
        "/voice/start": doc(
            "<Play>a.wav</Play>", "<Play>/audio/b.wav</Play>",
            "<Play>http://localhost/audio/b.wav</Play>", "<Play>../voice/a.wav</Play>",
        ),
        "/voice/a.wav": Response(WAV, mimetype="audio/wav"),
        "/audio/b.wav": Response(WAV, mimetype="audio/x-wav"),
    })
    c = tiny.call(url="http://localhost/voice/start")
    assert [e.url for e in c.events if e.kind == "play"] == [
        "http://localhost/voice/a.wav", "http://localhost/audio/b.wav",
        "http://localhost/audio/b.wav", "http://localhost/voice/a.wav",
    ]
    assert tiny.paths() == [("POST", "/voice/start"), ("GET", "/voice/a.wav"), ("GET", "/audio/b.wav")]


def test_a_play_is_named_by_the_audio_manifest():
    manifest = {"prompts": {"paso_1": {"file": "paso_1-abc.wav", "text": "Paso uno."}}}
    tiny = Tiny({
        "/start": doc("<Play>/audio/paso_1-abc.wav</Play>"),
        "/audio/paso_1-abc.wav": Response(WAV, mimetype="audio/wav"),
    })
    c = tiny.call(catalog=Catalog(manifest=manifest))
    assert (c.events[0].prompt, c.events[0].text) == ("paso_1", "Paso uno.")


def test_play_digits_plays_tones_without_fetching_anything():
    tiny = Tiny({"/start": doc('<Play digits="ww12#"/>')})
    c = tiny.call()
    assert kinds(c) == [("tones", "ww12#"), ("end", "")]
    assert tiny.paths() == [("POST", "/start")]


@pytest.mark.parametrize("served, message", [
    (None, "<Play> http://localhost/a.wav answered HTTP 404"),
    (Response("<html/>", mimetype="text/html"), "<Play> http://localhost/a.wav answered text/html, not audio"),
])
def test_audio_that_cannot_play_stops_the_call(served, message):
    docs = {"/start": doc("<Play>/a.wav</Play>")}
    if served is not None:
        docs["/a.wav"] = served
    with pytest.raises(PlayerError) as e:
        Tiny(docs).call()
    assert str(e.value) == message


# -- <Gather> ---------------------------------------------------------------------------


def gather_app(gather_attrs="", after="<Say>Nada</Say>", path="/start"):
    """A document with one <Gather> (attributes as given) and `after` behind it; /done ends."""
    return Tiny({
        path: doc(f"<Gather {gather_attrs}><Say>Marcá</Say></Gather>", after),
        "/done": doc("<Hangup/>"),
    })


@pytest.mark.parametrize("attrs, rules", [
    ("", Gather(None, "#", 5)),
    ('numDigits="3" finishOnKey="" timeout="12"', Gather(3, "", 12)),
])
def test_the_keypad_gets_the_gathers_rules_with_twilios_defaults(attrs, rules):
    class Recorder(ScriptedKeypad):
        def begin(self, gather):
            self.rules = gather
            return super().begin(gather)

    keypad = Recorder("-")
    gather_app(attrs).call(keypad=keypad)
    assert keypad.rules == rules


def test_gather_posts_digits_and_finished_on_key_to_its_action():
    tiny = gather_app('action="/done" numDigits="1"')
    c = tiny.call("4")
    assert kinds(c) == [("say", "Marcá"), ("keys", "4"), ("hangup", "")]
    assert tiny.seen[1].method == "POST" and tiny.seen[1].path == "/done"
    assert (tiny.seen[1].values["Digits"], tiny.seen[1].values["FinishedOnKey"]) == ("4", "")


def test_gather_action_defaults_to_the_current_document_url():
    answers = iter([doc('<Gather numDigits="1"/>'), doc("<Hangup/>")])
    tiny = Tiny({"/menu": lambda req: next(answers)})
    tiny.call("7", url="http://localhost/menu?at=3")
    assert tiny.paths() == [("POST", "/menu?at=3"), ("POST", "/menu?at=3")]
    assert tiny.seen[1].values["Digits"] == "7"


def test_finish_on_key_defaults_to_hash_and_is_not_a_digit():
    tiny = gather_app('action="/done"')
    c = tiny.call("12#")
    assert kinds(c)[1] == ("keys", "12#")
    assert (tiny.seen[1].values["Digits"], tiny.seen[1].values["FinishedOnKey"]) == ("12", "#")


def test_finish_on_key_alone_is_no_input_and_falls_through():
    tiny = gather_app('action="/done"')
    c = tiny.call("#")
    assert kinds(c)[1:] == [("keys", "#"), ("say", "Nada"), ("end", "")]
    assert tiny.paths() == [("POST", "/start")]


def test_empty_finish_on_key_makes_hash_a_digit():
    tiny = gather_app('action="/done" finishOnKey=""')
    tiny.call("1#")
    assert (tiny.seen[1].values["Digits"], tiny.seen[1].values["FinishedOnKey"]) == ("1#", "")


def test_another_finish_on_key():
    tiny = gather_app('action="/done" finishOnKey="*"')
    tiny.call("#9*")
    assert (tiny.seen[1].values["Digits"], tiny.seen[1].values["FinishedOnKey"]) == ("#9", "*")


def test_num_digits_submits_as_soon_as_reached():
    tiny = gather_app('action="/done" numDigits="2"')
    c = tiny.call("3456")
    assert kinds(c)[1] == ("keys", "34")
    assert tiny.seen[1].values["Digits"] == "34"


def test_a_timeout_after_some_digits_submits_them():
    tiny = gather_app('action="/done" numDigits="4"')
    tiny.call("12")
    assert tiny.seen[1].values["Digits"] == "12"


def test_silence_falls_through_to_the_next_verb_without_a_request():
    tiny = gather_app('action="/done"', after='<Say>Nada</Say><Redirect>/done</Redirect>')
    c = tiny.call("-")
    assert kinds(c) == [("say", "Marcá"), ("silence", ""), ("say", "Nada"), ("hangup", "")]
    assert tiny.paths() == [("POST", "/start"), ("POST", "/done")]
    assert "Digits" not in tiny.seen[1].values  # a <Redirect> carries no Digits


def test_action_on_empty_result_calls_the_action_on_silence():
    tiny = gather_app('action="/done" actionOnEmptyResult="true"')
    c = tiny.call("-")
    assert kinds(c)[1:] == [("silence", ""), ("hangup", "")]
    assert tiny.seen[1].path == "/done" and tiny.seen[1].values["Digits"] == ""


def test_gather_method_get_sends_the_parameters_in_the_query():
    tiny = gather_app('action="/done?at=2" method="get"')
    tiny.call("5#")
    assert tiny.seen[1].method == "GET"
    assert tiny.seen[1].path.startswith("/done?at=2&")
    assert tiny.seen[1].values["at"] == "2" and tiny.seen[1].values["Digits"] == "5"


class BargeIn(Keypad):
    """Presses `key` while the prompt with words `during` plays, then nothing."""

    def __init__(self, during, key):
        self.during, self.key_, self.asked = during, key, []

    def heard(self, event, barge_in=False):
        self.asked.append((event.text, barge_in))
        return self.key_ if event.text == self.during else ""


def test_a_key_during_the_prompts_stops_them_and_is_the_first_digit():
    tiny = Tiny({
        "/start": doc('<Gather action="/done" numDigits="1"><Say>uno</Say><Say>dos</Say><Say>tres</Say></Gather>'),
        "/done": doc("<Hangup/>"),
    })
    keypad = BargeIn("dos", "8")
    c = tiny.call(keypad=keypad)
    assert kinds(c) == [("say", "uno"), ("say", "dos"), ("keys", "8"), ("hangup", "")]
    assert keypad.asked == [("uno", True), ("dos", True)]
    assert tiny.seen[1].values["Digits"] == "8"


def test_a_key_during_a_looped_prompt_stops_the_loop():
    tiny = Tiny({
        "/start": doc('<Gather action="/done" numDigits="1"><Say loop="0">menú</Say></Gather>'),
        "/done": doc("<Hangup/>"),
    })
    c = tiny.call(keypad=BargeIn("menú", "1"))
    assert kinds(c) == [("say", "menú"), ("keys", "1"), ("hangup", "")]


def test_keys_outside_a_gather_are_ignored():
    tiny = Tiny({"/start": doc("<Say>solo</Say>", '<Gather action="/done"/>', "<Say>fin</Say>"),
                 "/done": doc("<Hangup/>")})
    keypad = BargeIn("solo", "5")
    c = tiny.call(keypad=keypad)
    assert keypad.asked[0] == ("solo", False)
    assert kinds(c)[1:] == [("silence", ""), ("say", "fin"), ("end", "")]


def test_the_caller_can_hang_up_at_any_prompt():
    class HangUpAt(Keypad):
        def heard(self, event, barge_in=False):
            if event.text == "dos":
                raise CallerHangUp
            return ""

    tiny = Tiny({"/start": doc("<Say>uno</Say><Say>dos</Say><Say>tres</Say>")})
    c = tiny.call(keypad=HangUpAt())
    assert kinds(c) == [("say", "uno"), ("say", "dos"), ("gone", "")]
    assert c.ended_by == "gone"


def test_the_script_running_out_is_the_caller_hanging_up():
    tiny = gather_app('action="/done"')
    c = tiny.call("")
    assert kinds(c) == [("say", "Marcá"), ("gone", "")]


def test_a_script_with_other_than_keys_is_refused():
    with pytest.raises(ValueError, match="'1a' is not keys"):
        ScriptedKeypad("1,1a")


# -- <Redirect>, <Hangup>, URLs ----------------------------------------------------------


@pytest.mark.parametrize("target, path", [
    ("next", "/voice/next"),
    ("/next?at=1", "/next?at=1"),
    ("http://localhost/other", "/other"),
    ("./next?at=3", "/voice/next?at=3"),
    ("//localhost/n2", "/n2"),
])
def test_redirect_posts_to_relative_and_absolute_urls(target, path):
    tiny = Tiny({"/voice/start": doc(f"<Redirect>{target}</Redirect>".replace("&", "&amp;")),
                 path.split("?")[0]: doc("<Hangup/>")})
    c = tiny.call(url="http://localhost/voice/start")
    assert tiny.paths() == [("POST", "/voice/start"), ("POST", path)]
    assert c.ended_by == "hangup"


def test_redirect_get_appends_the_parameters_to_its_query():
    tiny = Tiny({"/start": doc('<Redirect method="GET">/next?at=menu</Redirect>'), "/next": doc("<Hangup/>")})
    tiny.call()
    assert tiny.seen[1].method == "GET"
    assert tiny.seen[1].values["at"] == "menu" and tiny.seen[1].values["CallStatus"] == "in-progress"


def test_hangup_ends_the_call_before_later_verbs():
    tiny = Tiny({"/start": doc("<Say>chau</Say><Hangup/><Say>nunca</Say><Redirect>/x</Redirect>")})
    c = tiny.call()
    assert kinds(c) == [("say", "chau"), ("hangup", "")]
    assert len(tiny.seen) == 1


def test_every_request_carries_twilios_call_parameters():
    tiny = Tiny({"/start": doc("<Redirect>/two</Redirect>"), "/two": doc("<Hangup/>")})
    c = tiny.call(caller="+573009998877")
    first, second = (s.values for s in tiny.seen)
    assert first["CallSid"] == second["CallSid"] == c.sid
    assert c.sid.startswith("CA") and len(c.sid) == 34
    assert first["AccountSid"].startswith("AC") and len(first["AccountSid"]) == 34
    assert first["From"] == first["Caller"] == "+573009998877"
    assert first["To"] == first["Called"] == c.line_number
    assert (first["Direction"], first["ApiVersion"]) == ("inbound", "2010-04-01")
    assert (first["CallStatus"], second["CallStatus"]) == ("ringing", "in-progress")


# -- signing -----------------------------------------------------------------------------


@pytest.mark.parametrize("start", ["http://localhost/start", "https://line.example.co/start?x=1"])
def test_signed_requests_pass_twilios_validator_for_post_and_get(start):
    tiny = Tiny({
        "/start": doc('<Gather action="/g" method="GET" numDigits="1"/>'),
        "/g": doc('<Redirect>/p?at=2</Redirect>'),
        "/p": doc("<Hangup/>"),
    }, token=TOKEN)
    c = tiny.call("1", url=start, auth_token=TOKEN)
    assert [s.method for s in tiny.seen] == ["POST", "GET", "POST"]
    assert all(s.signed for s in tiny.seen)
    assert c.ended_by == "hangup"


def test_a_wrong_token_is_a_readable_403():
    tiny = Tiny({"/start": doc("<Hangup/>")}, token=TOKEN)
    with pytest.raises(PlayerError) as e:
        tiny.call(auth_token="not-the-token")
    assert str(e.value) == (
        "POST http://localhost/start answered 403: the server refused the signature"
        " — is TWILIO_AUTH_TOKEN the same on both sides?"
    )
    assert tiny.seen[0].signed is False


def test_no_token_against_a_checking_server_says_to_set_one():
    tiny = Tiny({"/start": doc("<Hangup/>")}, token=TOKEN)
    with pytest.raises(PlayerError, match="answered 403: .* set TWILIO_AUTH_TOKEN"):
        tiny.call()


# -- what cannot be played ---------------------------------------------------------------


@pytest.mark.parametrize("served, message", [
    (Response("boom", status=500), "POST http://localhost/start answered HTTP 500"),
    (Response("hola", mimetype="text/plain"), "POST http://localhost/start answered text/plain, not TwiML"),
    (Response("<Response><Say>x</Response>", mimetype="text/xml"),
     "POST http://localhost/start answered malformed XML"),
    (Response("<html><body/></html>", mimetype="text/xml"),
     "POST http://localhost/start answered <html>, not a TwiML <Response>"),
    (doc("<Reject/>"), "cannot play <Reject> (in http://localhost/start)"),
    (doc("<Record finishOnKey=\"A\"/>"), "<Record finishOnKey=\"A\">: keys are 0-9 * # (in http://localhost/start)"),
    (doc("<Record maxLength=\"0\"/>"), "<Record maxLength=\"0\"> is not a whole number >= 1 (in http://localhost/start)"),
    (doc("<Dial><Conference>sala</Conference></Dial>"), "cannot play <Conference> inside <Dial>"),
    (doc("<Dial/>"), "<Dial> without anything to dial in http://localhost/start"),
    (doc("<Dial><Number/></Dial>"), "<Number> without a number or name in <Dial>"),
    (doc('<Dial timeout="soon">+573001112233</Dial>'), "<Dial timeout=\"soon\"> is not a whole number"),
    (doc("<Gather><Record/></Gather>"), "cannot play <Record> inside <Gather> (in http://localhost/start)"),
    (doc("<Redirect/>"), "<Redirect> without a URL in http://localhost/start"),
    (doc("<Play/>"), "<Play> without a URL or digits in http://localhost/start"),
    (doc('<Play digits="12x"/>'), "<Play digits=\"12x\">: only 0-9 * # w W are tones"),
    (doc('<Gather numDigits="0"/>'), "<Gather numDigits=\"0\"> is not a whole number >= 1"),
    (doc('<Gather timeout="soon"/>'), "<Gather timeout=\"soon\"> is not a whole number >= 0"),
    (doc('<Pause length="-1"/>'), "<Pause length=\"-1\"> is not a whole number >= 0"),
    (doc('<Gather method="PUT"/>'), "<Gather method=\"PUT\">: Twilio only uses GET or POST"),
    (doc('<Gather finishOnKey="##"/>'), "<Gather finishOnKey=\"##\"> must be one of 0-9 * # or empty"),
    (doc('<Gather input="voice"/>'), "<Gather input=\"voice\">: Twilio listens for dtmf, speech or both"),
])
def test_what_cannot_be_played_is_one_readable_error(served, message):
    with pytest.raises(PlayerError) as e:
        Tiny({"/start": served}).call("1")
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value)


def test_html_is_read_as_twiml_as_twilio_does():
    tiny = Tiny({"/start": Response(doc("<Hangup/>"), mimetype="text/html")})
    assert tiny.call().ended_by == "hangup"


def test_a_line_that_never_ends_is_stopped():
    tiny = Tiny({"/start": doc("<Redirect>/start</Redirect>")})
    with pytest.raises(PlayerError, match=f"did not end after {MAX_REQUESTS} requests"):
        tiny.call()
    assert len(tiny.seen) == MAX_REQUESTS


def test_in_process_calls_stay_on_the_apps_origin():
    tiny = Tiny({"/start": doc("<Redirect>https://elsewhere.example/x</Redirect>")})
    with pytest.raises(PlayerError, match="https://elsewhere.example/x is not on http://localhost"):
        tiny.call()


# -- over real HTTP ----------------------------------------------------------------------


def test_http_transport_plays_a_running_server_with_signatures():
    tiny = Tiny({
        "/voice": doc('<Gather action="/voice/turn?at=1" numDigits="1"><Play>/audio/a.wav</Play></Gather>'),
        "/voice/turn": doc("<Say>listo</Say><Hangup/>"),
        "/audio/a.wav": Response(WAV, mimetype="audio/wav"),
    }, token=TOKEN)
    with serving(tiny.app) as base, HttpTransport() as transport:
        c = Call(transport, url=f"{base}/voice", keypad=ScriptedKeypad("3"), auth_token=TOKEN).run()
    assert kinds(c)[1:] == [("keys", "3"), ("say", "listo"), ("hangup", "")]
    assert c.events[0].audio == WAV
    assert tiny.paths() == [("POST", "/voice"), ("GET", "/audio/a.wav"), ("POST", "/voice/turn?at=1")]
    assert tiny.seen[0].signed and tiny.seen[2].signed


def test_an_unreachable_server_is_one_readable_error():
    port = free_port()
    with HttpTransport() as transport, pytest.raises(PlayerError) as e:
        Call(transport, url=f"http://127.0.0.1:{port}/voice").run()
    assert str(e.value) == f"cannot reach 127.0.0.1:{port}: connection refused (is the server running, on that port?)"


# -- speech ------------------------------------------------------------------------------


def test_turns_show_a_phrase_said_beside_keys_and_silence():
    tiny = Tiny({
        "/start": doc('<Gather input="dtmf speech" action="/two" timeout="1"><Say>Decí</Say></Gather>'),
        "/two": doc('<Gather action="/three" numDigits="1"><Say>Marcá</Say></Gather>'),
        "/three": doc('<Gather input="speech" timeout="1"><Say>Otra</Say></Gather>'),
    })
    c = tiny.call("say@0.5:Siguiente.,3,-")
    assert c.turns() == [((None,), "say:Siguiente."), ((None,), "3"), ((None,), None)]
    speech = [e for e in c.events if e.kind == "speech"]
    assert [(e.text, e.confidence) for e in speech] == [("Siguiente.", 0.5)]
    assert tiny.seen[1].values == {**tiny.seen[1].values, "SpeechResult": "Siguiente.", "Confidence": "0.5"}


@pytest.mark.parametrize("script, entries", [
    (r"say:eh\, siguiente por favor,-", [Speech("eh, siguiente por favor"), ""]),
    ("say@1:  paso   cinco ,12#", [Speech("paso cinco", 1.0), "12#"]),
])
def test_a_script_says_phrases(script, entries):
    assert ScriptedKeypad(script).script == entries


# -- <Dial> (the shared cases hold the rest) ----------------------------------------------


@pytest.mark.parametrize("script, entries", [
    ("9,dial:completed,-", ["9", DialOutcome("completed"), ""]),
    ("dial: busy", [DialOutcome("busy")]),
])
def test_a_script_says_how_a_dial_ends(script, entries):
    assert ScriptedKeypad(script).script == entries


@pytest.mark.parametrize("entry", ["dial:", "dial:ringing", "dial:Busy"])
def test_a_dial_entry_names_a_status_twilio_sends(entry):
    with pytest.raises(ValueError, match="after 'dial:' comes one of no-answer, completed"):
        ScriptedKeypad(entry)


def test_a_dial_entry_where_the_line_waits_for_keys_is_a_readable_error():
    tiny = Tiny({"/start": doc('<Gather action="/x"><Say>Marcá</Say></Gather>')})
    with pytest.raises(PlayerError, match="dial:busy where the line waits for keys, not at a <Dial>"):
        tiny.call("dial:busy")


def test_the_keypad_gets_the_dials_numbers_caller_id_and_twilios_default_timeout():
    got = []

    class Ringing(Keypad):
        def dial(self, dial):
            got.append(dial)
            return "answered"

    tiny = Tiny({"/start": doc('<Dial callerId="+573001234567" action="/d"><Number>+576015555555</Number></Dial>'),
                 "/d": doc("<Hangup/>")})
    c = tiny.call(keypad=Ringing())
    assert got == [Dial(("+576015555555",), "+573001234567", DIAL_TIMEOUT)]
    assert DIAL_TIMEOUT == 30  # Twilio's default
    dialed = tiny.seen[-1].values
    assert dialed["DialCallStatus"] == "answered" and "DialCallDuration" not in dialed
    assert dialed["DialCallSid"].startswith("CA") and dialed["DialCallSid"] != dialed["CallSid"]
    assert kinds(c)[-2:] == [("dialed", "answered"), ("hangup", "")]


def test_a_keypad_status_twilio_does_not_send_is_refused():
    class Odd(Keypad):
        def dial(self, dial):
            return "ringing"

    with pytest.raises(PlayerError, match="a dialled call cannot end 'ringing'"):
        Tiny({"/start": doc("<Dial>+576015555555</Dial>")}).call(keypad=Odd())
