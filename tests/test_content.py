"""The content file: the seed's words survive, and a broken file is refused clearly."""

import re
import unicodedata
from pathlib import Path

import pytest

from conftest import TOKEN, twilio_request
from ivr import ROOT, create_app
from ivr.content import ContentError, load

SEED = (Path(__file__).parent / "data" / "seed.txt").read_text(encoding="utf-8")

#: The only readings the spoken text may change, each checked by a person once.
SPOKEN = {
    "www.alcanos.com.co": "triple doble ve punto alcanos punto com punto co",
    "PSE (Pagos Seguros en Línea)": "P S E Pagos Seguros en Línea",
    "PDF": "P D F",
    **{f"Paso {n}": f"Paso {w}" for n, w in enumerate(
        ["uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho"], start=1)},
}


def words(text):
    text = unicodedata.normalize("NFC", text).lower()
    return re.findall(r"[\wáéíóúñü]+", text)


def seed_sections():
    """The seed cut into intro, steps and conclusion, emoji lines' emoji removed."""
    lines = [re.sub(r"^[^\w¿¡\-]+", "", ln).strip() for ln in SEED.splitlines() if ln.strip()]
    sections, current = {"intro": [lines[0]], "heading": [lines[1]]}, None
    for line in lines[2:]:
        m = re.match(r"Paso (\d): ", line)
        if m:
            current = f"paso_{m[1]}"
        elif line == "Conclusión":
            current = "conclusion"
        sections.setdefault(current, []).append(line.lstrip("- ").strip())
    return sections


def spoken_reading(text):
    for written, spoken in SPOKEN.items():
        text = text.replace(written, spoken)
    return text


def test_every_seed_section_is_a_prompt():
    content = load(ROOT / "content.toml")
    sections = seed_sections()
    assert [s for s in sections if s.startswith("paso_")] == [f"paso_{n}" for n in range(1, 9)]
    assert content.steps == 8
    for pid in ["intro", "conclusion", *(f"paso_{n}" for n in range(1, 9))]:
        assert pid in content.prompts


@pytest.mark.parametrize("pid", ["intro", "conclusion", *(f"paso_{n}" for n in range(1, 9))])
def test_seed_wording_is_kept_written_and_spoken(pid):
    prompt = load(ROOT / "content.toml")[pid]
    for line in seed_sections()[pid]:
        assert line in prompt.text  # written text: the seed's own lines, emoji dropped
        expected = words(spoken_reading(line))
        assert " ".join(expected) in " ".join(words(prompt.say)), line


def test_nothing_spoken_keeps_emoji_quotes_or_a_raw_address():
    for prompt in load(ROOT / "content.toml").prompts.values():
        assert not re.search(r"[“”\"💳🔗]|www\.|\bPSE\b|\bPDF\b", prompt.say), prompt.id
        assert not re.search(r"\d", prompt.say), f"{prompt.id}: numbers are written out in say"


def write(tmp_path, text):
    path = tmp_path / "content.toml"
    path.write_text(text, encoding="utf-8")
    return path


def valid_toml(skip=()):
    real = (ROOT / "content.toml").read_text(encoding="utf-8")
    for pid in skip:
        real = re.sub(rf"\[prompts\.{pid}\]\n(?:(?!\[prompts).*\n)*", "", real)
    return real


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not = [toml", "not valid TOML"),
        ("", "no prompts"),
        ("[prompts.welcome]\nsay = 'x'\n", "prompt 'welcome' has no `text`"),
        ("[prompts.welcome]\ntext = '  '\n", "prompt 'welcome': `text` is empty"),
        ("[prompts.welcome]\ntext = 3\n", "prompt 'welcome': `text` must be a string, not int 3"),
        ("[prompts.welcome]\ntext = ['x']\n", "`text` must be a string, not list"),
        ("[prompts.welcome]\ntext = 'x'\nspeak = 'y'\n", "unknown key 'speak'"),
        ("[prompts.Welcome]\ntext = 'x'\n", "prompt id 'Welcome'"),
        ("[prompt.welcome]\ntext = 'x'\n", "unknown top-level key 'prompt'"),
        ("[prompts.paso_1]\ntext = 'x'\n[prompts.paso_3]\ntext = 'x'\n", "paso_2 is missing"),
        ("[prompts.welcome]\ntext = 'x'\n", "no guide steps"),
        ("[prompts.paso_1]\ntext = 'x'\n", "missing prompts welcome, intro"),
        ("[prompts.paso_1]\ntext = 'x'\nsay = 3\n", "prompt 'paso_1': `say` must be a string, not int 3"),
        ("[prompts.paso_1]\ntext = 'x'\ncounts_steps = 'yes'\n", "`counts_steps` must be true or false"),
    ],
)
def test_broken_content_is_refused_with_file_and_problem(tmp_path, text, problem):
    path = write(tmp_path, text)
    with pytest.raises(ContentError) as e:
        load(path)
    assert str(e.value).startswith(f"{path}: ")
    assert problem in str(e.value)


