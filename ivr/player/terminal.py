"""The caller at a terminal: `ivr call` without --keys.

`TerminalKeypad` reads single key presses (no Enter), plays each prompt through a local
audio player when there is one, stops it when a key barges in, and keeps Twilio's
timeouts in real time. It is the only module that knows about terminals and sound:
the rest of `ivr.player` stays the one TwiML player for the tests and the CLI.
"""

import codecs
import hashlib
import io
import os
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time
import tty
from pathlib import Path

from ..audio import pcm_wav
from ..flow import KEYS
from .events import PAUSE_SECONDS, TONE_SECONDS, CallerHangUp, Dial, Event, Gather, Speech
from .keypads import Keypad

#: Local players that take a file name last, the ones that reach a desktop's sound server
#: first (aplay talks to ALSA directly, which a running PipeWire/PulseAudio may hold).
PLAYERS = (
    ("afplay", ()),  # macOS
    ("pw-play", ()),  # PipeWire
    ("paplay", ()),  # PulseAudio
    ("aplay", ("-q",)),  # ALSA
    # Errors only: ffplay without a sound device says "audio open failed" and exits 0.
    ("ffplay", ("-nodisp", "-autoexit", "-loglevel", "error")),
    ("play", ("-q",)),  # sox
)
#: Speaks <Say> words (prompts without an audio file) into a WAV file, in the voice the
#: offline audio build uses.
SPEAKER = ("espeak-ng", ("-v", "es-419"))
#: How fast a voice reads, to wait as long as the words would take when nothing speaks them.
SAY_CHARS_PER_SECOND = 14
#: Bytes that hang up: q, Q, Ctrl-D (Ctrl-C arrives as SIGINT).
HANG_UP = (b"q", b"Q", b"\x04")
#: Bytes that start a phrase said to the line (typed, then Enter): " or s.
SAY = (b'"', b"s", b"S")
ESC = b"\x1b"
ENTER = (b"\r", b"\n")
ERASE = (b"\x7f", b"\x08")
#: How often a wait looks at the player and the clock between keys.
POLL = 0.05
#: A player that exits 0 more than this many seconds, and more than half the length, before
#: the end of the audio did not play it (no sound device): it starts and stops at once.
EARLY = 0.5
#: Words in a player's last line of errors that say it did not play, when the length is unknown.
FAILED_WORDS = ("fail", "error", "cannot", "could not", "unable")


def find_player(path=None) -> list[str] | None:
    """The command of the first local audio player on PATH, or None."""
    for name, args in PLAYERS:
        found = shutil.which(name, path=path)
        if found:
            return [found, *args]
    return None


def find_speaker(path=None) -> list[str] | None:
    """The espeak-ng command for <Say> prompts, or None when it is not installed."""
    name, args = SPEAKER
    found = shutil.which(name, path=path)
    return [found, *args] if found else None


def describe(player, speaker) -> str:
    """One line saying how the call will sound."""
    if not player:
        return "no audio player found: text only"
    line = f"audio player: {Path(player[0]).name}"
    if speaker:
        line += f"; prompts without audio spoken by {Path(speaker[0]).name} ({speaker[-1]})"
    return line


def playable(data: bytes) -> tuple[bytes, float | None]:
    """Audio any local player takes, and its length in seconds when known.

    The line's files are μ-law WAV, which some players (aplay) refuse: whatever libsndfile
    reads becomes 16-bit PCM WAV (`ivr.audio.pcm_wav`, as for the web phone). Other audio
    passes through as it is.
    """
    import soundfile

    try:
        return pcm_wav(io.BytesIO(data))
    except soundfile.LibsndfileError:
        return data, None


def _tones_seconds(tones: str) -> float:
    return sum(PAUSE_SECONDS.get(t, TONE_SECONDS) for t in tones)


def _warn(message):
    print(message, file=sys.stderr)


def _show(text):
    sys.stdout.write(text)
    sys.stdout.flush()


