"""The call flow as a pure state machine: state + key -> what to say and where to go.

No Flask, no TwiML. A call's whole state is a `State`, small enough to travel in the
webhook URLs (`State.query` / `Flow.parse`), so any worker can answer any turn. The
machine is finite: `Flow.turns()` lists every turn it can give, so the TwiML of each can be
made once, when the line starts.

The vocabulary (State, Turn, places, keys, prompt ids) is in `ivr.states`; the person part
(9, and the offer when nobody answers) in `ivr.offer`. This module re-exports both.
"""

from collections.abc import Iterator, Mapping

from .offer import DIAL_OUTCOMES, REASONS, PersonFlow
from .states import (
    _COUNT,
    _STEP_AT,
    AGENT,
    AGENT_KEY,
    CALLBACK,
    CALLBACK_ASK,
    CALLBACK_SAVE,
    END,
    KEYS,
    MAX_STEPS,
    MENU,
    OFFER,
    OTHER,
    PERSON_PLACES,
    PICK,
    PROMPTS,
    RECORD,
    RESUME,
    SMS,
    SMS_KEY,
    SMS_OUTCOMES,
    STEP,
    TIMEOUTS,
    UNHEARD,
    State,
    Turn,
    key,
    resume_prompt,
    step_prompt,
    whisper_prompt,
)

__all__ = [
    "AGENT", "AGENT_KEY", "CALLBACK", "CALLBACK_ASK", "CALLBACK_SAVE", "DIAL_OUTCOMES", "END",
    "KEYS", "MAX_STEPS", "MENU", "OFFER", "OTHER", "PERSON_PLACES", "PICK", "PROMPTS", "REASONS",
    "RECORD", "RESUME", "SMS", "SMS_KEY", "SMS_OUTCOMES", "STEP", "TIMEOUTS", "UNHEARD", "Flow",
    "State", "Turn", "key", "resume_prompt", "step_prompt", "whisper_prompt",
]


class Flow(PersonFlow):
    """The line's call flow for a guide of `steps` steps, with the extras switched on."""

    def __init__(self, steps: int, max_silences: int = 3, max_wrongs: int = 3,
                 sms: bool = False, agent: bool = False, message: bool = False,
                 callback: bool = False):
        if not 1 <= steps <= MAX_STEPS:
            raise ValueError(f"steps must be 1..{MAX_STEPS}")
        self.steps = steps
        self.max_silences = max_silences
        self.max_wrongs = max_wrongs
        self.sms = sms
        self.agent = agent
        #: When nobody answers 9: a message can be left (the call store keeps it), a call
        #: back asked for (its number sealed with IVR_SECRET_KEY).
        self.message = agent and message
        self.callback = agent and callback
        #: The main menu, and the keys reminded on a step, with the extras that are on.
        self.menu = ("menu",) + ("menu_sms",) * sms + ("menu_agent",) * agent
        self.step_keys = ("step_keys",) + ("keys_sms",) * sms + ("keys_agent",) * agent
        #: The offer when nobody answers: a message, a call back, the menu, the text.
        self.offer = (("offer_message",) * self.message + ("offer_callback",) * self.callback
                      + ("offer_menu",) + ("menu_sms",) * sms)

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
        if at in PERSON_PLACES and self.agent and (
                step == "" or _STEP_AT.fullmatch(step) and int(step) <= self.steps):
            return State(at, int(step or 0), *flags)
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
        if state.at in (MENU, STEP, OFFER) and key == SMS_KEY and self.sms:
            if texted:
                return self._stay(state, "sms_already", "sms_already")
            return Turn((), state, SMS)
        if state.at in (MENU, STEP) and key == AGENT_KEY and self.agent:
            return Turn((), state, AGENT)
        if state.at in PERSON_PLACES:
            return self._person_next(state, key)
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

    def states(self) -> Iterator[State]:
        """Every state a call can be in."""
        places = [(MENU, 0), (PICK, 0), (END, 0)] + [
            (at, n) for at in (STEP, RESUME) for n in range(1, self.steps + 1)]
        if self.agent:
            places += [(at, n) for at in PERSON_PLACES for n in range(self.steps + 1)]
        for at, step in places:
            for silences in range(self.max_silences):
                for wrongs in range(self.max_wrongs):
                    for slow in (False, True):
                        for texted in (False, True):
                            yield State(at, step, silences, wrongs, slow, texted)

    def turns(self) -> Iterator[Turn]:
        """Every turn the flow can give whose TwiML depends on nothing but the turn (with
        repeats): what the line must be able to say. <Dial> turns (they hold the caller's
        number) and the read-back of a call-back number (its digits) are left out."""
        yield self.start()
        for n in range(1, self.steps + 1):
            yield self.start(resume_at=n)
        yield self.lost()
        for s in range(self.max_silences):
            yield self.failed({"s": str(s)})
        for state in self.states():
            if state.at != RECORD:  # its document is a <Record>: no key comes back to it
                for k in (None, OTHER, UNHEARD, *KEYS):
                    turn = self.next(state, k)
                    if turn.action not in (SMS, AGENT, CALLBACK_ASK, CALLBACK_SAVE):
                        yield turn
            if state.at in (MENU, STEP, OFFER) and self.sms:  # where 7 is heard
                for outcome in SMS_OUTCOMES:
                    yield self.texted(state, outcome)
            if self.agent:
                yield from self._person_turns(state)

    def _menu(self, slow: bool, texted: bool) -> Turn:
        return Turn(self.menu, State(MENU, slow=slow, texted=texted), "menu")

    def _step(self, n: int, slow: bool, texted: bool, action: str) -> Turn:
        return Turn((step_prompt(n), *self.step_keys), State(STEP, n, slow=slow, texted=texted),
                    action)

    def _reminder(self, at: str) -> tuple[str, ...]:
        return {MENU: self.menu, PICK: ("pick",), STEP: self.step_keys, END: ("closing",),
                OFFER: self.offer, CALLBACK: ("callback_keys",)}[at]

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
