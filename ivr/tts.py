"""Speech engines: gTTS (Google, needs the internet) and espeak-ng (offline).

Each engine turns a prompt's spoken text into mono samples, at its normal pace or slower
(`slow=True`, for the line's slow mode); `build` makes them telephone audio. Engines record
their voice settings for each pace, which name the files they make.
"""

import io
import shutil
import subprocess
import time

import numpy as np
import soundfile


class SynthesisError(Exception):
    """One prompt could not be made; the build goes on with the others."""


class EngineUnavailable(Exception):
    """The engine cannot work on this machine at all (no network, not installed)."""


def decode(data: bytes) -> tuple[np.ndarray, int]:
    """Decode MP3 or WAV bytes into mono float samples and their rate."""
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    return samples.mean(axis=1), rate


class GTTSEngine:
    """Google Translate's voice through gTTS, retried with backoff on HTTP errors."""

    name = "gtts"

    def __init__(self, lang="es", tld="com.mx", attempts=4, backoff=1.0, sleep=None):
        self.lang, self.tld = lang, tld
        self.attempts, self.backoff = attempts, backoff
        self.sleep = sleep or (lambda seconds: time.sleep(seconds))

    def settings(self, slow: bool = False) -> dict:
        # The normal pace records no "slow" key, so files made before slow mode keep their names.
        return {"lang": self.lang, "tld": self.tld} | ({"slow": True} if slow else {})

    def synthesize(self, text: str, slow: bool = False) -> tuple[np.ndarray, int]:
        from gtts import gTTS, gTTSError

        offline = 0
        # No pre-processors: the content file's spoken text is read as written. Google's
        # slow voice is its own reading (gTTS asks for it in the request), not a stretch.
        speech = gTTS(text, lang=self.lang, tld=self.tld, slow=slow, pre_processor_funcs=[])
        for attempt in range(1, self.attempts + 1):
            try:
                # Google answers a long text in parts of about 100 characters, each its own
                # MP3 stream: decode each and join the samples.
                parts = [decode(mp3) for mp3 in speech.stream()]
                rate = parts[0][1]
                return np.concatenate([samples for samples, _ in parts]), rate
            except gTTSError as e:
                if e.rsp is None:
                    offline += 1
                problem = str(e)
            except soundfile.LibsndfileError as e:
                problem = f"Google sent audio that does not decode ({e})"
            if attempt < self.attempts:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        if offline == self.attempts:
            raise EngineUnavailable(
                f"no network: cannot reach translate.google.{self.tld}. "
                "Build offline with: ivr audio build --engine espeak"
            )
        raise SynthesisError(f"{problem} (tried {self.attempts} times)")


class EspeakEngine:
    """espeak-ng's Latin American Spanish voice, for machines without the internet.

    `speed` is espeak-ng's `-s` (words per minute); the slow files use `slow_speed`, which
    makes them about 1.4 times as long (measured on the steps: tests/test_audio.py).
    """

    name = "espeak"

    def __init__(self, voice="es-419", speed=150, slow_speed=110):
        self.voice, self.speed, self.slow_speed = voice, speed, slow_speed

    def settings(self, slow: bool = False) -> dict:
        return {"voice": self.voice, "speed": self.slow_speed if slow else self.speed}

    def synthesize(self, text: str, slow: bool = False) -> tuple[np.ndarray, int]:
        exe = shutil.which("espeak-ng")
        if not exe:
            raise EngineUnavailable(
                "espeak-ng is not installed (Debian/Ubuntu: apt-get install espeak-ng)"
            )
        # The text goes on stdin, so nothing in it is taken for an option.
        done = subprocess.run(
            [exe, "-v", self.voice, "-s", str(self.settings(slow)["speed"]), "--stdout"],
            input=text.encode("utf-8"), capture_output=True, timeout=120,
        )
        if done.returncode or not done.stdout:
            raise SynthesisError(f"espeak-ng failed: {done.stderr.decode(errors='replace').strip()}")
        return decode(done.stdout)
