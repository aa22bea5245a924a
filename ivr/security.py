"""Only Twilio gets in: every webhook must carry Twilio's signature for the URL it was sent to."""

import hmac
import logging
import re
from functools import lru_cache
from urllib.parse import quote

from flask import Response, current_app, g, request
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .logs import value
from .params import twilio_params
from .phone import has_valid_pass

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
SIGNATURE_ENVIRON = "HTTP_X_TWILIO_SIGNATURE"


class ConfigError(Exception):
    """A security setting cannot be used; the message names it."""


def validator(token: str) -> RequestValidator | None:
    """The signature checker for `token`; None means webhooks are not authenticated."""
    return RequestValidator(token) if token else None


_FLAGS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}


def _count(app, name: str, meaning: str) -> int:
    """A whole-number setting (0 or more), given as a number or as text."""
    value = app.config[name]
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"IVR_{name} must be {meaning} (0 or more), not {value!r}")
    return value


def _flag(app, name: str) -> bool:
    """An on/off setting: 1/0, true/false, yes/no or on/off; anything else is refused, since
    a misspelt 'off' must not leave a door open."""
    value = app.config[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _FLAGS:
        return _FLAGS[value.strip().lower()]
    raise ConfigError(f"IVR_{name} must be 1 or 0 (on or off), not {value!r}")


def init_app(app) -> None:
    """Check the security settings; trust forwarded headers from the configured proxies only;
    warn when webhooks are not checked, or when the web phone lets browsers call them."""
    app.config["WEB_PHONE"] = _flag(app, "WEB_PHONE")
    app.config["MAX_CONTENT_LENGTH"] = _count(app, "MAX_CONTENT_LENGTH", "a size in bytes")
    proxies = app.config["TRUSTED_PROXIES"] = _count(
        app, "TRUSTED_PROXIES", "the number of proxies in front of the app")
    if proxies:
        # Each proxy appends one value to X-Forwarded-*; values beyond the trusted count were
        # written by the client and could fake the host or scheme that Twilio signed.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies,
            x_prefix=proxies,
        )
    if not app.config["TWILIO_AUTH_TOKEN"]:
        log.warning(
            "webhooks are NOT authenticated: set TWILIO_AUTH_TOKEN (anyone can call this line's "
            "webhooks; fine for local use only)"
        )
    elif app.config["WEB_PHONE"]:
        log.warning(
            "the web phone is on (/phone): whoever can open that page can call this line's "
            "webhooks without Twilio's signature; set IVR_WEB_PHONE=0 where the public can "
            "reach the app (ivr serve does)"
        )


#: The few paths a line has, quoted once each rather than on every request.
_quote = lru_cache(maxsize=1024)(quote)


def signed_base(req=None, public_base=None) -> str:
    """The URL Twilio requested, without the query.

    Behind a proxy or tunnel the app sees another host or scheme than Twilio used, so the
    configured public base URL wins; else the request's own (ProxyFix-corrected) root.
    """
    req = req or request._get_current_object()
    if public_base is None:
        public_base = current_app.extensions["ivr"].public_base
    root = public_base or f"{req.scheme}://{req.host}{_quote(req.script_root)}"
    return root + _quote(req.path)


def signed_url(req=None, public_base=None) -> str:
    """The URL Twilio requested and signed: path and query exactly as they arrived."""
    req = req or request._get_current_object()
    base = signed_base(req, public_base)
    # Not request.full_path: it adds a '?' to a URL without a query, which Twilio did not sign.
    query = req.query_string.decode("utf-8", "replace")
    return f"{base}?{query}" if query else base


def verify(app=None, req=None, ctx=None):
    """A 403 response unless the request is signed by Twilio (when a token is set), else None.

    `app`, `req` and `ctx` are `current_app`, `request` and `g` if the caller has looked
    them up already: each look-up through Flask's proxies costs a microsecond or two, and
    this runs on every turn of every call. A request the check cannot make sense of is
    refused, never let through to the line.
    """
    try:
        return _verify(app, req, ctx)
    except Exception:
        log.exception("signature check failed")
        return refuse("a request the check could not read")


def _verify(app, req, ctx):
    app = app or current_app._get_current_object()
    line = app.extensions["ivr"]
    checker = line.validator
    if checker is None:
        return None
    req = req or request._get_current_object()
    if app.config["WEB_PHONE"]:
        # The browser phone cannot sign (it must never hold the token): the page it loaded
        # carries a short-lived pass instead, issued only while the web phone is on.
        if has_valid_pass(app, req):
            return None
    signature = req.environ.get(SIGNATURE_ENVIRON, "")  # req.headers, without its wrapper
    if not signature:
        return refuse(f"no {SIGNATURE_HEADER}")
    try:
        # Twilio signs a POST's form fields; a GET's parameters are already in the URL.
        params = twilio_params(req, ctx) if req.method == "POST" else {}
    except HTTPException:
        return refuse("a body that cannot be read (too large?), so it cannot be checked")
    url = signed_url(req, line.public_base)
    # One HMAC for the URL exactly as it arrived (what Twilio signs), compared in constant
    # time in C; validate() also tries the URL with and without its port, two more HMACs and
    # a Python compare loop, only worth it when that one fails.
    expected = checker.compute_signature(url, params).encode()
    if not (hmac.compare_digest(expected, signature.encode("utf-8", "replace"))
            or checker.validate(url, params, signature)):
        return refuse("a signature that does not match")
    return None


def refuse(reason: str) -> Response:
    """403, and a log line that helps find a proxy misconfiguration without leaking secrets."""
    g.outcome = "refused"
    try:
        checked = value(signed_base(), 200)
    except Exception:  # the request that failed the check may not even have a usable URL
        checked = "-"
    # Neither the token nor the signature, nor the query (a GET's carries phone numbers): the
    # URL checked and the sender are enough to spot a proxy that changes the host or scheme.
    log.warning(
        "refused %s %s from %s: %s", value(request.method), checked,
        value(request.remote_addr), reason,
    )
    return Response("Forbidden: not signed by Twilio\n", 403, mimetype="text/plain")