class TerminalKeypad(Keypad):
    """A person at a terminal: keys 0-9 * # as they are pressed, " (or s) then words and
    Enter says a phrase, q or Ctrl-C hangs up.

    Use it as a context manager: it puts the terminal in cbreak mode (each key arrives
    at once, not echoed) and restores it on the way out, whatever happens.

    fd: where keys come from (a terminal; tests pass a pty or a pipe).
    player: command that plays a file given last, or None for text only.
    speaker: command that speaks <Say> words into a WAV (espeak-ng), or None to wait the
      time the words would take. It needs a player.
    scale: multiplies every wait (tests make Twilio's seconds short).
    clock: the time source for waits. warn: reports a player that fails. show: writes
      the phrase being typed (the terminal does not echo in cbreak mode).
    """

    def __init__(self, fd=0, player=None, speaker=None, scale=1.0, clock=time.monotonic, warn=_warn,
                 show=_show):
        self.fd = fd
        self.player = list(player) if player else None
        self.speaker = list(speaker) if speaker else None
        self.scale = scale
        self.clock = clock
        self.warn = warn
        self.show = show
        #: The last player process started (tests look at how it ended).
        self.proc = None
        #: When it started (time.monotonic: players play in real time), the length of what
        #: it plays (seconds, None if unknown) and where its stderr goes.
        self._started = 0.0
        self._length = None
        self._errors = None
        self._saved = None
        self._tmp = None
        self._files = {}

    def __enter__(self):
        if self.player:
            import soundfile  # noqa: F401  (loaded now, not as the first prompt starts)
        self._tmp = tempfile.TemporaryDirectory(prefix="ivr-call-")
        if os.isatty(self.fd):
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(self, *exc):
        try:
            if self.proc is not None:
                self._stop(self.proc)
        finally:
            if self._saved is not None:
                # TCSAFLUSH drops keys typed after the call, so they do not reach the shell.
                termios.tcsetattr(self.fd, termios.TCSAFLUSH, self._saved)
                self._saved = None
            if self._errors is not None:
                self._errors.close()
                self._errors = None
            self._tmp.cleanup()

    # -- Keypad ----------------------------------------------------------------------
    def heard(self, event: Event, barge_in: bool = False) -> str:
        """Play (or wait out) one prompt; inside a <Gather> a key stops it and is returned."""
        if event.kind == "pause":
            return self._wait(float(event.text), None, barge_in)
        if event.kind == "tones":
            return self._wait(_tones_seconds(event.text), None, barge_in)
        seconds, path, length = len(event.text) / SAY_CHARS_PER_SECOND, None, None
        if event.kind == "play" and event.audio is not None:
            path, length = self._audio_file(event.url or "", event.audio)
            seconds = length if length is not None else seconds
        elif event.kind == "say":
            path, length = self._speech(event.text)
        return self._wait(seconds, path, barge_in, length)

    def key(self, gather: Gather) -> str | None:
        """The next key within the <Gather>'s timeout, in real (scaled) time."""
        return self._wait(gather.timeout, None, True) or None

    def dial(self, dial: Dial) -> None:
        """Nobody answers a <Dial> from a terminal: it rings for its timeout (keys are
        dropped, q hangs up), then the player's default, no-answer."""
        self._wait(dial.timeout, None, False)
        return None

    # -- waiting for keys --------------------------------------------------------------
    def _wait(self, seconds, path, barge_in, length=None) -> str:
        """Play `path` (or wait `seconds`) unless a key comes first; '' when none did.

        Keys outside a <Gather> are read and dropped, as Twilio drops them; q hangs up
        everywhere. `length`: how long `path` plays, when known.
        """
        deadline = self.clock() + seconds * self.scale
        proc = self._start(path, length) if path else None
        try:
            while True:
                if proc is not None and proc.poll() is not None:
                    if self._failed(proc):
                        proc = None  # text only from here: wait out the prompt instead
                        continue
                    return ""
                left = deadline - self.clock()
                if proc is None and left <= 0:
                    return ""
                # Short looks, so a player's end (or an injected clock) is seen at once.
                key = self._read(POLL if proc is not None else min(left, POLL))
                if key and barge_in:
                    return key
        except KeyboardInterrupt:
            raise CallerHangUp from None
        finally:
            if proc is not None:
                self._stop(proc)

    def _read(self, timeout) -> str | Speech | None:
        """One key pressed (or a phrase typed) within `timeout` seconds, or None (nothing,
        or not a phone key)."""
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return None
        byte = os.read(self.fd, 1)
        if not byte or byte in HANG_UP:
            raise CallerHangUp
        if byte == ESC:
            self._skip_escape()
            return None
        if byte in SAY:
            return self._phrase()
        key = byte.decode("latin-1")
        return key if key in KEYS else None

    def _phrase(self) -> Speech | None:
        """Words typed up to Enter, echoed as typed: a phrase said to the line.

        Backspace erases; Enter on nothing says nothing; Ctrl-C or Ctrl-D hangs up.
        The prompt keeps playing meanwhile, and a <Gather> gets the phrase when Enter comes.
        """
        self.show("say: ")
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        chars = []
        while True:
            byte = os.read(self.fd, 1)
            if not byte or byte == b"\x04":
                self.show("\n")
                raise CallerHangUp
            if byte in ENTER:
                break
            if byte == ESC:  # an arrow or function key: not part of the words
                self._skip_escape()
                continue
            if byte in ERASE:
                if chars:
                    chars.pop()
                    self.show("\b \b")
                continue
            text = decoder.decode(byte)
            if text.isprintable():
                chars.append(text)
                self.show(text)
        self.show("\n")
        words = " ".join("".join(chars).split())
        return Speech(words) if words else None

    def _next_byte(self) -> bytes:
        """The byte that follows at once (part of the same key), or b''."""
        return os.read(self.fd, 1) if select.select([self.fd], [], [], 0.01)[0] else b""

    def _skip_escape(self):
        """Drop the rest of an arrow or function key (ESC [ 1 5 ~): not the digits in it."""
        kind = self._next_byte()
        if kind == b"[":
            while (byte := self._next_byte()) and not 0x40 <= byte[0] <= 0x7E:
                pass
        elif kind == b"O":
            self._next_byte()

    # -- sound ---------------------------------------------------------------------------
    def _audio_file(self, url, data) -> tuple[Path | None, float | None]:
        """A <Play>'s bytes as a temporary file a player takes, and their length."""
        if url not in self._files:
            audio, seconds = playable(data)
            path = None
            if self.player:
                suffix = ".wav" if audio[:4] == b"RIFF" else (Path(url).suffix or ".audio")
                path = Path(self._tmp.name) / f"play-{len(self._files)}{suffix}"
                path.write_bytes(audio)
            self._files[url] = (path, seconds)
        path, seconds = self._files[url]
        return (path if self.player else None), seconds

    def _speech(self, text) -> tuple[Path | None, float | None]:
        """<Say> words spoken into a WAV by the speaker, and its length; (None, None) to
        print them only."""
        if not (self.speaker and self.player):
            return None, None
        import soundfile

        name = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
        out = Path(self._tmp.name) / f"say-{name}.wav"
        if not out.exists():
            words = out.with_suffix(".txt")
            words.write_text(text, encoding="utf-8")
            try:
                done = subprocess.run(
                    [*self.speaker, "-w", str(out), "-f", str(words)],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    timeout=60,
                )
                ok = done.returncode == 0 and out.exists()
            except (OSError, subprocess.TimeoutExpired):
                ok = False
            if not ok:
                self.warn(f"{Path(self.speaker[0]).name} could not speak: <Say> prompts are text only from here")
                self.speaker = None
                return None, None
        try:
            return out, soundfile.info(str(out)).duration
        except soundfile.LibsndfileError:
            return out, None

    def _start(self, path, length=None):
        if not self.player:
            return None
        if self._errors is not None:
            self._errors.close()
        # A file, not a pipe: a player that writes much never blocks on it.
        self._errors = tempfile.TemporaryFile(dir=self._tmp.name)  # noqa: SIM115 (closed in close())
        try:
            # The player must not read the terminal: the keys are the caller's.
            self.proc = subprocess.Popen(
                [*self.player, str(path)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._errors,
            )
        except OSError as e:
            self.warn(f"cannot run {self.player[0]} ({e.strerror}): text only from here")
            self.player = None
            return None
        self._started, self._length = time.monotonic(), length
        return self.proc

    def _failed(self, proc) -> bool:
        """True (and text only from here) if the player ended without playing: an error
        exit, or exit 0 long before the end of the audio (ffplay without a sound device
        says "audio open failed" and exits 0 at once), or, when the length is unknown, exit
        0 with an error message."""
        # A negative code is a signal: Ctrl-C reached the player too, not a player fault.
        if proc.returncode < 0 or not self.player:
            return False
        said = self._said()
        if proc.returncode > 0:
            why = f"exit {proc.returncode}" + (f": {said}" if said else "")
        else:
            played, length = time.monotonic() - self._started, self._length
            if length is not None:
                if not (played < length / 2 and length - played > EARLY):
                    return False
                why = said or f"it stopped after {played:.1f} s of {length:.1f} s"
            elif any(word in said.lower() for word in FAILED_WORDS):
                why = said
            else:
                return False
        self.warn(f"{Path(self.player[0]).name} could not play ({why}): text only from here")
        self.player = None
        return True

    def _said(self) -> str:
        """The last line the player wrote on stderr, shortened, or ''."""
        self._errors.seek(0)
        lines = self._errors.read().decode("utf-8", "replace").split("\n")
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        return last if len(last) <= 120 else last[:117] + "..."

    @staticmethod
    def _stop(proc):
        """End a player that is still playing (barge-in, hang-up) and reap it."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
