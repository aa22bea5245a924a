import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import hypothesis
import pytest
from flask import Flask, Response, abort, request
from lxml import etree
from twilio.request_validator import RequestValidator

from ivr import ROOT, create_app
from ivr.audio import read_manifest
from ivr.player import Call, Catalog, FlaskTransport, ScriptedKeypad
from ivr.ports import free_port  # noqa: F401  (the tests' one free_port)

SCHEMA_DIR = Path(__file__).parent / "twiml-schema"

#: The auth token of the test apps: tests run with signature validation on, as production does.
TOKEN = "test-token"


class _LocalXmlXsd(etree.Resolver):
    # The SSML part of Twilio's schema imports W3C's xml.xsd from the web; use the local copy.
    def resolve(self, url, pubid, context):
        if url.endswith("xml.xsd"):
            return self.resolve_filename(str(SCHEMA_DIR / "xml.xsd"), context)
        return None


def _schema():
    parser = etree.XMLParser()
    parser.resolvers.add(_LocalXmlXsd())
    tree = etree.parse(str(SCHEMA_DIR / "twiml_v20100401_twilioRealtimeCallSchema.xsd"), parser)
    return etree.XMLSchema(tree)


SCHEMA = _schema()


def assert_valid_twiml(body: bytes):
    """Fail unless `body` is a TwiML document Twilio's schema accepts."""
    doc = etree.fromstring(body)
    if not SCHEMA.validate(doc):
        raise AssertionError(f"invalid TwiML: {SCHEMA.error_log}\n{body.decode()}")
    return doc


def read_settings(**config):
    """The line's Settings for these values (app.config keys), as create_app reads them."""
    from ivr.settings import Settings, defaults

    return Settings.from_config({**defaults(), "STORE": False, **config})


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


# Hypothesis keeps neither its example database nor its caches in the checkout (tests write
# only under temporary folders), and in CI it draws the same examples on every run: a red
# build is one anyone can reproduce.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY",
                      os.path.join(tempfile.gettempdir(), "ivr-tests-hypothesis"))
hypothesis.settings.register_profile("local", database=None)
hypothesis.settings.register_profile("ci", database=None, derandomize=True)
hypothesis.settings.load_profile("ci" if in_ci() else "local")


def require(tool: str, package: str) -> str:
    """The path of a Debian tool a test drives; skipped if missing, but never in CI, where
    .ci/run installs it."""
    path = shutil.which(tool)
    if not path:
        if in_ci():
            pytest.fail(f"{tool} is missing: .ci/run should install the {package} package")
        pytest.skip(f"{tool} is not installed (apt-get install {package})")
    return path


@pytest.fixture(autouse=True)
def no_store_unless_asked(monkeypatch, tmp_path):
    """Test apps record nothing unless a test asks for the call store (STORE=True with a
    DATABASE_URL and SECRET_KEY of its own), and their instance folder is the test's own:
    no test writes a database in the checkout."""
    from ivr import paths, settings

    defaults = settings.defaults()
    monkeypatch.setattr(settings, "defaults", lambda: {**defaults, "STORE": False})
    monkeypatch.setattr(paths, "instance_path", lambda: str(tmp_path / "instance"))


@pytest.fixture
def no_audio(tmp_path):
    """An empty audio folder: every prompt falls back to <Say>."""
    d = tmp_path / "no-audio"
    d.mkdir()
    return d


@pytest.fixture
def audio_dir(tmp_path):
    """A private copy of the committed audio/ folder, safe to change in a test."""
    d = tmp_path / "audio"
    shutil.copytree(ROOT / "audio", d)
    return d


@pytest.fixture
def app(audio_dir):
    return create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "TWILIO_AUTH_TOKEN": TOKEN})


@pytest.fixture
def say_app(no_audio):
    return create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN})


