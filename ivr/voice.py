"""Twilio's voice webhooks: a thin layer from HTTP to the flow and back as TwiML."""

from flask import Blueprint, Response, current_app, request

bp = Blueprint("voice", __name__, url_prefix="/voice")


def _line():
    return current_app.extensions["ivr"]


def _base() -> str:
    """What every URL in the TwiML starts with: the public base URL, or this app's root."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") or request.script_root


def _key() -> str | None:
    """The keys the caller pressed, or None for silence (a <Redirect> carries no Digits)."""
    values = request.form if request.method == "POST" else request.args
    return values.get("Digits") or None


def _twiml(document: str) -> Response:
    return Response(document, mimetype="text/xml")


@bp.route("", methods=("GET", "POST"))
def answer():
    """'A call comes in': welcome and main menu."""
    line = _line()
    return _twiml(line.twiml.render(line.flow.start(), _base()))


@bp.route("/turn", methods=("GET", "POST"))
def turn():
    """A key (or silence) at the point of the call carried in the URL."""
    line = _line()
    state = line.flow.parse(request.args)
    outcome = line.flow.lost() if state is None else line.flow.next(state, _key())
    return _twiml(line.twiml.render(outcome, _base()))
