"""How a simulated call reaches the line: in-process (Flask's test client) or over HTTP."""

from urllib.parse import urlsplit

from .events import PlayerError, Reply


class FlaskTransport:
    """Requests go to the app in-process, through Flask's test client.

    The app answers for the origin (scheme, host, port) of the call's first URL only:
    a URL elsewhere would need a real server, so it is an error, not a silent detour.
    """

    def __init__(self, app):
        self.client = app.test_client()
        self.origin = None

    def request(self, method, url, params, headers):
        origin = urlsplit(url)[:2]
        if self.origin is None:
            self.origin = origin
        elif origin != self.origin:
            raise PlayerError(
                f"{url} is not on {'://'.join(self.origin)}, the app this call runs in-process;"
                " call a server with --url to follow it"
            )
        r = self.client.open(url, method=method, data=params or None, headers=headers)
        try:
            return Reply(r.status_code, r.content_type or "", r.get_data())
        finally:
            r.close()

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class HttpTransport:
    """Requests go over HTTP to a running server. Close it (or use `with`) when done."""

    def __init__(self, timeout=15):
        import requests

        self.session = requests.Session()
        #: Twilio gives up on a webhook after 15 s, too.
        self.timeout = timeout

    def request(self, method, url, params, headers):
        import requests

        try:
            r = self.session.request(
                method, url, data=params or None, headers=headers, timeout=self.timeout
            )
        except requests.Timeout:
            raise PlayerError(f"cannot reach {_host(url)}: no answer within {self.timeout} s") from None
        except requests.RequestException as e:
            raise PlayerError(f"cannot reach {_host(url)}: {_why(e)}") from None
        return Reply(r.status_code, r.headers.get("Content-Type", ""), r.content)

    def close(self):
        self.session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _host(url) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _why(e) -> str:
    """A requests failure in a few words (its own message is a nested repr)."""
    text = str(e)
    if "Connection refused" in text or "ConnectionRefused" in text:
        return "connection refused (is the server running, on that port?)"
    if "NameResolution" in text or "Name or service not known" in text or "getaddrinfo" in text:
        return "unknown host name"
    if "SSL" in text:
        return "TLS handshake failed"
    return type(e).__name__
