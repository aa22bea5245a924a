"""The call flow as a pure state machine: state + key -> what to say and where to go.

No Flask, no TwiML. A call's whole state is a `State`, small enough to travel in the
webhook URLs (`State.query` / `Flow.parse`), so any worker can answer any turn. The
machine is finite: `Flow.turns()` lists every turn it can give, so the TwiML of each can be
made once, when the line starts.
"""

import re
from typing import Iterator, Mapping, NamedTuple

#: Prompt ids the flow speaks, besides the steps (paso_1 ... paso_N).
PROMPTS = (
    "welcome", "intro", "menu", "pick", "pick_wrong", "step_keys", "first_step",
    "conclusion", "closing", "wrong_key", "still_there", "sorry",
    "bye_silence", "bye_wrong", "goodbye",
)
#: A step is chosen with one key.
MAX_STEPS = 9

MENU, PICK, STEP, END = "menu", "pick", "step", "end"
PLACES = (MENU, PICK, STEP, END)

#: Seconds Twilio waits for a key once the prompts end. A caller on a step is often at the
#: computer doing it, so steps (and the closing after the last one) wait longest.
TIMEOUTS = {MENU: 7, PICK: 7, STEP: 10, END: 10}

#: The keys of a phone's keypad: the only input a turn can be about.
KEYS = "0123456789*#"
#: What stands for anything else Twilio could send (several keys, garbage): a wrong key.
OTHER = "?"

_COUNT = re.compile(r"[0-9]")
_STEP_AT = re.compile(r"[1-9]")


def key(digits: str | None) -> str | None:
    """The key a webhook's Digits mean: None for silence, OTHER for anything not one key."""
    if not digits:
        return None
    return digits if len(digits) == 1 and digits in KEYS else OTHER


def step_prompt(n: int) -> str:
    """The prompt id of guide step n."""
    return f"paso_{n}"


# State and Turn are named tuples: made on every webhook, and tuples are the cheapest
# immutable, hashable records Python has.
class State(NamedTuple):
    """Where the caller is, how many silences / wrong keys in a row so far, and whether the
    caller asked for the slow voice."""

    at: str = MENU
    step: int = 0
    silences: int = 0
    wrongs: int = 0
    slow: bool = False

    def query(self) -> dict[str, str]:
        """The state as URL query parameters (zero counters and normal speed left out)."""
        q = {"at": str(self.step) if self.at == STEP else self.at}
        if self.silences:
            q["s"] = str(self.silences)
        if self.wrongs:
            q["w"] = str(self.wrongs)
        if self.slow:
            q["slow"] = "1"
        return q

    @property
    def where(self) -> str:
        """The place as logs and reports name it: menu, pick, step:4 or end."""
        return f"step:{self.step}" if self.at == STEP else self.at


class Turn(NamedTuple):
    """What the caller hears now, then where the call waits for a key.

    `state` None means the call ends after the prompts. `action` names what the caller's
    input did (repeat, next, wrong...), for logs and reports; `sound` is the rest, all that
    the TwiML depends on.
    """

    prompts: tuple[str, ...]
    state: State | None
    action: str = ""

    @property
    def sound(self) -> tuple:
        return self.prompts, self.state

    @property
    def timeout(self) -> int:
        return TIMEOUTS[self.state.at] if self.state else 0

    @property
    def slow(self) -> bool:
        """Prompts are spoken slowly: the caller asked for it and has not undone it."""
        return bool(self.state and self.state.slow)

    @property
    def where(self) -> str:
        return self.state.where if self.state else "hangup"