@pytest.fixture
def make_app(no_audio):
    """make_app(PUBLIC_BASE_URL=..., TRUSTED_PROXIES=...): a signed app with these settings."""
    def make(**config):
        return create_app({"TESTING": True, "AUDIO_DIR": str(no_audio),
                           "TWILIO_AUTH_TOKEN": TOKEN, **config})
    return make


@pytest.fixture
def client(app):
    return app.test_client()


def sign(url, params=None, token=TOKEN):
    """The X-Twilio-Signature Twilio sends for `url` and the POST `params`."""
    return RequestValidator(token).compute_signature(url, params or {})


def twilio_request(client, method, path, data=None, *, signed_for=None, token=TOKEN,
                   headers=None, base_url="http://localhost"):
    """Send `path` the way Twilio does: a GET's data goes in the query, and the request is
    signed for `signed_for` (default: the very URL requested, as the app sees it)."""
    if method == "GET" and data:
        path += ("&" if "?" in path else "?") + urlencode(data)
        data = None
    url = (signed_for or base_url) + path
    headers = {"X-Twilio-Signature": sign(url, data, token), **(headers or {})}
    return client.open(path, method=method, data=data, headers=headers, base_url=base_url)


@pytest.fixture
def signed(client):
    """signed('POST', '/voice/turn?at=1', {'Digits': '2'}): a request as Twilio signs it."""
    return lambda method, path, data=None, **kw: twilio_request(client, method, path, data, **kw)


@pytest.fixture
def content(app):
    return app.extensions["ivr"].content


def walk(app, keys, url="http://localhost/voice", **kw):
    """Play a whole call against `app` with scripted keys; every document must validate.

    Requests are signed with the app's auth token, as Twilio signs them.
    """
    line = app.extensions["ivr"]
    kw.setdefault("auth_token", app.config["TWILIO_AUTH_TOKEN"] or None)
    call = Call(
        FlaskTransport(app),
        url=url,
        keypad=ScriptedKeypad(keys),
        catalog=Catalog(line.content, read_manifest(line.audio.directory)),
        on_document=lambda url, body: assert_valid_twiml(body),
        **kw,
    )
    return call.run()


@pytest.fixture
def call(app):
    """call('1,2,-') walks a call through the app (committed audio) and returns it."""
    return lambda keys, **kw: walk(app, keys, **kw)


def ulaw_wav(samples: bytes = b"\xff" * 800, rate: int = 8000) -> bytes:
    """A mono 8-bit μ-law WAV (format tag 7), the phone-network format the line's audio uses.

    Written by hand because the `wave` module only writes PCM.
    """
    import struct

    fmt = struct.pack("<HHIIHHH", 7, 1, rate, rate, 1, 8, 0)  # cbSize 0: non-PCM formats carry it
    fact = struct.pack("<I", len(samples))
    pad = b"\0" if len(samples) % 2 else b""
    body = (
        b"WAVE"
        + b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"fact" + struct.pack("<I", len(fact)) + fact
        + b"data" + struct.pack("<I", len(samples)) + samples + pad
    )
    return b"RIFF" + struct.pack("<I", len(body)) + body


