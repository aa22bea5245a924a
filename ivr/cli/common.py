"""What the `ivr` commands share: the app as the environment configures it, the settings
without the app, the call store's database, and twilio's HTTP seam for tests."""

import logging
from pathlib import Path

import click

from ..content import ContentError
from ..line import line_of
from ..settings import ConfigError, Settings


def make_app(served=True, config=None, audio_warning=True):
    """The app as configured by the environment and .env (or `config`, read from them);
    a bad content file is a CLI error.

    `served` False: the app only answers in-process (`ivr call`, `ivr audio`), so no webhook
    is exposed and the warning about unauthenticated ones would only be noise. What else the
    app warns about as it starts is shown once, as a `warning:` line on stderr, not as a log
    record; of the audio folder's problems, only one that leaves nothing to play (no folder,
    no manifest), and only with `audio_warning` (not when the audio heard is a server's, or
    is about to be built). The offline engine's note is for `ivr serve` and /healthz.
    """
    from .. import create_app
    from ..store import StoreError

    security_log = logging.getLogger("ivr.security")
    level = security_log.level
    startup = StartupWarnings()
    if not served:
        security_log.setLevel(logging.ERROR)
        startup.attach()
    try:
        app = create_app(config)
    except (ContentError, ConfigError, StoreError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        security_log.setLevel(level)
        startup.detach()
    audio = line_of(app).audio
    problems = audio.problems()
    shown = problems if audio_warning and not audio.manifest else []
    for message in startup.messages:
        if message not in problems or message in shown:
            click.echo(f"warning: {message}", err=True)
    return app


class StartupWarnings(logging.Handler):
    """Collects the warnings the line's loggers give while the app is built, each once."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []
        self._logger = logging.getLogger("ivr")
        self._propagate = self._logger.propagate

    def emit(self, record):
        message = record.getMessage()
        if message not in self.messages:
            self.messages.append(message)

    def attach(self):
        # Attached to the line's own logger, which Flask's app.logger is: Flask then adds no
        # handler of its own, and nothing reaches the root logger twice.
        self._logger.addHandler(self)
        self._logger.propagate = False

    def detach(self):
        self._logger.removeHandler(self)
        self._logger.propagate = self._propagate


def settings(check: bool = True) -> Settings:
    """The settings as `ivr serve` would read them (environment and .env), or a one-line
    error; `check` False: each setting on its own (Settings.from_config)."""
    from .. import settings as settings_mod

    config = settings_mod.from_environment()
    try:
        return Settings.from_config(config, check)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None


def database_url(settings: Settings) -> str:
    """The call store's URL as create_app would open it, without building the app (so
    `ivr db upgrade` works on a database the app would refuse)."""
    from .. import paths, store

    return store.url_for(settings.database_url, paths.instance_path())[0]


def open_checked(url):
    """An engine on a migrated database, or a one-line error. A SQLite file that does not
    exist is not made here: reading it would leave an empty file where the line, on its
    first call, makes and migrates its own."""
    from sqlalchemy.engine import make_url

    from .. import paths, store

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).exists():
        if url == store.url_for("", paths.instance_path())[0]:
            raise click.ClickException(f"no call store at {parsed.database} yet: the line makes it "
                                       f"on its first call (or set DATABASE_URL to the line's database)")
        raise click.ClickException(f"the database {parsed.database} has no schema: run `ivr db upgrade`")
    try:
        engine = store.create_engine(url)
    except store.StoreError as e:
        raise click.ClickException(str(e)) from None
    try:
        store.check(engine)
    except store.StoreError as e:
        engine.dispose()
        raise click.ClickException(str(e)) from None
    return engine


def twilio_http_client(ctx):
    """twilio's HTTP client seam: tests pass one as CliRunner's obj={'twilio_http_client': …}."""
    obj = ctx.find_object(dict)
    return obj.get("twilio_http_client") if obj else None


def clock(ctx):
    """The current time (UTC): tests pass a fixed one as CliRunner's obj={'clock': …}."""
    from datetime import UTC, datetime

    obj = ctx.find_object(dict)
    found = obj.get("clock") if obj else None
    return found() if found else datetime.now(UTC)
