"""`ivr call`: walk a call through the line without a phone, printing what is said."""

import shlex
import shutil
import sys
from urllib.parse import urlsplit

import click

from ..line import line_of
from ..player import CONFIDENCE
from .common import make_app, twilio_http_client

#: What Twilio sends as From when the caller withholds their number.
ANONYMOUS = "anonymous"


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
    elif event.kind == "speech":
        sure = "" if event.confidence == CONFIDENCE else f"  (confidence {event.confidence:g})"
        click.echo(f"SAYS  {event.text}{sure}")
    elif event.kind == "silence":
        click.echo("KEYS  (silence)")
    elif event.kind == "ignored":
        click.echo(f"KEYS  (not taken: {event.text})")
    elif event.kind == "unheard":
        click.echo(f"SAYS  (not heard: {event.text}; the line listens for keys only there)")
    elif event.kind == "dial":
        caller = f" (caller id {event.caller_id})" if event.caller_id else ""
        click.echo(f"DIAL  {event.text}{caller}")
    elif event.kind == "whisper":
        tag = f"[{event.prompt}]" if event.prompt else "[whisper]"
        click.echo(f"PERSON hears {tag} {event.text}")
    elif event.kind == "person":
        click.echo("PERSON takes the call (1)" if event.text == "taken" else "PERSON does not take the call")
    elif event.kind == "dialed":
        talk = f", {event.seconds} s" if event.seconds is not None else ""
        click.echo(f"DIAL  ({event.text}{talk})")
    elif event.kind == "beep":
        click.echo("LINE  (beep)")
    elif event.kind == "record":
        said = f"{event.text} s" if event.text != "0" else "nothing"
        click.echo(f"SAYS  (a message: {said})")
    elif event.kind == "hangup":
        click.echo("END   the line hung up")
    elif event.kind == "gone":
        click.echo("END   the caller hung up")
    elif event.kind == "end":
        click.echo("END   no more TwiML: Twilio hangs up")


def trial_store(config):
    """Point `config` at a throwaway call store (a SQLite file in a temporary folder, with a
    key of its own) when the line has a person to dial; the folder, to clean up after."""
    import secrets
    import tempfile

    from .. import store
    from ..settings import ConfigError, Settings

    try:
        if not Settings.from_config({**config}, check=False).agent_number:
            return None
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    folder = tempfile.TemporaryDirectory(prefix="ivr-call-")
    url = f"sqlite:///{folder.name}/trial.sqlite3"
    try:
        store.upgrade(url)
    except store.StoreError as e:
        folder.cleanup()
        raise click.ClickException(str(e)) from None
    config.update(STORE=True, DATABASE_URL=url, SECRET_KEY=secrets.token_hex(16))
    return folder


def in_process_url(app) -> str:
    """The URL the app sees for an incoming call, the one Twilio would sign: its public
    base URL when configured (so signatures match a server behind a tunnel), else localhost."""
    return (line_of(app).public_base or "http://localhost") + "/voice"


def audio_commands(choice):
    """(player, speaker) commands for --player: 'auto', 'none', or a command line."""
    from ..player.terminal import find_player, find_speaker

    if choice == "none":
        return None, None
    if choice == "auto":
        player = find_player()
        return player, (find_speaker() if player else None)
    player = shlex.split(choice)
    if not player or not shutil.which(player[0]):
        raise click.UsageError(f"--player: {choice!r} is not a command on PATH")
    return player, find_speaker()


@click.command()
@click.option("--keys", metavar="KEYS",
              help="Scripted call: what the caller does at each prompt, comma-separated: keys, '-' for"
                   " silence, or say:WORDS to speak (say@0.3:WORDS for a low confidence);"
                   " at a transfer to a person, dial:STATUS says how it ends (completed: the person"
                   " takes the call, declined: answers without taking it, busy, failed...; default"
                   " no-answer); at a message, record:SECONDS is what is said (default nothing);"
                   " e.g. 1,2,say:siguiente,-,9,dial:busy,1,record:14.")
@click.option("--url", metavar="URL",
              help="Call a running server (e.g. http://127.0.0.1:5000/voice) instead of the app in-process.")
@click.option("--player", metavar="CMD", envvar="IVR_CALL_PLAYER", default="auto", show_default=True,
              help="Interactive calls: command that plays an audio file; 'auto' finds one, 'none' is text only.")
