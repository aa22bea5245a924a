"""GET /audio/<file>: the prompts' recordings, for Twilio's <Play> and its media cache."""

from flask import Blueprint, abort, send_from_directory

from .line import current_line

bp = Blueprint("audio", __name__, url_prefix="/audio")

#: File names change with their words, so a file never changes: cache it for a year.
MAX_AGE = 365 * 24 * 3600


# merge_slashes off: '/audio//etc/passwd' is an unknown name (404), not a redirect elsewhere.
@bp.route("/<path:name>", merge_slashes=False)
def file(name):
    """Serve a prompt's audio; anything the manifest does not list is 404."""
    store = current_line().audio
    if name not in store.files:
        abort(404)
    # The name hashes the words and the voice, so it is the file's version: an ETag that is
    # the same on every worker and machine, whenever the file was written there.
    response = send_from_directory(
        store.directory, name, mimetype="audio/wav", max_age=MAX_AGE, conditional=True,
        etag=name.removesuffix(".wav"),
    )
    response.cache_control.immutable = True
    return response
