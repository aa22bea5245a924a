"""The call flow as a pure state machine: state + key -> what to say and where to go.

No Flask, no TwiML. A call's whole state is a `State`, small enough to travel in the
webhook URLs (`State.query` / `Flow.parse`), so any worker can answer any turn. The
machine is finite: `Flow.turns()` lists every turn it can give, so the TwiML of each can be
made once, when the line starts.
"""

import re
from collections.abc import Iterator, Mapping
from typing import NamedTuple

#: Prompt ids the flow speaks, besides the steps (paso_N) and resume_N.
PROMPTS = (
    "welcome", "intro", "menu", "speech_hint", "menu_sms", "menu_agent", "pick", "pick_wrong",
    "step_keys", "keys_sms", "keys_agent", "first_step", "conclusion", "closing", "wrong_key",
    "not_understood", "still_there", "sorry", "bye_silence", "bye_wrong", "goodbye",
    "sms_sent", "sms_already", "sms_limit", "sms_not_mobile", "sms_failed",
    "agent_connecting", "agent_no_answer", "agent_closed",
)
#: A step is chosen with one key.
MAX_STEPS = 9

MENU, PICK, STEP, END, RESUME = "menu", "pick", "step", "end", "resume"

#: Seconds Twilio waits for a key once the prompts end. A caller on a step is often at the
#: computer doing it, so steps (and the closing after the last one) wait longest.
TIMEOUTS = {MENU: 7, PICK: 7, STEP: 10, END: 10, RESUME: 7}

#: Keys of the extras an operator can switch on: a text message, a person.
SMS_KEY, AGENT_KEY = "7", "9"
#: What the webhook must do before the flow can go on (Turn.action): send the text
#: message, or put the caller through to a person.
SMS, AGENT = "sms", "agent"
#: How sending the text went (Flow.texted): the prompt the caller hears for each.
SMS_OUTCOMES = {"sent": "sms_sent", "limit": "sms_limit", "not_mobile": "sms_not_mobile",
                "failed": "sms_failed"}

#: The keys of a phone's keypad, in its order (the players lay their keypads out from it):
#: the only input a turn can be about.
KEYS = "123456789*0#"
#: What stands for anything else Twilio could send (several keys, garbage): a wrong key.
OTHER = "?"
#: Words the line did not understand there (or heard with too little confidence).
UNHEARD = "~"

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


