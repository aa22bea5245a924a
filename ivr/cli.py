"""The `ivr` command: try the line, build its audio, serve it."""

import logging

import click

from .content import ContentError
from .security import ConfigError


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
