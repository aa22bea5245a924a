"""Línea Alcanos: a Spanish phone line that guides a caller through paying an Alcanos bill."""

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from . import content as content_mod
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


def create_app(test_config=None):
    """Build the Flask app; content and audio are loaded and checked here, once."""
    app = Flask(__name__)
    app.config.from_mapping(
        CONTENT=str(ROOT / "content.toml"),
        AUDIO_DIR=str(ROOT / "audio"),
        SAY_VOICE="Polly.Mia",
        SAY_LANGUAGE="es-MX",
        PUBLIC_BASE_URL="",
        TWILIO_AUTH_TOKEN=None,
        # The browser phone (/phone): on for local runs; `ivr serve` turns it off.
        WEB_PHONE=True,
    )
    if test_config is None:
        from dotenv import load_dotenv

        load_dotenv()
        app.config.from_prefixed_env("IVR")
        for name in ("PUBLIC_BASE_URL", "TWILIO_AUTH_TOKEN"):
            if os.environ.get(name):
                app.config[name] = os.environ[name]
    else:
        app.config.from_mapping(test_config)

    content = content_mod.load(app.config["CONTENT"])
    audio = AudioStore(app.config["AUDIO_DIR"], content)
    app.extensions["ivr"] = Line(
        content=content,
        flow=Flow(content.steps),
        audio=audio,
        twiml=Renderer(content, audio, app.config["SAY_VOICE"], app.config["SAY_LANGUAGE"]),
    )
    s = audio.summary()
    app.logger.info(
        "content %s: %d prompts, %d steps; audio: %d playable (%s), %d missing, %d stale",
        content.path, s["prompts"], content.steps, s["playable"],
        ", ".join(s["engines"]) or "no engine", len(s["missing"]), len(s["stale"]),
    )

    from . import audio as audio_routes, voice

    app.register_blueprint(voice.bp)
    app.register_blueprint(audio_routes.bp)
    if app.config["WEB_PHONE"]:
        from . import phone

        app.register_blueprint(phone.bp)
    return app