def resume_prompt(n: int) -> str:
    """The prompt id that tells a returning caller they had reached step n."""
    return f"resume_{n}"


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
    #: The text message was sent during this call (once per call).
    texted: bool = False

    def query(self) -> dict[str, str]:
        """The state as URL query parameters (zero counters and flags off left out)."""
        if self.at == STEP:
            q = {"at": str(self.step)}
        elif self.at == RESUME:
            q = {"at": RESUME, "step": str(self.step)}
        else:
            q = {"at": self.at}
        if self.silences:
            q["s"] = str(self.silences)
        if self.wrongs:
            q["w"] = str(self.wrongs)
        if self.slow:
            q["slow"] = "1"
        if self.texted:
            q["t"] = "1"
        return q

    @property
    def where(self) -> str:
        """The place as logs and reports name it: menu, pick, step:4, end or resume:4."""
        if self.at in (STEP, RESUME):
            return f"{self.at}:{self.step}" if self.at == RESUME else f"step:{self.step}"
        return self.at


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
    """The line's call flow for a guide of `steps` steps, with the extras switched on."""

    def __init__(self, steps: int, max_silences: int = 3, max_wrongs: int = 3,
                 sms: bool = False, agent: bool = False):
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be 1..{MAX_STEPS}")
        self.steps = steps
        self.max_silences = max_silences
        self.max_wrongs = max_wrongs
        self.sms = sms
        self.agent = agent
        #: The main menu, and the keys reminded on a step, with the extras that are on.
        self.menu = ("menu",) + ("menu_sms",) * sms + ("menu_agent",) * agent
        self.step_keys = ("step_keys",) + ("keys_sms",) * sms + ("keys_agent",) * agent

    def start(self, resume_at: int | None = None) -> Turn:
        """A new call: welcome, then the main menu; or, for a caller who hung up on step
        `resume_at` last time, the offer to go on from there."""
        if resume_at and 1 <= resume_at <= self.steps:
            return Turn(("welcome", "intro", resume_prompt(resume_at)),
                        State(RESUME, resume_at), "resume")
        return Turn(("welcome", "intro", *self.menu, "speech_hint"), State(MENU), "start")

    def lost(self) -> Turn:
        """Recover from a state we cannot trust: apologise and offer the menu."""
        return Turn(("sorry", *self.menu), State(MENU), "lost")

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
        return Turn(("sorry", *self.menu), State(MENU, silences=silences), "error")

    def parse(self, query: Mapping[str, str]) -> State | None:
        """The state carried in a webhook URL, or None if it is not one we issue."""
        at = query.get("at", "")
        s, w = query.get("s", "0"), query.get("w", "0")
        slow, texted = query.get("slow", "0"), query.get("t", "0")
        if not (_COUNT.fullmatch(s) and _COUNT.fullmatch(w)
                and slow in ("0", "1") and texted in ("0", "1")):
            return None
        silences, wrongs = int(s), int(w)
        if silences >= self.max_silences or wrongs >= self.max_wrongs:
            return None
        flags = (silences, wrongs, slow == "1", texted == "1")
        if at in (MENU, PICK, END):
            return State(at, 0, *flags)
        if _STEP_AT.fullmatch(at) and int(at) <= self.steps:
            return State(STEP, int(at), *flags)
        step = query.get("step", "")
        if at == RESUME and _STEP_AT.fullmatch(step) and int(step) <= self.steps:
            return State(RESUME, int(step), *flags)
        return None

    def next(self, state: State, key: str | None) -> Turn:
        """The turn after `key` (None: the caller pressed nothing; UNHEARD: words not
        understood) in `state`."""
        if not key:
            return self._silence(state)
        slow, texted = state.slow, state.texted
        if state.at == RESUME:
            # Only 1 takes the offer; anything else, silence included, is the usual menu.
            if key == "1":
                return self._step(state.step, slow, texted, "resume")
            return self._menu(slow, texted)
        if state.at in (MENU, STEP):
            if key == SMS_KEY and self.sms:
                if texted:
                    return self._stay(state, "sms_already", "sms_already")
                return Turn((), state, SMS)
            if key == AGENT_KEY and self.agent:
                return Turn((), state, AGENT)
        if state.at == MENU:
            if key == "1":
                return self._step(1, slow, texted, "step")
            if key == "2":
                return Turn(("pick",), State(PICK, slow=slow, texted=texted), "pick")
            if key == "0":
                return self._menu(slow, texted)
        elif state.at == PICK:
            if _STEP_AT.fullmatch(key) and int(key) <= self.steps:
                return self._step(int(key), slow, texted, "step")
            if key == "0":
                return self._menu(slow, texted)
        elif state.at == STEP:
            n = state.step
            if key in ("1", "*"):
                return self._step(n, slow, texted, "repeat")
            if key in ("2", "#"):
                if n < self.steps:
                    return self._step(n + 1, slow, texted, "next")
                return Turn(("conclusion", "closing"), State(END, slow=slow, texted=texted),
                            "conclusion")
            if key == "3":
                if n > 1:
                    return self._step(n - 1, slow, texted, "back")
                return Turn(("first_step", *self.step_keys),
                            State(STEP, 1, slow=slow, texted=texted), "back")
            if key == "4":
                # The step again at the other speed; later steps keep it until 4 again.
                return self._step(n, not slow, texted, "fast" if slow else "slow")
            if key == "0":
                return self._menu(slow, texted)
        elif state.at == END:
            if key == "1":
                return self._step(1, slow, texted, "step")
            if key == "0":
                return self._menu(slow, texted)
        return self._wrong(state, key)

    def texted(self, state: State, outcome: str) -> Turn:
        """After trying to send the text message (SMS_OUTCOMES), the call goes on where it
        was; once sent, 7 says so instead of sending it again."""
        return self._stay(state._replace(texted=state.texted or outcome == "sent"),
                          SMS_OUTCOMES[outcome], "sms_sent" if outcome == "sent" else "sms_failed")

    def agent_closed(self, state: State) -> Turn:
        """Nobody answers at this hour: say when to call, offer the text message."""
        return self._stay(state, "agent_closed", "agent_closed")

    def dial(self, state: State) -> Turn:
        """Put the caller through to a person; the call comes back (`after_dial`) if nobody
        answers. The TwiML is a <Dial>, made with the caller's number."""
        return Turn(("agent_connecting",), state, "agent")

    def after_dial(self, state: State, answered: bool) -> Turn:
        """Back from the person: after a conversation the call ends; if nobody answered,
        the caller hears so and gets the main menu."""
        if answered:
            return Turn(("goodbye",), None, "dialed")
        return Turn(("agent_no_answer", *self.menu),
                    State(MENU, slow=state.slow, texted=state.texted), "dialed")

    def states(self) -> Iterator[State]:
        """Every state a call can be in."""
        places = [(MENU, 0), (PICK, 0), (END, 0)] + [
            (at, n) for at in (STEP, RESUME) for n in range(1, self.steps + 1)]
        for at, step in places:
            for silences in range(self.max_silences):
                for wrongs in range(self.max_wrongs):
                    for slow in (False, True):
                        for texted in (False, True):
                            yield State(at, step, silences, wrongs, slow, texted)

    def turns(self) -> Iterator[Turn]:
        """Every turn the flow can give whose TwiML depends on nothing but the turn (with
        repeats): what the line must be able to say. <Dial> turns are left out."""
        yield self.start()
        for n in range(1, self.steps + 1):
            yield self.start(resume_at=n)
        yield self.lost()
        for s in range(self.max_silences):
            yield self.failed({"s": str(s)})
        for state in self.states():
            for k in (None, OTHER, UNHEARD, *KEYS):
                turn = self.next(state, k)
                if turn.action not in (SMS, AGENT):
                    yield turn
            if state.at in (MENU, STEP):  # where 7 and 9 are heard
                if self.sms:
                    for outcome in SMS_OUTCOMES:
                        yield self.texted(state, outcome)
                if self.agent:
                    yield self.agent_closed(state)
                    yield self.after_dial(state, answered=True)
                    yield self.after_dial(state, answered=False)

    def _menu(self, slow: bool, texted: bool) -> Turn:
        return Turn(self.menu, State(MENU, slow=slow, texted=texted), "menu")

    def _step(self, n: int, slow: bool, texted: bool, action: str) -> Turn:
        return Turn((step_prompt(n), *self.step_keys), State(STEP, n, slow=slow, texted=texted),
                    action)

    def _reminder(self, at: str) -> tuple[str, ...]:
        return {MENU: self.menu, PICK: ("pick",), STEP: self.step_keys, END: ("closing",)}[at]

    def _stay(self, state: State, notice: str, action: str) -> Turn:
        """A notice, then the keys of the same place again: the caller has not moved."""
        return Turn((notice, *self._reminder(state.at)), state._replace(silences=0), action)

    def _silence(self, state: State) -> Turn:
        # The closing already said goodbye's alternatives: silence there just ends politely.
        if state.at == END:
            return Turn(("goodbye",), None, "silence")
        if state.at == RESUME:
            return self._menu(state.slow, state.texted)
        silences = state.silences + 1
        if silences >= self.max_silences:
            return Turn(("bye_silence", "goodbye"), None, "silence")
        # Only the keys again, not the whole step: the caller may be busy doing it.
        return Turn(
            ("still_there", *self._reminder(state.at)), state._replace(silences=silences), "silence"
        )

    def _wrong(self, state: State, key: str) -> Turn:
        wrongs = state.wrongs + 1
        if wrongs >= self.max_wrongs:
            return Turn(("bye_wrong", "goodbye"), None, "wrong")
        notice = "not_understood" if key == UNHEARD else "pick_wrong" if state.at == PICK else "wrong_key"
        # A key proves someone is there, so silences start over; wrong keys do not, so
        # alternating silence and wrong keys still ends the call.
        return Turn(
            (notice, *self._reminder(state.at)), state._replace(silences=0, wrongs=wrongs), "wrong"
        )
