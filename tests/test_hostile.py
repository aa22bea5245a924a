"""Nothing a caller (or anyone holding a signed URL) sends breaks the line.

Property-based: any Digits, SpeechResult, missing fields, huge values, odd Unicode and any
query on the webhook URLs get 200 and schema-valid TwiML, and no call goes on forever.
Signature validation stays on: every request is signed for the exact URL it is sent to.
"""

import itertools
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import TOKEN, assert_valid_twiml, sign
from ivr import ROOT, create_app
from ivr.player import Call, FlaskTransport, ScriptedKeypad

#: Built once for the module: hypothesis runs each test many times, and a function-scoped
#: fixture would be shared across those runs anyway.
APP = create_app({"TESTING": True, "TWILIO_AUTH_TOKEN": TOKEN, "AUDIO_DIR": str(ROOT / "audio"),
                  "STORE": False})
CLIENT = APP.test_client()
FLOW = APP.extensions["ivr"].flow
ROUTES = ["/voice", "/voice/turn", "/voice/fallback", "/voice/nope"]

#: Values that have broken IVRs before: near-misses of real keys and counters, numbers too
#: big for int(), look-alike digits, control characters, a lot of everything.
AWKWARD = [
    "", " ", "0", "1", "8", "9", "10", "01", "-1", "+1", "1.0", "1e3", "0x1", "*", "#", "12#",
    "menu", "pick", "step", "end", "MENU", "None", "null", "true", "9" * 1000, "1" * 4300,
    "１", "٣", "²", "Ⅷ", "\x00", "\n", "\r\n", "\u202e1", "🙂", "ñ" * 300, "%00", "../", "<Say>",
]
#: Bigger still, tried one field at a time (hypothesis warns when an example's repr is huge).
HUGE = ["9" * 20_000, "1" * 60_000, "ñ" * 10_000]  # all within the 64 KiB body limit
#: Digits of every script (Arabic-Indic, superscripts, Roman numerals...): int() and
#: str.isdigit() accept some of them, a key check should not.
unicode_digits = st.text(st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=3)
texts = st.one_of(
    st.sampled_from(AWKWARD), st.integers().map(str), unicode_digits, st.text(max_size=30),
    st.text("0123456789*#-", max_size=8),
)
#: The call state a URL carries, as tampered with as it gets, plus parameters we never issue.
state_queries = st.fixed_dictionaries(
    {}, optional={"at": texts, "s": texts, "w": texts}
).flatmap(lambda state: st.dictionaries(st.text(max_size=8), texts, max_size=3).map(
    lambda extra: {**extra, **state}))
#: What Twilio posts: any field may be missing, any value odd.
twilio_params = st.fixed_dictionaries(
    {},
    optional={
        "CallSid": texts, "Digits": texts, "SpeechResult": texts, "From": texts, "To": texts,
        "ErrorCode": texts, "ErrorUrl": st.one_of(texts, state_queries.map(
            lambda q: "https://ivr.example.com/voice/turn?" + urlencode(q))),
    },
).flatmap(lambda known: st.dictionaries(st.text(max_size=10), texts, max_size=3).map(
    lambda extra: {**extra, **known}))


def send(method, path, query, params):
    """Request `path?query` as Twilio would (GET: params in the URL), signed for that URL."""
    if method == "GET":
        query, params = {**query, **params}, {}
    url = path + ("?" + urlencode(query) if query else "")
    headers = {"X-Twilio-Signature": sign("http://localhost" + url, params)}
    return CLIENT.open(url, method=method, data=params or None, headers=headers)


def next_urls(doc):
    """Where the call goes next: every <Gather action> and <Redirect> in the document."""
    return [el.get("action") for el in doc.iter("Gather")] + [
        el.text for el in doc.iter("Redirect")]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["GET", "POST"]), st.sampled_from(ROUTES), state_queries, twilio_params)
def test_any_request_gets_valid_twiml_that_leads_back_to_a_real_state(method, path, query, params):
    r = send(method, path, query, params)
    assert r.status_code == 200
    assert r.mimetype == "text/xml"
    doc = assert_valid_twiml(r.data)
    assert doc.tag == "Response" and len(doc)
    # Whatever came in, the URLs going out carry a state the line issued, so the next turn
    # is back on the flow (whose counters end every call) and not on the tampered input.
    for url in next_urls(doc):
        parts = urlsplit(url)
        assert parts.path == "/voice/turn"
        assert FLOW.parse(dict(parse_qsl(parts.query))) is not None, url


