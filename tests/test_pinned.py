"""What a caller notices, pinned: the voice that speaks, how long the line waits for a key,
where Twilio fetches the audio from, when silence ends the call.

Each test drives the real app (Flask's test client, signed as Twilio signs) and reads the
TwiML as Twilio would; each was seen to fail with the change its docstring names.
"""

from urllib.parse import urlsplit

import pytest

from conftest import TOKEN, assert_valid_twiml, twilio_request
from ivr import create_app
from ivr.audio import read_manifest
from ivr.flow import State
from ivr.player import Call, Catalog, FlaskTransport, ScriptedKeypad

CALL = {"CallSid": "CA" + "7" * 32, "From": "+573001234567", "To": "+576015550100"}
PUBLIC = "https://ivr.example.com/alcanos"
CDN = "https://cdn.example.net/linea"


def documents(app, keys, url="http://localhost/voice"):
    """Walk a call with scripted `keys`; every TwiML document it was given, in order."""
    line = app.extensions["ivr"]
    seen = []

    def keep(url, body):
        seen.append(assert_valid_twiml(body))

    Call(FlaskTransport(app), url=url, keypad=ScriptedKeypad(keys), auth_token=TOKEN,
         catalog=Catalog(line.content, read_manifest(line.audio.directory)),
         on_document=keep).run()
    return seen


class Waits(ScriptedKeypad):
    """A scripted caller who notes, at each wait for a key, what was just heard and how
    long the line would wait (the <Gather>'s timeout)."""

    def __init__(self, script):
        super().__init__(script)
        self.prompts, self.waits = [], []

    def heard(self, event, barge_in=False):
        if event.kind in ("say", "play"):
            self.prompts.append(event.prompt)
        return super().heard(event, barge_in)

    def begin(self, gather):
        self.waits.append((tuple(self.prompts), gather.timeout))
        self.prompts = []
        return super().begin(gather)


def waits(app, keys):
    """[(prompts heard, seconds the line then waits for a key)] for a call with `keys`."""
    line = app.extensions["ivr"]
    keypad = Waits(keys)
    Call(FlaskTransport(app), keypad=keypad, auth_token=TOKEN,
         catalog=Catalog(line.content, read_manifest(line.audio.directory)),
         on_document=lambda url, body: assert_valid_twiml(body)).run()
    return keypad.waits


# -- the voice -------------------------------------------------------------------------------

def says(doc):
    return [el for el in doc.iter("Say")]


def test_said_prompts_use_the_configured_voice_and_language(say_app):
    """Fails when Renderer.speak drops `voice` or `language` from <Say> (Twilio would read
    the Spanish words with its default English voice)."""
    # Normal and slow (4 on a step: <Say> with SSML prosody), the menu and the hang-up.
    docs = documents(say_app, "1,4,2,9,9,9")
    said = [say for doc in docs for say in says(doc)]
    assert len(said) >= 12
    assert {(s.get("voice"), s.get("language")) for s in said} == {("Polly.Mia", "es-MX")}
    slow = [s for s in said if s.find("prosody") is not None]
    assert slow, "slow mode without audio reads with SSML prosody"
    assert {s.find("prosody").get("rate") for s in slow} == {"75%"}
    # The prosody holds the words; the <Say> itself none.
    assert all(not (s.text or "").strip() and s.find("prosody").text for s in slow)


def test_the_voice_and_language_are_the_operators(no_audio):
    """Fails when SAY_VOICE or SAY_LANGUAGE is not passed through to <Say>."""
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                      "SAY_VOICE": "Polly.Lupe", "SAY_LANGUAGE": "es-US"})
    said = [s for doc in documents(app, "1,4,-") for s in says(doc)]
    assert said and {(s.get("voice"), s.get("language")) for s in said} == {("Polly.Lupe", "es-US")}


def test_without_a_voice_twilio_picks_by_language(no_audio):
    """An empty SAY_VOICE leaves `voice` out (Twilio's default voice for the language)."""
    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                      "SAY_VOICE": ""})
    said = [s for doc in documents(app, "1") for s in says(doc)]
    assert said and all("voice" not in s.attrib and s.get("language") == "es-MX" for s in said)


# -- how long the line waits -------------------------------------------------------------------

def test_the_line_waits_7_seconds_at_the_menu_and_10_on_a_step(app):
    """Fails when a <Gather timeout> changes (flow.TIMEOUTS: menu and pick 7, step and the
    closing 10), or stops following the place: the seconds each wait lasts along one call,
    reminders and wrong-key notices included."""
    got = waits(app, "-,2,-,8,-,7,2,0,1")
    assert got == [
        (("welcome", "intro", "menu", "speech_hint"), 7),
        (("still_there", "menu"), 7),
        (("pick",), 7),
        (("still_there", "pick"), 7),
        (("paso_8", "step_keys"), 10),
        (("still_there", "step_keys"), 10),
        (("wrong_key", "step_keys"), 10),
        (("conclusion", "closing"), 10),
        (("menu",), 7),
        (("paso_1", "step_keys"), 10),
    ]


