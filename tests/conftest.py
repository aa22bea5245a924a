import os
import shutil
from pathlib import Path

import pytest
from lxml import etree

from ivr import ROOT, create_app
from ivr.audio import read_manifest
from ivr.player import Call, Catalog, FlaskTransport, ScriptedKeypad

SCHEMA_DIR = Path(__file__).parent / "twiml-schema"


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
    return create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir)})


@pytest.fixture
def say_app(no_audio):
    return create_app({"TESTING": True, "AUDIO_DIR": str(no_audio)})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def content(app):
    return app.extensions["ivr"].content


def walk(app, keys, url="http://localhost/voice", **kw):
    """Play a whole call against `app` with scripted keys; every document must validate."""
    line = app.extensions["ivr"]
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
