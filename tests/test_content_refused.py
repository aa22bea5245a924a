"""A content file that cannot be used is refused with one exact message naming the file and
the problem, at every check of ivr/content.py; a usable one loads as written."""

import copy
import tomllib
from pathlib import Path

import pytest

from ivr import ROOT
from ivr.content import ContentError, Speech, load, parse

PATH = Path("line/content.toml")
SHIPPED = tomllib.loads((ROOT / "content.toml").read_text(encoding="utf-8"))


def shipped():
    return copy.deepcopy(SHIPPED)


def changed(change):
    data = shipped()
    change(data)
    return data


def refusal(data) -> str:
    with pytest.raises(ContentError) as e:
        parse(data, PATH)
    message = str(e.value)
    assert message.startswith(f"{PATH}: ")
    return message[len(f"{PATH}: "):]


def prompts(d):
    return d["prompts"]


def drop_step_8(d):
    del d["prompts"]["paso_8"], d["prompts"]["resume_8"], d["prompts"]["whisper_8"]


CASES = [
    (lambda d: d.update(extra={}),
     "unknown top-level key 'extra' (the tables are prompts, speech, listen and sms)"),
    (lambda d: d.update(prompts={}), "no prompts: expected tables like [prompts.welcome] with a text"),
    (lambda d: d.update(prompts=[1]), "no prompts: expected tables like [prompts.welcome] with a text"),
    (lambda d: prompts(d).update(Bad={"text": "x"}),
     "prompt id 'Bad' must be lowercase letters, digits and _ (it names audio files)"),
    (lambda d: prompts(d).update({"a" * 41: {"text": "x"}}),
     f"prompt id {'a' * 41!r} must be lowercase letters, digits and _ (it names audio files)"),
    (lambda d: prompts(d).update(welcome="Hola"),
     "prompt 'welcome' must be a table with a text, like [prompts.welcome]"),
    (lambda d: prompts(d)["welcome"].update(txt="x"),
     "prompt 'welcome' has an unknown key 'txt' (use text, say and counts_steps)"),
    (lambda d: prompts(d)["welcome"].pop("text"), "prompt 'welcome' has no `text`"),
    (lambda d: prompts(d)["welcome"].update(text=3),
     "prompt 'welcome': `text` must be a string, not int 3"),
    (lambda d: prompts(d)["welcome"].update(say=["x"]),
     "prompt 'welcome': `say` must be a string, not list ['x']"),
    (lambda d: prompts(d)["welcome"].update(text=" \n "), "prompt 'welcome': `text` is empty"),
    (lambda d: prompts(d)["welcome"].update(say="x" * 4097),
     "prompt 'welcome' is 4097 characters long; a voice prompt holds 4096"),
    (lambda d: prompts(d)["welcome"].update(text="x " * 2048 + "y"),
     "prompt 'welcome' is 4097 characters long; a voice prompt holds 4096"),
    (lambda d: prompts(d)["welcome"].update(counts_steps="yes"),
     "prompt 'welcome': `counts_steps` must be true or false, not 'yes'"),
    (lambda d: d.update(prompts={"welcome": {"text": "x"}}),
     "no guide steps: expected prompts paso_1, paso_2, ..."),
    (lambda d: d.update(prompts={"resume_1": {"text": "x"}}),
     "no guide steps: expected prompts paso_1, paso_2, ..."),
    (lambda d: prompts(d).pop("paso_3"),
     "steps must run paso_1, paso_2, ... without gaps; paso_3 is missing"),
    (lambda d: [prompts(d).pop(p) for p in ("paso_2", "paso_5")],
     "steps must run paso_1, paso_2, ... without gaps; paso_2 is missing"),
    (lambda d: prompts(d).pop("paso_1"),
     "steps must run paso_1, paso_2, ... without gaps; paso_1 is missing"),
    (lambda d: prompts(d).update({f"paso_{n}": {"text": "x"} for n in (9, 10)}),
     "10 steps; a caller picks a step with one key, so at most 9"),
    (lambda d: prompts(d).pop("goodbye"), "missing prompt goodbye"),
    (lambda d: [prompts(d).pop(p) for p in ("goodbye", "welcome", "resume_3")],
     "missing prompts welcome, goodbye, resume_3"),
    (lambda d: prompts(d).update(wellcome={"text": "x"}),
     "unknown prompt id 'wellcome': the line never says it (a typo, or a step's resume_N "
     "or whisper_N without its paso_N?)"),
    (drop_step_8,
     "prompt 'pick' counts the steps, but its text does not say 7 (the number of steps) as its "
     "highest number: 'Marcá el número del paso, del 1 al 8, o 0 para volver al menú.'"),
    (lambda d: (drop_step_8(d), prompts(d)["pick"].update(text="Del 1 al 7, o 0.")),
     "prompt 'pick' counts the steps, but its `say` does not say 'siete' (7, the number of "
     "steps) as its highest number"),
    (lambda d: (drop_step_8(d), prompts(d)["pick"].update(text="Del 1 al 7, o 0.",
                                                            say="Del uno al siete, no ocho.")),
     "prompt 'pick' counts the steps, but its `say` does not say 'siete' (7, the number of "
     "steps) as its highest number"),
    (lambda d: prompts(d)["pick"].update(text="Del 1 al 6."),
     "prompt 'pick' counts the steps, but its text does not say 8 (the number of steps) as its "
     "highest number: 'Del 1 al 6.'"),
    (lambda d: [prompts(d).pop(p) for p in ("goodbye", "welcome")],
     "missing prompts welcome, goodbye"),
    (lambda d: prompts(d)["pick"].update(text="Del 1 al 9."),
     "prompt 'pick' counts the steps, but its text does not say 8 (the number of steps) as its "
     "highest number: 'Del 1 al 9.'"),
    (lambda d: d["listen"]["numbers"].pop("8"),
     "prompt 'pick' counts the steps: [listen.numbers] needs the word for 8"),
    (lambda d: d["listen"].pop("numbers"),
     "prompt 'pick' counts the steps: [listen.numbers] needs the word for 8"),
    (lambda d: d.update(speech="es"),
     "[speech] must be a table (model, language, timeout, min_confidence)"),
    (lambda d: d["speech"].update(lang="es"),
     "[speech] has an unknown key 'lang' (use model, language, timeout and min_confidence)"),
    (lambda d: d["speech"].update(language=""), "[speech] `language` must be a string"),
    (lambda d: d["speech"].update(model=3), "[speech] `model` must be a string"),
    (lambda d: d["speech"].update(min_confidence=True),
     "[speech] `min_confidence` must be a number from 0 to 1, not True"),
    (lambda d: d["speech"].update(min_confidence="0.4"),
     "[speech] `min_confidence` must be a number from 0 to 1, not '0.4'"),
    (lambda d: d["speech"].update(min_confidence=1.01),
     "[speech] `min_confidence` must be a number from 0 to 1, not 1.01"),
    (lambda d: d["speech"].update(min_confidence=-0.01),
     "[speech] `min_confidence` must be a number from 0 to 1, not -0.01"),
    # Twilio takes no speechTimeout "auto" with a speechModel (warning 13335).
    *[(lambda d, t=t: d["speech"].update(timeout=t),
       f"[speech] `timeout` must be a whole number of seconds from 1 to 60 (Twilio takes no "
       f"`auto` with a model), not {t!r}") for t in ("auto", 0, -1, 61, 1.5, True, "2")],
    # A pair Twilio does not document: named, with the documented ones.
    *[(lambda d, m=m, lang=lang: d["speech"].update(model=m, language=lang),
       f"[speech] model {m!r} with language {lang!r} is not a pair Twilio documents; use "
       f"numbers_and_commands with es-419 or es; deepgram_nova-2 with es-419 or es; "
       f"phone_call with es-US or es-ES; experimental_utterances with es-US or es-ES; "
       f"experimental_conversations with es-US or es-ES")
      for m, lang in (("numbers_and_commands", "es-CO"), ("numbers_and_commands", "es-US"),
                      ("phone_call", "es-419"), ("phone_call", "es-CO"), ("nova", "es"))],
    (lambda d: d.update(listen=["x"]), "[listen] must hold tables like [listen.step]"),
    (lambda d: d["listen"].update(pik={}),
     "[listen.pik]: no such place (use menu, pick, step, end, resume, offer, callback or numbers)"),
    (lambda d: d["listen"].update(pick=["volver"]),
     "[listen.pick] must map keys to lists of phrases, like \"1\" = [\"repetir\"]"),
    (lambda d: d["listen"]["step"].update(x=["y"]),
     "[listen.step] 'x' is not a key of the keypad (0-9, * or #)"),
    (lambda d: d["listen"]["step"].update({"12": ["y"]}),
     "[listen.step] '12' is not a key of the keypad (0-9, * or #)"),
    (lambda d: d["listen"]["step"].update({"": ["y"]}),
     "[listen.step] '' is not a key of the keypad (0-9, * or #)"),
    (lambda d: d["listen"]["step"].update({"5": "quinto"}),
     "[listen.step] \"5\" must be a list of phrases, like [\"repetir\"]"),
    (lambda d: d["listen"]["step"].update({"5": []}),
     "[listen.step] \"5\" must be a list of phrases, like [\"repetir\"]"),
    (lambda d: d["listen"]["step"].update({"5": ["quinto", 5]}),
     "[listen.step] \"5\" must be a list of phrases, like [\"repetir\"]"),
    (lambda d: d["listen"]["step"].update({"5": ["quinto", "¡!"]}),
     "[listen.step] \"5\" must be a list of phrases, like [\"repetir\"]"),
    (lambda d: d["listen"]["step"].update({"5": ["a" * 101]}),
     "[listen.step] 'aaaaaaaaaaaaaaaaaaaa'...: a phrase holds 100 characters"),
    (lambda d: d["listen"]["step"]["3"].append("Siguiente"),
     "[listen.step] 'Siguiente' means both 2 and 3"),
    (lambda d: d["listen"]["end"]["0"].append("uno"), "[listen.end] 'uno' means both 0 and 1"),
    (lambda d: d.update(sms="x"), "[sms] must hold one `text` string: the message a caller gets with 7"),
    (lambda d: d["sms"].update(to="x"),
     "[sms] must hold one `text` string: the message a caller gets with 7"),
    (lambda d: d.update(sms={"text": 3}),
     "[sms] must hold one `text` string: the message a caller gets with 7"),
    (lambda d: d.update(sms={"text": "ú" * 202}),
     "[sms] text takes 4 SMS (UCS-2, 202 characters); at most 3"),
]


