"""Words for keys: what a caller's SpeechResult means at one place of the call.

Twilio sends what it heard capitalised and punctuated ("Siguiente.", "Eh, atrás por
favor."), with or without accents. Both it and the content file's phrases are normalized
(lowercase, no accents, no punctuation) and the phrases are looked for as whole words in
what was heard; where two found phrases overlap, the longer wins. What was heard means a
key when the phrases found all mean that one key; otherwise it was not understood.

It also holds the speech models and languages the line may ask Twilio for (MODELS), each
pair as Twilio and the provider it points to document it.
"""

import re
import unicodedata
from typing import NamedTuple

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def normalize(text: str) -> str:
    """Lowercase words without accents or punctuation, one space apart ("Atrás." -> "atras")."""
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _NOT_WORD.sub(" ", text).strip()


class Phrases:
    """The phrases heard at one place of the call, and the key each means."""

    def __init__(self, by_key: dict[str, list[str]]):
        self.by_key = {key: list(phrases) for key, phrases in by_key.items()}
        #: (words of the phrase, key), longest first, so a longer phrase is tried first.
        self._words = sorted(
            ((tuple(normalize(p).split()), key) for key, phrases in by_key.items() for p in phrases),
            key=lambda item: -len(item[0]),
        )

    def first_word(self, key: str) -> str | None:
        """The first phrase given for `key`, or None."""
        phrases = self.by_key.get(key)
        return phrases[0] if phrases else None

    def hints(self) -> list[str]:
        """Every phrase, for Twilio's `hints` (it recognises them better)."""
        return [p for phrases in self.by_key.values() for p in phrases]

    def key(self, heard: str) -> str | None:
        """The key `heard` means here, or None if it means no key, or several."""
        words = normalize(heard).split()
        taken = [False] * len(words)
        keys = set()
        for phrase, key in self._words:
            n = len(phrase)
            for start in range(len(words) - n + 1):
                if tuple(words[start:start + n]) == phrase and not any(taken[start:start + n]):
                    taken[start:start + n] = [True] * n
                    keys.add(key)
        # A digit said as a digit ("Paso 5.") means its key too.
        for i, word in enumerate(words):
            if not taken[i] and len(word) == 1 and word.isdigit() and word in self.by_key:
                keys.add(word)
        return keys.pop() if len(keys) == 1 else None


# -- how Twilio listens ----------------------------------------------------------------------

#: Twilio's <Gather> reference: the generic models and the languages each takes.
GATHER = "https://www.twilio.com/docs/voice/twiml/gather#generic-speech-to-text-models"
#: Where Twilio points for numbers_and_commands and deepgram_nova-2: Deepgram's nova-2 list.
NOVA_2 = "https://developers.deepgram.com/docs/models-languages-overview#nova-2"


class SpeechModel(NamedTuple):
    """A speechModel value, the Spanish languages documented for it, and where."""

    model: str
    languages: tuple[str, ...]
    source: str


#: The (speechModel, language) pairs the line may send on <Gather>: Spanish only, since the
#: line speaks Spanish. Any other pair stops the line at load (ivr.content), because Twilio
#: answers an undocumented one with warning 13331 or 13334 and the <Gather> hears nothing.
MODELS = (
    # Twilio: "Use any language supported by Deepgram's nova-2 model"; Deepgram lists
    # Spanish as es and es-419 (Latin America). es-CO is on neither list.
    SpeechModel("numbers_and_commands", ("es-419", "es"), f"{GATHER} -> {NOVA_2}"),
    # The same Deepgram model, chosen by name (Twilio does not fail over to another provider).
    SpeechModel("deepgram_nova-2", ("es-419", "es"),
                f"https://www.twilio.com/docs/voice/twiml/gather#specific-speech-to-text-models"
                f" -> {NOVA_2}"),
    # Twilio's own table lists Spanish for these as es-US and es-ES only.
    SpeechModel("phone_call", ("es-US", "es-ES"), GATHER),
    SpeechModel("experimental_utterances", ("es-US", "es-ES"), GATHER),
    SpeechModel("experimental_conversations", ("es-US", "es-ES"), GATHER),
)


def documented(model: str, language: str) -> SpeechModel | None:
    """The row of MODELS that documents `language` for `model`, or None."""
    return next((m for m in MODELS if m.model == model and language in m.languages), None)


def choices() -> str:
    """The documented pairs, for an error message: 'numbers_and_commands with es-419 or es, ...'."""
    return "; ".join(f"{m.model} with {' or '.join(m.languages)}" for m in MODELS)


#: Digits and words, apart: "abc123" is the word "abc" and the digits "123".
_TOKEN = re.compile(r"[^\W\d_]+|\d+")


class DigitMask:
    """Hides the numbers a caller speaks (a phone or account number) before what they said is
    stored or logged: any run of `least` or more digits, written ("3005551234", "300 555
    1234") or said as consecutive number words ("tres cero cero cinco"), becomes one '*' per
    digit. The number words are the content file's [listen.numbers]; words between tokens
    that are not letters or digits (spaces, commas, dashes) do not break a run.
    """

    def __init__(self, number_words=(), least: int = 4):
        phrases = {tuple(normalize(w).split()) for w in number_words}
        #: Longest first, so a phrase of several words wins over its first word.
        self._phrases = sorted((p for p in phrases if p), key=len, reverse=True)
        self.least = least

    def _digits_at(self, words: list[str], i: int) -> tuple[int, int]:
        """(digits, tokens) of the number at token i: (0, 0) when there is none."""
        if words[i].isdecimal():
            return len(words[i]), 1
        for phrase in self._phrases:
            if tuple(words[i:i + len(phrase)]) == phrase:
                return 1, len(phrase)
        return 0, 0

    def mask(self, text):
        """`text` with its long numbers hidden (None and '' as they are)."""
        if not text:
            return text
        tokens = list(_TOKEN.finditer(text))
        words = [normalize(t[0]) or t[0] for t in tokens]
        runs, i = [], 0
        while i < len(tokens):
            digits, taken = self._digits_at(words, i)
            if not taken:
                i += 1
                continue
            start, total = i, 0
            while taken:
                total += digits
                i += taken
                digits, taken = self._digits_at(words, i) if i < len(tokens) else (0, 0)
            if total >= self.least:
                runs.append((tokens[start].start(), tokens[i - 1].end(), total))
        for begin, end, total in reversed(runs):
            text = text[:begin] + "*" * total + text[end:]
        return text
