"""The person (key 9) and what the caller gets when nobody answers: the webhooks of the
screened transfer, of a message, and the work behind a call-back request.

    /voice/whisper     the person's leg (<Number url>): the whisper, 1 takes the call
    /voice/whispered   the whisper's answer, noted for /voice/dialed (ivr.screening)
    /voice/dialed      the <Dial action>: after a conversation, goodbye; else why, and the offer
    /voice/recorded    the <Record action> (and the <Redirect> after an empty recording)
    /voice/recording   Twilio's recording status callback: completed or absent

Every one is checked like every webhook (`replies.guard`: Twilio's signature).
"""

import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, Response, g, request
from twilio.twiml.voice_response import VoiceResponse

from . import logs
from .flow import MENU, RECORD, STEP, State, Turn
from .line import Line, current_line
from .replies import HANGUP, caller_number, guard, reply
from .store import StoreError
from .store.inbox import Message

bp = Blueprint("person", __name__, url_prefix="/voice")
guard(bp)

log = logging.getLogger(__name__)

#: A recording shorter than this (seconds) is not kept as a message: a breath, a click.
MIN_MESSAGE_SECONDS = 2
#: The whisper's answer when the person takes the call: nothing more on their leg, so
#: Twilio bridges the two (https://www.twilio.com/docs/voice/twiml/number#attributes-url).
BRIDGE = str(VoiceResponse())


def _seconds(value) -> int:
    value = (value or "").strip()
    return int(value) if value.isdigit() and len(value) < 9 else 0


# -- the screened transfer ------------------------------------------------------------------

@bp.route("/whisper", methods=("GET", "POST"))
def whisper() -> Response:
    """The person answered: the line's name and where the caller was, then 1 takes the call.
    The request is the person's leg: its From is the caller id (the caller's number), which
    the whisper never says."""
    line = current_line()
    state = line.flow.parse(request.args.to_dict())
    step = None if state is None else state.step if state.at == STEP else 0 if state.at == MENU else None
    g.outcome = "whisper"
    return Response(line.twiml.whisper(step, line.base_url(request)), mimetype="text/xml")


@bp.route("/whispered", methods=("GET", "POST"))
def whispered() -> Response:
    """The person's key: 1 takes the call (bridged), anything else lets it go (hung up)."""
    line, values = current_line(), request.values
    taken = values.get("Digits") == "1"
    assert line.screenings is not None  # the whisper is served only with a person on
    line.screenings.note(values.get("ParentCallSid", ""), values.get("CallSid", ""), taken)
    g.outcome = "whisper:taken" if taken else "whisper:declined"
    return Response(BRIDGE if taken else HANGUP, mimetype="text/xml")


def dial_outcome(line: Line, values: Mapping[str, str]) -> str:
    """How the <Dial> ended, as flow.DIAL_OUTCOMES names it.

    DialCallStatus is the person's leg: `completed` (`answered` for a conference) when they
    answered, whether or not they then took the call; so the whisper's answer decides
    (ivr.screening says why, with Twilio's page). Busy and failed are themselves; no-answer,
    canceled and anything else are no answer.
    """
    status = values.get("DialCallStatus", "")
    if status in ("completed", "answered"):
        assert line.screenings is not None  # a <Dial> is sent only with a person on
        taken = line.screenings.accepted(values.get("CallSid", ""), values.get("DialCallSid") or None)
        return "accepted" if taken else "declined"
    return status if status in ("busy", "failed") else "no_answer"


@bp.route("/dialed", methods=("GET", "POST"))
def dialed() -> Response:
    """Back from <Dial>: the call ends after a conversation; otherwise why, and the offer."""
    line, values = current_line(), request.values
    state = line.flow.parse(request.args.to_dict())
    if state is None:
        return reply(line, values, line.flow.lost(), "lost")
    return reply(line, values, line.flow.after_dial(state, dial_outcome(line, values)), before=state)


# -- a message --------------------------------------------------------------------------------

def _record_state(line: Line) -> State | None:
    state = line.flow.parse(request.args.to_dict())
    return state if state is not None and state.at == RECORD else None