@pytest.mark.parametrize(("change", "message"), CASES)
def test_each_problem_gets_its_own_message(change, message):
    assert refusal(changed(change)) == message


def test_what_loads_is_what_the_file_says():
    data = changed(lambda d: prompts(d)["welcome"].update(text="  Hola,\n  ¿qué tal?  "))
    data["prompts"]["intro"] = {"text": "Seguí:", "say": "  Seguí\n   esto.  "}
    data["sms"]["text"] = "  Un mensaje.\n"
    content = parse(data, PATH)
    assert (content.path, content.steps) == (PATH, 8)
    assert content["welcome"].text == "Hola,\n  ¿qué tal?"
    assert content["welcome"].say == "Hola, ¿qué tal?"  # line breaks in TOML are layout
    assert (content["intro"].text, content["intro"].say) == ("Seguí:", "Seguí esto.")
    assert content.sms == "Un mensaje."
    assert list(content.prompts) == list(SHIPPED["prompts"])
    assert content.speech == Speech("es-419", "numbers_and_commands", 0.4, timeout=2)
    assert set(content.listen) == {"menu", "pick", "step", "end", "resume", "offer", "callback"}


def test_what_may_be_left_out():
    data = shipped()
    for table in ("speech", "listen", "sms"):
        del data[table]
    # Without [listen.numbers], the prompt that counts the steps cannot be checked: say so.
    assert refusal(data) == "prompt 'pick' counts the steps: [listen.numbers] needs the word for 8"
    data["prompts"]["pick"].pop("counts_steps")
    content = parse(data, PATH)
    assert content.speech == Speech() == Speech("es-419", "numbers_and_commands", 0.4, timeout=2)
    assert content.sms == ""
    assert set(content.listen) == {"menu", "pick", "step", "end", "resume", "offer", "callback"}
    assert content.listen["step"].key("siguiente") is None


