"""Only Twilio gets in: every webhook must carry Twilio's signature for the URL it was sent to."""

import logging
import re
from urllib.parse import quote

from flask import Response, current_app, g, request
from twilio.request_validator import RequestValidator, compare
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .logs import twilio_params, value

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"


class ConfigError(Exception):
    """A security setting cannot be used; the message names it."""


def validator(token: str) -> RequestValidator | None:
    """The signature checker for `token`; None means webhooks are not authenticated."""
    return RequestValidator(token) if token else None


def init_app(app) -> None:
    """Trust forwarded headers from the configured proxies only; warn when nothing is checked."""
    proxies = app.config["TRUSTED_PROXIES"]
    if isinstance(proxies, str) and re.fullmatch(r"[0-9]{1,3}", proxies.strip()):
        proxies = int(proxies)
    if isinstance(proxies, bool) or not isinstance(proxies, int) or proxies < 0:
        raise ConfigError(
            f"IVR_TRUSTED_PROXIES must be the number of proxies in front of the app (0 or more), "
            f"not {proxies!r}"
        )
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


def signed_base() -> str:
    """The URL Twilio requested, without the query.

    Behind a proxy or tunnel the app sees another host or scheme than Twilio used, so the
    configured public base URL wins; else the request's own (ProxyFix-corrected) root.
    """
    root = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    if not root:
        root = f"{request.scheme}://{request.host}{quote(request.script_root)}"
    return root + quote(request.path)


def signed_url() -> str:
    """The URL Twilio requested and signed: path and query exactly as they arrived."""
    # Not request.full_path: it adds a '?' to a URL without a query, which Twilio did not sign.
    query = request.query_string.decode("utf-8", "replace")
    return f"{signed_base()}?{query}" if query else signed_base()


def verify():
    """before_request: answer 403 unless the request is signed by Twilio (when a token is set)."""
    checker = current_app.extensions["ivr"].validator
    if checker is None:
        return None
    if current_app.config["WEB_PHONE"]:
        from .phone import has_valid_pass

        # The browser phone cannot sign (it must never hold the token): the page it loaded
        # carries a short-lived pass instead, issued only while the web phone is on.
        if has_valid_pass(current_app, request):
            return None
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not signature:
        return refuse(f"no {SIGNATURE_HEADER}")
    try:
        # Twilio signs a POST's form fields; a GET's parameters are already in the URL.
        params = twilio_params() if request.method == "POST" else {}
    except HTTPException:
        return refuse("a body that cannot be read (too large?), so it cannot be checked")
    url = signed_url()
    # One HMAC for the URL exactly as it arrived (what Twilio signs); validate() also tries
    # the URL with and without its port, two more, only worth it when that one fails.
    if not (compare(checker.compute_signature(url, params), signature)
            or checker.validate(url, params, signature)):
        return refuse("a signature that does not match")
    return None


def refuse(reason: str) -> Response:
    """403, and a log line that helps find a proxy misconfiguration without leaking secrets."""
    g.outcome = "refused"
    # Neither the token nor the signature, nor the query (a GET's carries phone numbers): the
    # URL checked and the sender are enough to spot a proxy that changes the host or scheme.
    log.warning(
        "refused %s %s from %s: %s", request.method, value(signed_base(), 200),
        value(request.remote_addr), reason,
    )
    return Response("Forbidden: not signed by Twilio\n", 403, mimetype="text/plain")
