"""Hands-free: Spanish words work like keys, and a caller can slow the line down."""

import pytest

from conftest import assert_valid_twiml, twilio_request, walk
from ivr import ROOT
from ivr.content import load
from ivr.flow import END, MENU, PICK, RESUME, STEP, UNHEARD, State
from ivr.speech import normalize

CONTENT = load(ROOT / "content.toml")

#: What Twilio documents for <Gather>: the generic speech models, and speechTimeout values.
#: The vendored XSD types these attributes as plain strings, so the schema cannot check them.
GENERIC_MODELS = {"default", "numbers_and_commands", "phone_call", "experimental_conversations",
                  "experimental_utterances"}


@pytest.mark.parametrize(
    ("place", "heard", "key"),
    [
        # What Twilio really sends: capitals, final punctuation, accents or none, filler.
        (STEP, "Siguiente.", "2"),
        (STEP, "siguiente", "2"),
        (STEP, "Eh, siguiente por favor.", "2"),
        (STEP, "Listo.", "2"),
        (STEP, "Repetir.", "1"),
        (STEP, "Otra vez.", "1"),
        (STEP, "Atrás.", "3"),
        (STEP, "atras", "3"),
        (STEP, "Volver.", "3"),
        (STEP, "Anterior", "3"),
        (STEP, "Menú.", "0"),
        (STEP, "Menu", "0"),
        (STEP, "Volver al menú.", "0"),  # the longer phrase wins over "volver"
        (STEP, "Inicio.", "0"),
        (STEP, "Más despacio, por favor.", "4"),
        (STEP, "mas despacio", "4"),
        (STEP, "Dos.", "2"),  # a key said as its number
        (MENU, "Empezar.", "1"),
        (MENU, "Quiero ir a un paso.", "2"),
        (MENU, "Menú.", "0"),
        (PICK, "Paso cinco.", "5"),
        (PICK, "Cinco.", "5"),
        (PICK, "5", "5"),
        (PICK, "Paso 5.", "5"),
        (PICK, "El paso ocho.", "8"),
        (PICK, "Volver.", "0"),
        (END, "Otra vez.", "1"),
        (END, "Menú.", "0"),
        (RESUME, "Sí, seguir.", "1"),
        # Words that mean nothing there, or two things at once, mean no key.
        (STEP, "¿Dónde pago la factura?", None),
        (STEP, "Siguiente y atrás.", None),
        (STEP, "", None),
        (STEP, "...", None),
        (PICK, "Paso cinco o seis.", None),
        (MENU, "Despacio.", None),
    ],
)
def test_phrases_mean_keys_at_each_place(place, heard, key):
    assert CONTENT.listen[place].key(heard) == key


@pytest.mark.parametrize(("text", "normal"), [("Atrás.", "atras"), ("¿Menú?", "menu"),
                                               ("  Paso   CINCO!! ", "paso cinco"), ("Sí", "si")])
def test_normalize_drops_capitals_accents_and_punctuation(text, normal):
    assert normalize(text) == normal


def said(app, path, words, confidence="0.9"):
    r = twilio_request(app.test_client(), "POST", path,
                       {"CallSid": "CAsay", "SpeechResult": words, "Confidence": confidence})
    by_say = {p.say: p.id for p in app.extensions["ivr"].content.prompts.values()}
    doc = assert_valid_twiml(r.data)
    return [by_say.get(" ".join("".join(el.itertext()).split())) for el in doc.iter("Say")], doc


def test_every_gather_listens_for_spanish_words_with_hints_from_the_content(say_app, signed):
    for path in ("/voice", "/voice/turn?at=menu", "/voice/turn?at=3", "/voice/turn?at=end"):
        gather = assert_valid_twiml(signed("POST", path, {"Digits": "2"}).data).find("Gather")
        assert gather.get("input") == "dtmf speech"
        assert (gather.get("speechModel"), gather.get("language")) == ("numbers_and_commands", "es-419")
        assert gather.get("speechModel") in GENERIC_MODELS
        assert gather.get("speechTimeout") == "2"  # a whole number with a model (warning 13335)
        assert gather.get("numDigits") == "1" and gather.get("finishOnKey") == ""
    step = assert_valid_twiml(signed("POST", "/voice/turn?at=3", {"Digits": "1"}).data).find("Gather")
    hints = [h.strip() for h in step.get("hints").split(",")]
    assert {"siguiente", "atrás", "más despacio", "menú"} <= set(hints)
    assert all(len(h) <= 100 for h in hints)


