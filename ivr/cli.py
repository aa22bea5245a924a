"""The `ivr` command: try the line, build its audio, serve it."""

import os
from urllib.parse import urlsplit

import click

from .content import ContentError


def make_app():
    """The app as configured by the environment and .env; a bad content file is a CLI error."""
    from . import create_app

    try:
        return create_app()
    except ContentError as e:
        raise click.ClickException(str(e)) from None


@click.group()
def cli():
    """Línea Alcanos: a phone line that guides callers through paying an Alcanos bill."""


def print_event(event):
    """One transcript line per thing that happens on the call."""
    if event.kind in ("say", "play"):
        tag = f"[{event.prompt}]" if event.prompt else f"[{event.kind}]"
        click.echo(f"LINE  {tag} {event.text}")
    elif event.kind == "tones":
        click.echo(f"LINE  (tones {event.text})")
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


def in_process_url(app) -> str:
    """The URL the app sees for an incoming call, the one Twilio would sign: its public
    base URL when configured (so signatures match a server behind a tunnel), else localhost."""
    base = (app.config.get("PUBLIC_BASE_URL") or "").rstrip("/") or "http://localhost"
    return base + "/voice"


@cli.command()
@click.option("--keys", metavar="KEYS",
              help="Scripted call: keys per prompt, comma-separated; '-' is silence (e.g. 1,2,2,3,-).")
@click.option("--url", metavar="URL",
              help="Call a running server (e.g. http://127.0.0.1:5000/voice) instead of the app in-process.")
def call(keys, url):
    """Walk a call through the line without a phone, printing what is said.

    Requests are signed when TWILIO_AUTH_TOKEN is set (environment or .env).
    """
    from .audio import read_manifest
    from .player import (
        Call, Catalog, FlaskTransport, HttpTransport, PlayerError, ScriptedKeypad,
    )

    if keys is None:
        raise click.UsageError("give the keys to press with --keys, e.g. --keys 1,2,2,3,-")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise click.UsageError(f"--url {url!r} must look like http://127.0.0.1:5000/voice")
    try:
        keypad = ScriptedKeypad(keys)
    except ValueError as e:
        raise click.UsageError(f"--keys: {e}") from None

    app = make_app()  # also loads .env, where TWILIO_AUTH_TOKEN may be
    line = app.extensions["ivr"]
    token = os.environ.get("TWILIO_AUTH_TOKEN") or None
    start = url or in_process_url(app)
    transport = HttpTransport() if url else FlaskTransport(app)

    the_call = Call(
        transport,
        url=start,
        keypad=keypad,
        catalog=Catalog(line.content, read_manifest(line.audio.directory)),
        auth_token=token,
        on_event=print_event,
    )
    try:
        with transport:
            the_call.run()
    except PlayerError as e:
        raise click.ClickException(str(e)) from None
