"""Every document the line can send, checked against what Twilio documents for the verbs
and attributes it uses.

The flow is finite (Flow.turns): `twiml.Documents` renders every turn, and each <Dial>
comes from the webhook itself (Renderer.dial needs the request's number). They are made
with the text message and the person switched on, normal and slow, with the committed audio
(<Play>) and without it (<Say>, <prosody>), then every element is checked by the rules of
its verb in RULES, each rule next to the page that documents it.

A new verb is a new RULES entry; a new document is checked as soon as the flow or the
renderer makes it. <Record> is not sent yet: its rules run on every <Record> found, and on
the hand-made documents below until the line sends real ones.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

import pytest
from lxml import etree
from twilio.twiml.voice_response import VoiceResponse

from conftest import TOKEN, assert_valid_twiml, twilio_request
from ivr import create_app
from ivr import store as store_mod
from ivr.audio import AudioStore
from ivr.flow import AGENT_KEY, MENU, OFFER, STEP, Turn
from ivr.line import line_of
from ivr.twiml import Documents, Renderer
from ivr.voice import HANGUP
from twilio_api import ACCOUNT_SID, FakeTwilio

# Module-scoped fixtures: every document is rendered once per kind of line, on one worker (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_twilio_rules")

BASE = "https://ivr.example.com"
CALLER, LINE_NUMBER, AGENT = "+573001234567", "+576015550100", "+576015550199"

GATHER = "https://www.twilio.com/docs/voice/twiml/gather"
SAY = "https://www.twilio.com/docs/voice/twiml/say"
PLAY = "https://www.twilio.com/docs/voice/twiml/play"
DIAL = "https://www.twilio.com/docs/voice/twiml/dial"
RECORD = "https://www.twilio.com/docs/voice/twiml/record"
REDIRECT = "https://www.twilio.com/docs/voice/twiml/redirect"
ERRORS = "https://www.twilio.com/docs/api/errors/"
SPEC = "/work/shared/IVR_SPEC.md"  # the product's own rules, where they narrow Twilio's


# -- what Twilio documents, as data ----------------------------------------------------------

#: speechModel -> the languages documented for it. Twilio's generic models table
#: (GATHER#generic-speech-to-text-models), verbatim for phone_call and the experimental
#: models; numbers_and_commands takes "any language supported by Deepgram's nova-2 model",
#: whose Spanish is es and es-419 (https://developers.deepgram.com/docs/models-languages-overview#nova-2;
#: the line is Spanish, so nova-2's other languages are left out here).
SPEECH_LANGUAGES = {
    "numbers_and_commands": {"es", "es-419"},
    "deepgram_nova-2": {"es", "es-419"},
    "phone_call": {"en-US", "en-GB", "en-AU", "fr-FR", "fr-CA", "ja-JP", "ru-RU", "es-US",
                   "es-ES", "pt-BR"},
    **dict.fromkeys(("experimental_conversations", "experimental_utterances"), {
        "da-DK", "de-DE", "en-AU", "en-GB", "en-IN", "en-US", "es-ES", "es-US", "fi-FI",
        "fr-CA", "fr-FR", "hi-IN", "ja-JP", "ko-KR", "mk-MK", "nl-NL", "no-NO", "pl-PL",
        "pt-BR", "pt-PT", "ro-RO", "ru-RU", "th-TH", "tr-TR", "uk-UA", "vi-VN"}),
}

#: Twilio's Spanish Amazon Polly voices and the one language each speaks: Twilio's voice
#: list (https://www.twilio.com/docs/voice/twiml/say/text-speech) and Amazon's
#: (https://docs.aws.amazon.com/polly/latest/dg/available-voices.html). SAY: "Using an
#: invalid combination of voice and language may result in error and <Say> instruction
#: failure."
POLLY_VOICES = {
    "Polly.Mia": "es-MX", "Polly.Mia-Neural": "es-MX", "Polly.Andres-Neural": "es-MX",
    "Polly.Lupe": "es-US", "Polly.Lupe-Neural": "es-US", "Polly.Penelope": "es-US",
    "Polly.Miguel": "es-US", "Polly.Pedro-Neural": "es-US",
    "Polly.Conchita": "es-ES", "Polly.Lucia": "es-ES", "Polly.Lucia-Neural": "es-ES",
    "Polly.Enrique": "es-ES", "Polly.Sergio-Neural": "es-ES",
}

#: <prosody rate>: a percentage from 20% to 200%, or a preset.
#: https://docs.aws.amazon.com/polly/latest/dg/prosody-tag.html
RATE_PRESETS = {"x-slow", "slow", "medium", "fast", "x-fast"}

#: The audio types <Play> takes (PLAY#supported-audio-file-types); inside <Gather> Twilio
#: advises WAV over MP3, whose transcoding delays the prompt (GATHER#nest-other-verbs).
WAV_TYPES = {"audio/wav", "audio/wave", "audio/x-wav"}

RECORDING_EVENTS = {"in-progress", "completed", "absent"}


# -- the rules -------------------------------------------------------------------------------

@dataclass
class Call:
    """What a document is checked with: the request it answered (From, To), and a way to
    fetch a URL it names from the app, as Twilio would."""

    values: dict
    fetch: Callable[[str], object]


@dataclass(frozen=True)
class Rule:
    what: str
    source: str
    problem: Callable  # (element, Call) -> what is wrong, or None


def rule(what, source):
    return lambda function: Rule(what, source, function)


def whole(value) -> int | None:
    return int(value) if value is not None and re.fullmatch(r"[0-9]+", value) else None


def absolute(url) -> bool:
    parts = urlsplit(url or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def attr(name, test, meaning, required=False):
    """A problem function: attribute `name`, when present (or always if `required`), passes
    `test`; otherwise it 'must be `meaning`'."""
    def problem(el, call):
        value = el.get(name)
        if value is None and not required:
            return None
        if value is None or not test(value):
            return f"{name}={value!r} must be {meaning}"
        return None
    return problem


def positive_int(name, most=None, required=False):
    def test(v):
        n = whole(v)
        return n is not None and n >= 1 and (most is None or n <= most)
    bound = f" up to {most}" if most else ""
    return attr(name, test, f"a positive integer{bound}", required)


def http_method(name="method"):
    return attr(name, lambda v: v in ("GET", "POST"), "GET or POST")


def absolute_url(name):
    return attr(name, absolute, "an absolute http(s) URL (IVR spec: every URL is absolute)")


@rule("hints: at most 500 entries of at most 100 characters", GATHER + "#hints, " + ERRORS + "13330")
def gather_hints(el, call):
    hints = el.get("hints")
    if hints is None:
        return None
    entries = [h.strip() for h in hints.split(",")]
    if len(entries) > 500:
        return f"{len(entries)} hints"
    long = [h for h in entries if len(h) > 100]
    return f"hints longer than 100 characters: {long[:2]}" if long else None


@rule("speechTimeout is a positive integer whenever speechModel is set (no 'auto')",
      ERRORS + "13335, " + GATHER + "#speechtimeout")
def gather_speech_timeout(el, call):
    value = el.get("speechTimeout")
    if value is None:
        return None
    if el.get("speechModel") is not None:
        if (whole(value) or 0) >= 1:
            return None
        return f"speechTimeout={value!r} with speechModel={el.get('speechModel')!r}"
    return None if value == "auto" or (whole(value) or 0) >= 1 else f"speechTimeout={value!r}"


@rule("speechModel and language are a pair Twilio documents",
      GATHER + "#generic-speech-to-text-models, https://developers.deepgram.com/docs/models-languages-overview#nova-2, "
      + ERRORS + "13331")
def gather_speech_pair(el, call):
    if "speech" not in (el.get("input") or "dtmf"):
        return None
    model, language = el.get("speechModel", "default"), el.get("language", "en-US")
    if model == "default":
        return None  # Twilio picks the provider for the language
    if language not in SPEECH_LANGUAGES.get(model, ()):
        return f"speechModel={model!r} with language={language!r}"
    return None


@rule("profanityFilter is false with numbers_and_commands or a Latin American Spanish generic model: "
      "Twilio does not support it there, and its default is true", GATHER + "#profanityfilter")
def gather_profanity(el, call):
    if "speech" not in (el.get("input") or "dtmf"):
        return None
    unsupported = el.get("speechModel") == "numbers_and_commands" or el.get("language") == "es-419"
    if unsupported and el.get("profanityFilter", "true") != "false":
        return f"profanityFilter={el.get('profanityFilter', 'true (the default)')!r} with " \
               f"speechModel={el.get('speechModel')!r}, language={el.get('language')!r}"
    return None


@rule("only <Say>, <Play> and <Pause> nest in <Gather>", GATHER + "#nest-other-verbs")
def gather_nested(el, call):
    wrong = [child.tag for child in el if child.tag not in ("Say", "Play", "Pause")]
    return f"nested {wrong}" if wrong else None


@rule("the voice speaks the language it is given", SAY + ", https://docs.aws.amazon.com/polly/latest/dg/available-voices.html")
def say_voice(el, call):
    voice, language = el.get("voice"), el.get("language")
    if POLLY_VOICES.get(voice) != language:
        return f"voice={voice!r} with language={language!r}"
    return None


@rule("the text a <Say> reads is at most 4096 characters", SAY)
def say_length(el, call):
    n = len("".join(el.itertext()))
    return f"{n} characters" if n > 4096 else None


@rule("<prosody rate> is 20% to 200%, or a preset",
      "https://docs.aws.amazon.com/polly/latest/dg/prosody-tag.html, " + SAY + "#ssml")
def prosody_rate(el, call):
    rate = el.get("rate")
    if rate is None or rate in RATE_PRESETS:
        return None
    found = re.fullmatch(r"([0-9]+)%", rate)
    return None if found and 20 <= int(found[1]) <= 200 else f"rate={rate!r}"


@rule("the file is served as WAV, cacheable",
      PLAY + "#supported-audio-file-types, " + GATHER + "#cache-static-media-for-play-verbs")
def play_fetch(el, call):
    url = (el.text or "").strip()
    if not absolute(url):
        return f"{url!r} is not an absolute URL"
    response = call.fetch(url)
    if response.status_code != 200:
        return f"GET {url} answered {response.status_code}"
    if response.mimetype not in WAV_TYPES:
        return f"GET {url} is {response.mimetype!r}, not WAV"
    if not response.cache_control.max_age:
        return f"GET {url} has no Cache-Control max-age"
    return None


@rule("callerId is the To or From of Twilio's request", DIAL + "#callerid, " + ERRORS + "13214")
def dial_caller_id(el, call):
    caller_id = el.get("callerId")
    if caller_id is None or caller_id in (call.values.get("From"), call.values.get("To")):
        return None
    return f"callerId={caller_id!r}, the request was From={call.values.get('From')!r} To={call.values.get('To')!r}"


@rule("each <Number> is E.164", "https://www.twilio.com/docs/voice/twiml/number")
def dial_numbers(el, call):
    wrong = [n.text for n in el.iter("Number") if not re.fullmatch(r"\+[1-9][0-9]{7,14}", (n.text or "").strip())]
    return f"numbers {wrong}" if wrong else None


@rule("recordingStatusCallbackEvent reports empty recordings ('absent') as well as 'completed', "
      "to a recordingStatusCallback", RECORD + "#recordingstatuscallbackevent")
def record_events(el, call):
    events = set((el.get("recordingStatusCallbackEvent") or "").split())
    if not events or not events <= RECORDING_EVENTS or not {"absent", "completed"} <= events:
        return f"recordingStatusCallbackEvent={el.get('recordingStatusCallbackEvent')!r}"
    if not absolute(el.get("recordingStatusCallback")):
        return f"recordingStatusCallback={el.get('recordingStatusCallback')!r}"
    return None


#: Verb -> the rules each of its elements must pass. Attribute rules first, then the rules
#: that need the whole element or the request.
RULES = {
    "Gather": [
        Rule("input is dtmf, speech or both", GATHER + "#input",
             attr("input", lambda v: set(v.split()) <= {"dtmf", "speech"}, "dtmf, speech or 'dtmf speech'")),
        Rule("timeout is a positive integer", GATHER + "#timeout", positive_int("timeout")),
        Rule("numDigits is a positive integer", GATHER + "#numdigits", positive_int("numDigits")),
        Rule("finishOnKey is one key or empty", GATHER + "#finishonkey",
             attr("finishOnKey", lambda v: v == "" or re.fullmatch(r"[0-9#*]", v), "one of 0-9, #, * or ''")),
        Rule("finishOnKey is not '#': '#' is the line's 'next step' key", SPEC + " (The call, 3)",
             attr("finishOnKey", lambda v: v != "#", "anything but '#'", required=True)),
        gather_hints,
        gather_speech_timeout,
        gather_speech_pair,
        gather_profanity,
        Rule("method is GET or POST", GATHER + "#method", http_method()),
        Rule("action is absolute", GATHER + "#action", absolute_url("action")),
        gather_nested,
    ],
    "Say": [say_voice, say_length],
    "prosody": [prosody_rate],
    "Play": [play_fetch],
    "Dial": [
        Rule("timeout is a positive integer, at most 600 s", DIAL + "#timeout, " + ERRORS + "13212",
             positive_int("timeout", most=600)),
        dial_caller_id,
        dial_numbers,
        Rule("method is GET or POST", DIAL + "#method", http_method()),
        Rule("action is absolute", DIAL + "#action", absolute_url("action")),
    ],
    "Record": [
        Rule("maxLength is a positive integer, at most 120 s (a message of at most two minutes)",
             RECORD + "#maxlength, " + SPEC + " (Extras)", positive_int("maxLength", most=120, required=True)),
        Rule("finishOnKey is '#': its default is every key", RECORD + "#finishonkey",
             attr("finishOnKey", lambda v: v == "#", "'#'", required=True)),
        Rule("playBeep is true or left to its default (true): the caller hears when to speak",
             RECORD + "#playbeep", attr("playBeep", lambda v: v == "true", "true")),
        record_events,
        Rule("method is GET or POST", RECORD + "#method", http_method()),
        Rule("action is absolute", RECORD + "#action", absolute_url("action")),
    ],
    "Redirect": [
        Rule("method is GET or POST", REDIRECT + "#method", http_method()),
        Rule("the URL is absolute", REDIRECT, lambda el, call: None if absolute(el.text) else f"{el.text!r}"),
    ],
}

#: The document as a whole: Twilio refuses a body over 64 kB, and TwiML it cannot parse.
DOCUMENT_LIMIT = 64 * 1024  # ERRORS + "11750"


def check(body: bytes, call: Call) -> list[str]:
    """Every rule a document breaks, as 'Verb: rule (source): what'."""
    problems = []
    if len(body) > DOCUMENT_LIMIT:
        problems.append(f"Response: at most 64 kB ({ERRORS}11750): {len(body)} bytes")
    try:
        root = assert_valid_twiml(body)  # ERRORS + "12100", "12200"
    except (AssertionError, etree.XMLSyntaxError) as e:
        return problems + [f"Response: valid TwiML ({ERRORS}12200): {e}"]
    for el in root.iter():
        for r in RULES.get(el.tag, ()):
            found = r.problem(el, call)
            if found:
                problems.append(f"{el.tag}: {r.what} ({r.source}): {found}")
    return problems


# -- every document the line can send --------------------------------------------------------

@dataclass
class Sent:
    name: str
    body: bytes
    values: dict = field(default_factory=lambda: {"From": CALLER, "To": LINE_NUMBER})


def make_line(audio_folder, database):
    """Every extra on: texts, a person, and the call store (which a message and a call back
    need)."""
    return create_app({
        "TESTING": True, "AUDIO_DIR": str(audio_folder), "TWILIO_AUTH_TOKEN": TOKEN,
        "PUBLIC_BASE_URL": BASE, "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "SMS_FROM": "+15005550006",
        "AGENT_NUMBER": AGENT, "TWILIO_HTTP_CLIENT": FakeTwilio(auth_token=TOKEN),
        "STORE": True, "SECRET_KEY": "rules", "DATABASE_URL": f"sqlite:///{database}",
    })


def every_document(app) -> list[Sent]:
    """Each turn's document; the documents made per call, through the webhooks with the
    caller's From and the line's To: the <Dial> of every place 9 is heard, the whisper the
    person hears there, the read-back of every call-back offer; and the last-resort hang-up."""
    line = line_of(app)
    documents = Documents(line.twiml, line.flow, BASE)
    sent = [Sent(f"turn {sound}", body) for sound, body in documents.every().items()]
    client = app.test_client()

    def webhook(name, path, state, values):
        path += "?" + "&".join(f"{k}={v}" for k, v in state.query().items())
        values = {"CallSid": "CArules", "From": CALLER, "To": LINE_NUMBER, **values}
        r = twilio_request(client, "POST", path, values, signed_for=BASE)
        assert r.status_code == 200, r.data
        sent.append(Sent(f"{name} {state}", r.data, values))

    for state in line.flow.states():
        if state.at in (MENU, STEP):
            webhook("dial", "/voice/turn", state, {"Digits": AGENT_KEY})
            webhook("whisper", "/voice/whisper", state, {"ParentCallSid": "CArules"})
        elif state.at == OFFER:
            webhook("read-back", "/voice/turn", state, {"Digits": "2"})
    sent.append(Sent("hangup", HANGUP.encode()))
    return sent


def fetcher(app):
    client, seen = app.test_client(), {}

    def fetch(url):
        if url not in seen:
            assert url.startswith(BASE + "/"), url
            with client.get(urlsplit(url).path) as response:
                response.close()  # the headers are what Twilio is told; the file stays shut
                seen[url] = response
        return seen[url]
    return fetch


@pytest.fixture(scope="module", params=["audio", "no audio"])
def line(request, tmp_path_factory):
    """The line with texts and a person on, with the committed audio (<Play>) or none
    (<Say>), and every document it can send."""
    import shutil

    from ivr import ROOT

    folder = tmp_path_factory.mktemp("line") / "audio"
    if request.param == "audio":
        shutil.copytree(ROOT / "audio", folder)
    else:
        folder.mkdir()
    database = tmp_path_factory.mktemp("store") / "calls.sqlite3"
    store_mod.upgrade(f"sqlite:///{database}")
    app = make_line(folder, database)
    yield app, every_document(app)
    line_of(app).store.close()


def test_every_document_follows_twilios_rules(line):
    app, sent = line
    fetch = fetcher(app)
    # Each problem once, with how many documents have it and the first of them.
    problems = {}
    for s in sent:
        for problem in check(s.body, Call(s.values, fetch)):
            count, first = problems.get(problem, (0, s.name))
            problems[problem] = (count + 1, first)
    assert not problems, "\n" + "\n".join(
        f"{n} of {len(sent)} documents, e.g. {first[:70]}...:\n  {problem}"
        for problem, (n, first) in problems.items())


def test_the_documents_are_all_of_them_and_use_every_verb_the_rules_know(line):
    app, sent = line
    flow = line_of(app).flow
    turns = {t.sound for t in flow.turns()}
    dials = sum(1 for s in flow.states() if s.at in (MENU, STEP))
    offers = sum(1 for s in flow.states() if s.at == OFFER)
    assert len(sent) == len(turns) + 2 * dials + offers + 1
    tags = {el.tag for s in sent for el in etree.fromstring(s.body).iter()}
    audio = line_of(app).audio.playable
    spoken = {"Play"} if audio else {"Say", "prosody"}
    # Normal and slow both rendered: slow audio files, or <Say> with <prosody rate>.
    assert {"Gather", "Redirect", "Dial", "Number", "Hangup", *spoken} <= tags
    assert set(RULES) - {"Say", "prosody", "Play"} <= tags
    assert any(b"slow" in s.body for s in sent)


# -- the rules catch what Twilio would flag --------------------------------------------------

def old_settings_gather(app):
    """A step's document as the line rendered it before: speechTimeout auto, es-CO."""
    line = line_of(app)
    content = replace(line.content, speech=replace(line.content.speech, language="es-CO", timeout="auto"))
    renderer = Renderer(content, line.audio, line.settings.say_voice, line.settings.say_language)
    turn = line.flow.next(line.flow.parse({"at": "1"}), "2")
    # ...and it left profanityFilter to Twilio's default, true.
    return renderer.render(turn, BASE).replace(b' profanityFilter="false"', b"")


