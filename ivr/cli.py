"""The `ivr` command: try the line, build its audio, serve it."""

import logging
import os

import click

from .content import ContentError
from .security import ConfigError

#: More workers than this only add memory: each call turn is a millisecond of CPU.
MAX_WORKERS = 8


def make_app(served=True):
    """The app as configured by the environment and .env; a bad content file is a CLI error.

    `served` False: the app only answers in-process (`ivr call`), so no webhook is exposed
    and the warning about unauthenticated ones would only be noise.
    """
    from . import create_app

    security_log = logging.getLogger("ivr.security")
    level = security_log.level
    if not served:
        security_log.setLevel(logging.ERROR)
    try:
        return create_app()
    except (ContentError, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    finally:
        security_log.setLevel(level)


@click.group()
def cli():
    """Línea Alcanos: a phone line that guides callers through paying an Alcanos bill."""


def print_event(event):
    """One transcript line per thing that happens on the call."""
    if event.kind in ("say", "play"):
        tag = f"[{event.prompt}]" if event.prompt else f"[{event.kind}]"
        click.echo(f"LINE  {tag} {event.text}")
    elif event.kind == "pause":
        click.echo(f"LINE  (pause {event.text}s)")
    elif event.kind == "keys":
        click.echo(f"KEYS  {event.text}")
    elif event.kind == "silence":
        click.echo("KEYS  (silence)")
    elif event.kind == "hangup":
        click.echo("END   the line hung up")
    elif event.kind == "gone":
        click.echo("END   the caller hung up")
    elif event.kind == "end":
        click.echo("END   no more TwiML: Twilio hangs up")


@cli.command()
@click.option("--keys", metavar="KEYS",
              help="Scripted call: keys per prompt, comma-separated; '-' is silence (e.g. 1,2,2,3,-).")
@click.option("--url", metavar="URL", help="Call a running server (e.g. http://localhost:5000/voice) instead of the app in-process.")
def call(keys, url):
    """Walk a call through the line without a phone, printing what is said."""
    from .audio import read_manifest
    from .player import Call, Catalog, FlaskTransport, HttpTransport, PlayerError, ScriptedKeypad

    if keys is None:
        raise click.UsageError("give the keys to press with --keys, e.g. --keys 1,2,2,3,-")
    app = make_app(served=False)
    line = app.extensions["ivr"]
    transport = HttpTransport() if url else FlaskTransport(app)
    the_call = Call(
        transport,
        url=url or "http://localhost/voice",
        keypad=ScriptedKeypad(keys),
        catalog=Catalog(line.content, read_manifest(line.audio.directory)),
        on_event=print_event,
        # Signed as Twilio signs, so the line answers with its signature check on.
        auth_token=app.config["TWILIO_AUTH_TOKEN"] or None,
    )
    try:
        the_call.run()
    except PlayerError as e:
        raise click.ClickException(str(e)) from None


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


@cli.command()
@click.option("--host", default="0.0.0.0", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, envvar="PORT",
              show_default="$PORT or 8000", help="Port to listen on.")
@click.option("--workers", type=click.IntRange(min=1), default=default_workers,
              envvar="WEB_CONCURRENCY", show_default="$WEB_CONCURRENCY or 2 x cores + 1, at most 8",
              help="gunicorn worker processes.")
@click.option("--insecure", is_flag=True,
              help="Serve without TWILIO_AUTH_TOKEN: anyone can then call the webhooks.")
def serve(host, port, workers, insecure):
    """Serve the line to Twilio with gunicorn (the production command)."""
    from . import environment_config, logs

    # Checked before anything starts, so the refusal is the one line the operator sees.
    if not environment_config().get("TWILIO_AUTH_TOKEN") and not insecure:
        raise click.ClickException(
            "TWILIO_AUTH_TOKEN is not set, so anyone could call the line's webhooks; "
            "set it (environment or .env), or pass --insecure to serve without it"
        )
    logs.configure()  # the webhook lines are INFO
    app = make_app()
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
    }).run()
