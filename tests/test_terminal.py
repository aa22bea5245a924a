"""The interactive caller: TerminalKeypad on a pseudo-terminal, and `ivr call` in one.

Players and the speaker are small Python scripts standing in for aplay and espeak-ng:
they keep a copy of the file they were given, so the tests see what would have been heard.
A player ends at once, or plays until the test ends its audio (a `Gate`). The keypad's
waits run on a `FakeClock` the test moves: the tests say how long the keypad waited in
Twilio's seconds, never how long the machine took.
"""

import hashlib
import io
import json
import os
import pty
import struct
import sys
import termios
import threading
import time
import wave
from contextlib import contextmanager
from pathlib import Path

import pexpect
import pytest

from conftest import WAV, Tiny, doc, require, serving, ulaw_wav
from ivr import ROOT, create_app
from ivr.content import load
from ivr.player import CallerHangUp, Dial, Event, Gather, Speech
from ivr.player.terminal import TerminalKeypad, describe, find_player, find_speaker, playable

FAKE_PLAYER = """
import os, shutil, sys
keep, gate, played = sys.argv[1], sys.argv[2], sys.argv[-1]
shutil.copy(played, os.path.join(keep, f"{len(os.listdir(keep))}.wav"))
if gate != "-":
    with open(gate, "rb") as playing:  # plays until the test ends the audio (closes its end)
        playing.read()
"""
FAKE_SPEAKER = """
import sys, wave
out, words = sys.argv[sys.argv.index("-w") + 1], sys.argv[sys.argv.index("-f") + 1]
n = len(open(words, encoding="utf-8").read())
with wave.open(out, "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000); w.writeframes(b"\\0\\0" * n)
"""
STEP = Gather(None, "#", 2)
#: Seconds a test waits for a player to start before it fails (against a hang, never asserted).
GUARD = 20


class FakeClock:
    """The keypad's clock, in the test's hands: each look moves it `step` seconds on, so any
    wait is over after a few looks however slow or fast the machine is, and `at(t, action)`
    runs `action` (in the keypad's thread) at the first look at `t` or later."""

    def __init__(self, step=0.5):
        self.now, self.step = 0.0, step
        self.looks: list[float] = []
        self._due: list[tuple[float, object]] = []

    def __call__(self) -> float:
        t = self.now
        self.now += self.step
        self.looks.append(t)
        for due in [d for d in self._due if d[0] <= t]:
            self._due.remove(due)
            due[1]()
        return t

    def at(self, t, action):
        self._due.append((t, action))

    def lap(self) -> float:
        """Seconds between the keypad's first and last look since the last lap: how long it waited."""
        looks, self.looks = self.looks, []
        return looks[-1] - looks[0]


class Gate:
    """A named pipe a fake player reads while it plays: its audio ends when the test closes
    the other end (`end`). `playing()` says once the player has opened it."""

    def __init__(self, path):
        os.mkfifo(path)
        self.path, self._end = str(path), None

    def playing(self) -> bool:
        """Wait until the player is playing: opening the write end returns once it opened
        the read end (a thread, so a player that never starts fails the test, not hangs it)."""
        opener = threading.Thread(target=self._open, daemon=True)
        opener.start()
        opener.join(GUARD)
        return self._end is not None

    def _open(self):
        self._end = os.open(self.path, os.O_WRONLY)

    def end(self):
        """The audio is over: the player reads the end of the pipe and exits 0."""
        if self._end is not None:
            os.close(self._end)
            self._end = None


@pytest.fixture
def term():
    """(master, slave) of a pseudo-terminal: the test types on master, the keypad reads slave."""
    master, slave = pty.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


@pytest.fixture
def player(tmp_path):
    """player() -> (command, folder where each played file is kept, in order): a player that
    ends at once. player(gate) -> the same for a player that plays until `gate` ends it."""

    def make(gate: Gate | None = None):
        script, kept = tmp_path / "fake_player.py", tmp_path / "played"
        script.write_text(FAKE_PLAYER, encoding="utf-8")
        kept.mkdir(exist_ok=True)
        return [sys.executable, str(script), str(kept), gate.path if gate else "-"], kept

    return make