def test_the_old_speech_settings_break_two_rules(line):
    app, _ = line
    problems = check(old_settings_gather(app), Call({}, fetcher(app)))
    assert [p.split(" (")[0] for p in problems] == [
        "Gather: speechTimeout is a positive integer whenever speechModel is set",
        "Gather: speechModel and language are a pair Twilio documents",
        "Gather: profanityFilter is false with numbers_and_commands or a Latin American Spanish generic model: "
        "Twilio does not support it there, and its default is true",
    ]
    assert "13335" in problems[0] and "speechTimeout='auto' with speechModel='numbers_and_commands'" in problems[0]
    assert "speechModel='numbers_and_commands' with language='es-CO'" in problems[1]


@pytest.mark.parametrize(("change", "broken"), [
    (dict(say_voice="Polly.Lupe"), "Say: the voice speaks the language it is given"),  # es-US, not es-MX
    (dict(say_language="es-CO"), "Say: the voice speaks the language it is given"),
])
def test_a_voice_and_language_that_do_not_match_are_caught(line, tmp_path, change, broken):
    app, _ = line
    line_ = line_of(app)
    settings = {"say_voice": line_.settings.say_voice, "say_language": line_.settings.say_language, **change}
    no_audio = AudioStore(tmp_path, line_.content)  # every prompt spoken with <Say>
    renderer = Renderer(line_.content, no_audio, settings["say_voice"], settings["say_language"])
    body = renderer.render(Turn(("goodbye",), None), BASE)
    assert [p.split(" (")[0] for p in check(body, Call({}, fetcher(app)))] == [broken]


