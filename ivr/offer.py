"""The person part of the call flow (a mixin of `ivr.flow.Flow`): 9 puts the caller through
to a person; when nobody can be reached (no answer, busy, failed, not taken, closed), the
caller hears why and gets an offer instead of a dead end:

    1  leave a message   (RECORD: a <Record>; the line thanks them and offers the menu)
    2  be called back    (CALLBACK: the line reads back the number's last four digits; 1 confirms)
    0  the main menu     7  the text message, when on

The offer's state keeps the step the caller asked for a person from (0: the menu), so a
message or a call-back request says where the caller was.
"""

from collections.abc import Iterator

from .states import (
    CALLBACK,
    CALLBACK_ASK,
    CALLBACK_SAVE,
    MENU,
    OFFER,
    RECORD,
    STEP,
    UNHEARD,
    State,
    Turn,
)

#: Why nobody answers -> (what the caller hears, the turn's action for the report).
REASONS = {
    # How the <Dial> ended (ivr/person.py decides "declined": answered, the whisper not taken).
    "no_answer": ("agent_no_answer", "dial_no_answer"),
    "busy": ("agent_busy", "dial_busy"),
    "failed": ("agent_failed", "dial_failed"),
    "declined": ("agent_declined", "dial_declined"),
    # Closed before dialling (ivr/agent.py).
    "hours": ("agent_closed", "closed_hours"),
    "holiday": ("agent_holiday", "closed_holiday"),
    "closed_day": ("agent_closed_day", "closed_day"),
}
#: How a <Dial> can end (Flow.after_dial): the person took the call, or one of REASONS.
DIAL_OUTCOMES = ("accepted", "declined", "no_answer", "busy", "failed")
#: How a message went (Flow.recorded): kept; nothing (or too short) recorded; not saved.
RECORD_OUTCOMES = ("kept", "empty", "failed")
#: How a call-back request went (Flow.callback_kept) -> (prompt, action).
CALLBACK_OUTCOMES = {
    "saved": ("callback_saved", "callback"),
    "already": ("callback_already", "callback_again"),
    "failed": ("callback_failed", "callback_failed"),
}


class PersonFlow:
    """Flow's turns for a person (9) and the offer; Flow provides menu, offer, the limits."""

    def dial(self, state: State) -> Turn:
        """Put the caller through to a person; the call comes back (`after_dial`) when the
        <Dial> ends. The TwiML is a <Dial>, made with the caller's number."""
        return Turn(("agent_connecting",), state, "agent")

    def unreachable(self, state: State, why: str) -> Turn:
        """Nobody can be reached (`why`, one of REASONS): say why, then the offer."""
        prompt, action = REASONS[why]
        step = state.step if state.at in (STEP, OFFER, RECORD, CALLBACK) else 0
        return Turn((prompt, *self.offer), State(OFFER, step, slow=state.slow, texted=state.texted),
                    action)

    def after_dial(self, state: State, outcome: str) -> Turn:
        """Back from the person (DIAL_OUTCOMES): after a conversation the call ends;
        otherwise the caller hears why and gets the offer."""
        if outcome == "accepted":
            return Turn(("goodbye",), None, "dial_accepted")
        return self.unreachable(state, outcome)

    def callback_confirm(self, state: State, digits: str) -> Turn:
        """Read back the last four `digits` of the caller's own number; 1 confirms. Its
        TwiML holds those digits, so it is made per call (not in `turns`)."""
        return Turn(("callback_number", *(f"digit_{d}" for d in digits), "callback_keys"),
                    state._replace(at=CALLBACK, silences=0), CALLBACK_ASK)

    def callback_impossible(self, state: State) -> Turn:
        """A withheld or foreign-looking number: no call back, but the message stays offered."""
        return Turn(("callback_impossible", *self.offer), state._replace(at=OFFER, silences=0),
                    "callback_none")

    def callback_kept(self, state: State, outcome: str) -> Turn:
        """After keeping the request (CALLBACK_OUTCOMES): done, or already asked for, then the
        menu; failed: the offer again (a message still works without the number)."""
        prompt, action = CALLBACK_OUTCOMES[outcome]
        if outcome == "failed":
            return Turn((prompt, *self.offer), state._replace(at=OFFER, silences=0), action)
        return Turn((prompt, *self.menu), State(MENU, slow=state.slow, texted=state.texted), action)

    def recorded(self, state: State, outcome: str) -> Turn:
        """After the <Record> (RECORD_OUTCOMES): thanks and the menu; nothing heard counts as
        a silence and the offer comes back; a message the line could not keep is said so."""
        if outcome == "kept":
            return Turn(("record_thanks", *self.menu), State(MENU, slow=state.slow, texted=state.texted),
                        "message")
        if outcome == "failed":
            return Turn(("record_failed", *self.offer), state._replace(at=OFFER, silences=0),
                        "message_failed")
        silences = state.silences + 1
        if silences >= self.max_silences:
            return Turn(("bye_silence", "goodbye"), None, "silence")
        return Turn(("record_empty", *self.offer), state._replace(at=OFFER, silences=silences),
                    "message_empty")

    def _person_next(self, state: State, key: str) -> Turn:
        """A key at the offer or at the call-back read-back (silence is Flow's)."""
        if state.at == OFFER:
            if key == "1" and self.message:
                return Turn(("record_prompt",), state._replace(at=RECORD), "record")
            if key == "2" and self.callback:
                return Turn((), state, CALLBACK_ASK)
            if key == "0":
                return self._menu(state.slow, state.texted)
            return self._wrong(state, key)
        if state.at == CALLBACK:
            if key == "1":
                return Turn((), state, CALLBACK_SAVE)
            if key == UNHEARD:
                return self._wrong(state, key)
            # Anything else is a no: back to the offer. It counts as a wrong key, so a caller
            # who keeps asking and declining still reaches the usual limit.
            wrongs = state.wrongs + 1
            if wrongs >= self.max_wrongs:
                return Turn(("bye_wrong", "goodbye"), None, "wrong")
            return Turn(self.offer, state._replace(at=OFFER, silences=0, wrongs=wrongs), "callback_no")
        # RECORD: its document is a <Record>, whose answers come to /voice/recorded; a key
        # reported at it (a hand-made URL) is taken as nothing recorded.
        return self.recorded(state, "empty")

    def _person_turns(self, state: State) -> Iterator[Turn]:
        """The turns of the person part that follow a webhook's own work at `state`."""
        if state.at in (MENU, STEP):  # where 9 is heard
            for why in ("hours", "holiday", "closed_day"):
                yield self.unreachable(state, why)
            for outcome in DIAL_OUTCOMES:
                yield self.after_dial(state, outcome)
        elif state.at == OFFER:
            yield self.callback_impossible(state)
        elif state.at == CALLBACK:
            for outcome in CALLBACK_OUTCOMES:
                yield self.callback_kept(state, outcome)
        elif state.at == RECORD:
            for outcome in RECORD_OUTCOMES:
                yield self.recorded(state, outcome)