def test_a_whole_call_by_voice_alone(say_app):
    c = walk(say_app, ["say:Empezar."] + ["say:Siguiente."] * 8 + ["say:Menú."])
    heard = [t[0][0] for t in c.turns()]
    assert heard == ["welcome", *(f"paso_{n}" for n in range(1, 9)), "conclusion", "menu"]


def test_picking_a_step_by_voice(say_app):
    c = walk(say_app, ["say:Ir a un paso.", "say:Paso cinco.", "say:Atrás."])
    assert [t[0][0] for t in c.turns()] == ["welcome", "pick", "paso_5", "paso_4"]


def test_words_not_understood_are_a_wrong_key_and_end_the_call_bounded(say_app):
    c = walk(say_app, ["1"] + ["say:¿Y ahora qué hago?"] * 10)
    heard = [t[0][0] for t in c.turns()]
    assert heard == ["welcome", "paso_1", "not_understood", "not_understood", "bye_wrong"]
    assert c.ended_by == "hangup"


def test_words_heard_with_low_confidence_are_not_understood(say_app):
    prompts, _ = said(say_app, "/voice/turn?at=3", "Siguiente.", confidence="0.2")
    assert prompts[0] == "not_understood"
    prompts, _ = said(say_app, "/voice/turn?at=3", "Siguiente.", confidence="0.85")
    assert prompts[0] == "paso_4"


def test_the_menu_says_once_that_the_caller_can_speak(say_app):
    c = walk(say_app, "0,0,1")
    heard = [t[0] for t in c.turns()]
    assert heard[0][-1] == "speech_hint"
    assert all("speech_hint" not in prompts for prompts in heard[1:])


@pytest.mark.parametrize("extras", [(), ("keys_sms",), ("keys_agent",), ("keys_sms", "keys_agent")])
def test_reminders_stay_short(extras):
    for reminder in (("step_keys", *extras), ("pick",), ("closing",)):
        spoken = " ".join(CONTENT[p].say for p in reminder)
        assert len(spoken) < 160, reminder


def plays(call):
    """(prompt, slow?) for each audio file played."""
    return [(e.prompt, "-slow-" in (e.url or "")) for e in call.events if e.kind == "play"]


def test_four_slows_this_step_and_the_next_until_four_again(app):
    c = walk(app, "1,4,2,say:Más despacio.,2")
    played = [p for p in plays(c) if p[0] and p[0].startswith("paso_")]
    assert played == [("paso_1", False), ("paso_1", True), ("paso_2", True), ("paso_2", False),
                      ("paso_3", False)]


def test_slow_mode_holds_through_the_menu_and_back(app):
    c = walk(app, "1,4,0,1")
    assert [p for p in plays(c) if p[0] == "paso_1"] == [("paso_1", False), ("paso_1", True),
                                                         ("paso_1", True)]


def test_without_slow_audio_the_voice_reads_slower(say_app):
    r = twilio_request(say_app.test_client(), "POST", "/voice/turn?at=2", {"Digits": "4"})
    doc = assert_valid_twiml(r.data)
    say = doc.find("Gather").find("Say")
    prosody = say.find("prosody")
    assert prosody is not None and prosody.get("rate").endswith("%")
    assert int(prosody.get("rate").rstrip("%")) < 100
    assert say.get("voice") and say.get("language") == "es-MX"
    assert "Paso dos" in prosody.text


@pytest.mark.parametrize(("at", "key"), [(MENU, "4"), (END, "4")])
def test_four_is_a_wrong_key_off_the_steps(at, key):
    from ivr.flow import Flow

    assert Flow(8).next(State(at), key).prompts[0] in ("wrong_key", "pick_wrong")


def test_unheard_words_are_not_a_wrong_key_notice():
    from ivr.flow import Flow

    assert Flow(8).next(State(STEP, 2), UNHEARD).prompts == ("not_understood", "step_keys")