def test_a_dial_whose_caller_id_is_not_the_call_is_caught(line):
    app, sent = line
    dial = next(s for s in sent if s.name.startswith("dial"))
    problems = check(dial.body, Call({"From": "+15005550006", "To": LINE_NUMBER}, fetcher(app)))
    assert [p.split(" (")[0] for p in problems] == ["Dial: callerId is the To or From of Twilio's request"]


def test_a_play_that_is_not_served_as_wav_is_caught(line):
    app, _ = line
    response = VoiceResponse()
    response.play(BASE + "/audio/nothing-here.wav")
    problems = check(str(response).encode(), Call({}, fetcher(app)))
    assert problems == [f"Play: the file is served as WAV, cacheable ({RULES['Play'][0].source}): "
                        f"GET {BASE}/audio/nothing-here.wav answered 404"]


def slow_prosody(rate):
    response = VoiceResponse()
    response.say(voice="Polly.Mia", language="es-MX").prosody("Hola", rate=rate)
    return str(response).encode()


@pytest.mark.parametrize(("rate", "ok"), [("20%", True), ("75%", True), ("200%", True), ("slow", True),
                                          ("19%", False), ("201%", False), ("-10%", False), ("75", False)])
def test_the_prosody_rate_range(rate, ok):
    assert (check(slow_prosody(rate), Call({}, None)) == []) == ok


