"""Words for keys (ivr/speech.py): what a caller's SpeechResult means at one place."""

import pytest

from ivr.speech import Phrases, normalize


@pytest.mark.parametrize(
    ("heard", "words"),
    [("Atrás.", "atras"), ("¡MÁS  despacio!", "mas despacio"), ("Paso 5.", "paso 5"),
     ("  Eh, atrás por favor.  ", "eh atras por favor"), ("Año", "ano"), ("Menú", "menu"),
     ("¿Sí?", "si"), ("", ""), ("...", "")],
)
def test_what_twilio_heard_is_compared_as_plain_words(heard, words):
    assert normalize(heard) == words


@pytest.fixture
def step(content):
    """The phrases heard on a step, from the shipped content file."""
    return content.listen["step"]


@pytest.mark.parametrize(
    ("heard", "key"),
    [
        ("Siguiente.", "2"),
        ("siguiente", "2"),  # the whole utterance is the phrase
        ("Eh, siguiente por favor.", "2"),
        ("Por favor, siguiente", "2"),  # the phrase ends the utterance
        ("Siguiente, siguiente.", "2"),  # the same key twice is still that key
        ("Atrás.", "3"),
        ("volver", "3"),
        # The longer phrase wins where two overlap: "volver al menú" is 0, not 3 and 0.
        ("Volver al menú.", "0"),
        ("Más despacio, por favor.", "4"),
        ("despacio", "4"),
        ("Otra vez.", "1"),
        ("Cinco.", "5"),  # the numbers are heard everywhere
        ("Paso 5.", "5"),  # a digit said as a digit
        # Nothing, or two keys at once: not understood.
        ("siguiente o anterior", None),
        ("Siguiente paso 5", None),
        ("Seguirte.", None),  # phrases are whole words
        ("banana", None),
        ("", None),
        ("Paso 55.", None),
    ],
)
def test_words_mean_a_key_on_a_step(step, heard, key):
    assert step.key(heard) == key


def test_a_digit_inside_a_phrase_is_not_a_key_of_its_own():
    phrases = Phrases({"0": ["volver al 1"], "1": ["uno"]})
    assert phrases.key("Volver al 1.") == "0"
    assert phrases.key("1") == "1"
    # A digit whose key is not heard there means nothing.
    assert phrases.key("5") is None


def test_a_phrase_inside_a_longer_one_is_not_heard_twice():
    phrases = Phrases({"1": ["paso siguiente"], "2": ["siguiente"]})
    assert phrases.key("Paso siguiente.") == "1"
    assert phrases.key("Siguiente paso.") == "2"
    assert phrases.key("Siguiente, paso siguiente.") is None


def test_first_word_and_hints(step):
    assert step.first_word("2") == "dos"  # the numbers come first
    assert step.first_word("#") is None
    assert Phrases({"1": []}).first_word("1") is None
    hints = Phrases({"1": ["uno", "primero"], "2": ["dos"]}).hints()
    assert hints == ["uno", "primero", "dos"]
    assert set(step.hints()) >= {"siguiente", "volver al menú", "más despacio", "cinco"}


def test_phrases_keep_their_own_copy():
    given = {"1": ["uno"]}
    phrases = Phrases(given)
    given["1"].append("dos")
    assert phrases.by_key == {"1": ["uno"]}
    assert phrases.key("dos") is None


def test_a_caller_who_says_the_words_moves_like_one_who_presses_keys(call):
    c = call("1,say:Siguiente.,say:Volver al menú.,say:Un paso,say:Cinco,say:más despacio")
    assert [t[0] for t in c.turns()][1:] == [
        ("paso_1", "step_keys"), ("paso_2", "step_keys"), ("menu",), ("pick",),
        ("paso_5", "step_keys"), ("paso_5", "step_keys"),
    ]
    # The last phrase asked for the slow voice: Paso 5 again, from its slow file.
    last = [e for e in c.events if e.kind == "play"][-2]
    assert last.prompt == "paso_5" and "-slow-" in last.url