@contextmanager
def killed_if_hung(keypad):
    """Against a hang only, never asserted: a player still playing GUARD s on is killed, so a
    prompt that a broken keypad would wait out for ever ends, and the test fails."""

    def kill():
        if keypad.proc is not None and keypad.proc.poll() is None:
            keypad.proc.kill()

    timer = threading.Timer(GUARD, kill)
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def played(kept) -> list[Path]:
    return sorted(kept.iterdir(), key=lambda p: int(p.stem))


def play_event(audio=WAV, text="Paso uno."):
    return Event("play", text, "paso_1", "http://localhost/audio/paso_1.wav", audio)


# -- keys --------------------------------------------------------------------------------


def test_keys_are_read_as_pressed_without_enter(term):
    master, slave = term
    with TerminalKeypad(slave) as keypad:
        os.write(master, b"5")
        assert keypad.key(STEP) == "5"
        os.write(master, b"*#")
        assert (keypad.key(STEP), keypad.key(STEP)) == ("*", "#")


def test_the_terminal_is_restored_even_when_the_caller_hangs_up(term):
    master, slave = term
    before = termios.tcgetattr(slave)
    with pytest.raises(CallerHangUp), TerminalKeypad(slave) as keypad:
        during = termios.tcgetattr(slave)
        os.write(master, b"q")
        keypad.key(STEP)
    assert not during[3] & (termios.ICANON | termios.ECHO)  # cbreak: no Enter, no echo
    assert termios.tcgetattr(slave) == before


def test_only_phone_keys_count(term):
    master, slave = term
    with TerminalKeypad(slave) as keypad:
        # a letter, F5 (ESC [ 1 5 ~, whose digits are not keys), an arrow, a space, then 7
        os.write(master, b"a\x1b[15~\x1b[A 7")
        assert keypad.key(STEP) == "7"


@pytest.mark.parametrize("byte", [b"q", b"Q", b"\x04"])
def test_q_and_ctrl_d_hang_up(term, byte):
    master, slave = term
    with TerminalKeypad(slave) as keypad, pytest.raises(CallerHangUp):
        os.write(master, byte)
        keypad.heard(Event("say", "Hola"), barge_in=False)


def test_input_that_ends_hangs_up():
    read, write = os.pipe()
    os.close(write)
    try:
        with TerminalKeypad(read) as keypad, pytest.raises(CallerHangUp):
            keypad.key(STEP)
    finally:
        os.close(read)


@pytest.mark.parametrize("typed, said", [
    ('"paso cinco\r', "paso cinco"),
    ("ssigx\x7fuiente \n", "siguiente"),  # s starts a phrase too; backspace erases
    ('"men\x1b[D\u00fa\r', "men\u00fa"),  # an arrow key is not part of the words; UTF-8 is
])
def test_a_typed_phrase_is_said_to_the_gather(term, typed, said):
    master, slave = term
    shown = []
    with TerminalKeypad(slave, show=shown.append) as keypad:
        os.write(master, typed.encode("utf-8"))
        assert keypad.key(STEP) == Speech(said)
        assert termios.tcgetattr(slave)[3] & termios.ICANON == 0  # still one key at a time
    assert shown[0] == "say: " and shown[-1] == "\n"
    assert "".join(shown[1:-1]).replace("x\b \b", "").strip() == said


def test_enter_on_nothing_says_nothing_and_the_gather_goes_on(term):
    master, slave = term
    with TerminalKeypad(slave, show=lambda text: None) as keypad:
        os.write(master, b'"ab\x7f\x7f\r4')
        assert keypad.key(STEP) == "4"


def test_a_gather_timeout_passes_in_real_time(term):
    _, slave = term
    assert TerminalKeypad(slave).clock is time.monotonic  # real time unless a test says otherwise
    clock = FakeClock()
    with TerminalKeypad(slave, scale=0.5, clock=clock) as keypad:
        assert keypad.key(Gather(None, "#", 2)) is None
    assert clock.lap() == 1.0  # the Gather's 2 s, scaled by 0.5: all of them, and no more


def test_a_dial_rings_for_its_timeout_drops_keys_and_nobody_answers(term):
    master, slave = term
    clock = FakeClock()
    with TerminalKeypad(slave, scale=0.5, clock=clock) as keypad:
        os.write(master, b"12")
        assert keypad.dial(Dial(("+576015555555",), None, 2)) is None  # the player's no-answer
        waited = clock.lap()
        assert keypad.key(Gather(None, "#", 0)) is None  # the keys did not wait for later
    assert waited == 1.0  # the Dial's 2 s, scaled by 0.5: the keys did not end the ringing