def recording(**changes):
    """A <Record> as the voicemail will send it (or with `changes`, None to leave one out)."""
    attributes = {
        "action": BASE + "/voice/recorded?at=menu", "method": "POST", "max_length": 120,
        "finish_on_key": "#", "play_beep": True, "recording_status_callback": BASE + "/voice/recording",
        "recording_status_callback_event": "completed absent",
    }
    attributes.update(changes)
    response = VoiceResponse()
    response.record(**{k: v for k, v in attributes.items() if v is not None})
    return str(response).encode()


MAX_LENGTH = "Record: maxLength is a positive integer, at most 120 s"
FINISH = "Record: finishOnKey is '#': its default is every key"
BEEP = "Record: playBeep is true or left to its default (true)"
EVENTS = "Record: recordingStatusCallbackEvent reports empty recordings"


@pytest.mark.parametrize(("changes", "broken"), [
    ({}, []),
    ({"play_beep": None}, []),  # Twilio's default is a beep
    ({"recording_status_callback_event": "in-progress completed absent"}, []),
    ({"max_length": 121}, [MAX_LENGTH]),
    ({"max_length": None}, [MAX_LENGTH]),
    ({"max_length": 0}, [MAX_LENGTH]),
    ({"finish_on_key": None}, [FINISH]),
    ({"finish_on_key": "1234567890*#"}, [FINISH]),
    ({"play_beep": False}, [BEEP]),
    ({"recording_status_callback_event": "completed"}, [EVENTS]),
    ({"recording_status_callback_event": None}, [EVENTS]),
    ({"recording_status_callback_event": "completed absent failed"}, [EVENTS]),
    ({"recording_status_callback": None}, [EVENTS]),
    ({"action": "/voice/recorded"}, ["Record: action is absolute"]),
    ({"max_length": 3600, "finish_on_key": None}, [MAX_LENGTH, FINISH]),
])
def test_every_record_follows_twilios_rules(changes, broken):
    """Until the line sends its own <Record> (the voicemail), these hand-made ones keep the
    Record rules honest; the real ones meet the same RULES in the test above."""
    problems = check(recording(**changes), Call({}, None))
    assert len(problems) == len(broken), problems
    assert all(p.startswith(b) for p, b in zip(problems, broken, strict=True)), problems


