"""Only Twilio gets in: every webhook must carry Twilio's signature for the URL it was sent to.

Other ways in (the web phone's pass) are registered by the blueprints that offer them with
`allow()`, so this module knows nothing of them and they exist only while those are on.
"""

import hmac
import logging
from urllib.parse import quote

from flask import Response, current_app, g, request
from flask.sessions import SessionInterface
from twilio.request_validator import RequestValidator
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .line import current_line
from .logs import value

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
#: Where create_app keeps the other ways in: functions of the request, True to let it in.
WAYS_IN = "ivr.ways_in"


def validator(token: str) -> RequestValidator | None:
    """The signature checker for `token`; None means webhooks are not authenticated."""
    return RequestValidator(token) if token else None


class NoSessions(SessionInterface):
    """The line keeps no cookie session: a call's state travels in Twilio's URLs, and the web
    phone's pass and /report's password are checked on each request. Flask's default session
    would otherwise, once SECRET_KEY is set (IVR_SECRET_KEY, for the call store), build a
    signing serializer on every request to open a session nobody reads."""

    def open_session(self, app, request):
        return None  # Flask then hands out its null session, which refuses to be written

    def save_session(self, app, session, response):
        pass


def init_app(app, settings) -> None:
    """Trust forwarded headers from the configured proxies only; read no body larger than
    the setting; warn when webhooks are not checked; open no cookie sessions (NoSessions)."""
    app.session_interface = NoSessions()
    # Flask reads it: Twilio's bodies are a few KB, and a body must be read before its
    # signature can be checked, so an unsigned sender could otherwise make a worker hold any amount.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    proxies = settings.trusted_proxies
    if proxies:
        # Each proxy appends one value to X-Forwarded-*; values beyond the trusted count were
        # written by the client and could fake the host or scheme that Twilio signed.
        app.wsgi_app = ProxyFix(
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies,
            x_prefix=proxies,
        )
    app.extensions[WAYS_IN] = []
    if not settings.twilio_auth_token:
        log.warning(
            "webhooks are NOT authenticated: set TWILIO_AUTH_TOKEN (anyone can call this line's "
            "webhooks; fine for local use only)"
        )


def allow(app, way_in) -> None:
    """Let requests for which `way_in(request)` is true reach the webhooks unsigned."""
    app.extensions[WAYS_IN].append(way_in)


def signed_url(line) -> str:
    """The URL Twilio requested and signed: path and query exactly as they arrived.

    Behind a proxy or tunnel the app sees another host or scheme than Twilio used, so the
    configured public base URL wins; else the request's own (ProxyFix-corrected) root.
    """
    url = line.base_url(request) + quote(request.path)
    # Not request.full_path: it adds a '?' to a URL without a query, which Twilio did not sign.
    query = request.query_string.decode("utf-8", "replace")
    return f"{url}?{query}" if query else url


def check() -> Response | None:
    """None if the request may reach the webhooks, else a 403 response.

    Records in `g.signed` whether Twilio signed it, and in `g.way_in` whether another way
    in (the web phone's pass) let it through: only Twilio's requests may cost money or reach
    a person. A request the check cannot read is refused.
    """
    g.signed = g.way_in = False
    app = current_app
    line = current_line()
    if line.validator is None:
        return None
    try:
        if any(way_in(request) for way_in in app.extensions[WAYS_IN]):
            g.way_in = True
            return None
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return refuse(f"no {SIGNATURE_HEADER}")
        # Twilio signs a POST's form fields; a GET's parameters are already in the URL.
        signed = request.form if request.method == "POST" else {}
        url = signed_url(line)
        # Twilio signs the URL as it requested it: one HMAC. validate() tries the URL with
        # and without its port too, two more, worth it only when that one does not match.
        expected = line.validator.compute_signature(url, signed)
        if not (hmac.compare_digest(expected, signature)
                or line.validator.validate(url, signed, signature)):
            return refuse("a signature that does not match")
    except HTTPException:
        return refuse("a body that cannot be read (too large?), so it cannot be checked")
    except Exception:
        log.exception("signature check failed")
        return refuse("a request the check could not read")
    g.signed = True
    return None


def refuse(reason: str) -> Response:
    """403, and a log line that helps find a proxy misconfiguration without leaking secrets."""
    g.outcome = "refused"
    try:
        checked = value(signed_url(current_line()).partition("?")[0], 200)
    except Exception:  # the request that failed the check may not even have a usable URL
        checked = "-"
    # Neither the token nor the signature, nor the query (a GET's carries phone numbers): the
    # URL checked and the sender are enough to spot a proxy that changes the host or scheme.
    log.warning(
        "refused %s %s from %s: %s", value(request.method), checked,
        value(request.remote_addr), reason,
    )
    return Response("Forbidden: not signed by Twilio\n", 403, mimetype="text/plain")