class Flow:
    """The line's call flow for a guide of `steps` steps."""

    def __init__(self, steps: int, max_silences: int = 3, max_wrongs: int = 3):
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be 1..{MAX_STEPS}")
        self.steps = steps
        self.max_silences = max_silences
        self.max_wrongs = max_wrongs

    def start(self) -> Turn:
        """A new call: welcome, then the main menu."""
        return Turn(("welcome", "intro", "menu"), State(MENU), "start")

    def lost(self) -> Turn:
        """Recover from a state we cannot trust: apologise and offer the menu."""
        return Turn(("sorry", "menu"), State(MENU), "lost")

    def failed(self, query: Mapping[str, str]) -> Turn:
        """Something broke on our side during the turn whose URL held `query`: apologise and
        offer the menu.

        The failure counts as a silence, so a line that keeps failing ends the call after a
        few turns (with the apology and goodbye) instead of apologising forever.
        """
        s = query.get("s", "0")
        silences = (int(s) if _COUNT.fullmatch(s) else 0) + 1
        if silences >= self.max_silences:
            return Turn(("sorry", "goodbye"), None, "error")
        return Turn(("sorry", "menu"), State(MENU, silences=silences), "error")

    def parse(self, query: Mapping[str, str]) -> State | None:
        """The state carried in a webhook URL, or None if it is not one we issue."""
        at = query.get("at", "")
        s, w, slow = query.get("s", "0"), query.get("w", "0"), query.get("slow", "0")
        if not (_COUNT.fullmatch(s) and _COUNT.fullmatch(w) and slow in ("0", "1")):
            return None
        silences, wrongs = int(s), int(w)
        if silences >= self.max_silences or wrongs >= self.max_wrongs:
            return None
        if at in (MENU, PICK, END):
            return State(at, 0, silences, wrongs, slow == "1")
        if _STEP_AT.fullmatch(at) and int(at) <= self.steps:
            return State(STEP, int(at), silences, wrongs, slow == "1")
        return None

    def next(self, state: State, key: str | None) -> Turn:
        """The turn after `key` (None: the caller pressed nothing) in `state`."""
        if not key:
            return self._silence(state)
        slow = state.slow
        if state.at == MENU:
            if key == "1":
                return self._step(1, slow, "step")
            if key == "2":
                return Turn(("pick",), State(PICK, slow=slow), "pick")
            if key == "0":
                return self._menu(slow)
        elif state.at == PICK:
            if _STEP_AT.fullmatch(key) and int(key) <= self.steps:
                return self._step(int(key), slow, "step")
            if key == "0":
                return self._menu(slow)
        elif state.at == STEP:
            n = state.step
            if key in ("1", "*"):
                return self._step(n, slow, "repeat")
            if key in ("2", "#"):
                if n < self.steps:
                    return self._step(n + 1, slow, "next")
                return Turn(("conclusion", "closing"), State(END, slow=slow), "conclusion")
            if key == "3":
                if n > 1:
                    return self._step(n - 1, slow, "back")
                return Turn(("first_step", "step_keys"), State(STEP, 1, slow=slow), "back")
            if key == "4":
                # The step again at the other speed; later steps keep it until 4 again.
                return self._step(n, not slow, "fast" if slow else "slow")
            if key == "0":
                return self._menu(slow)
        elif state.at == END:
            if key == "1":
                return self._step(1, slow, "step")
            if key == "0":
                return self._menu(slow)
        return self._wrong(state)

    def states(self) -> Iterator[State]:
        """Every state a call can be in."""
        places = [(MENU, 0), (PICK, 0), (END, 0)] + [(STEP, n) for n in range(1, self.steps + 1)]
        for at, step in places:
            for silences in range(self.max_silences):
                for wrongs in range(self.max_wrongs):
                    for slow in (False, True):
                        yield State(at, step, silences, wrongs, slow)

    def turns(self) -> Iterator[Turn]:
        """Every turn the flow can give (with repeats): what the line must be able to say."""
        yield self.start()
        yield self.lost()
        for s in range(self.max_silences):
            yield self.failed({"s": str(s)})
        for state in self.states():
            for k in (None, OTHER, *KEYS):
                yield self.next(state, k)

    def _menu(self, slow: bool) -> Turn:
        return Turn(("menu",), State(MENU, slow=slow), "menu")

    def _step(self, n: int, slow: bool, action: str) -> Turn:
        return Turn((step_prompt(n), "step_keys"), State(STEP, n, slow=slow), action)

    def _reminder(self, at: str) -> str:
        return {MENU: "menu", PICK: "pick", STEP: "step_keys", END: "closing"}[at]

    def _silence(self, state: State) -> Turn:
        # The closing already said goodbye's alternatives: silence there just ends politely.
        if state.at == END:
            return Turn(("goodbye",), None, "silence")
        silences = state.silences + 1
        if silences >= self.max_silences:
            return Turn(("bye_silence", "goodbye"), None, "silence")
        # Only the keys again, not the whole step: the caller may be busy doing it.
        return Turn(
            ("still_there", self._reminder(state.at)), state._replace(silences=silences), "silence"
        )

    def _wrong(self, state: State) -> Turn:
        wrongs = state.wrongs + 1
        if wrongs >= self.max_wrongs:
            return Turn(("bye_wrong", "goodbye"), None, "wrong")
        notice = "pick_wrong" if state.at == PICK else "wrong_key"
        # A key proves someone is there, so silences start over; wrong keys do not, so
        # alternating silence and wrong keys still ends the call.
        return Turn(
            (notice, self._reminder(state.at)), state._replace(silences=0, wrongs=wrongs), "wrong"
        )