def gather(**changes):
    """A <Gather> like the line's (or with `changes`, None to leave an attribute out)."""
    attributes = {"input": "dtmf speech", "num_digits": 1, "timeout": 10, "finish_on_key": "",
                  "action": BASE + "/voice/turn?at=1", "method": "POST", "language": "es-419",
                  "speech_model": "numbers_and_commands", "speech_timeout": 2, "profanity_filter": False,
                  "hints": "siguiente, atrás"}
    attributes.update(changes)
    response = VoiceResponse()
    response.gather(**{k: v for k, v in attributes.items() if v is not None})
    return str(response).encode()


def dial(**changes):
    attributes = {"caller_id": CALLER, "timeout": 25, "method": "POST", "action": BASE + "/voice/dialed?at=menu"}
    attributes.update(changes)
    response = VoiceResponse()
    response.dial(**{k: v for k, v in attributes.items() if v is not None}).number(AGENT)
    return str(response).encode()


@pytest.mark.parametrize(("body", "broken"), [
    (gather(), []),
    (gather(speech_model=None, speech_timeout="auto", language=None), []),  # Twilio picks, so auto is fine
    (gather(speech_model="phone_call", language="es-US"), []),
    (gather(hints=", ".join(["paso"] * 500)), []),
    (gather(hints=", ".join(["paso"] * 501)), ["Gather: hints: at most 500 entries"]),
    (gather(hints="a" * 101), ["Gather: hints: at most 500 entries"]),
    (gather(timeout=0), ["Gather: timeout is a positive integer"]),
    (gather(num_digits=0), ["Gather: numDigits is a positive integer"]),
    (gather(finish_on_key="12"), ["Gather: finishOnKey is one key or empty"]),
    (gather(finish_on_key=None), ["Gather: finishOnKey is not '#'"]),  # Twilio's default is '#'
    (gather(speech_timeout="auto"), ["Gather: speechTimeout is a positive integer whenever"]),
    (gather(speech_timeout=0), ["Gather: speechTimeout is a positive integer whenever"]),
    (gather(profanity_filter=None), ["Gather: profanityFilter is false with numbers_and_commands"]),
    (gather(profanity_filter=True, speech_model="deepgram_nova-2"), ["Gather: profanityFilter is false"]),
    (gather(language="es-CO"), ["Gather: speechModel and language are a pair"]),
    (gather(speech_model="phone_call"), ["Gather: speechModel and language are a pair"]),  # es-419
    (gather(input="keys"), ["Gather: input is dtmf, speech or both"]),
    (gather(action="/voice/turn?at=1"), ["Gather: action is absolute"]),
    (dial(), []),
    (dial(caller_id=None), []),
    (dial(timeout=600), []),
    (dial(timeout=601), ["Dial: timeout is a positive integer, at most 600 s"]),
    (dial(caller_id="+15005550006"), ["Dial: callerId is the To or From"]),
])
def test_each_rule_can_fail(body, broken):
    problems = check(body, Call({"From": CALLER, "To": LINE_NUMBER}, None))
    assert len(problems) == len(broken), problems
    assert all(p.startswith(b) for p, b in zip(problems, broken, strict=True)), problems
