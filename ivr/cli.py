"""The `ivr` command: try the line, build its audio, serve it."""

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
    app = make_app()
    line = app.extensions["ivr"]
    transport = HttpTransport() if url else FlaskTransport(app)
    the_call = Call(
        transport,
        url=url or "http://localhost/voice",
        keypad=ScriptedKeypad(keys),
        catalog=Catalog(line.content, read_manifest(line.audio.directory)),
        on_event=print_event,
    )
    try:
        the_call.run()
    except PlayerError as e:
        raise click.ClickException(str(e)) from None


@cli.group()
def audio():
    """Build and check the prompts' pre-generated audio."""


@audio.command("build")
@click.option("--engine", type=click.Choice(["gtts", "espeak"]), default="gtts", show_default=True,
              help="gtts needs the internet; espeak (espeak-ng, es-419) works offline.")
@click.option("--tld", default="com.mx", show_default=True,
              help="Google domain for gTTS; a Latin American one gives a Latin American accent.")
@click.option("--force", is_flag=True, help="Remake every file, even current ones.")
def audio_build(engine, tld, force):
    """Make one telephone-ready WAV per prompt; only what changed is remade."""
    from . import build, tts

    app = make_app()
    line = app.extensions["ivr"]
    speaker = tts.GTTSEngine(tld=tld) if engine == "gtts" else tts.EspeakEngine()
    todo = build.plan(line.content, line.audio.directory, speaker, force)
    with click.progressbar(length=len(todo), label=f"{engine}: {len(todo)} to make",
                           item_show_func=lambda pid: pid) as bar:
        def progress(pid):
            bar.update(1, pid)

        try:
            report = build.build(line.content, line.audio.directory, speaker, force, progress)
        except tts.EngineUnavailable as e:
            raise click.ClickException(f"{e}") from None
    click.echo(
        f"made {len(report.made)}, kept {len(report.kept)}, removed {len(report.removed)} old "
        f"file(s) in {line.audio.directory}"
    )
    if report.failed:
        for pid, problem in report.failed.items():
            click.echo(f"failed: {pid}: {problem}", err=True)
        raise click.ClickException(
            f"{len(report.failed)} prompt(s) failed: {', '.join(report.failed)}. The others are "
            f"kept; rerun `ivr audio build --engine {engine}` to retry only the failed ones."
        )


@audio.command("check")
def audio_check():
    """List prompts whose audio is missing or made for other words; exit 1 if any."""
    from . import build

    app = make_app()
    line = app.extensions["ivr"]
    problems = build.check(line.content, line.audio.directory)
    for pid, problem, engine in problems:
        click.echo(f"{problem:8} {pid} (engine: {engine})")
    s = line.audio.summary()
    click.echo(
        f"{s['prompts']} prompts: {s['playable']} current ({', '.join(s['engines']) or 'none'}), "
        f"{len(s['stale'])} stale, {len(s['missing'])} missing"
    )
    if problems:
        raise SystemExit(1)