def test_q_hangs_up_while_a_dial_rings(term):
    master, slave = term
    with TerminalKeypad(slave) as keypad:
        os.write(master, b"q")
        with pytest.raises(CallerHangUp):
            keypad.dial(Dial(("+576015555555",), None, 30))


def test_waits_follow_the_injected_clock(term):
    _, slave = term
    now = [100.0]

    def clock():  # jumps 1 s per look: a 3 s timeout is over after a few looks
        now[0] += 1.0
        return now[0]

    with TerminalKeypad(slave, clock=clock) as keypad:
        assert keypad.key(Gather(None, "#", 3)) is None
    # Over at the look that saw 3 s pass (101 -> 104), without a look more.
    assert now[0] == 104.0


# -- prompts, audio and barge-in -----------------------------------------------------------


def test_a_key_during_a_prompt_stops_the_player_and_is_the_first_digit(term, player, tmp_path):
    master, slave = term
    gate = Gate(tmp_path / "gate")
    command, kept = player(gate)  # plays until the test ends it, which it does not
    clock = FakeClock()
    # At the first look after the player starts: once it plays, the caller presses 8.
    clock.at(0.5, lambda: gate.playing() and os.write(master, b"8"))
    try:
        with TerminalKeypad(slave, player=command, clock=clock) as keypad, killed_if_hung(keypad):
            key = keypad.heard(play_event(), barge_in=True)
    finally:
        gate.end()
    assert key == "8"
    assert clock.lap() == 0.5  # the key's look ended the prompt
    assert keypad.proc.returncode < 0  # stopped by a signal, not played to its end
    assert len(played(kept)) == 1


def test_keys_outside_a_gather_neither_stop_the_prompt_nor_count(term, player, tmp_path):
    master, slave = term
    gate = Gate(tmp_path / "gate")
    command, _ = player(gate)
    clock, ended = FakeClock(), threading.Event()

    def end_audio():  # the 8 was read at the look before: now the audio ends
        if gate.playing():
            ended.set()
            gate.end()

    clock.at(1.0, end_audio)
    try:
        with TerminalKeypad(slave, player=command, scale=0.05, clock=clock) as keypad:
            os.write(master, b"8")
            with killed_if_hung(keypad):
                assert keypad.heard(play_event(), barge_in=False) == ""
            assert ended.is_set()  # the prompt lasted until its audio ended, the 8 notwithstanding
            assert keypad.proc.returncode == 0
            assert keypad.key(STEP) is None  # the 8 was dropped, as Twilio drops it
    finally:
        gate.end()


def test_the_player_gets_the_lines_mulaw_audio_as_pcm_wav(term, player):
    _, slave = term
    command, kept = player()
    audio = ulaw_wav(b"\x00\x80\xff" * 100)
    with TerminalKeypad(slave, player=command) as keypad:
        assert keypad.heard(play_event(audio), barge_in=True) == ""
        keypad.heard(play_event(audio), barge_in=True)  # the same URL: the same file
    files = played(kept)
    assert len(files) == 2 and files[0].read_bytes() == files[1].read_bytes()
    with wave.open(str(files[0])) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 8000, 300)
        assert struct.unpack("<3h", w.readframes(3)) == (-32124, 32124, 0)


def test_mulaw_decodes_as_g711_and_other_audio_passes_through():
    pcm, seconds = playable(ulaw_wav(bytes([0x00, 0x0F, 0x7F, 0x80, 0xFF]), rate=8000))
    with wave.open(io.BytesIO(pcm)) as w:
        assert struct.unpack("<5h", w.readframes(5)) == (-32124, -16764, 0, 32124, 0)
    assert seconds == 5 / 8000
    assert playable(b"ID3\x04mp3 bytes") == (b"ID3\x04mp3 bytes", None)


