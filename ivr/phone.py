"""The web phone: a page that calls the line from a browser, as Twilio would.

The page runs the app's real TwiML in JavaScript (static/phone.js). With signature
validation on, the browser never sees the auth token: the page carries a short-lived pass,
signed with a key derived from the token, that the voice webhooks accept in its place.
"""

import hashlib
import hmac
import io
from functools import lru_cache

from flask import (
    Blueprint, abort, current_app, render_template, request, send_file,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer

from .audio import MAX_AGE, pcm_wav
from .player import settings as player_settings
from .twiml import AUDIO_PATH

bp = Blueprint("phone", __name__, url_prefix="/phone")

HEADER = "X-Web-Phone"
#: A pass outlives any call made with it; a stolen one soon stops working.
PASS_SECONDS = 4 * 3600


def _serializer(app) -> URLSafeTimedSerializer:
    # SECRET_KEY if one is configured, else a key derived from the auth token: every worker
    # on every machine agrees on it without another secret to set, and the token itself
    # never leaves the server.
    secret = app.config.get("SECRET_KEY") or hmac.new(
        app.config["TWILIO_AUTH_TOKEN"].encode(), b"ivr web phone pass", hashlib.sha256
    ).hexdigest()
    return URLSafeTimedSerializer(secret, salt="web-phone")


def issue_pass(app) -> str:
    return _serializer(app).dumps("web-phone")


def has_valid_pass(app, req) -> bool:
    """True if the request carries a web phone pass this app issued, still fresh."""
    value = req.headers.get(HEADER)
    if not value or not app.config.get("WEB_PHONE") or not app.config.get("TWILIO_AUTH_TOKEN"):
        return False
    try:
        return _serializer(app).loads(value, max_age=PASS_SECONDS) == "web-phone"
    except BadSignature:
        return False


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
    line = current_app.extensions["ivr"]
    config = {
        "voiceUrl": request.script_root + "/voice",
        # The TwiML's URLs start with the public base URL when one is set; the page fetches
        # them from wherever it was itself loaded (another origin would need CORS).
        "publicBase": line.public_base,
        "root": request.script_root,
        "audioPath": AUDIO_PATH,
        "browserAudioPath": request.script_root + "/phone/audio/",
        "pass": issue_pass(current_app) if current_app.config.get("TWILIO_AUTH_TOKEN") else "",
        "header": HEADER,
        "catalog": _catalog(line),
        # The keys, loop cap, default Confidence... the Python player uses: one definition.
        "settings": player_settings(),
    }
    return render_template("phone.html", config=config)


@lru_cache(maxsize=64)
def _browser_wav(path: str, mtime: float) -> bytes:
    # Telephone μ-law WAV is not played by every browser; 16-bit PCM is. Made from the
    # same built file, so the browser hears exactly what the caller hears.
    return pcm_wav(path)[0]


@bp.route("/audio/<path:name>")
def audio(name):
    """A prompt's audio as 16-bit PCM WAV for browsers; only files the manifest lists."""
    store = current_app.extensions["ivr"].audio
    if name not in store.files:
        abort(404)
    path = store.directory / name
    try:
        stat = path.stat()
    except FileNotFoundError:  # deleted since startup (an audio rebuild); the page shows text
        abort(404)
    response = send_file(
        io.BytesIO(_browser_wav(str(path), stat.st_mtime)), mimetype="audio/wav",
        max_age=MAX_AGE, conditional=True, etag=f"pcm-{name}", last_modified=stat.st_mtime,
    )
    response.cache_control.immutable = True
    return response
