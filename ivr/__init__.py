"""Línea Alcanos: a Spanish phone line that guides a caller through paying an Alcanos bill."""

from flask import Flask

from . import agent as agent_mod
from . import content as content_mod
from . import paths, recordings, security, sms
from . import settings as settings_mod
from . import store as store_mod
from .audio import AudioStore
from .content import ContentError
from .flow import Flow
from .line import MAX_BASES, Line, current_line
from .paths import ROOT
from .screening import Screenings
from .settings import ConfigError, Settings
from .twiml import Renderer

__all__ = ["create_app", "Line", "current_line", "ROOT", "MAX_BASES", "ConfigError"]


def create_app(test_config=None):
    """Build the Flask app: settings, content and audio are read and checked here, once.

    `test_config` replaces the environment and .env (tests, `ivr` commands that have read
    them already). Settings read from the environment (`settings.from_environment`, here or
    by the caller) are logged with the .env file they came from, at INFO.
    """
    app = Flask(__name__, instance_path=paths.instance_path())
    app.config.from_mapping(settings_mod.defaults())
    app.config.from_mapping(settings_mod.from_environment() if test_config is None else test_config)
    settings = Settings.from_config(app.config)
    if "ENV_FILE" in app.config:
        app.logger.info("settings: %s", settings_mod.dotenv_note(app.config))

    security.init_app(app, settings)
    # IVR_SECRET_KEY is Flask's SECRET_KEY too (the web phone's passes are signed with it).
    app.config["SECRET_KEY"] = settings.secret_key or None
    texter = sms.texter(settings)
    agent = agent_mod.from_settings(settings)
    content = content_mod.load(settings.content)
    if texter and not content.sms:
        raise ContentError(
            f"{content.path}: IVR_SMS_FROM is set but the content file has no [sms] text to send")
    audio = AudioStore(settings.audio_dir, content)
    store = store_mod.open_for(settings, app.instance_path)
    line = app.extensions["ivr"] = Line(
        settings=settings,
        content=content,
        # With nobody to answer 9: a message needs the call store; a call back, its
        # number sealed with IVR_SECRET_KEY too.
        flow=Flow(content.steps, sms=texter is not None, agent=agent is not None,
                  message=store is not None, callback=bool(store and settings.secret_key)),
        audio=audio,
        twiml=Renderer(content, audio, settings.say_voice, settings.say_language,
                       settings.audio_base_url, agent.number if agent else ""),
        validator=security.validator(settings.twilio_auth_token),
        texter=texter,
        agent=agent,
        sms_limit=sms.DailyLimit(settings.sms_per_day) if texter else None,
        store=store,
        screenings=Screenings(store) if agent else None,
        recordings=recordings.from_settings(settings) if agent and store else None,
    )
    s = audio.summary()
    app.logger.info(
        "content %s: %d prompts, %d steps; audio: %d playable (%s), %d missing, %d stale",
        content.path, s["prompts"], content.steps, s["playable"],
        ", ".join(s["engines"]) or "no engine", len(s["missing"]), len(s["stale"]),
    )
    for problem in audio.problems():
        app.logger.warning("%s", problem)
    if line.public_base:
        # Every document the line can answer with, made now rather than on the first call
        # (and, under `ivr serve`, once for all the workers it forks).
        line.documents(line.public_base)

    from . import health, media, person, report, voice

    app.register_blueprint(voice.bp)
    app.register_blueprint(person.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(health.bp)
    if line.store and settings.report_password:
        report.init_app(app, line)
    if settings.web_phone_on:
        from . import phone

        app.register_blueprint(phone.bp)
    return app
