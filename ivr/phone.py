"""The web phone: a page that calls the line from a browser, as Twilio would.

The page runs the app's real TwiML in JavaScript (static/phone.js). With signature
validation on, the browser never sees the auth token: the page carries a short-lived pass,
signed with a key derived from the token, that the voice webhooks accept in its place.
"""

import hashlib
import hmac
import io
import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    render_template,
    request,
    send_file,
)
from itsdangerous import BadSignature, TimestampSigner, URLSafeTimedSerializer

from . import security
from .audio import pcm_wav
from .line import current_line, line_of
from .media import MAX_AGE
from .player import settings as player_settings
from .twiml import AUDIO_PATH

bp = Blueprint("phone", __name__, url_prefix="/phone")

HEADER = "X-Web-Phone"
# A stolen pass soon stops working: the page asks for a new one before each call and while
# a call lasts (IVR_WEB_PHONE_PASS_SECONDS, IVR_WEB_PHONE_PASS_REFRESH_SECONDS).

log = logging.getLogger(__name__)


def pass_seconds(app) -> tuple[int, int]:
    """(how long a pass lives, how often the page renews it during a call), in seconds."""
    settings = line_of(app).settings
    return settings.web_phone_pass_seconds, settings.web_phone_pass_refresh_seconds


@bp.record_once
def _open_the_door(state):
    """While this blueprint is registered, its pass lets the page call the webhooks."""
    app = state.app
    security.allow(app, lambda req: has_valid_pass(app, req))
    if line_of(app).settings.twilio_auth_token:
        log.warning(
            "the web phone is on (/phone, IVR_WEB_PHONE=1): whoever can open that page can call "
            "this line's webhooks without Twilio's signature; turn it off where the public can "
            "reach the app"
        )


class _PassSigner(TimestampSigner):
    """Dates passes on the line's clock (IVR's CLOCK setting, which tests fix, as they fix it
    for the person's hours); itsdangerous documents get_timestamp as the hook for this."""

    def __init__(self, *args, clock=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock

    def get_timestamp(self) -> int:
        return int(self.clock().timestamp()) if self.clock else super().get_timestamp()


def _serializer(app) -> URLSafeTimedSerializer:
    # SECRET_KEY if one is configured, else a key derived from the auth token: every worker
    # on every machine agrees on it without another secret to set, and the token itself
    # never leaves the server.
    settings = line_of(app).settings
    secret = settings.secret_key or hmac.new(
        settings.twilio_auth_token.encode(), b"ivr web phone pass", hashlib.sha256
    ).hexdigest()
    return URLSafeTimedSerializer(secret, salt="web-phone", signer=_PassSigner,
                                  signer_kwargs={"clock": settings.clock})


def issue_pass(app) -> str:
    return _serializer(app).dumps("web-phone")


def has_valid_pass(app, req) -> bool:
    """True if the request carries a web phone pass this app issued, still fresh."""
    value = req.headers.get(HEADER)
    if not value:
        return False
    try:
        return _serializer(app).loads(value, max_age=pass_seconds(app)[0]) == "web-phone"
    except BadSignature:
        return False


@bp.post("/pass")
def new_pass():
    """A fresh pass for the page: before each call and while one lasts."""
    return {"pass": issue_pass(current_app)}


def _catalog(line) -> dict:
    """What the page shows for each <Say> text and <Play> file: the prompt's written words."""
    files = {
        name: {"prompt": pid, "text": line.content[pid].text}
        for name, pid in line.audio.files.items() if pid in line.content.prompts
    }
    says = {p.say: {"prompt": p.id, "text": p.text} for p in line.content.prompts.values()}
    return {"files": files, "says": says}


@bp.route("")
def page():
    """The web phone page."""
    line = current_line()
    config = {
        "voiceUrl": request.script_root + "/voice",
        # The TwiML's URLs start with the public base URL when one is set; the page fetches
        # them from wherever it was itself loaded (another origin would need CORS).
        "publicBase": line.public_base,
        "root": request.script_root,
        "audioPath": AUDIO_PATH,
        "browserAudioPath": request.script_root + "/phone/audio/",
        "pass": issue_pass(current_app) if line.settings.twilio_auth_token else "",
        "passUrl": request.script_root + "/phone/pass",
        # What a caller's text message would say: a trial call's 7 shows it, sends nothing.
        "sms": line.content.sms if line.texter else "",
        "passRefreshSeconds": pass_seconds(current_app)[1],
        "header": HEADER,
        "catalog": _catalog(line),
        # The keys, loop cap, default Confidence... the Python player uses: one definition.
        "settings": player_settings(),
    }
    return render_template("phone.html", config=config)


def _browser_wav(path: str) -> bytes:
    # Telephone μ-law WAV is not played by every browser; 16-bit PCM is. Made from the
    # same built file, so the browser hears exactly what the caller hears.
    return pcm_wav(path)[0]


@bp.route("/audio/<path:name>")
def audio(name):
    """A prompt's audio as 16-bit PCM WAV for browsers; only files the manifest lists."""
    store = current_line().audio
    if name not in store.files:
        abort(404)
    path = store.directory / name
    try:
        stat = path.stat()
    except FileNotFoundError:  # deleted since startup (an audio rebuild); the page shows text
        abort(404)
    response = send_file(
        io.BytesIO(_browser_wav(str(path))), mimetype="audio/wav",
        max_age=MAX_AGE, conditional=True, etag=f"pcm-{name}", last_modified=stat.st_mtime,
    )
    response.cache_control.immutable = True
    return response
