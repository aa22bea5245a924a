"""`ivr serve`: the line under gunicorn, the production command."""

import os

import click

from .common import make_app, settings

#: More workers than this only add memory: each call turn is a millisecond of CPU.
MAX_WORKERS = 8


def default_workers() -> int:
    """gunicorn's rule of thumb, 2 x cores + 1, capped."""
    return min(2 * (os.cpu_count() or 1) + 1, MAX_WORKERS)


def server(app, options):
    """A gunicorn server for `app`, built once here (not imported by each worker)."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            for name, setting in options.items():
                self.cfg.set(name, setting)
            # gunicorn 25+ opens a control socket in ~/.gunicorn, shared by every server of the
            # user; the line needs none, and two lines on one machine would fight over it.
            if "control_socket_disable" in self.cfg.settings:
                self.cfg.set("control_socket_disable", True)

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
              help="Serve without TWILIO_AUTH_TOKEN: anyone can then call the webhooks.")
def serve(host, port, workers, insecure):
    """Serve the line to Twilio with gunicorn (the production command).

    The web phone (/phone) is off here unless IVR_WEB_PHONE=1.
    """
    from .. import logs, store
    from .. import settings as settings_mod

    config = settings_mod.from_environment()
    # Checked before anything starts, so the refusal is the one line the operator sees.
    if not settings(check=False).twilio_auth_token and not insecure:
        raise click.ClickException(
            "TWILIO_AUTH_TOKEN is not set, so anyone could call the line's webhooks; "
            "set it (environment or .env), or pass --insecure to serve without it"
        )
    logs.configure()  # the webhook lines are INFO
    # The browser phone is for trying the line, not for the public: off unless asked for.
    config.setdefault("WEB_PHONE", False)
    app = make_app(config=config)
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    server(app, {
        "bind": bind,
        "workers": workers,
        # Twilio waits 15 s for TwiML; a worker stuck longer than that is better restarted.
        "timeout": 20,
        # Which forwarded headers count is decided in one place, IVR_TRUSTED_PROXIES (ProxyFix):
        # gunicorn's own trust of X-Forwarded-Proto from 127.0.0.1 would be a second, hidden one.
        "forwarded_allow_ips": "",
        # No access log: a GET webhook's URL holds the caller's number; ivr.webhook masks it.
        "accesslog": None,
        # A stopping worker writes the call turns it still has queued.
        "worker_exit": store.worker_exit,
    }).run()