def stop(proc) -> None:
    """End a server process a test started: politely, then for good after 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def serving(wsgi_app):
    """Serve `wsgi_app` over real HTTP on a free local port; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, wsgi_app, threaded=True)
    # A short poll interval: shutdown() waits for it, once per test.
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a browser Playwright downloads),
    started once for the session; each test opens its own page."""
    from playwright.sync_api import sync_playwright

    chromium = require("chromium", "chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync",
                  "--autoplay-policy=no-user-gesture-required"],
        )
        yield browser
        browser.close()


# -- a tiny TwiML server for player and CLI tests ------------------------------------------

WAV = ulaw_wav()  # 0.1 s of μ-law silence


def doc(*verbs) -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response>' + "".join(verbs) + "</Response>"


@dataclass
class Seen:
    method: str
    path: str  # with its query string
    values: dict  # the form of a POST, the query of a GET
    signed: bool | None  # None when the server has no token


class Tiny:
    """A tiny TwiML server: path -> document (a string, a Response, or a function of the request)."""

    def __init__(self, docs, token=None):
        self.docs, self.seen = docs, []
        app = Flask("tiny")

        @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
        @app.route("/<path:path>", methods=["GET", "POST"])
        def serve(path):
            # The URL exactly as requested: request.url decodes parts of the query.
            url = request.base_url + ("?" + request.query_string.decode() if request.query_string else "")
            signed = None
            # Twilio signs its webhooks, not its fetches of <Play> media.
            if token and not path.endswith(".wav"):
                params = request.form.to_dict() if request.method == "POST" else {}
                signed = RequestValidator(token).validate(
                    url, params, request.headers.get("X-Twilio-Signature", "")
                )
            values = (request.form if request.method == "POST" else request.args).to_dict()
            self.seen.append(Seen(request.method, request.full_path.rstrip("?"), values, signed))
            if signed is False:
                abort(403)
            found = self.docs.get("/" + path)
            if found is None:
                abort(404)
            if isinstance(found, Response):
                return found
            if callable(found):
                found = found(request)
            return Response(found, mimetype="text/xml")

        self.app = app

    def call(self, keys="", url="http://localhost/start", keypad=None, **kw):
        keypad = keypad or ScriptedKeypad(keys)
        return Call(FlaskTransport(self.app), url=url, keypad=keypad, **kw).run()

    def paths(self):
        return [(s.method, s.path) for s in self.seen]




# -- the call store on real databases -------------------------------------------------------

@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server (Debian's binaries) for the whole session."""
    from postgres import Server, require_postgres

    server = Server(require_postgres())
    server.start()
    yield server
    server.remove()


_databases = iter(range(1, 1_000_000))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """An empty database (no schema yet): a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    return request.getfixturevalue("postgres").create_database(f"t{next(_databases)}")


@pytest.fixture
def recording_line(no_audio, database_url):
    """make(**config): a signed line recording into a migrated database of the test's own
    (both kinds); its stores are closed after the test."""
    from ivr import store as store_mod

    store_mod.upgrade(database_url)
    apps = []

    def make(**config):
        app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                          "STORE": True, "DATABASE_URL": database_url, "SECRET_KEY": "s3cret",
                          **config})
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["ivr"].store.close()


@pytest.fixture
def store(database_url):
    """A Store on a migrated database (both kinds), with a short batch wait; closed after."""
    from ivr import store as store_mod

    store_mod.upgrade(database_url)
    s = store_mod.Store.open(database_url, b"test-secret", wait=0.05)
    yield s
    s.close()


# -- the checkout stays as it was ----------------------------------------------------------

#: What running Python and pytest may add to the checkout; tests themselves write only under
#: their temporary folders.
_OWN_LITTER = {".git", ".venv", "__pycache__", ".pytest_cache", "mutants", ".venv-mutation"}


def _checkout_files() -> set[str]:
    found = set()
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in _OWN_LITTER]
        found.update(os.path.relpath(os.path.join(folder, f), ROOT) for f in files)
    return found


_CHECKOUT = pytest.StashKey[set]()


def pytest_sessionstart(session):
    if not hasattr(session.config, "workerinput"):  # the controller, or a run without xdist
        session.config.stash[_CHECKOUT] = _checkout_files()


def pytest_sessionfinish(session, exitstatus):
    before = session.config.stash.get(_CHECKOUT, None)
    if before is None:
        return
    added = sorted(_checkout_files() - before)
    if added:
        session.config.get_terminal_writer().line(
            f"tests wrote into the checkout: {', '.join(added[:10])}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# -- sharing the work between xdist's workers ----------------------------------------------


def pytest_collection_modifyitems(config, items):
    """Every test in Chromium on one worker (`--dist loadgroup`): one browser started, not one
    per worker, and its pages never compete with each other for the cores."""
    for item in items:
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("chromium"))
