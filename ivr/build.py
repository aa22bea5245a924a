"""The audio builder: one telephone-ready WAV per prompt, named by its words.

Files are 8 kHz mono μ-law WAV, the phone network's own format, so Twilio plays them
inside <Gather> without transcoding. A file's name hashes the spoken text, the voice
settings and the pace: new words get a new URL and Twilio's media cache never plays old ones.

Every prompt gets two files: the normal one (manifest table "prompts") and a slow one
(table "slow", name `<prompt>-slow-<hash>.wav`) for the line's slow mode.
"""

import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import soundfile
import soxr

from .audio import MANIFEST, TABLES, AudioStore, read_manifest, text_hash
from .tts import SynthesisError

RATE = 8000
#: Peak level after resampling: loud enough for a phone line, with headroom for μ-law.
PEAK = 0.89
_OURS = re.compile(r"[a-z][a-z0-9_]*(-slow)?-[0-9a-f]{12}\.wav")


def file_name(prompt_id: str, say: str, engine: str, settings: dict, slow: bool = False) -> str:
    """The content-addressed file name of a prompt's audio (its slow version if `slow`)."""
    # The normal key is the one files had before slow mode, so their names did not change.
    key = {"say": say, "engine": engine, "voice": settings} | ({"slow": True} if slow else {})
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:12]
    return f"{prompt_id}{'-slow' if slow else ''}-{digest}.wav"


def label(prompt_id: str, slow: bool) -> str:
    """How reports name one file of a prompt: `paso_1`, or `paso_1 (slow)`."""
    return f"{prompt_id} (slow)" if slow else prompt_id


def labels(content) -> list[str]:
    """Every file's label, in build order: all normal files first, then the slow ones."""
    return [label(pid, slow) for slow in TABLES for pid in content.prompts]


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


class Job(NamedTuple):
    """One file to make."""

    prompt: object
    slow: bool
    name: str

    @property
    def label(self) -> str:
        return label(self.prompt.id, self.slow)


@dataclass
class Report:
    """What a build did, by label (`paso_1`, `paso_1 (slow)`)."""

    made: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)


def plan(content, directory, engine, force=False, manifest=None) -> list[Job]:
    """The files that must be made, normal ones first, then slow ones (`manifest`: the
    directory's, if the caller has read it)."""
    directory = Path(directory)
    manifest = read_manifest(directory) if manifest is None else manifest
    todo = []
    for slow, table in TABLES.items():
        entries = manifest.get(table, {})
        for prompt in content.prompts.values():
            name = file_name(prompt.id, prompt.say, engine.name, engine.settings(slow), slow)
            current = entries.get(prompt.id, {}).get("file") == name and (directory / name).is_file()
            if force or not current:
                todo.append(Job(prompt, slow, name))
    return todo


def build(content, directory, engine, force=False, progress=None) -> Report:
    """Make the audio `content` needs in `directory`, normal and slow; keep what is current.

    A file that fails is reported and keeps its old entry (spoken with <Say> if its
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
    previous = {e.get("file") for table in TABLES.values() for e in manifest.get(table, {}).values()}
    tables = {
        slow: {pid: e for pid, e in manifest.get(table, {}).items() if pid in content.prompts}
        for slow, table in TABLES.items()
    }
    todo = plan(content, directory, engine, force, manifest)
    to_make = {job.label for job in todo}
    report = Report(kept=[name for name in labels(content) if name not in to_make])
    try:
        for job in todo:
            prompt = job.prompt
            if progress:
                progress(job.label)
            try:
                samples = to_telephone(*engine.synthesize(prompt.say, slow=job.slow))
            except SynthesisError as e:
                report.failed[job.label] = str(e)
                continue
            write_wav(directory / job.name, samples)
            tables[job.slow][prompt.id] = {
                "file": job.name,
                "text_sha256": text_hash(prompt.say),
                "text": prompt.say,
                "engine": engine.name,
                "voice": engine.settings(job.slow),
                "duration": round(len(samples) / RATE, 2),
            }
            report.made.append(job.label)
    finally:
        ordered = {
            table: {pid: tables[slow][pid] for pid in content.prompts if pid in tables[slow]}
            for slow, table in TABLES.items()
        }
        write_manifest(directory, {"format": "wav 8000 Hz mono mu-law", **ordered})
        referenced = {e["file"] for table in ordered.values() for e in table.values()} | previous
        for path in directory.glob("*.wav"):
            if _OURS.fullmatch(path.name) and path.name not in referenced:
                path.unlink()
                report.removed.append(path.name)
    return report


def check(content, directory, slow=False) -> list[tuple[str, str, str]]:
    """(prompt id, 'missing' or 'stale', engine) for each prompt without current audio
    (without a current slow file, if `slow`)."""
    store = AudioStore(directory, content)
    entries = store.manifest.get(TABLES[slow], {})
    missing, stale = (store.slow_missing, store.slow_stale) if slow else (store.missing, store.stale)
    problems = {pid: "missing" for pid in missing} | {pid: "stale" for pid in stale}
    return [
        (pid, problems[pid], entries.get(pid, {}).get("engine", "-"))
        for pid in content.prompts if pid in problems
    ]
