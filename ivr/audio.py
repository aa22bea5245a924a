"""The audio store: which prompts have current audio (the manifest, read once)."""

import hashlib
import io
import json
import logging
from pathlib import Path

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
#: The engine that builds audio without the internet: fine for trying the line, robotic for callers.
OFFLINE_ENGINE = "espeak"


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


#: The manifest's tables of entries by prompt id: the normal files, and the slow ones (the
#: line's slow mode). A manifest from before slow mode has no "slow" table.
TABLES = {False: "prompts", True: "slow"}


class AudioStore:
    """The prompts' audio files as the manifest in `directory` describes them.

    Read once: a prompt plays its file only if the file exists and was made from the
    words the content file has now; otherwise the line speaks it with <Say>. The same
    holds, separately, for each prompt's slow file.
    """

    def __init__(self, directory, content):
        self.directory = Path(directory)
        self.manifest = read_manifest(self.directory)
        on_disk = {p.name for p in self.directory.glob("*.wav")} if self.directory.is_dir() else set()
        #: Every file the manifest names and the disk has, normal and slow: the only files
        #: the route serves.
        self.files = {}
        by_pace = {}
        for slow, table in TABLES.items():
            entries = self.manifest.get(table, {})
            self.files.update(
                {e["file"]: pid for pid, e in entries.items() if e.get("file") in on_disk}
            )
            playable, missing, stale = _sort(entries, content, on_disk)
            engines = sorted({entries[pid].get("engine", "?") for pid in playable})
            by_pace[slow] = playable, missing, stale, engines
        self.playable, self.missing, self.stale, self.engines = by_pace[False]
        self.slow_playable, self.slow_missing, self.slow_stale, self.slow_engines = by_pace[True]

    def file_for(self, prompt_id: str, slow: bool = False) -> str | None:
        """The file to play for `prompt_id` (its slow one if `slow`), or None if it must be
        spoken with <Say>."""
        return (self.slow_playable if slow else self.playable).get(prompt_id)

    def problems(self) -> list[str]:
        """What is wrong with the audio folder as a whole, for the operator's log."""
        where = f"audio folder {self.directory} (IVR_AUDIO_DIR)"
        if not self.directory.is_dir():
            return [f"{where} does not exist: every prompt is spoken with <Say>"]
        if not self.manifest:
            return [f"{where} has no usable {MANIFEST}: every prompt is spoken with <Say>"
                    " (build it with `ivr audio build`)"]
        if self.engines == [OFFLINE_ENGINE]:
            return [f"{where}: the audio was made by the offline engine ({OFFLINE_ENGINE});"
                    " build Google's voice before going live: ivr audio build --force"]
        return []

    def summary(self) -> dict:
        """Counts for the startup log line and health checks; "slow" counts the slow files."""
        return {
            "prompts": len(self.playable) + len(self.missing) + len(self.stale),
            "playable": len(self.playable),
            "engines": list(self.engines),
            "missing": list(self.missing),
            "stale": list(self.stale),
            "slow": {
                "playable": len(self.slow_playable),
                "engines": list(self.slow_engines),
                "missing": list(self.slow_missing),
                "stale": list(self.slow_stale),
            },
        }


def _sort(entries: dict, content, on_disk: set) -> tuple[dict, list, list]:
    """({prompt id: file} playable, [missing ids], [stale ids]) for one manifest table."""
    playable, missing, stale = {}, [], []
    for pid, prompt in content.prompts.items():
        entry = entries.get(pid)
        if not entry or entry.get("file") not in on_disk:
            missing.append(pid)
        elif entry.get("text_sha256") != text_hash(prompt.say):
            stale.append(pid)
        else:
            playable[pid] = entry["file"]
    return playable, missing, stale


def _valid_table(table) -> bool:
    return isinstance(table, dict) and all(isinstance(e, dict) for e in table.values())


def read_manifest(directory: Path) -> dict:
    """The manifest as a dict; an absent or unreadable one counts as empty. An unreadable
    "slow" table is dropped on its own: the normal files still play."""
    path = Path(directory) / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        log.warning("audio manifest %s is unreadable (%s); every prompt uses <Say>", path, e)
        return {}
    if not isinstance(data, dict) or not _valid_table(data.get("prompts")):
        log.warning("audio manifest %s has no valid 'prompts' table; every prompt uses <Say>", path)
        return {}
    if "slow" in data and not _valid_table(data["slow"]):
        log.warning("audio manifest %s has no valid 'slow' table; slow prompts use <Say>", path)
        data = {k: v for k, v in data.items() if k != "slow"}
    return data