@pytest.mark.parametrize("value", AWKWARD + HUGE)
@pytest.mark.parametrize("field", ["at", "s", "w", "Digits"])
def test_every_awkward_value_in_every_field(field, value):
    # Random search finds these rarely: each is tried in each field on every run.
    query = {"at": "3", field: value} if field != "Digits" else {"at": "3"}
    params = {"CallSid": "CA1", "Digits": value if field == "Digits" else "2"}
    r = send("POST", "/voice/turn", query, params)
    assert r.status_code == 200
    for url in next_urls(assert_valid_twiml(r.data)):
        assert FLOW.parse(dict(parse_qsl(urlsplit(url).query))) is not None, url


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["GET", "POST"]), state_queries, twilio_params,
       st.sampled_from(["param", "url", "token", "drop"]))
def test_any_change_to_a_signed_request_is_refused(method, query, params, change):
    url = "/voice/turn" + ("?" + urlencode(query) if query else "")
    signature = sign("http://localhost" + url, params if method == "POST" else {})
    if method == "GET":
        url += ("&" if query else "?") + urlencode({"Digits": "1"})  # not what was signed
    elif change == "param":
        params = {**params, "Digits": params.get("Digits", "") + "1"}
    elif change == "url":
        url += ("&" if query else "?") + "at=1"
    elif change == "token":
        signature = sign("http://localhost" + url, params, token="not-" + TOKEN)
    else:
        signature = ""
    r = CLIENT.open(url, method=method, data=params or None,
                    headers={"X-Twilio-Signature": signature})
    assert r.status_code == 403


class StubbornKeypad(ScriptedKeypad):
    """Types the script, then never hangs up: silence for ever after, or the `then` keys
    over and over."""

    def __init__(self, script, then=("-",)):
        super().__init__(list(script))
        self.then = itertools.cycle(then)

    def begin(self, gather):
        if not self.script:
            self.script.append(next(self.then))
        return super().begin(gather)


def play(keypad, url="http://localhost/voice"):
    call = Call(FlaskTransport(APP), url=url, keypad=keypad, auth_token=TOKEN,
                fetch_audio=False, on_document=lambda url, body: assert_valid_twiml(body))
    return call.run()


keys = st.sampled_from(["-", "", "0", "1", "2", "3", "4", "5", "8", "9", "*", "#", "12", "#5"])


@settings(max_examples=150, deadline=None)
@given(st.lists(keys, max_size=40))
def test_any_key_script_plays_to_an_end(script):
    call = play(ScriptedKeypad(list(script)))
    assert call.ended_by in ("gone", "hangup")
    assert call.requests <= len(script) + 1  # one request per answer, none of its own


@settings(max_examples=150, deadline=None)
@given(st.lists(keys, max_size=20), st.one_of(st.none(), state_queries))
def test_a_caller_who_stops_pressing_is_hung_up_on(script, tampered):
    url = "http://localhost/voice"
    if tampered is not None:
        url += "/turn" + ("?" + urlencode(tampered) if tampered else "")
    call = play(StubbornKeypad(script), url)
    assert call.ended_by == "hangup"
    assert call.requests <= 1 + len(script) + FLOW.max_silences


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["-", "", "9", "99"]), min_size=1, max_size=6),
       st.one_of(st.none(), state_queries))
def test_silence_and_wrong_keys_for_ever_end_the_call(pattern, tampered):
    url = "http://localhost/voice"
    if tampered is not None:
        url += "/turn" + ("?" + urlencode(tampered) if tampered else "")
    call = play(StubbornKeypad([], then=pattern), url)
    assert call.ended_by == "hangup"
    # Each wrong key resets the silences but not the wrong keys: at worst (silences - 1)
    # silences before each wrong key, and the last one ends it.
    assert call.requests <= 1 + FLOW.max_wrongs * FLOW.max_silences


def test_odd_host_names_do_not_grow_the_documents(app):
    from ivr import MAX_BASES

    line = app.extensions["ivr"]
    client = app.test_client()
    for i in range(3 * MAX_BASES):
        base = f"http://host{i}.example"
        url = base + "/voice/turn?at=3"
        data = {"CallSid": "CAhost", "Digits": "2"}
        r = client.post(url, data=data, headers={"X-Twilio-Signature": sign(url, data)})
        assert r.status_code == 200 and f"{base}/voice/turn?at=4".encode() in r.data
    # Only the latest few bases keep their documents; the first is made anew when it returns.
    first = line.documents("http://host0.example/")
    assert line.documents("http://host0.example/") is first
    assert all(line.documents(f"http://host{i}.example/") is not first for i in range(1, MAX_BASES))
