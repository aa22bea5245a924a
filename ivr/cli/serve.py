"""`ivr serve`: the line under gunicorn's gevent workers, the production command."""

import os

import click

from ..settings import ConfigError, Settings
from .common import make_app

#: More workers than this only add memory: each call turn is a millisecond of CPU.
MAX_WORKERS = 8


def default_workers() -> int:
    """gunicorn's rule of thumb, 2 x cores + 1, capped."""
    return min(2 * (os.cpu_count() or 1) + 1, MAX_WORKERS)


def server(build, options):
    """gunicorn for the app `build()` makes, built once here (not imported by each worker).

    gevent patches this process first (ivr.serving.patch): the app, its call store writer
    and its database driver are then made cooperative, before gunicorn forks the workers.
    """
    from gunicorn.app.base import BaseApplication

    from .. import serving

    serving.patch()
    app = build()

    class Server(BaseApplication):
        def load_config(self):
            for name, setting in options.items():
                self.cfg.set(name, setting)

        def load(self):
            return app

    return Server()


@click.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, envvar="PORT",
              show_default="$PORT or 8000", help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=default_workers,
              envvar="WEB_CONCURRENCY", show_default="$WEB_CONCURRENCY or 2 x cores + 1, at most 8",
              help="gunicorn worker processes.")
@click.option("--insecure", is_flag=True,
              help="Serve without TWILIO_AUTH_TOKEN (as IVR_INSECURE=1): anyone can then call "
                   "the webhooks.")
def serve(host, port, workers, insecure):
    """Serve the line to Twilio with gunicorn's gevent workers (the production command).

    The web phone (/phone) is off here unless IVR_WEB_PHONE=1. docs/serving.md says how
    the line is served and why.
    """
    from gunicorn.config import Config

    from .. import logs, serving
    from .. import settings as settings_mod

    config = settings_mod.from_environment()
    if insecure:
        config["INSECURE"] = True
    # Checked before anything starts, so the refusal is the one line the operator sees.
    try:
        settings_mod.production_rule(Settings.from_config(config, check=False))
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    # The browser phone is for trying the line, not for the public: off unless asked for.
    config.setdefault("WEB_PHONE", False)

    def build():
        logs.configure()  # the webhook lines are INFO
        return make_app(config=config)

    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    server(build, {**serving.options(Config().settings), "bind": bind, "workers": workers}).run()