@pytest.mark.parametrize(("model", "language"), [
    ("numbers_and_commands", "es-419"), ("numbers_and_commands", "es"),
    ("deepgram_nova-2", "es-419"), ("phone_call", "es-US"), ("phone_call", "es-ES"),
    ("experimental_utterances", "es-US"), ("experimental_conversations", "es-ES"),
])
def test_every_documented_pair_loads(model, language):
    data = changed(lambda d: d["speech"].update(model=model, language=language))
    speech = parse(data, PATH).speech
    assert (speech.model, speech.language) == (model, language)


def test_limits_are_inclusive():
    data = changed(lambda d: prompts(d)["welcome"].update(say="x" * 4096))
    data["speech"]["min_confidence"] = 1
    data["listen"]["step"]["5"] = ["a" * 100]
    assert parse(data, PATH)["welcome"].say == "x" * 4096
    data["speech"]["min_confidence"] = 0
    assert parse(data, PATH).speech.min_confidence == 0
    for seconds in (1, 60):
        data["speech"]["timeout"] = seconds
        assert parse(data, PATH).speech.timeout == seconds
    data["prompts"]["a" * 40] = {"text": "x"}
    assert refusal(data).startswith(f"unknown prompt id {'a' * 40!r}")
    data = changed(lambda d: d.update(prompts={**{f"paso_{n}": {"text": "x"} for n in range(1, 10)}}))
    assert refusal(data).startswith("missing prompts welcome, ")


def test_the_numbers_are_heard_everywhere():
    content = parse(shipped(), PATH)
    for place in ("menu", "pick", "step", "end", "resume"):
        assert content.listen[place].key("Cuatro.") == "4"
    # The place's own phrases come after the numbers', and none is lost.
    assert content.listen["resume"].by_key["1"] == ["uno", "primero", "seguir", "sí", "dale", "continuar"]


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: None, "no such file (IVR_CONTENT names the content file; unset, the line's own)"),
        (lambda p: p.mkdir(), "cannot read it (Is a directory)"),
        (lambda p: p.write_bytes(b"[prompts.welcome]\ntext = '\xff'\n"), "not UTF-8 text"),
    ],
)
def test_a_file_that_cannot_be_read_is_named(tmp_path, write, message):
    path = tmp_path / "content.toml"
    write(path)
    with pytest.raises(ContentError) as e:
        load(path)
    assert str(e.value) == f"{path}: {message}"


def test_a_file_that_is_not_toml_says_where(tmp_path):
    path = tmp_path / "content.toml"
    path.write_text("[prompts.welcome\n", encoding="utf-8")
    with pytest.raises(ContentError) as e:
        load(path)
    assert str(e.value).startswith(f"{path}: not valid TOML (") and "line 1" in str(e.value)
    assert str(e.value).endswith(")")