@click.option("--from", "caller", metavar="NUMBER",
              help="The caller's number the line sees, in E.164 (default +573001234567); with"
                   " texts on, key 7 texts it for real.")
@click.pass_context
def call(ctx, keys, url, player, caller):
    """Walk a call through the line without a phone, printing what is said.

    Without --keys, in a terminal: press 0-9 * # as on a phone; " (or s) then words and
    Enter says them; q or Ctrl-C hangs up.
    Requests are signed when TWILIO_AUTH_TOKEN is set (environment or .env).
    """
    from ..audio import read_manifest
    from ..player import (
        Call,
        Catalog,
        Event,
        FlaskTransport,
        HttpTransport,
        PlayerError,
        ScriptedKeypad,
    )
    from ..settings import is_e164

    interactive = keys is None
    if interactive and not sys.stdin.isatty():
        raise click.UsageError("give the keys to press with --keys, e.g. --keys 1,2,2,3,-"
                               " (without --keys, `ivr call` needs a terminal)")
    if caller is not None and not is_e164(caller):
        raise click.UsageError(f"--from {caller!r} must be a number in E.164, like +573001234567")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise click.UsageError(f"--url {url!r} must look like http://127.0.0.1:5000/voice")
    try:
        scripted = None if interactive else ScriptedKeypad(keys)
    except ValueError as e:
        raise click.UsageError(f"--keys: {e}") from None
    if interactive:
        sound, speaker = audio_commands(player)

    # The environment and .env, where TWILIO_AUTH_TOKEN may be; texts (key 7) go through
    # twilio's HTTP client seam when a test hands one over. With --url the server's audio
    # is heard, so this one's folder is not worth a warning.
    from .. import settings as settings_mod

    # A call walked in-process is a trial, not a caller: the operator's call store keeps none
    # of it (nothing in the report or the inbox). It runs on a store of its own, thrown away
    # after the call, so a message or a call back works as on the line. With --url, the app
    # built here only names what the server says (the server's store keeps that call).
    config = {**settings_mod.from_environment(), "STORE": False}
    trial = None if url else trial_store(config)
    http_client = twilio_http_client(ctx)
    if http_client is not None:
        config["TWILIO_HTTP_CLIENT"] = http_client
    app = make_app(served=False, config=config, audio_warning=not url)
    line = line_of(app)
    # Signed as Twilio signs, so the line answers with its signature check on.
    token = line.settings.twilio_auth_token or None
    start = url or in_process_url(app)
    if caller is None and not url and line.texter and http_client is None:
        # Texts are on and would reach Twilio's real API: key 7 must not text a stranger.
        click.echo("NOTE  texts (7) are on: this call comes from a withheld number;"
                   " --from YOUR_NUMBER to get the text")
        caller = ANONYMOUS

    if interactive:
        from ..player.terminal import TerminalKeypad, describe

        where = "the server" if url else "the app, in-process"
        signed = "signed with TWILIO_AUTH_TOKEN" if token else "unsigned (no TWILIO_AUTH_TOKEN)"
        click.echo(f"Calling {start} ({where}); requests {signed}.")
        sounds = "text only (--player none)" if player == "none" else describe(sound, speaker)
        click.echo(sounds[0].upper() + sounds[1:] + ".")
        click.echo('Keys: 0-9 * # as on a phone; " (or s) to say something; q or Ctrl-C hangs up.')
        keypad = TerminalKeypad(
            sys.stdin.fileno(), player=sound, speaker=speaker,
            warn=lambda message: click.echo(f"NOTE  {message}"),
        )
    else:
        keypad = scripted

    transport = HttpTransport() if url else FlaskTransport(app)
    if trial:
        # The trial's store goes with its folder: its writer stops first.
        ctx.call_on_close(lambda: (line.store.close(), trial.cleanup()))
    the_call = Call(
        transport,
        url=start,
        keypad=keypad,
        catalog=Catalog(line.content, read_manifest(line.audio.directory)),
        auth_token=token,
        on_event=print_event,
        **({"caller": caller} if caller else {}),
    )
    try:
        with transport, keypad:
            the_call.run()
    except PlayerError as e:
        raise click.ClickException(str(e)) from None
    except KeyboardInterrupt:
        # Ctrl-C between prompts (while a request is under way): the caller hung up.
        print_event(Event("gone"))