def test_the_resume_offer_waits_7_seconds(app):
    """A returning caller's offer (resume) waits like the menu: 7 s."""
    line = app.extensions["ivr"]
    doc = assert_valid_twiml(line.documents("http://localhost")[line.flow.start(resume_at=3)])
    assert doc[0].tag == "Gather" and doc[0].get("timeout") == "7"


# -- where Twilio fetches from -------------------------------------------------------------------

def urls(doc):
    """Every URL in a document: <Play> files, <Gather action>s and <Redirect>s."""
    found = [el.text.strip() for el in doc.iter("Play", "Redirect")]
    return found + [el.get("action") for el in doc.iter("Gather")]


def served(client, base_url="http://localhost", signed_for=None):
    """The documents of a short call (start, Paso 1, slow Paso 1, silence, menu), requested
    at `base_url` and signed for `signed_for`."""
    turns = [("/voice", CALL), ("/voice/turn?at=menu", {"Digits": "1"}),
             ("/voice/turn?at=1", {"Digits": "4"}), ("/voice/turn?at=1&slow=1", {}),
             ("/voice/turn?at=1", {"Digits": "0"})]
    docs = []
    for path, data in turns:
        r = twilio_request(client, "POST", path, {**CALL, **data}, base_url=base_url,
                           signed_for=signed_for)
        assert r.status_code == 200, r.data
        docs.append(assert_valid_twiml(r.data))
    return docs


def test_every_url_names_the_public_base_url(audio_dir):
    """Fails when <Play> (or an action, or a <Redirect>) ignores PUBLIC_BASE_URL: behind a
    tunnel the app sees http://localhost, and Twilio cannot fetch that."""
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                      "PUBLIC_BASE_URL": PUBLIC + "/"})
    docs = served(app.test_client(), signed_for=PUBLIC)
    plays = [el.text for doc in docs for el in doc.iter("Play")]
    assert len(plays) >= 6 and any("-slow-" in p for p in plays)
    assert all(p.startswith(PUBLIC + "/audio/") for p in plays)
    every = [u for doc in docs for u in urls(doc)]
    assert all(u.startswith(PUBLIC + "/") for u in every), every
    # The audio Twilio fetches is there, at the path after the public base.
    client = app.test_client()
    for play in set(plays):
        r = client.get(play[len(PUBLIC):])
        assert r.status_code == 200 and r.mimetype == "audio/wav"
        r.close()


def test_without_a_public_base_url_urls_name_the_request_root(app):
    """Fails when the URLs are relative or name another host than the one requested."""
    root = "https://tunnel.example.org"
    docs = served(app.test_client(), base_url=root)
    every = [u for doc in docs for u in urls(doc)]
    assert every and all(u.startswith(root + "/") for u in every), every
    assert all(urlsplit(u).path.startswith(("/audio/", "/voice/")) for u in every)


def test_audio_base_url_serves_play_and_nothing_else(audio_dir):
    """IVR_AUDIO_BASE_URL (a CDN) is where <Play> fetches; the webhooks stay on the line."""
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                      "PUBLIC_BASE_URL": PUBLIC, "AUDIO_BASE_URL": CDN + "/"})
    docs = served(app.test_client(), signed_for=PUBLIC)
    plays = [el.text for doc in docs for el in doc.iter("Play")]
    files = {entry["file"] for entry in read_manifest(audio_dir)["prompts"].values()}
    assert plays and all(p.startswith(CDN + "/") and p[len(CDN) + 1:] in files
                         for p in plays if "-slow-" not in p)
    others = [u for doc in docs for u in urls(doc) if u not in plays]
    assert others and all(u.startswith(PUBLIC + "/voice/") for u in others)



@pytest.mark.parametrize(("configured", "base"), [(CDN + "/MAX/", CDN + "/MAX"), (CDN + "/v2/", CDN + "/v2")])
def test_play_fetches_from_the_audio_base_url_as_configured(audio_dir, configured, base):
    """Only the trailing '/' is dropped from IVR_AUDIO_BASE_URL: the rest of its path stays
    whole, whatever letter ends it."""
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                      "PUBLIC_BASE_URL": PUBLIC, "AUDIO_BASE_URL": configured})
    plays = [el.text for doc in served(app.test_client(), signed_for=PUBLIC) for el in doc.iter("Play")]
    assert plays and all(p.startswith(base + "/") and "/" not in p[len(base) + 1:] for p in plays)

# -- when silence ends the call ------------------------------------------------------------------

def test_a_wrong_key_proves_someone_is_there(call):
    """Fails when a wrong key no longer resets the silence count (flow._wrong): two
    silences, a wrong key, then two silences more must not hang up on the caller."""
    c = call("1,-,-,9,-,-,-")
    assert c.turns() == [
        (("welcome", "intro", "menu", "speech_hint"), "1"),
        (("paso_1", "step_keys"), None),
        (("still_there", "step_keys"), None),
        (("still_there", "step_keys"), "9"),
        (("wrong_key", "step_keys"), None),
        (("still_there", "step_keys"), None),
        (("still_there", "step_keys"), None),
        (("bye_silence", "goodbye"), None),
    ]
    assert c.ended_by == "hangup"


