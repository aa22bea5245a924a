"""Twilio's voice webhooks: a thin layer from HTTP to the flow and back as TwiML.

Every answer here is TwiML, whatever arrives, except the 403 of a request Twilio did not
sign: for any other status, or a body that is not TwiML, Twilio plays its "application
error" voice to the caller.
"""

import logging
from functools import lru_cache
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, current_app, g, request
from twilio.twiml.voice_response import VoiceResponse
from werkzeug.exceptions import HTTPException

from . import logs, params, security
from .flow import STEP, Turn
from .flow import key as pressed

bp = Blueprint("voice", __name__, url_prefix="/voice")
bp.after_request(logs.finish)

log = logging.getLogger(__name__)


# The webhooks look `request`, `g` and `current_app` up once each and pass them on: every
# look-up through Flask's proxies costs a microsecond or two, and these run on every turn
# of every call (bench/hotspots.py).


@bp.before_request
def _check():
    """Start the log line's clock, then refuse what Twilio did not sign (timed too)."""
    ctx, req = g._get_current_object(), request._get_current_object()
    app = current_app._get_current_object()
    logs.start(ctx, req)
    ctx.line = app.extensions["ivr"]
    return security.verify(app, req, ctx)


def _hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


#: The last resort when even the apology cannot be rendered: built once at import, from no
#: content, so it cannot fail during a call.
HANGUP = _hangup()


def _line():
    return current_app.extensions["ivr"]


def _base() -> str:
    """What every URL in the TwiML starts with: the public base URL, or this app's root."""
    return _line().public_base or request.script_root


def _outcome(turn: Turn, note: str = "") -> str:
    """Where a turn leaves the call, for the log line: step:4, menu, pick, end or hangup,
    after the note (lost, error, fallback) if any."""
    if turn.state is None:
        where = "hangup"
    else:
        where = f"step:{turn.state.step}" if turn.state.at == STEP else turn.state.at
    return f"{note}:{where}" if note else where


def _reply(turn: Turn, note: str = "") -> Response:
    g.outcome = _outcome(turn, note)
    return Response(_line().twiml.render(turn, _base()), mimetype="text/xml")


@bp.route("", methods=("GET", "POST"))
def answer():
    """'A call comes in': welcome and main menu."""
    return _reply(_line().flow.start())


@bp.route("/turn", methods=("GET", "POST"))
def turn():
    """A key (or silence) at the point of the call carried in the URL."""
    req, ctx = request._get_current_object(), g._get_current_object()
    line = ctx.line
    # No Digits (a <Redirect> after the <Gather> timed out) means silence.
    key = pressed(params.twilio_params(req, ctx).get("Digits"))
    query = req.query_string
    # Only short queries are remembered, so odd URLs cannot fill a worker's memory.
    answer = _turn if len(query) <= 64 else _turn.__wrapped__
    document, ctx.outcome, ctx.state = answer(
        line.flow, line.twiml, query, key, line.public_base or req.script_root
    )
    return Response(document, mimetype="text/xml")


@lru_cache(maxsize=4096)
def _turn(flow, twiml, query: bytes, key: str | None, base: str) -> tuple[str, str, str]:
    """The answer to `key` at the state in the URL's raw query: (TwiML, outcome and state
    as the log line shows them).

    Pure, and a call has a few hundred (state, key) pairs: remembered, so a turn costs
    neither parsing nor rendering.
    """
    query = dict(parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True))
    state = flow.parse(query)
    if state is None:
        turn, note = flow.lost(), "lost"
    else:
        turn, note = flow.next(state, key), ""
    return twiml.render(turn, base), _outcome(turn, note), logs.state(query)


@bp.route("/fallback", methods=("GET", "POST"))
def fallback():
    """The number's Fallback URL: Twilio could not get TwiML from ErrorUrl (ErrorCode says why).

    The caller hears the apology and the menu; the failed URL's state counts the failure, so
    a line that keeps failing still ends the call.
    """
    values = params.params()
    error_url = values.get("ErrorUrl", "")
    try:
        parts = urlsplit(error_url)
        query = dict(parse_qsl(parts.query))
    except ValueError:
        parts, query = None, {}
    # The path only: a GET webhook's query holds the caller's number.
    log.warning(
        "fallback: call=%s error=%s url=%s", logs.call_sid(), logs.value(values.get("ErrorCode")),
        logs.value(parts.path if parts else error_url, 200),
    )
    return _reply(_line().flow.failed(query), "fallback")


@bp.route("/", defaults={"rest": ""}, methods=("GET", "POST"))
@bp.route("/<path:rest>", methods=("GET", "POST"))
def unknown(rest):
    """A /voice URL the line does not have (a stale link, a typo in the number's settings)."""
    return _reply(_line().flow.lost(), "lost")


@bp.errorhandler(Exception)
def apologise(e):
    """Whatever broke, the caller hears an apology and the menu, not Twilio's error voice."""
    try:
        route = (request.endpoint or "").rpartition(".")[2]
        if isinstance(e, HTTPException):  # e.g. a form too large to read: not a bug of ours
            log.warning("webhook answered with an apology: call=%s route=%s %s",
                        logs.call_sid(), route, e)
        else:
            log.exception("webhook failed: call=%s route=%s", logs.call_sid(), route)
        return _reply(_line().flow.failed(request.args), "error")
    except Exception:
        log.exception("cannot even apologise: the call hangs up")
        g.outcome = "error:hangup"
        return Response(HANGUP, mimetype="text/xml")
