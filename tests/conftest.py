import os
import shutil
from pathlib import Path
from urllib.parse import urlencode

import pytest
from lxml import etree
from twilio.request_validator import RequestValidator

from ivr import ROOT, create_app
from ivr.audio import read_manifest
from ivr.player import Call, Catalog, FlaskTransport, ScriptedKeypad

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


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
def runner(app):
    return app.test_cli_runner()


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
