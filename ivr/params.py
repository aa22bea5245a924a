"""Twilio's webhook parameters: the form of a POST, the query of a GET, read once a request.

Twilio always posts a urlencoded body of known length; it is read here straight from
wsgi.input and parsed without werkzeug's general form machinery, which cost a third of a
step webhook (bench/hotspots.py). Anything else goes through werkzeug as usual.
"""

import io
from functools import lru_cache
from urllib.parse import unquote_plus

from flask import current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge


class TwilioParams(dict):
    """Webhook parameters, one value per name as Twilio sends them.

    RequestValidator asks for `getall` first; without it, it raises and catches an
    AttributeError per parameter, a third of the signature's cost.
    """

    def getall(self, name):
        return [self[name]]


def twilio_params(req=None, ctx=None):
    """Twilio's parameters: the form of a POST, the query of a GET; read once per request.

    `req` and `ctx` are `request` and `g` already looked up, if the caller has them.
    Raises HTTPException if the body cannot be read (too large).
    """
    ctx = ctx or g._get_current_object()
    values = ctx.get("twilio_params")
    if values is None:
        ctx.twilio_params = values = _read_params(req or request._get_current_object())
    return values


def _read_params(req) -> TwilioParams:
    if req.method != "POST":
        return TwilioParams(req.args.items())
    environ = req.environ
    length = environ.get("CONTENT_LENGTH")
    if not (length and length.isascii() and length.isdigit()) or not environ.get(
        "CONTENT_TYPE", ""
    ).startswith(
        "application/x-www-form-urlencoded"
    ):
        # Not Twilio's usual request: werkzeug's general parser.
        return TwilioParams(req.form.items())
    # What Twilio always sends (see the module docstring).
    length = int(length)
    limit = current_app.config["MAX_CONTENT_LENGTH"]  # request.max_content_length, cheaper
    if limit is not None and length > limit:
        raise RequestEntityTooLarge()
    body = environ["wsgi.input"].read(length)
    if len(body) < length:
        # Short: someone (a middleware, an extension) read the body first; werkzeug's form
        # kept what it parsed.
        return TwilioParams(req.form.items())
    environ["wsgi.input"] = io.BytesIO(body)  # so request.form still works after this
    # Reversed, so a repeated name keeps its first value, as werkzeug's form does.
    return TwilioParams(reversed(form_pairs(body.decode("utf-8", "replace"))))


def form_pairs(text: str):
    """parse_qsl(text, keep_blank_values=True), without the cost of unquoting what needs none.

    Most of Twilio's names and values have no '%' or '+', and the rest (the numbers) are the
    same on every turn of a call; parse_qsl unquotes them all, every time, which was half the
    cost of reading a webhook's parameters.
    """
    return [
        (_unquote(name) if "%" in name or "+" in name else name,
         _unquote(v) if "%" in v or "+" in v else v)
        for name, _, v in (part.partition("=") for part in text.split("&") if part)
    ]


def _unquote(text: str) -> str:
    # Only short strings are remembered, so a caller's huge values cannot fill the memory.
    return _unquote_short(text) if len(text) <= 64 else unquote_plus(text)


_unquote_short = lru_cache(maxsize=4096)(unquote_plus)


def params():
    """Twilio's parameters ({} if the body cannot be read): for log lines, which never fail."""
    try:
        return twilio_params()
    except Exception:
        return {}