def test_without_a_player_a_prompt_lasts_as_long_as_its_words_or_its_audio(term):
    _, slave = term
    clock = FakeClock()
    with TerminalKeypad(slave, scale=0.5, clock=clock) as keypad:
        keypad.heard(Event("say", "x" * 28), barge_in=True)  # 2 s at 14 characters a second
        said = clock.lap()
        keypad.heard(play_event(ulaw_wav(b"\xff" * 16000)), barge_in=True)  # 2 s of audio
        play = clock.lap()
        keypad.heard(Event("pause", "3"), barge_in=True)
        pause = clock.lap()
    assert (said, play, pause) == (1.0, 1.0, 1.5)  # 2, 2 and 3 s, scaled by 0.5


def test_a_key_ends_a_text_only_prompt_too(term):
    master, slave = term
    clock = FakeClock()
    clock.at(2.0, lambda: os.write(master, b"0"))  # 2 s into the words
    with TerminalKeypad(slave, clock=clock) as keypad:
        assert keypad.heard(Event("say", "x" * 140), barge_in=True) == "0"  # 10 s of words
    assert clock.lap() == 2.0  # over when the key came, not when the words would have been


def test_a_failing_player_gives_one_note_then_text_only(term):
    _, slave = term
    notes = []
    failing = [sys.executable, "-c", "raise SystemExit(3)"]
    with TerminalKeypad(slave, player=failing, scale=0.01, warn=notes.append) as keypad:
        keypad.heard(play_event(), barge_in=True)
        keypad.heard(play_event(), barge_in=True)
    assert notes == [f"{Path(sys.executable).name} could not play (exit 3): text only from here"]
    assert keypad.player is None


#: A player without a sound device, as ffplay is there: it says so on stderr and exits 0 at once.
SILENT_PLAYER = """#!/bin/sh
echo "$@" >> "${0%/*}/started"  # (no dirname: PATH may hold only this folder)
echo "[ffplay] No more combinations to try, audio open failed" >&2
exit 0
"""


