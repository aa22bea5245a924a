"""The audio store: which prompts have current audio, and the route that serves it."""

import hashlib
import io
import json
import logging
from pathlib import Path

from flask import Blueprint, abort, current_app, send_from_directory

bp = Blueprint("audio", __name__, url_prefix="/audio")

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: File names change with their words, so a file never changes: cache it for a year.
MAX_AGE = 365 * 24 * 3600


def pcm_wav(source) -> tuple[bytes, float]:
    """Audio as 16-bit PCM WAV, and its length in seconds: the one μ-law decoder.

    The line's files are μ-law WAV, the phone network's format, which not every browser or
    local player (aplay) plays; 16-bit PCM they all do. `source` is a path or a file
    object; anything libsndfile cannot read raises soundfile.LibsndfileError. Imported
    here: numpy and libsndfile would double a webhook worker's memory.
    """
    import soundfile

    samples, rate = soundfile.read(source, dtype="int16")
    out = io.BytesIO()
    soundfile.write(out, samples, rate, subtype="PCM_16", format="WAV")
    return out.getvalue(), len(samples) / rate


def text_hash(say: str) -> str:
    """The hash recorded for the spoken words an audio file was made from."""
    return hashlib.sha256(say.encode("utf-8")).hexdigest()


class AudioStore:
    """The prompts' audio files as the manifest in `directory` describes them.

    Read once: a prompt plays its file only if the file exists and was made from the
    words the content file has now; otherwise the line speaks it with <Say>.
    """

    def __init__(self, directory, content):
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        entries = self.manifest.get("prompts", {})
        on_disk = {p.name for p in self.directory.glob("*.wav")} if self.directory.is_dir() else set()
        #: Every file the manifest names and the disk has: the only files the route serves.
        self.files = {
            e["file"]: pid for pid, e in entries.items() if e.get("file") in on_disk
        }
        self.playable, self.missing, self.stale = {}, [], []
        for pid, prompt in content.prompts.items():
            entry = entries.get(pid)
            if not entry or entry.get("file") not in on_disk:
                self.missing.append(pid)
            elif entry.get("text_sha256") != text_hash(prompt.say):
                self.stale.append(pid)
            else:
                self.playable[pid] = entry["file"]
        self.engines = sorted({entries[pid].get("engine", "?") for pid in self.playable})

    def file_for(self, prompt_id: str) -> str | None:
        """The file to play for `prompt_id`, or None if it must be spoken with <Say>."""
        return self.playable.get(prompt_id)

    def summary(self) -> dict:
        """Counts for the startup log line and health checks."""
        return {
            "prompts": len(self.playable) + len(self.missing) + len(self.stale),
            "playable": len(self.playable),
            "engines": self.engines,
            "missing": list(self.missing),
            "stale": list(self.stale),
        }


def read_manifest(directory: Path) -> dict:
    """The manifest as a dict; an absent or unreadable one counts as empty."""
    path = Path(directory) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("audio manifest %s is unreadable (%s); every prompt uses <Say>", path, e)
        return {}
    prompts = data.get("prompts") if isinstance(data, dict) else None
    if not isinstance(prompts, dict) or not all(isinstance(e, dict) for e in prompts.values()):
        log.warning("audio manifest %s has no valid 'prompts' table; every prompt uses <Say>", path)
        return {}
    return data


# merge_slashes off: '/audio//etc/passwd' is an unknown name (404), not a redirect elsewhere.
@bp.route("/<path:name>", merge_slashes=False)
def file(name):
    """Serve a prompt's audio; anything the manifest does not list is 404."""
    store = current_app.extensions["ivr"].audio
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
