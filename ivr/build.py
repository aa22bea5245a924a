"""The audio builder: one telephone-ready WAV per prompt, named by its words.

Files are 8 kHz mono μ-law WAV, the phone network's own format, so Twilio plays them
inside <Gather> without transcoding. A file's name hashes the spoken text and the voice
settings: new words get a new URL and Twilio's media cache never plays old ones.
"""

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile
import soxr

from .audio import MANIFEST, read_manifest, text_hash
from .tts import SynthesisError

RATE = 8000
#: Peak level after resampling: loud enough for a phone line, with headroom for μ-law.
PEAK = 0.89
_OURS = re.compile(r"[a-z][a-z0-9_]*-[0-9a-f]{12}\.wav")


def file_name(prompt_id: str, say: str, engine: str, settings: dict) -> str:
    """The content-addressed file name of a prompt's audio."""
    key = json.dumps({"say": say, "engine": engine, "voice": settings}, sort_keys=True)
    return f"{prompt_id}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:12]}.wav"


def to_telephone(samples: np.ndarray, rate: int) -> np.ndarray:
    """Resample mono samples to 8 kHz (soxr) and level them for the phone line."""
    if rate != RATE:
        samples = soxr.resample(samples, rate, RATE)
    peak = float(np.max(np.abs(samples))) if samples.size else 0.0
    if peak > 0:
        samples = samples * (PEAK / peak)
    return samples.astype(np.float32)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write μ-law WAV atomically: a failure never leaves a partial file behind."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".wav")
    os.close(fd)
    try:
        soundfile.write(tmp, samples, RATE, subtype="ULAW", format="WAV")
        os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from a web server's user
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_manifest(directory: Path, manifest: dict) -> None:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(manifest, f, ensure_ascii=False, indent=2, sort_keys=True)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, directory / MANIFEST)


@dataclass
class Report:
    made: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)


def plan(content, directory, engine, force=False, manifest=None):
    """(prompt, file name) for each prompt whose audio must be made (`manifest`: the
    directory's, if the caller has read it)."""
    directory = Path(directory)
    entries = (read_manifest(directory) if manifest is None else manifest).get("prompts", {})
    todo = []
    for prompt in content.prompts.values():
        name = file_name(prompt.id, prompt.say, engine.name, engine.settings())
        current = entries.get(prompt.id, {}).get("file") == name and (directory / name).is_file()
        if force or not current:
            todo.append((prompt, name))
    return todo


def build(content, directory, engine, force=False, progress=None) -> Report:
    """Make the audio `content` needs in `directory`; keep what is current.

    A prompt that fails is reported and keeps its old entry (spoken with <Say> if its
    words changed); the manifest is written for all the others. EngineUnavailable
    (no network, no espeak-ng) stops the build, keeping what was made so far.

    Files no longer referenced are deleted one build later: the line that is running read
    the previous manifest at startup and keeps playing its files until it restarts.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for leftover in directory.glob(".tmp-*"):  # from a build that was killed
        leftover.unlink()
    manifest = read_manifest(directory)
    previous = {e.get("file") for e in manifest.get("prompts", {}).values()}
    entries = {pid: e for pid, e in manifest.get("prompts", {}).items() if pid in content.prompts}
    todo = plan(content, directory, engine, force, manifest)
    to_make = {prompt.id for prompt, _ in todo}
    report = Report(kept=[pid for pid in content.prompts if pid not in to_make])
    try:
        for prompt, name in todo:
            if progress:
                progress(prompt.id)
            try:
                samples = to_telephone(*engine.synthesize(prompt.say))
            except SynthesisError as e:
                report.failed[prompt.id] = str(e)
                continue
            write_wav(directory / name, samples)
            entries[prompt.id] = {
                "file": name,
                "text_sha256": text_hash(prompt.say),
                "text": prompt.say,
                "engine": engine.name,
                "voice": engine.settings(),
                "duration": round(len(samples) / RATE, 2),
            }
            report.made.append(prompt.id)
    finally:
        ordered = {pid: entries[pid] for pid in content.prompts if pid in entries}
        write_manifest(directory, {"format": "wav 8000 Hz mono mu-law", "prompts": ordered})
        referenced = {e["file"] for e in ordered.values()} | previous
        for path in directory.glob("*.wav"):
            if _OURS.fullmatch(path.name) and path.name not in referenced:
                path.unlink()
                report.removed.append(path.name)
    return report


def check(content, directory) -> list[tuple[str, str, str]]:
    """(prompt id, 'missing' or 'stale', engine) for each prompt without current audio."""
    from .audio import AudioStore

    store = AudioStore(directory, content)
    entries = store.manifest.get("prompts", {})
    problems = {pid: "missing" for pid in store.missing} | {pid: "stale" for pid in store.stale}
    return [
        (pid, problems[pid], entries.get(pid, {}).get("engine", "-"))
        for pid in content.prompts if pid in problems
    ]
