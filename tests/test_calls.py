"""Whole calls through the Flask app, played the way Twilio plays them."""

import pytest

from conftest import assert_valid_twiml, walk

STEPS = [f"paso_{n}" for n in range(1, 9)]
WELCOME = ("welcome", "intro", "menu", "speech_hint")


def step(n):
    return (f"paso_{n}", "step_keys")


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_incoming_call_gets_welcome_and_menu_in_one_gather(signed, method):
    r = signed(method, "/voice", {"CallSid": "CA1", "From": "+57300"})
    assert r.status_code == 200
    assert r.mimetype == "text/xml"
    doc = assert_valid_twiml(r.data)
    assert [el.tag for el in doc] == ["Gather", "Redirect"]
    gather = doc[0]
    assert gather.get("numDigits") == "1"
    assert gather.get("finishOnKey") == ""  # '#' must reach the line as a key
    assert len(gather) == 4
    assert doc[1].text == gather.get("action")


def test_guide_from_menu_reaches_the_conclusion_in_order(call):
    c = call("1" + ",2" * 8)
    assert c.turns() == [
        (WELCOME, "1"),
        *[(step(n), "2") for n in range(1, 9)],
        (("conclusion", "closing"), None),
    ]
    assert c.ended_by == "gone"


@pytest.mark.parametrize("key", ["1", "*"])
def test_repeat_plays_the_same_step_again(call, key):
    c = call(f"1,2,{key},{key}")
    assert [t[0] for t in c.turns()][1:] == [step(1), step(2), step(2), step(2)]


def test_hash_is_next(call):
    c = call("1,#,#")
    assert [t[0] for t in c.turns()][1:] == [step(1), step(2), step(3)]


def test_back_goes_to_the_previous_step_and_stays_on_the_first(call):
    c = call("1,2,2,3,3,3,3")
    assert [t[0] for t in c.turns()][1:] == [
        step(1), step(2), step(3), step(2), step(1), ("first_step", "step_keys"),
        ("first_step", "step_keys"),
    ]


def test_menu_two_then_five_lands_on_paso_5(call):
    c = call("2,5,2")
    assert [t[0] for t in c.turns()] == [WELCOME, ("pick",), step(5), step(6)]


def test_zero_returns_to_the_menu_from_anywhere(call):
    c = call("0,1,0,2,0,1,2,2,2,2,2,2,2,2,0")
    heard = [t[0] for t in c.turns()]
    assert heard[1] == ("menu",)
    assert heard[3] == ("menu",)
    assert heard[5] == ("menu",)
    assert heard[-2] == ("conclusion", "closing")
    assert heard[-1] == ("menu",)


def test_closing_offers_the_guide_again(call):
    c = call("2,8,2,1")
    assert [t[0] for t in c.turns()][-2:] == [("conclusion", "closing"), step(1)]


def test_silence_on_a_step_reminds_keys_then_hangs_up(call):
    c = call("1,-,-,-")
    assert c.turns() == [
        (WELCOME, "1"),
        (step(1), None),
        (("still_there", "step_keys"), None),
        (("still_there", "step_keys"), None),
        (("bye_silence", "goodbye"), None),
    ]
    assert c.ended_by == "hangup"


def test_silence_at_the_menu_ends_the_call_too(call):
    c = call("-,-,-")
    assert c.prompts()[-2:] == ["bye_silence", "goodbye"]
    assert c.ended_by == "hangup"
    assert c.requests == 4


def test_silence_after_the_closing_says_goodbye(call):
    c = call("2,8,2,-")
    assert c.turns()[-1] == (("goodbye",), None)
    assert c.ended_by == "hangup"


def test_wrong_keys_are_explained_then_end_the_call(call):
    c = call("1,7,9,5")
    assert c.turns() == [
        (WELCOME, "1"),
        (step(1), "7"),
        (("wrong_key", "step_keys"), "9"),
        (("wrong_key", "step_keys"), "5"),
        (("bye_wrong", "goodbye"), None),
    ]
    assert c.ended_by == "hangup"


def test_wrong_key_keeps_the_caller_on_the_same_step(call):
    c = call("2,4,9,2")
    assert [t[0] for t in c.turns()][2:] == [step(4), ("wrong_key", "step_keys"), step(5)]


def test_unknown_step_number_is_explained(call):
    c = call("2,9,3")
    assert [t[0] for t in c.turns()][1:] == [("pick",), ("pick_wrong", "pick"), step(3)]


def test_every_prompt_is_heard_in_its_spoken_words(say_app):
    c = walk(say_app, "1" + ",2" * 8)
    content = say_app.extensions["ivr"].content
    said = [e for e in c.events if e.kind == "say"]
    assert said and all(e.prompt for e in said)
    assert [e.text for e in said] == [content[e.prompt].say for e in said]


def test_prompts_are_played_from_audio_when_present_else_said(app, say_app):
    played = walk(app, "1")
    spoken = walk(say_app, "1")
    assert played.prompts() == spoken.prompts()
    store = app.extensions["ivr"].audio
    for e in played.events:
        if e.kind in ("say", "play"):
            assert e.kind == ("play" if store.file_for(e.prompt) else "say")
    assert {e.kind for e in spoken.events} & {"say", "play"} == {"say"}


@pytest.mark.parametrize(
    "url",
    ["/voice/turn", "/voice/turn?at=42", "/voice/turn?at=-1&s=x", "/voice/turn?at=menu&w=99"],
)
def test_tampered_state_gets_an_apology_and_the_menu(signed, url):
    r = signed("POST", url, {"Digits": "1"})
    assert r.status_code == 200
    doc = assert_valid_twiml(r.data)
    assert doc[0].tag == "Gather"
    assert "at=menu" in doc[0].get("action")
    assert len(doc[0]) == 2  # sorry + menu


def test_audio_is_fetched_from_the_audio_base_url_when_one_is_set(audio_dir):
    from conftest import TOKEN, twilio_request
    from ivr import create_app

    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN,
                      "PUBLIC_BASE_URL": "https://ivr.example.com",
                      "AUDIO_BASE_URL": "https://cdn.example.net/alcanos/"})
    doc = assert_valid_twiml(twilio_request(app.test_client(), "POST", "/voice", {},
                                            signed_for="https://ivr.example.com").data)
    plays = [el.text for el in doc.iter("Play")]
    name = app.extensions["ivr"].audio.file_for("welcome")
    assert plays[0] == f"https://cdn.example.net/alcanos/{name}"
    # The webhooks' own URLs stay on the line.
    assert doc.find("Gather").get("action").startswith("https://ivr.example.com/voice/turn?")


@pytest.mark.parametrize("setting", ["PUBLIC_BASE_URL", "AUDIO_BASE_URL"])
@pytest.mark.parametrize("value", ["ivr.example.com", "ftp://ivr.example.com", "https://", "https://x/?a=1"])
def test_a_base_url_setting_that_is_not_one_is_refused(no_audio, setting, value):
    from ivr import create_app
    from ivr.settings import ConfigError

    with pytest.raises(ConfigError, match=f"{setting} must look like https://"):
        create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), setting: value})