@pytest.fixture
def silent_player(tmp_path):
    """(a folder holding an `ffplay` that exits 0 without playing, the file that counts its runs)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "ffplay").write_text(SILENT_PLAYER, encoding="utf-8")
    (folder / "ffplay").chmod(0o755)
    return folder, folder / "started"


def test_a_player_that_exits_0_without_playing_gives_one_note_then_text_only(term, silent_player):
    _, slave = term
    folder, started = silent_player
    notes = []
    two_seconds = play_event(ulaw_wav(b"\xff" * 16000))
    clock = FakeClock()
    with TerminalKeypad(slave, player=find_player(str(folder)), scale=0.5, clock=clock,
                        warn=notes.append) as keypad:
        assert keypad.heard(two_seconds, barge_in=True) == ""
        first = clock.lap()
        keypad.heard(two_seconds, barge_in=True)
        second = clock.lap()
    assert notes == ["ffplay could not play ([ffplay] No more combinations to try, audio open failed):"
                     " text only from here"]
    assert keypad.player is None and len(started.read_text().splitlines()) == 1
    # The prompt still takes as long as its audio (2 s, scaled), not the player's instant.
    # The first: at least that (the clock also moved while the player ran, at the machine's pace).
    assert first >= 1.0 and second == 1.0


def test_a_player_that_ends_early_in_silence_is_failed_too(term, tmp_path):
    _, slave = term
    quiet = [sys.executable, "-c", "pass"]  # exits 0 at once, says nothing
    notes = []
    with TerminalKeypad(slave, player=quiet, scale=0.05, warn=notes.append) as keypad:
        keypad.heard(play_event(ulaw_wav(b"\xff" * 16000)), barge_in=True)
    assert len(notes) == 1 and notes[0].startswith(f"{Path(sys.executable).name} could not play (it stopped after 0.")
    assert notes[0].endswith(" s of 2.0 s): text only from here")


def test_a_player_that_plays_to_the_end_is_not_failed(term, player):
    _, slave = term
    # Ends as it starts: for a 0.1 s file that is its end, as far as any clock can tell.
    command, kept = player()
    notes = []
    with TerminalKeypad(slave, player=command, warn=notes.append) as keypad:
        keypad.heard(play_event(), barge_in=True)
        keypad.heard(play_event(), barge_in=True)
    assert notes == [] and keypad.player is not None and len(played(kept)) == 2


def test_say_is_spoken_by_the_speaker_and_played(term, player, tmp_path):
    _, slave = term
    command, kept = player()
    speaker = tmp_path / "fake_speaker.py"
    speaker.write_text(FAKE_SPEAKER, encoding="utf-8")
    with TerminalKeypad(slave, player=command, speaker=[sys.executable, str(speaker)]) as keypad:
        keypad.heard(Event("say", "Hola, Línea"), barge_in=True)
    (file,) = played(kept)
    with wave.open(str(file)) as w:
        assert (w.getframerate(), w.getnframes()) == (16000, len("Hola, Línea"))


def test_espeak_ng_speaks_say_prompts(term, player):
    require("espeak-ng", "espeak-ng")
    _, slave = term
    command, kept = player()
    with TerminalKeypad(slave, player=command, speaker=find_speaker()) as keypad:
        keypad.heard(Event("say", "Paso uno."), barge_in=True)
    (file,) = played(kept)
    with wave.open(str(file)) as w:
        assert w.getnframes() > w.getframerate() / 4  # at least a quarter second of speech


# -- finding a player --------------------------------------------------------------------


def executables(folder, *names):
    folder.mkdir()
    for name in names:
        (folder / name).write_text("#!/bin/sh\n", encoding="utf-8")
        (folder / name).chmod(0o755)
    return str(folder)


def test_the_first_player_on_path_is_used_and_said(tmp_path):
    path = executables(tmp_path / "bin", "play", "aplay", "espeak-ng")
    player, speaker = find_player(path), find_speaker(path)
    assert player == [str(tmp_path / "bin" / "aplay"), "-q"]
    assert describe(player, speaker) == "audio player: aplay; prompts without audio spoken by espeak-ng (es-419)"
    ffplay = find_player(executables(tmp_path / "bin2", "ffplay"))
    # Its errors are kept (not shown): "audio open failed" is how it says it did not play.
    assert ffplay[1:] == ["-nodisp", "-autoexit", "-loglevel", "error"]


def test_no_player_on_path_means_text_only(tmp_path):
    path = executables(tmp_path / "bin")
    assert find_player(path) is None and find_speaker(path) is None
    assert describe(None, None) == "no audio player found: text only"


# -- `ivr call` in a terminal ------------------------------------------------------------


def spawn_ivr(tmp_path, *args, **env):
    """`ivr call ARGS` in a pseudo-terminal, as a person would start it."""
    ivr = Path(sys.executable).with_name("ivr")
    assert ivr.exists(), "the ivr command is installed with the package (pip install -e .)"
    base = {k: v for k, v in os.environ.items() if k != "IVR_CALL_PLAYER"}
    env = {**base, "TWILIO_AUTH_TOKEN": "", "PUBLIC_BASE_URL": "", **env}
    return pexpect.spawn(str(ivr), ["call", *args], env=env, cwd=str(tmp_path), encoding="utf-8", timeout=20)


@pytest.fixture
def welcome_audio(tmp_path):
    """An audio folder where only the welcome has a (current) file: 0.5 s of μ-law."""
    folder = tmp_path / "audio"
    folder.mkdir()
    (folder / "welcome.wav").write_bytes(ulaw_wav(b"\x00\x80" * 2000))
    say = load(ROOT / "content.toml")["welcome"].say
    entry = {"file": "welcome.wav", "text_sha256": hashlib.sha256(say.encode()).hexdigest(),
             "engine": "test", "voice": "none", "duration": 0.5, "text": say}
    (folder / "manifest.json").write_text(json.dumps({"prompts": {"welcome": entry}}), encoding="utf-8")
    return folder


def test_a_call_in_a_terminal_barges_in_and_hangs_up_with_q(tmp_path, welcome_audio, player):
    gate = Gate(tmp_path / "gate")
    command, kept = player(gate)  # the welcome plays until the test ends it, which it does not
    child = spawn_ivr(tmp_path, IVR_AUDIO_DIR=str(welcome_audio), IVR_CALL_PLAYER=" ".join(command))
    try:
        child.expect(f"Audio player: {Path(sys.executable).name}")
        child.expect(r"LINE  \[welcome\] Hola")
        assert gate.playing()  # the player started (and kept its copy) before the key stops it
        child.send("2")
        # Only the key can end the welcome now: without barge-in, expect() times out.
        child.expect("KEYS  2")
        child.expect(r"LINE  \[pick\]")
        child.send("5")
        child.expect(r"LINE  \[paso_5\] Paso cinco")
        child.send("q")
        child.expect("END   the caller hung up")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
        gate.end()
    assert child.exitstatus == 0
    with wave.open(str(played(kept)[0])) as w:  # the welcome, fetched in-process, as PCM
        assert (w.getsampwidth(), w.getnframes()) == (2, 4000)


def test_ivr_call_with_a_player_that_cannot_play_notes_it_once(tmp_path, silent_player):
    folder, started = silent_player
    # The shipped audio; on PATH only the silent ffplay and the venv (no espeak-ng).
    child = spawn_ivr(tmp_path, PATH=f"{folder}{os.pathsep}{Path(sys.executable).parent}")
    try:
        child.expect("Audio player: ffplay")
        child.expect(r"LINE  \[welcome\] Hola")
        child.expect("NOTE  ffplay could not play \\(\\[ffplay\\] No more combinations to try, audio open"
                     " failed\\): text only from here")
        child.send("1")  # in the menu's <Gather>, which the welcome starts
        child.expect(r"LINE  \[paso_1\] Paso uno")
        child.send("q")
        child.expect("END   the caller hung up")
        child.expect(pexpect.EOF)
        transcript = child.before
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert "NOTE" not in transcript  # once only: the later prompts are text only
    assert len(started.read_text().splitlines()) == 1


def test_ctrl_c_hangs_up_cleanly_and_no_player_means_text_only(tmp_path, no_audio):
    # Only the venv on PATH: no player to find.
    child = spawn_ivr(tmp_path, IVR_AUDIO_DIR=str(no_audio), PATH=str(Path(sys.executable).parent))
    try:
        child.expect("No audio player found: text only")
        child.expect(r"LINE  \[welcome\]")
        child.sendintr()
        child.expect("END   the caller hung up")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0
    assert "Traceback" not in child.before


def test_a_call_in_a_terminal_to_a_running_server(tmp_path, welcome_audio, no_audio, player):
    gate = Gate(tmp_path / "gate")
    command, kept = player(gate)
    server = create_app({"TESTING": True, "AUDIO_DIR": str(welcome_audio)})
    with serving(server) as base:
        # The caller's own audio folder is empty: the welcome's words and bytes come from the server.
        child = spawn_ivr(tmp_path, "--url", f"{base}/voice",
                          IVR_AUDIO_DIR=str(no_audio), IVR_CALL_PLAYER=" ".join(command))
        try:
            child.expect(f"Calling {base}/voice \\(the server\\)")
            child.expect(r"LINE  \[play\] \[audio welcome.wav\]")
            # Once the player plays (it has its copy): a key sooner could stop it before that.
            assert gate.playing()
            child.send("1")  # during the prompts that follow: no need to wait for them
            child.expect(r"LINE  \[paso_1\] Paso uno")
            child.send("q")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
            gate.end()
    assert child.exitstatus == 0
    with wave.open(str(played(kept)[0])) as w:
        assert w.getnframes() == 4000


def test_a_phrase_typed_in_ivr_call_goes_to_the_line(tmp_path, no_audio):
    tiny = Tiny({
        "/voice": doc('<Gather input="dtmf speech" action="/voice/turn"><Say>Decí algo</Say></Gather>'),
        "/voice/turn": doc("<Say>Listo</Say><Hangup/>"),
    })
    with serving(tiny.app) as base:
        child = spawn_ivr(tmp_path, "--url", f"{base}/voice", "--player", "none",
                          IVR_AUDIO_DIR=str(no_audio))
        try:
            child.expect('" \\(or s\\) to say something')
            child.expect(r"LINE  \[say\] Decí algo")
            child.send('"')
            child.expect("say: ")
            child.send("Siguiente.\r")
            child.expect("SAYS  Siguiente.")
            child.expect(r"LINE  \[say\] Listo")
            child.expect("END   the line hung up")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
    assert child.exitstatus == 0
    assert tiny.seen[1].values["SpeechResult"] == "Siguiente."
    assert tiny.seen[1].values["Confidence"] == "0.92" and "Digits" not in tiny.seen[1].values