def test_a_word_not_understood_proves_someone_is_there_too(call):
    """Words the line did not understand also reset the silences (and count as wrong)."""
    c = call("1,-,-,say:banana,-,-")
    assert [t[0] for t in c.turns()][-3:] == [
        ("not_understood", "step_keys"), ("still_there", "step_keys"), ("still_there", "step_keys")]
    assert c.ended_by == "gone"


def test_the_flow_state_after_a_wrong_key(app):
    line = app.extensions["ivr"]
    turn = line.flow.next(State("step", 2, silences=2, wrongs=1), "9")
    assert turn.state == State("step", 2, silences=0, wrongs=2)


# -- how the line listens ------------------------------------------------------------------------

def gather_of(client, path, data=None):
    r = twilio_request(client, "POST", path, {**CALL, **(data or {})})
    assert r.status_code == 200, r.data
    return assert_valid_twiml(r.data)


def test_each_wait_listens_for_one_key_or_the_places_words(client, content):
    """A <Gather> takes one key ('#' is a key of the line, not an end marker) or words, in
    the content's language and model, with the place's phrases as hints; silence comes back
    to the same URL by POST."""
    for path, place in [("/voice", "menu"), ("/voice/turn?at=menu", "pick"),
                        ("/voice/turn?at=4", "step"), ("/voice/turn?at=8", "end")]:
        data = {"Digits": {"/voice/turn?at=menu": "2", "/voice/turn?at=8": "2"}.get(path, "")}
        doc = gather_of(client, path, data)
        assert [el.tag for el in doc] == ["Gather", "Redirect"]
        gather, redirect = doc
        assert dict(gather.attrib, action="", hints="") == {
            "input": "dtmf speech", "numDigits": "1", "timeout": gather.get("timeout"),
            "finishOnKey": "", "action": "", "method": "POST", "language": "es-419",
            "speechModel": "numbers_and_commands", "speechTimeout": "2", "profanityFilter": "false", "hints": "",
        }
        assert gather.get("hints").split(", ") == content.listen[place].hints()
        assert redirect.get("method") == "POST"
        assert redirect.text == gather.get("action")
        assert gather.get("action").startswith("http://localhost/voice/turn?at=")


def test_the_turn_url_carries_the_state(client):
    doc = gather_of(client, "/voice/turn?at=4&slow=1&t=1", {"Digits": "9"})
    assert doc[0].get("action") == "http://localhost/voice/turn?at=4&w=1&slow=1&t=1"


def test_a_goodbye_hangs_up_after_its_words(client, app):
    """The last turn plays its prompts, then <Hangup>: no <Gather> left to wait in."""
    doc = gather_of(client, "/voice/turn?at=end", {})
    assert [el.tag for el in doc] == ["Play", "Hangup"]
    audio = app.extensions["ivr"].audio
    assert doc[0].text == "http://localhost/audio/" + audio.file_for("goodbye")


def test_a_goodbye_without_audio_is_said(say_app, content):
    doc = gather_of(say_app.test_client(), "/voice/turn?at=menu&s=2", {})
    assert [el.tag for el in doc] == ["Say", "Say", "Hangup"]
    assert [el.text for el in doc[:2]] == [say_app.extensions["ivr"].content[p].say
                                           for p in ("bye_silence", "goodbye")]


def test_each_document_is_made_once_per_sound(app):
    line = app.extensions["ivr"]
    docs = line.documents("http://localhost")
    assert len(docs) == len({t.sound for t in line.flow.turns()})
    turn = line.flow.next(State("step", 3), "2")
    assert docs[turn] == line.twiml.render(turn, "http://localhost")


def test_every_document_declares_its_encoding(client):
    """The prompts hold Spanish letters: every document says it is UTF-8, hang-ups too."""
    for path, data in [("/voice", {}), ("/voice/turn?at=end", {}), ("/voice/turn?at=4", {"Digits": "9"})]:
        r = twilio_request(client, "POST", path, {**CALL, **data})
        assert r.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>'), r.data[:60]


@pytest.mark.parametrize(("path", "slow"), [("/voice/turn?at=3", False), ("/voice/turn?at=3&slow=1", True)])
def test_the_person_is_announced_in_the_callers_voice_speed(audio_dir, path, slow):
    """Before <Dial>, "connecting you" plays from the public base URL, slow if the caller
    asked for the slow voice."""
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                      "AGENT_NUMBER": "+576015550199", "PUBLIC_BASE_URL": PUBLIC, "HOLIDAYS": ""})
    r = twilio_request(app.test_client(), "POST", path, {**CALL, "Digits": "9"}, signed_for=PUBLIC)
    doc = assert_valid_twiml(r.data)
    assert r.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert [el.tag for el in doc] == ["Play", "Dial"]
    audio = app.extensions["ivr"].audio
    assert doc[0].text == f"{PUBLIC}/audio/{audio.file_for('agent_connecting', slow=slow)}"
    assert ("-slow-" in doc[0].text) == slow
    assert doc[1].get("timeout") == "25"  # seconds the person's phone rings
