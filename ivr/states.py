"""The call flow's vocabulary: the places of a call, its `State` and its `Turn`, the keys and
the prompt ids. `ivr.flow` (the guide) and `ivr.offer` (a person, and what to do when nobody
answers) build on it; `ivr.flow` re-exports every name.
"""

import re
from typing import NamedTuple

#: Prompt ids the flow speaks, besides the steps (paso_N), resume_N and whisper_N.
PROMPTS = (
    "welcome", "intro", "menu", "speech_hint", "menu_sms", "menu_agent", "pick", "pick_wrong",
    "step_keys", "keys_sms", "keys_agent", "first_step", "conclusion", "closing", "wrong_key",
    "not_understood", "still_there", "sorry", "bye_silence", "bye_wrong", "goodbye",
    "sms_sent", "sms_already", "sms_limit", "sms_not_mobile", "sms_failed",
    "agent_connecting",
    # Why nobody answers: the <Dial> ended so, or the person is closed.
    "agent_no_answer", "agent_busy", "agent_failed", "agent_declined",
    "agent_closed", "agent_holiday", "agent_closed_day",
    # The offer then: a message, a call back, the menu (and the text, when on).
    "offer_message", "offer_callback", "offer_menu",
    "record_prompt", "record_thanks", "record_empty", "record_failed",
    "callback_number", "callback_keys", "callback_impossible", "callback_saved",
    "callback_already", "callback_failed",
    # The person's whisper (a screened transfer): who calls, from where, and the key.
    "whisper", "whisper_menu", "whisper_take",
    # The digits a call-back number is read back with.
    *(f"digit_{d}" for d in range(10)),
)
#: A step is chosen with one key.
MAX_STEPS = 9

MENU, PICK, STEP, END, RESUME = "menu", "pick", "step", "end", "resume"
#: Nobody answered (or nobody is there): the offer; the message being recorded; the
#: call-back number being confirmed.
OFFER, RECORD, CALLBACK = "offer", "record", "callback"
#: Places that carry the step the caller was on when they asked for a person (0: the menu).
PERSON_PLACES = (OFFER, RECORD, CALLBACK)

#: Seconds Twilio waits for a key once the prompts end. A caller on a step is often at the
#: computer doing it, so steps (and the closing after the last one) wait longest. RECORD's is
#: the silence that ends a message.
TIMEOUTS = {MENU: 7, PICK: 7, STEP: 10, END: 10, RESUME: 7, OFFER: 7, CALLBACK: 7, RECORD: 8}

#: Keys of the extras an operator can switch on: a text message, a person.
SMS_KEY, AGENT_KEY = "7", "9"
#: What the webhook must do before the flow can go on (Turn.action): send the text
#: message, put the caller through to a person, read back the caller's number for a call
#: back, or keep the call-back request.
SMS, AGENT, CALLBACK_ASK, CALLBACK_SAVE = "sms", "agent", "callback_ask", "callback_save"
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


def whisper_prompt(n: int) -> str:
    """The prompt id that tells the person a caller was on step n."""
    return f"whisper_{n}"


# State and Turn are named tuples: made on every webhook, and tuples are the cheapest
# immutable, hashable records Python has.
class State(NamedTuple):
    """Where the caller is, how many silences / wrong keys in a row so far, and whether the
    caller asked for the slow voice."""

    at: str = MENU
    #: The step (STEP, RESUME), or the step the caller asked for a person from (OFFER,
    #: RECORD, CALLBACK; 0: the menu).
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
        elif self.at == RESUME or (self.at in PERSON_PLACES and self.step):
            q = {"at": self.at, "step": str(self.step)}
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
        """The place as logs and reports name it: menu, pick, step:4, end, resume:4, offer:4
        (offer: from the menu)."""
        if self.at == STEP:
            return f"step:{self.step}"
        if self.at == RESUME or (self.at in PERSON_PLACES and self.step):
            return f"{self.at}:{self.step}"
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
