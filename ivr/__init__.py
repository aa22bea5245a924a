"""Línea Alcanos: a Spanish phone line that guides a caller through paying an Alcanos bill."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Config, Flask
from twilio.request_validator import RequestValidator

from . import content as content_mod, security
from .audio import AudioStore
from .flow import Flow
from .twiml import Renderer

#: The checkout this package lives in: where content.toml and audio/ are by default.
ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger(__name__)


@dataclass
class Line:
    """Everything a webhook needs, built once at startup."""

    content: content_mod.Content
    flow: Flow
    audio: AudioStore
    twiml: Renderer
    #: Checks X-Twilio-Signature; None when no auth token is set (local use only).
    validator: RequestValidator | None
    #: PUBLIC_BASE_URL without its trailing '/'; '' when the request's own root is used.
    public_base: str = ""


#: Settings read from the environment under their own names (the others are IVR_<NAME>).
ENVIRONMENT = ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "PUBLIC_BASE_URL")


def environment_config() -> Config:
    """The settings the environment and .env give, as create_app reads them."""
    from dotenv import find_dotenv, load_dotenv

    # The .env of the directory the command runs in (or above it), not the package's own.
    load_dotenv(find_dotenv(usecwd=True))
    config = Config(str(ROOT))
    config.from_prefixed_env("IVR")
    for name in ENVIRONMENT:
        if os.environ.get(name):
            config[name] = os.environ[name]
    return config


def create_app(test_config=None):
    """Build the Flask app; content and audio are loaded and checked here, once."""
    app = Flask(__name__)
    app.config.from_mapping(
        CONTENT=str(ROOT / "content.toml"),
        AUDIO_DIR=str(ROOT / "audio"),
        SAY_VOICE="Polly.Mia",
        SAY_LANGUAGE="es-MX",
        PUBLIC_BASE_URL="",
        TWILIO_AUTH_TOKEN="",
        TWILIO_ACCOUNT_SID="",
        TRUSTED_PROXIES=0,
        # Twilio's webhook bodies are a few KB. The body must be read before its signature can
        # be checked, so an unsigned sender could otherwise make a worker hold any amount.
        MAX_CONTENT_LENGTH=64 * 1024,
        # The browser phone (/phone): on for local runs; `ivr serve` turns it off.
        WEB_PHONE=True,
    )
    app.config.from_mapping(environment_config() if test_config is None else test_config)

    content = content_mod.load(app.config["CONTENT"])
    audio = AudioStore(app.config["AUDIO_DIR"], content)
    app.extensions["ivr"] = Line(
        content=content,
        flow=Flow(content.steps),
        audio=audio,
        twiml=Renderer(content, audio, app.config["SAY_VOICE"], app.config["SAY_LANGUAGE"]),
        validator=security.validator(app.config["TWILIO_AUTH_TOKEN"]),
        public_base=app.config["PUBLIC_BASE_URL"].rstrip("/"),
    )
    s = audio.summary()
    app.logger.info(
        "content %s: %d prompts, %d steps; audio: %d playable (%s), %d missing, %d stale",
        content.path, s["prompts"], content.steps, s["playable"],
        ", ".join(s["engines"]) or "no engine", len(s["missing"]), len(s["stale"]),
    )

    security.init_app(app)

    from . import audio as audio_routes, health, voice

    app.register_blueprint(voice.bp)
    app.register_blueprint(audio_routes.bp)
    app.register_blueprint(health.bp)
    if app.config["WEB_PHONE"]:
        from . import phone

        app.register_blueprint(phone.bp)
    return app