def test_missing_prompt_is_named(tmp_path):
    path = write(tmp_path, valid_toml(skip=["step_keys"]))
    with pytest.raises(ContentError, match=r"missing prompt step_keys$"):
        load(path)


def test_too_many_steps_is_refused(tmp_path):
    extra = "".join(f"[prompts.paso_{n}]\ntext = 'x'\n" for n in (9, 10))
    with pytest.raises(ContentError, match="at most 9"):
        load(write(tmp_path, valid_toml() + extra))


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ContentError, match="no such file"):
        load(tmp_path / "nope.toml")


def test_app_refuses_to_start_on_broken_content(tmp_path, no_audio):
    path = write(tmp_path, valid_toml(skip=["goodbye"]))
    with pytest.raises(ContentError, match="goodbye"):
        create_app({"TESTING": True, "CONTENT": str(path), "AUDIO_DIR": str(no_audio)})


def test_a_changed_word_is_what_the_caller_hears(tmp_path, no_audio):
    path = write(tmp_path, valid_toml().replace("¡Hasta pronto!", "¡Chau, chau!"))
    app = create_app({"TESTING": True, "CONTENT": str(path), "AUDIO_DIR": str(no_audio),
                      "TWILIO_AUTH_TOKEN": TOKEN})
    r = twilio_request(app.test_client(), "POST", "/voice/turn?at=end")
    assert "¡Chau, chau!" in r.get_data(as_text=True)


def real_content(tmp_path, change):
    """The shipped content file with `change` applied to its text, written to tmp_path."""
    text = (ROOT / "content.toml").read_text(encoding="utf-8")
    return write(tmp_path, change(text))


def refused(path) -> str:
    with pytest.raises(ContentError) as e:
        load(path)
    return str(e.value)


def without_step_8(text):
    """The content with its last step (and its resume and whisper prompts) removed."""
    for pid in ("paso_8", "resume_8", "whisper_8"):
        text = re.sub(rf"\[prompts\.{pid}\]\n(?:(?!\[).*\n)*", "", text)
    return text


def test_a_prompt_that_counts_the_steps_must_match_them(tmp_path):
    message = refused(real_content(tmp_path, without_step_8))
    assert "prompt 'pick' counts the steps" in message and "7" in message
    # Said right, for seven steps, it loads.
    fixed = real_content(tmp_path, lambda t: without_step_8(t).replace("del 1 al 8", "del 1 al 7")
                         .replace("del uno al ocho", "del uno al siete"))
    assert load(fixed).steps == 7
    # The written digits fixed but not the spoken words: still refused.
    half = real_content(tmp_path, lambda t: without_step_8(t).replace("del 1 al 8", "del 1 al 7"))
    assert "its `say` does not say 'siete'" in refused(half)


def test_an_unknown_prompt_id_is_refused(tmp_path):
    path = real_content(tmp_path, lambda t: t + "\n[prompts.wellcome]\ntext = 'Hola'\n")
    assert "unknown prompt id 'wellcome'" in refused(path)


def test_one_phrase_meaning_two_keys_in_one_place_is_refused(tmp_path):
    path = real_content(tmp_path, lambda t: t.replace(
        '"3" = ["anterior", "atrás", "volver"]', '"3" = ["anterior", "atrás", "volver", "Siguiente"]'))
    assert "[listen.step] 'Siguiente' means both 2 and 3" in refused(path)
    # A number word is heard everywhere: it may not mean another key in any place.
    clash = real_content(tmp_path, lambda t: t.replace('"2" = ["ir a un paso"', '"2" = ["uno", "ir a un paso"'))
    assert "[listen.menu] 'uno' means both 1 and 2" in refused(clash)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda t: t.replace('[listen.pick]', '[listen.pik]'), "[listen.pik]: no such place"),
        (lambda t: t.replace('"4" = ["más despacio"', '"x" = ["más despacio"'), "'x' is not a key"),
        (lambda t: t.replace("min_confidence = 0.4", "min_confidence = 4"),
         "`min_confidence` must be a number from 0 to 1"),
        (lambda t: t.replace('[sms]\ntext = """', '[sms]\ntext = """' + "ñ" * 150), "[sms] text takes 6 SMS (UCS-2"),
    ],
)
def test_listen_speech_and_sms_tables_are_checked(tmp_path, change, problem):
    assert problem in refused(real_content(tmp_path, change))


def test_the_shipped_text_message_fits_three_sms():
    from ivr.sms import segments

    text = load(ROOT / "content.toml").sms
    assert "www.alcanos.com.co" in text
    assert segments(text) == ("UCS-2", 3)
    assert len(text.splitlines()) == 1 + 8  # a title, then a line per step
