"""`ivr serve`: the production command refuses to run open, and serves the line over HTTP."""

import contextlib
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from flask import Flask

from conftest import TOKEN, assert_valid_twiml, sign, stop
from ivr import ROOT, startup, store
from ivr import settings as settings_mod
from ivr.cli import cli as cli_group
from ivr.cli import serve as cli_mod
from ivr.player import Call, HttpTransport, ScriptedKeypad
from ivr.ports import free_port


@pytest.fixture
def env(monkeypatch, no_audio):
    """A clean environment for the command: no token (an empty one also hides any .env)."""
    for name in list(os.environ):
        if name.startswith("IVR_") or name in ("PORT", "WEB_CONCURRENCY", "PUBLIC_BASE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    return monkeypatch


@pytest.fixture
def served(monkeypatch):
    """Stand-in for gunicorn: records what would be served instead of serving it."""
    runs = []

    class Fake:
        def __init__(self, build, options):
            self.app, self.options = build(), options

        def run(self):
            runs.append(self)

    monkeypatch.setattr(cli_mod, "server", Fake)
    return runs


def test_refuses_to_serve_without_a_token(env, served):
    result = CliRunner().invoke(cli_group, ["serve"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("Error: TWILIO_AUTH_TOKEN is not set")
    assert "--insecure" in result.output
    assert served == []


def test_insecure_serves_without_a_token_and_says_so(env, served, caplog):
    result = CliRunner().invoke(cli_group, ["serve", "--insecure"])
    assert result.exit_code == 0, result.output
    [run] = served
    assert isinstance(run.app, Flask) and run.app.extensions["ivr"].validator is None
    assert run.options["bind"] == "0.0.0.0:8000"
    assert run.options["workers"] == cli_mod.default_workers()
    assert any(r.levelno == logging.WARNING and "NOT authenticated" in r.getMessage()
               for r in caplog.records)


def test_serves_with_a_token_on_the_given_address(env, served):
    env.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    env.setenv("PORT", "5123")
    result = CliRunner().invoke(cli_group, ["serve", "--host", "::", "--workers", "3"])
    assert result.exit_code == 0, result.output
    [run] = served
    assert run.options["bind"] == "[::]:5123"
    assert run.options["workers"] == 3
    assert run.options["forwarded_allow_ips"] == ""
    assert run.app.extensions["ivr"].validator is not None


@pytest.mark.parametrize(("setting", "on"), [(None, False), ("1", True), ("0", False)])
def test_web_phone_is_off_under_serve_unless_asked_for(env, served, setting, on):
    env.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    if setting is not None:
        env.setenv("IVR_WEB_PHONE", setting)
    result = CliRunner().invoke(cli_group, ["serve"])
    assert result.exit_code == 0, result.output
    [run] = served
    assert run.app.test_client().get("/phone").status_code == (200 if on else 404)


def test_the_served_app_checks_signatures(env, served):
    env.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    CliRunner().invoke(cli_group, ["serve"])
    client = served[0].app.test_client()
    assert client.post("/voice").status_code == 403


@pytest.mark.parametrize(
    ("setting", "problem"),
    [("IVR_TRUSTED_PROXIES", "IVR_TRUSTED_PROXIES must be the number of proxies"),
     ("IVR_CONTENT", "no such file")],
)
def test_bad_settings_are_one_readable_line(env, served, tmp_path, setting, problem):
    env.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    env.setenv(setting, str(tmp_path / "nope"))
    result = CliRunner().invoke(cli_group, ["serve"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1
    assert problem in result.output
    assert served == []


def test_default_workers_follow_the_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert cli_mod.default_workers() == 5
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert cli_mod.default_workers() == cli_mod.MAX_WORKERS
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert cli_mod.default_workers() == 3


@pytest.fixture
def serve(tmp_path, no_audio):
    """serve(token, *args): run `ivr serve` for real on a free port (one worker); returns its
    base URL and log. `token` None leaves TWILIO_AUTH_TOKEN to a .env. `gunicorn=True` runs
    `gunicorn -c python:ivr.serving ivr.wsgi:app` as docs/serving.md tells operators to,
    "plain" without those settings; `database_url` replaces the test's SQLite file; `cwd` is
    where it runs (default: the checkout, which has no .env); `env` adds variables."""
    procs = []

    def start(token, *args, gunicorn=False, database_url=None, cwd=None, env=None):
        port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        # The call store on, as in production: a SQLite file of the test's own.
        environment.pop("TWILIO_AUTH_TOKEN", None)
        if token is not None:  # None: whatever a .env says
            environment["TWILIO_AUTH_TOKEN"] = token
        environment.update(PUBLIC_BASE_URL="", IVR_AUDIO_DIR=str(no_audio),
                           IVR_SECRET_KEY="serve-secret",
                           DATABASE_URL=database_url or f"sqlite:///{tmp_path}/calls.sqlite3")
        environment.update(env or {})
        store.upgrade(environment["DATABASE_URL"])  # `ivr db upgrade`, without another Python
        log = open(tmp_path / f"serve-{port}.log", "w+b")  # noqa: SIM115 (closed after the test)
        if gunicorn:
            settings = ["-c", "python:ivr.serving"] if gunicorn != "plain" else _gunicorn_flags()
            command = [str(BIN / "gunicorn"), *settings, "-b", f"127.0.0.1:{port}", "-w", "1", *args,
                       "ivr.wsgi:app"]
        else:
            command = [sys.executable, "-c", "from ivr.cli import cli; cli()", "serve", "--host",
                       "127.0.0.1", "--port", str(port), "--workers", "1", *args]
        proc = subprocess.Popen(command, env=environment, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        procs.append((proc, log))
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                if requests.get(base + "/healthz", timeout=10).status_code == 200:
                    return base, log
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"{command[0]} did not start:\n{log.read().decode()}")
            time.sleep(0.1)

    yield start
    for proc, log in procs:
        stop(proc)
        log.close()


def test_insecure_serve_answers_a_call_over_http(serve):
    base, _ = serve("", "--insecure")
    r = requests.post(base + "/voice", data={"CallSid": "CA1"}, timeout=5)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/xml")
    doc = assert_valid_twiml(r.content)
    assert doc[0].tag == "Gather"


def test_serve_takes_a_signed_call_refuses_others_and_logs_it_masked(serve):
    base, log = serve(TOKEN)
    assert requests.post(base + "/voice", data={"CallSid": "CA1"}, timeout=5).status_code == 403
    call = Call(HttpTransport(), url=base + "/voice", keypad=ScriptedKeypad("1,2,-"),
                auth_token=TOKEN, caller="+573001234567",
                on_document=lambda url, body: assert_valid_twiml(body))
    call.run()
    assert call.requests == 4 and call.ended_by == "gone"

    def logged():
        log.seek(0)
        return log.read().decode()

    # Each request's line is written as its answer leaves: wait for all of them, not for a time.
    text = _until(lambda: (t := logged()).count(f"call={call.sid}") == call.requests and t,
                  "the worker never logged every request of the call")
    assert f"call={call.sid} from=+********4567" in text
    assert "outcome=step:2" in text and "refused POST" in text
    assert "3001234567" not in text and TOKEN not in text
    # gunicorn's own lines (with its process ids) share the line's logging set-up.
    assert "Booting worker with pid" in text
    assert "Logging error" not in text and "Traceback" not in text


def _store_health(base) -> dict:
    return requests.get(base + "/healthz", timeout=15).json()["store"]


def _until(condition, what):
    """Poll `condition` until it holds; the bound only keeps a broken line from hanging."""
    deadline = time.monotonic() + 30
    while not (found := condition()):
        assert time.monotonic() < deadline, what
        time.sleep(0.05)
    return found


def test_a_write_waiting_on_a_locked_sqlite_file_does_not_stall_the_worker(serve, tmp_path):
    """The store's writer has an OS thread of its own under gevent: while it waits for
    another process's write lock on the SQLite file, its worker answers calls."""
    import sqlite3

    base, _ = serve(TOKEN)
    assert signed_call(base, 1).status_code == 200
    written = _until(lambda: (h := _store_health(base))["queued"] == 0 and h["written"],
                     "the first turn is never written")
    locker = sqlite3.connect(tmp_path / "calls.sqlite3", isolation_level=None)
    try:
        locker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        assert signed_call(base, 2).status_code == 200
        # The writer took the turn and is waiting for the lock: nothing written, nothing lost.
        _until(lambda: _store_health(base)["queued"] == 0, "the writer never takes the turn")
        assert signed_call(base, 3).status_code == 200
        health = _store_health(base)
        assert (health["written"], health["lost"]) == (written, 0)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    # The lock gone, the writer writes what it held, and the next turn.
    _until(lambda: _store_health(base)["written"] == written + 2, "the held turns are never written")
    assert _store_health(base)["lost"] == 0


def test_ivr_insecure_serves_without_a_token_as_insecure_does(env, served):
    env.setenv("IVR_INSECURE", "1")
    result = CliRunner().invoke(cli_group, ["serve"])
    assert result.exit_code == 0, result.output
    assert served[0].app.extensions["ivr"].validator is None


def test_a_misspelt_insecure_switch_is_one_readable_line(env, served):
    env.setenv("IVR_INSECURE", "maybe")
    result = CliRunner().invoke(cli_group, ["serve"])
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert result.output.startswith("Error: IVR_INSECURE must be 1 or 0")
    assert served == []


def _settings_notes(log) -> list[str]:
    log.seek(0)
    return [line for line in log.read().decode().splitlines() if "INFO ivr: settings: " in line]


def test_serve_says_once_which_env_file_it_read(serve, tmp_path):
    """The token from a .env in the folder it runs in, and one line saying so, however
    many workers (the master reads the settings once)."""
    folder = tmp_path / "line"
    folder.mkdir()
    (folder / ".env").write_text(f"TWILIO_AUTH_TOKEN={TOKEN}\n", encoding="utf-8")
    base, log = serve(None, "--workers", "2", cwd=folder)
    assert requests.post(base + "/voice", data={"CallSid": "CA1"}, timeout=5).status_code == 403
    assert signed_call(base, 1).status_code == 200
    [note] = _settings_notes(log)
    assert note.endswith(f"settings: read {folder / '.env'}")


# -- the production entry points refuse to run open -----------------------------------------

def test_gunicorn_refuses_to_run_the_line_without_a_token(tmp_path):
    """`gunicorn ivr.wsgi:app` from a folder without a .env and no TWILIO_AUTH_TOKEN: one
    line naming the token, and gunicorn's master stops (exit 4) instead of serving open."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(IVR_STORE="0", PUBLIC_BASE_URL="")
    proc = subprocess.run(
        [str(BIN / "gunicorn"), "-b", f"127.0.0.1:{free_port()}", *_gunicorn_flags(), "-w", "2",
         "ivr.wsgi:app"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    output = proc.stdout + proc.stderr
    assert proc.returncode == startup.APP_LOAD_ERROR, output
    refusals = [line for line in output.splitlines() if "TWILIO_AUTH_TOKEN" in line]
    assert refusals == [f"error: {settings_mod.production_refusal()}"], output
    assert "IVR_INSECURE=1" in refusals[0]
    assert "Traceback" not in output


@pytest.mark.parametrize(("token", "insecure", "voice", "phone"), [
    (TOKEN, None, 403, 404),  # signed webhooks only, no web phone
    ("", "1", 200, 200),      # run open on purpose: as a checkout's app:app does
])
def test_gunicorn_runs_the_line_with_a_token_or_when_told_to_run_open(serve, tmp_path, token, insecure,
                                                                      voice, phone):
    folder = tmp_path / "no-env"
    folder.mkdir()
    base, log = serve(token, gunicorn="plain", cwd=folder, env={"IVR_INSECURE": insecure} if insecure else {})
    assert requests.post(base + "/voice", data={"CallSid": "CA1"}, timeout=5).status_code == voice
    assert requests.get(base + "/phone", timeout=5).status_code == phone
    # The operator is told, once, that no .env was read.
    [note] = _settings_notes(log)
    assert note.endswith("settings: no .env file found: the environment only")


# -- slow clients and a database that stops answering do not silence the line --------------

#: Slow clients held open while the line must keep answering (issue 19: 40 of them).
SLOW = 40


def still_waiting(sock) -> bool:
    """True while the server neither answered `sock` nor hung up on it."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return True
    return False  # an answer, or the end of the connection


def signed_call(base, n, caller="+573001234567", timeout=15):
    """The first webhook of call `n` as Twilio signs it (Twilio waits 15 s for it)."""
    params = {"CallSid": f"CA{n:032x}", "From": caller, "CallStatus": "ringing"}
    url = base + "/voice"
    return requests.post(url, data=params, headers={"X-Twilio-Signature": sign(url, params)},
                         timeout=timeout)


@pytest.mark.parametrize("gunicorn", [False, True], ids=["ivr serve", "gunicorn -c python:ivr.serving"])
def test_signed_calls_are_answered_while_slow_clients_hang_on(serve, gunicorn):
    """A client that sends its headers a line at a time holds a greenlet, not the worker:
    with 40 of them connected, one worker answers every signed call while they wait."""
    base, _ = serve(TOKEN, gunicorn=gunicorn)
    port = int(base.rsplit(":", 1)[1])
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(SLOW)]
    try:
        for sock in slow:
            sock.sendall(b"POST /voice HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        for n in range(5):
            for sock in slow:  # one more header line each, and never the end of them
                sock.sendall(f"X-Slow-{n}: {n}\r\n".encode())
            r = signed_call(base, n)
            assert r.status_code == 200 and assert_valid_twiml(r.content)[0].tag == "Gather"
            # ...answered while every slow client is still connected, unanswered.
            assert [still_waiting(sock) for sock in slow] == [True] * SLOW
    finally:
        for sock in slow:
            sock.close()


class Relay:
    """A TCP door to the test's PostgreSQL (a unix socket). It forwards until `hold()`; then
    it cuts the connections it forwarded and takes new ones without ever answering them, as
    a database host that went down and stopped answering would. `held` is set when one
    comes in; `open_held()` counts those whose client has not given up on them yet
    (psycopg does after its connect timeout)."""

    def __init__(self, unix_path):
        self.unix_path = unix_path
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.holding = False
        self.held = threading.Event()
        self._open = 0
        self._sockets = [self.listener]
        self._forwarded = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def hold(self):
        """From now on the database host does not answer: the connections open so far are
        cut (as its restart would), and new ones are held."""
        self.holding = True
        with self._lock:
            forwarded, self._forwarded = self._forwarded, []
        for s in forwarded:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def open_held(self) -> int:
        with self._lock:
            return self._open

    def close(self):
        with self._lock:
            for s in self._sockets:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._sockets.append(client)
            if self.holding:
                threading.Thread(target=self._hold, args=(client,), daemon=True).start()
                continue
            upstream = socket.socket(socket.AF_UNIX)
            with self._lock:
                self._sockets.append(upstream)
                self._forwarded += [client, upstream]
            upstream.connect(self.unix_path)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _hold(self, client):
        with self._lock:
            self._open += 1
        self.held.set()
        with contextlib.suppress(OSError):
            while client.recv(4096):  # psycopg's start-up packet, then nothing until it gives up
                pass
        with self._lock:
            self._open -= 1

    @staticmethod
    def _pipe(a, b):
        with contextlib.suppress(OSError):
            while data := a.recv(65536):
                b.sendall(data)
        with contextlib.suppress(OSError):
            b.shutdown(socket.SHUT_WR)


@pytest.fixture
def relay(postgres):
    """A Relay to the session's PostgreSQL, closed after the server the test started."""
    door = Relay(f"{postgres.dir}/.s.PGSQL.{postgres.port}")
    yield door
    door.close()


@pytest.mark.parametrize("gunicorn", [False, True], ids=["ivr serve", "gunicorn -c python:ivr.serving"])
def test_a_database_that_stops_answering_does_not_stall_the_worker(relay, serve, postgres, gunicorn):
    """psycopg waits for PostgreSQL through gevent: while a call's question waits on a
    database host that does not answer, the same worker answers other requests."""
    name = f"relay{int(gunicorn)}"
    postgres.create_database(name)
    base, _ = serve(TOKEN, gunicorn=gunicorn, database_url=f"postgresql://postgres@127.0.0.1:{relay.port}/{name}")
    relay.hold()
    first = {}
    caller = threading.Thread(target=lambda: first.update(r=signed_call(base, 1)))
    caller.start()  # a known caller: the line asks the store where they were
    assert relay.held.wait(15), "the line never asked the database"
    r = requests.get(base + "/healthz", timeout=15)
    assert r.status_code == 200
    # Answered while the question's connection was still waiting on the database.
    assert relay.open_held() > 0
    caller.join()
    # The caller is answered too, without the store: from the start, no offer to resume.
    assert first["r"].status_code == 200
    assert assert_valid_twiml(first["r"].content)[0].tag == "Gather"


# -- a broken content file stops every entry point ------------------------------------------

BIN = Path(sys.executable).parent


def _gunicorn_flags():
    """Flags that keep a test's gunicorn to itself: no control socket in ~/.gunicorn (25+)."""
    from gunicorn.config import Config

    return ["--no-control-socket"] if "control_socket_disable" in Config().settings else []


ENTRY_POINTS = {
    # name: (command, run from the checkout?)
    "gunicorn ivr.wsgi:app": ([str(BIN / "gunicorn"), "-w", "3", "ivr.wsgi:app"], False),
    "gunicorn app:app": ([str(BIN / "gunicorn"), "-w", "3", "app:app"], True),
    # As docs/serving.md runs it: gevent workers, each loading the app after it is patched.
    "gunicorn -c python:ivr.serving ivr.wsgi:app": (
        [str(BIN / "gunicorn"), "-c", "python:ivr.serving", "-w", "3", "ivr.wsgi:app"], False),
    # The master loads the app itself: no workers are started at all.
    "gunicorn --preload ivr.wsgi:app": ([str(BIN / "gunicorn"), "--preload", "-w", "3", "ivr.wsgi:app"], False),
    "flask --app ivr.wsgi run": ([str(BIN / "flask"), "--app", "ivr.wsgi", "run"], False),
    "flask --app app run --debug": ([str(BIN / "flask"), "--app", "app", "run", "--debug"], True),
    "ivr serve": ([str(BIN / "ivr"), "serve", "--insecure", "--workers", "3"], False),
}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_a_broken_content_file_stops_every_entry_point(entry, tmp_path):
    command, in_checkout = ENTRY_POINTS[entry]
    port = str(free_port())
    if command[0].endswith("gunicorn"):
        command = [*command[:1], "-b", f"127.0.0.1:{port}", *_gunicorn_flags(), *command[1:]]
    elif command[0].endswith("flask"):
        command = [*command, "--port", port]
    else:
        command = [*command, "--host", "127.0.0.1", "--port", port]
    bad = tmp_path / "content.toml"
    bad.write_text("[prompts.welcome]\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "FLASK_"))}
    # Run open (IVR_INSECURE): without a token the production entry points would stop first.
    env.update(IVR_CONTENT=str(bad), TWILIO_AUTH_TOKEN="", PUBLIC_BASE_URL="", IVR_INSECURE="1")
    proc = subprocess.Popen(command, env=env, cwd=ROOT if in_checkout else tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output, _ = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        output, _ = proc.communicate()
        pytest.fail(f"{entry} still running after 10 s:\n{output[-3000:]}")
    problem = f"{bad}: prompt 'welcome' has no `text`"
    errors = [line for line in output.splitlines() if problem in line]
    # One line naming the file and the problem, however many workers; no traceback.
    assert errors == [f"Error: {problem}" if entry == "ivr serve" else f"error: {problem}"], output
    assert "Traceback" not in output, output
    assert proc.returncode == (1 if entry == "ivr serve" else startup.APP_LOAD_ERROR), output
    if entry.startswith("gunicorn"):
        # The master stops instead of starting new workers forever: at most a few restarts.
        boots = output.count("Booting worker with pid")
        if "--preload" in entry:
            assert boots == 0, output
        else:
            assert 1 <= boots <= 2 * 3 and "App failed to load" in output, output


def test_only_the_first_failing_worker_of_a_master_says_so(tmp_path):
    assert startup.first_failure(tmp_path) and not startup.first_failure(tmp_path)
    marker = tmp_path / f"ivr-load-error-{os.getppid()}"
    old = time.time() - startup.FAILURE_SECONDS - 1
    os.utime(marker, (old, old))  # an earlier master that had the same pid
    assert startup.first_failure(tmp_path) and not startup.first_failure(tmp_path)


def test_a_worker_is_told_from_a_master_loading_the_app_itself(monkeypatch):
    import signal

    monkeypatch.delenv("SERVER_SOFTWARE", raising=False)
    assert not startup.in_gunicorn_worker()
    monkeypatch.setenv("SERVER_SOFTWARE", "gunicorn/27.0.1")
    previous = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a master before it starts
    try:
        assert not startup.in_gunicorn_worker()
        signal.signal(signal.SIGTERM, lambda signum, frame: None)  # a worker's own handler
        assert startup.in_gunicorn_worker()
    finally:
        signal.signal(signal.SIGTERM, previous)