@bp.route("/recorded", methods=("GET", "POST"))
def recorded() -> Response:
    """The message is over: kept (thanks, and the menu), nothing heard (the offer again), or
    not kept (said so)."""
    line, values = current_line(), request.values
    state = _record_state(line)
    if state is None:
        return reply(line, values, line.flow.lost(), "lost")
    sid, seconds = values.get("RecordingSid", ""), _seconds(values.get("RecordingDuration"))
    if not sid or seconds < MIN_MESSAGE_SECONDS:
        outcome = "empty"  # the status callback deletes a short recording
    elif g.way_in:
        # A trial call (the web phone): it hears what a caller would; nothing is kept.
        log.info("message not kept: call=%s is a trial call, not signed by Twilio", logs.call_sid())
        outcome = "kept"
    else:
        outcome = "kept" if keep(line, values, state, sid, seconds) else "failed"
    return reply(line, values, line.flow.recorded(state, outcome), before=state)


def keep(line: Line, values, state: State, sid: str, seconds: int) -> bool:
    """Keep the message in the call store; False when it cannot."""
    if line.store is None:
        return False
    try:
        line.store.keep_message(Message(
            call_sid=(values.get("CallSid") or "")[:64], caller_key=line.store.key(values.get("From")),
            step=state.step or None, at=datetime.now(UTC), duration_seconds=seconds,
            recording_sid=sid[:64], recording_url=values.get("RecordingUrl", "")[:500]))
    except StoreError as e:
        log.warning("message not kept: call=%s %s", logs.call_sid(), e)
        return False
    return True


@bp.route("/recording", methods=("GET", "POST"))
def recording() -> Response:
    """Twilio's recording status callback (it reads no TwiML here): a completed recording
    long enough is kept (if the <Record action> has not kept it already); a short one is
    deleted from Twilio, an absent one (silence) was never stored."""
    line, values = current_line(), request.values
    status, sid = values.get("RecordingStatus", ""), values.get("RecordingSid", "")
    seconds = _seconds(values.get("RecordingDuration"))
    g.outcome = "recording:" + logs.value(status)
    state = _record_state(line)
    if not sid or state is None or g.way_in or line.store is None:
        return Response("", 204)
    if status == "completed" and seconds >= MIN_MESSAGE_SECONDS:
        keep(line, values, state, sid, seconds)
    elif status in ("completed", "absent"):
        try:
            line.store.drop_message(sid)
        except StoreError as e:
            log.warning("recording %s: %s", logs.value(sid), e)
        if status == "completed":
            discard(line, sid)
    return Response("", 204)


def discard(line: Line, sid: str) -> None:
    """Delete a recording too short to be a message from Twilio (it holds a caller's voice)."""
    if line.recordings is None:
        log.warning("recording %s is too short to keep, and without TWILIO_ACCOUNT_SID it stays "
                    "on Twilio", logs.value(sid))
        return
    try:
        line.recordings.delete(sid)
    except Exception as e:  # never fail a webhook for it; retention does not know it, say so
        log.warning("recording %s is too short to keep and could not be deleted from Twilio: %s",
                    logs.value(sid), logs.value(str(e), 120))


# -- a call back --------------------------------------------------------------------------------

def read_back(line: Line, values, state: State) -> Turn:
    """2 at the offer: read back the last four digits of the caller's own number, or say
    that this number cannot be called back (withheld, not E.164)."""
    number = caller_number(values)
    if number is None:
        return line.flow.callback_impossible(state)
    return line.flow.callback_confirm(state, number[-4:])


def keep_callback(line: Line, values, state: State) -> Turn:
    """1 at the read-back: keep the request (the number sealed), once per number."""
    number = caller_number(values)
    if number is None:
        return line.flow.callback_impossible(state)
    if g.way_in:
        log.info("call back not kept: call=%s is a trial call, not signed by Twilio", logs.call_sid())
        return line.flow.callback_kept(state, "saved")
    if line.store is None:
        return line.flow.callback_kept(state, "failed")
    try:
        new = line.store.request_callback(number, (values.get("CallSid") or "")[:64],
                                          state.step or None, datetime.now(UTC))
    except StoreError as e:
        log.warning("call back not kept: call=%s %s", logs.call_sid(), e)
        return line.flow.callback_kept(state, "failed")
    return line.flow.callback_kept(state, "saved" if new else "already")
