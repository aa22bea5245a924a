"""The content file: every sentence a caller can hear, the words the line understands and
the text message it sends, loaded and checked once."""

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from . import flow, sms
from . import speech as speech_mod
from .speech import DigitMask, Phrases, normalize

#: Twilio refuses longer <Say> text; a prompt must be speakable by the fallback voice.
SAY_LIMIT = 4096
#: Twilio's hints: each phrase at most 100 characters.
PHRASE_LIMIT = 100

_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
_STEP = re.compile(r"(paso|resume|whisper)_([1-9][0-9]*)")
#: Places of the call where words are heard, and [listen.numbers].
PLACES = (flow.MENU, flow.PICK, flow.STEP, flow.END, flow.RESUME, flow.OFFER, flow.CALLBACK)
NUMBERS = "numbers"


class ContentError(Exception):
    """The content file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Prompt:
    """One thing the line says: its written text and the words the voice reads."""

    id: str
    text: str
    say: str


#: Twilio collects at most 60 s of speech at a <Gather>; a longer pause means nothing.
#: https://www.twilio.com/docs/voice/twiml/gather#input
MAX_SPEECH_TIMEOUT = 60


@dataclass(frozen=True)
class Speech:
    """How Twilio listens at a <Gather>: language, model, the seconds of pause that end the
    words (speechTimeout), and the least Confidence taken.

    numbers_and_commands is Twilio's model for short commands and numbers, which is all a
    caller says here; it runs on Deepgram nova-2, whose Latin American Spanish is es-419
    (speech.MODELS). The timeout is a whole number because Twilio does not take `auto`
    with a speechModel (warning 13335): 2 s, not 1, because a caller at the computer
    often pauses inside a phrase ("paso... cinco"), and words cut there are not understood
    (a wrong key, and three end the call); the second costs only a beat after a command.
    """

    language: str = "es-419"
    model: str = "numbers_and_commands"
    min_confidence: float = 0.4
    timeout: int = 2


@dataclass(frozen=True)
class Content:
    """All prompts of the line, in file order, how many guide steps they hold, the words
    understood at each place of the call, and the text message."""

    path: Path
    prompts: dict[str, Prompt]
    steps: int
    speech: Speech = field(default_factory=Speech)
    #: place -> the phrases heard there, and the keys they mean.
    listen: dict[str, Phrases] = field(default_factory=dict)
    sms: str = ""
    #: Hides the numbers callers speak, with the number words of [listen.numbers].
    digits: DigitMask = field(default_factory=DigitMask)

    def __getitem__(self, prompt_id: str) -> Prompt:
        return self.prompts[prompt_id]


def load(path) -> Content:
    """Read and check the content file; raise ContentError naming any problem."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ContentError(
            f"{path}: no such file (IVR_CONTENT names the content file; unset, the line's own)"
        ) from None
    except OSError as e:
        raise ContentError(f"{path}: cannot read it ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise ContentError(f"{path}: not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise ContentError(f"{path}: not UTF-8 text") from None
    return parse(data, path)


def parse(data: dict, path: Path) -> Content:
    """Check already-decoded content data (see load)."""

    def fail(problem):
        raise ContentError(f"{path}: {problem}")

    extra = sorted(set(data) - {"prompts", "speech", "listen", "sms"})
    if extra:
        fail(f"unknown top-level key {extra[0]!r} (the tables are prompts, speech, listen and sms)")
    table = data.get("prompts")
    if not isinstance(table, dict) or not table:
        fail("no prompts: expected tables like [prompts.welcome] with a text")

    prompts, counting = {}, []
    for pid, entry in table.items():
        if not _ID.fullmatch(pid):
            fail(f"prompt id {pid!r} must be lowercase letters, digits and _ (it names audio files)")
        if not isinstance(entry, dict):
            fail(f"prompt {pid!r} must be a table with a text, like [prompts.{pid}]")
        unknown = sorted(set(entry) - {"text", "say", "counts_steps"})
        if unknown:
            fail(f"prompt {pid!r} has an unknown key {unknown[0]!r} (use text, say and counts_steps)")
        text = _string(fail, pid, entry, "text")
        say = _string(fail, pid, entry, "say", default=text)
        # Line breaks in a multi-line TOML string are layout, not words.
        say = " ".join(say.split())
        if len(say) > SAY_LIMIT:
            fail(f"prompt {pid!r} is {len(say)} characters long; a voice prompt holds {SAY_LIMIT}")
        counts = entry.get("counts_steps", False)
        if not isinstance(counts, bool):
            fail(f"prompt {pid!r}: `counts_steps` must be true or false, not {counts!r}")
        if counts:
            counting.append(pid)
        prompts[pid] = Prompt(pid, text.strip(), say)

    numbers = sorted(int(m[2]) for pid in prompts if (m := _STEP.fullmatch(pid)) and m[1] == "paso")
    if not numbers:
        fail("no guide steps: expected prompts paso_1, paso_2, ...")
    if numbers != list(range(1, len(numbers) + 1)):
        missing = min(set(range(1, numbers[-1] + 1)) - set(numbers))
        fail(f"steps must run paso_1, paso_2, ... without gaps; paso_{missing} is missing")
    steps = len(numbers)
    if steps > flow.MAX_STEPS:
        fail(f"{steps} steps; a caller picks a step with one key, so at most {flow.MAX_STEPS}")

    needed = list(flow.PROMPTS) + [prompt(n) for n in range(1, steps + 1)
                                   for prompt in (flow.resume_prompt, flow.whisper_prompt)]
    missing = [pid for pid in needed if pid not in prompts]
    if missing:
        fail(f"missing prompt{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    for pid in prompts:
        if pid not in needed and not pid.startswith("paso_"):
            fail(f"unknown prompt id {pid!r}: the line never says it (a typo, or a step's "
                 f"resume_N or whisper_N without its paso_N?)")

    listen = _listen(fail, data.get("listen", {}))
    _check_step_count(fail, prompts, counting, steps, listen.get(NUMBERS))
    return Content(
        path, prompts, steps, _speech(fail, data.get("speech", {})),
        {place: phrases for place, phrases in listen.items() if place != NUMBERS},
        _sms(fail, data.get("sms")),
        DigitMask(listen[NUMBERS].hints()),
    )


def _string(fail, pid, entry, name, default=None) -> str:
    if name not in entry and default is not None:
        return default
    value = entry.get(name)
    if value is None:
        fail(f"prompt {pid!r} has no `{name}`")
    if not isinstance(value, str):
        fail(f"prompt {pid!r}: `{name}` must be a string, not {type(value).__name__} {value!r}")
    if not value.strip():
        fail(f"prompt {pid!r}: `{name}` is empty")
    return value


def _speech(fail, table) -> Speech:
    if not isinstance(table, dict):
        fail("[speech] must be a table (model, language, timeout, min_confidence)")
    unknown = sorted(set(table) - {"language", "model", "timeout", "min_confidence"})
    if unknown:
        fail(f"[speech] has an unknown key {unknown[0]!r} (use model, language, timeout and "
             f"min_confidence)")
    speech = Speech(**table)
    for name in ("language", "model"):
        if not isinstance(getattr(speech, name), str) or not getattr(speech, name):
            fail(f"[speech] `{name}` must be a string")
    timeout = speech.timeout
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= MAX_SPEECH_TIMEOUT:
        fail(f"[speech] `timeout` must be a whole number of seconds from 1 to "
             f"{MAX_SPEECH_TIMEOUT} (Twilio takes no `auto` with a model), not {timeout!r}")
    confidence = speech.min_confidence
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        fail(f"[speech] `min_confidence` must be a number from 0 to 1, not {confidence!r}")
    # No silent fallback: a pair Twilio does not document fails every spoken word.
    if not speech_mod.documented(speech.model, speech.language):
        fail(f"[speech] model {speech.model!r} with language {speech.language!r} is not a pair "
             f"Twilio documents; use {speech_mod.choices()}")
    return speech


def _listen(fail, table) -> dict[str, Phrases]:
    """[listen.<place>] tables: key -> phrases, checked so no phrase means two keys in one
    place (the numbers are heard everywhere, so they count in every place)."""
    if not isinstance(table, dict):
        fail("[listen] must hold tables like [listen.step]")
    unknown = sorted(set(table) - set(PLACES) - {NUMBERS})
    if unknown:
        fail(f"[listen.{unknown[0]}]: no such place (use {', '.join(PLACES)} or {NUMBERS})")
    raw = {}
    for place, keys in table.items():
        if not isinstance(keys, dict):
            fail(f"[listen.{place}] must map keys to lists of phrases, like \"1\" = [\"repetir\"]")
        raw[place] = {}
        for key, phrases in keys.items():
            if key not in flow.KEYS or len(key) != 1:
                fail(f"[listen.{place}] {key!r} is not a key of the keypad (0-9, * or #)")
            if (not isinstance(phrases, list) or not phrases
                    or not all(isinstance(p, str) and normalize(p) for p in phrases)):
                fail(f"[listen.{place}] \"{key}\" must be a list of phrases, like [\"repetir\"]")
            for phrase in phrases:
                if len(phrase) > PHRASE_LIMIT:
                    fail(f"[listen.{place}] {phrase[:20]!r}...: a phrase holds {PHRASE_LIMIT} characters")
            raw[place][key] = phrases
    numbers = raw.get(NUMBERS, {})
    listen = {NUMBERS: Phrases(numbers)}
    for place in PLACES:
        heard = _merge(numbers, raw.get(place, {}))
        meanings = {}
        for key, phrases in heard.items():
            for phrase in phrases:
                if meanings.setdefault(normalize(phrase), key) != key:
                    fail(f"[listen.{place}] {phrase!r} means both {meanings[normalize(phrase)]} and {key}")
        listen[place] = Phrases(heard)
    return listen


def _merge(numbers: dict, place: dict) -> dict:
    """The numbers' phrases and the place's own, by key."""
    merged = {key: list(phrases) for key, phrases in numbers.items()}
    for key, phrases in place.items():
        merged.setdefault(key, []).extend(phrases)
    return merged


def _check_step_count(fail, prompts, counting, steps, numbers) -> None:
    """A prompt that says how many steps there are must say this many, in its text (the
    digit) and in its spoken words (the number's first word in [listen.numbers])."""
    for pid in counting:
        prompt = prompts[pid]
        digits = set(re.findall(r"\d+", prompt.text))
        if str(steps) not in digits or any(int(d) > steps for d in digits):
            fail(f"prompt {pid!r} counts the steps, but its text does not say {steps} (the number "
                 f"of steps) as its highest number: {prompt.text!r}")
        word = numbers.first_word(str(steps)) if numbers else None
        if word is None:
            fail(f"prompt {pid!r} counts the steps: [listen.numbers] needs the word for {steps}")
        spoken = normalize(prompt.say).split()
        higher = [numbers.first_word(str(n)) for n in range(steps + 1, 10)]
        if normalize(word) not in spoken or any(w and normalize(w) in spoken for w in higher):
            fail(f"prompt {pid!r} counts the steps, but its `say` does not say {word!r} "
                 f"({steps}, the number of steps) as its highest number")


def _sms(fail, table) -> str:
    if table is None:
        return ""
    if not isinstance(table, dict) or set(table) != {"text"} or not isinstance(table["text"], str):
        fail("[sms] must hold one `text` string: the message a caller gets with 7")
    text = table["text"].strip()
    parts = sms.segments(text)
    if parts.count > sms.MAX_SEGMENTS:
        fail(f"[sms] text takes {parts.count} SMS ({parts.encoding}, {len(text)} characters); "
             f"at most {sms.MAX_SEGMENTS}")
    return text
