"""The content file: every sentence a caller can hear, loaded and checked once."""

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from . import flow

#: Twilio refuses longer <Say> text; a prompt must be speakable by the fallback voice.
SAY_LIMIT = 4096

_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
_STEP = re.compile(r"paso_([1-9][0-9]*)")


class ContentError(Exception):
    """The content file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Prompt:
    """One thing the line says: its written text and the words the voice reads."""

    id: str
    text: str
    say: str


@dataclass(frozen=True)
class Content:
    """All prompts of the line, in file order, and how many guide steps they hold."""

    path: Path
    prompts: dict[str, Prompt]
    steps: int

    def __getitem__(self, prompt_id: str) -> Prompt:
        return self.prompts[prompt_id]


def load(path) -> Content:
    """Read and check the content file; raise ContentError naming any problem."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ContentError(f"{path}: no such file") from None
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

    extra = sorted(set(data) - {"prompts"})
    if extra:
        fail(f"unknown top-level key {extra[0]!r} (only [prompts.<id>] tables belong here)")
    table = data.get("prompts")
    if not isinstance(table, dict) or not table:
        fail("no prompts: expected tables like [prompts.welcome] with a text")

    prompts = {}
    for pid, entry in table.items():
        if not _ID.fullmatch(pid):
            fail(f"prompt id {pid!r} must be lowercase letters, digits and _ (it names audio files)")
        if not isinstance(entry, dict):
            fail(f"prompt {pid!r} must be a table with a text, like [prompts.{pid}]")
        unknown = sorted(set(entry) - {"text", "say"})
        if unknown:
            fail(f"prompt {pid!r} has an unknown key {unknown[0]!r} (use text and say)")
        text = entry.get("text")
        if not isinstance(text, str) or not text.strip():
            fail(f"prompt {pid!r} has no text")
        say = entry.get("say", text)
        if not isinstance(say, str) or not say.strip():
            fail(f"prompt {pid!r} has an empty say")
        # Line breaks in a multi-line TOML string are layout, not words.
        say = " ".join(say.split())
        if len(say) > SAY_LIMIT:
            fail(f"prompt {pid!r} is {len(say)} characters long; a voice prompt holds {SAY_LIMIT}")
        prompts[pid] = Prompt(pid, text.strip(), say)

    numbers = sorted(int(m[1]) for pid in prompts if (m := _STEP.fullmatch(pid)))
    if not numbers:
        fail("no guide steps: expected prompts paso_1, paso_2, ...")
    if numbers != list(range(1, len(numbers) + 1)):
        missing = min(set(range(1, numbers[-1] + 1)) - set(numbers))
        fail(f"steps must run paso_1, paso_2, ... without gaps; paso_{missing} is missing")
    if len(numbers) > flow.MAX_STEPS:
        fail(f"{len(numbers)} steps; a caller picks a step with one key, so at most {flow.MAX_STEPS}")

    missing = [pid for pid in flow.PROMPTS if pid not in prompts]
    if missing:
        fail(f"missing prompt{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    return Content(path, prompts, len(numbers))
