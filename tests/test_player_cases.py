"""One TwiML behaviour, two players: every case of player_cases.json against the Python
player (ivr/player.py) and the web phone's (ivr/static/player.js, in Debian's Chromium).

A case serves its documents with conftest's `Tiny`, gives the caller's input through a
keypad (Python) or the player's hooks (JS), and compares the requests the server saw and
what the caller heard with the case. A player that disagrees fails its case.
"""

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from flask import Response

from conftest import WAV, Tiny, doc, serving
from ivr import ROOT
from ivr.player import Call, FlaskTransport, RecordOutcome, ScriptedKeypad, settings

CASES = json.loads((Path(__file__).parent / "player_cases.json").read_text(encoding="utf-8"))["cases"]
#: The parameters a <Gather> or a <Dial> adds: a case names exactly those sent.
INPUT = ("Digits", "FinishedOnKey", "SpeechResult", "Confidence", "DialCallStatus",
         "DialCallDuration", "RecordingDuration", "RecordingStatus")
PLAYER_JS = ROOT / "ivr" / "static" / "player.js"
#: Twilio's waits (5 s timeouts, the time words take) shortened for the JS player.
SCALE = 0.01


def serve(case) -> Tiny:
    docs = {path: doc(verbs) for path, verbs in case["docs"].items()}
    docs["/a.wav"] = Response(WAV, mimetype="audio/wav")
    docs["/harness"] = Response(HARNESS, mimetype="text/html")
    docs["/player.js"] = Response(PLAYER_JS.read_text(encoding="utf-8"), mimetype="text/javascript")
    return Tiny(docs)


def requests_of(tiny, case) -> list:
    """[method, path, input parameters] of the TwiML requests, as the cases write them."""
    seen = []
    for s in tiny.seen:
        path = s.path.split("?")[0]
        if path in case["docs"]:
            seen.append([s.method, path, {k: s.values[k] for k in INPUT if k in s.values}])
    return seen


def as_expected(case) -> tuple:
    return case["requests"], case["heard"]


class CaseKeypad(ScriptedKeypad):
    """A case's input: ScriptedKeypad's entries, some given while a prompt plays."""

    def __init__(self, entries):
        super().__init__([e["input"] if isinstance(e, dict) else e for e in entries])
        self.during = [e.get("during") if isinstance(e, dict) else None for e in entries]
        self.taken = False  # this <Gather>'s entry was given during its prompts

    def heard(self, event, barge_in=False):
        if self.during and self.during[0] == event.text:
            self.during.pop(0)
            entry = self.script.pop(0)
            self.taken = barge_in
            return entry if barge_in else ""  # outside a <Gather> it is lost, as on a call
        return ""

    def begin(self, gather):
        if self.taken:
            self.taken = False
            return True
        if self.during:
            self.during.pop(0)
        return super().begin(gather)

    def dial(self, dial):
        status = super().dial(dial)
        if status is not None and self.during:
            self.during.pop(0)
        return status

    def record(self, record):
        taken = bool(self.script) and isinstance(self.script[0], RecordOutcome)
        seconds = super().record(record)
        if taken and self.during:
            self.during.pop(0)
        return seconds


def shown(e) -> str:
    """An event's text as the cases write it."""
    if e.kind == "play" or (e.kind == "whisper" and e.url):
        return urlsplit(e.url).path
    if e.kind == "dial" and e.caller_id:
        return f"{e.text} callerId={e.caller_id}"
    return e.text


def heard_python(call) -> list:
    return [[e.kind, shown(e)] for e in call.events]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_python_player(case):
    tiny = serve(case)
    call = Call(FlaskTransport(tiny.app), url="http://localhost" + case.get("start", "/start"),
                keypad=CaseKeypad(case["input"]))
    call.run()
    assert (requests_of(tiny, case), heard_python(call)) == as_expected(case)


HARNESS = """<!doctype html><html lang="es"><head><meta charset="utf-8"><title>player cases</title>
<link rel="icon" href="data:,"></head><body><script src="/player.js"></script></body></html>"""

# The same input rules as CaseKeypad, through the player's hooks.
RUN_JS = """async ({entries, settings, start, scale}) => {
  const heard = [];
  const during = entries.map((e) => (typeof e === "object" ? e.during : null));
  const inputs = entries.map((e) => (typeof e === "object" ? e.input : e));
  let taken = false;
  let call = null;
  const give = (entry) => {
    const said = /^say(?:@([^:]*))?:(.*)$/s.exec(entry);
    if (said) call.say(said[2], said[1] === undefined ? undefined : Number(said[1]));
    else if (entry !== "-") for (const key of entry) call.press(key);
  };
  call = new TwimlPlayer.Call({voiceUrl: start, settings, scale, hooks: {
    event(e) {
      let text = e.text;
      if (e.kind === "play" || (e.kind === "whisper" && e.url)) text = new URL(e.url).pathname;
      if (e.kind === "dial" && e.callerId) text += " callerId=" + e.callerId;
      heard.push([e.kind, text]);
      // A dial: entry next is how the person answers; otherwise the <Dial> times out.
      if (e.kind === "dial" && typeof inputs[0] === "string" && inputs[0].startsWith("dial:")) {
        during.shift();
        call.dialEnds(inputs.shift().slice(5));
      }
    },
    // A <Record> listens: the entry next says what is said (none: nothing).
    recording(r) {
      if (!r) return;
      if (typeof inputs[0] === "string" && inputs[0].startsWith("record:")) {
        during.shift();
        call.recordEnds(Number(inputs.shift().slice(7)));
      } else {
        call.recordEnds(0);
      }
    },
    heard(e, inGather) {
      if (during.length && during[0] === e.text) {
        during.shift();
        taken = inGather;
        give(inputs.shift());
      }
    },
    begin() {
      if (taken) { taken = false; return true; }
      if (!inputs.length) return false;
      during.shift();
      give(inputs.shift());
      return true;
    },
  }});
  await call.run();
  return heard;
}"""


@pytest.fixture(scope="module")
def page(browser):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.close()
    assert errors == []


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_web_phone_player(case, page):
    tiny = serve(case)
    with serving(tiny.app) as base:
        page.goto(f"{base}/harness")
        heard = page.evaluate(RUN_JS, {
            "entries": case["input"], "settings": settings(), "scale": SCALE,
            "start": base + case.get("start", "/start"),
        })
    assert (requests_of(tiny, case), heard) == as_expected(case)


def test_every_behaviour_the_brief_names_has_a_case():
    names = " ".join(c["name"] for c in CASES)
    for behaviour in ("finishOnKey defaults", 'finishOnKey=""', "numDigits", "falls through",
                      "actionOnEmptyResult", "<Redirect>", "GET", 'loop="0"', "<Play digits>",
                      "<Hangup>", "end of the document", "barge-in", "speech", "<Dial>",
                      "DialCallDuration", '<Dial method="GET">', "without an action",
                      "<Number url>", "dial:declined", "<Record>", "absent", "<Record maxLength>"):
        assert behaviour in names
