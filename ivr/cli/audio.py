"""`ivr audio build` and `ivr audio check`: the prompts' pre-generated audio."""

import click

from ..line import line_of
from .common import make_app


def audio_app(audio_warning=True):
    """The app for the audio commands: the line's content and audio as the environment and
    .env give them, without the call store. Recordings are not calls, so a deployment's
    .env with a token but no IVR_SECRET_KEY must not stop them, nor make a SQLite file."""
    from .. import settings as settings_mod

    config = {**settings_mod.from_environment(), "STORE": False}
    return make_app(served=False, config=config, audio_warning=audio_warning)


@click.group()
def audio():
    """Build and check the prompts' pre-generated audio."""


@audio.command("build")
@click.option("--engine", type=click.Choice(["gtts", "espeak"]), default="gtts", show_default=True,
              help="gtts needs the internet; espeak (espeak-ng, es-419) works offline.")
@click.option("--tld", default="com.mx", show_default=True,
              help="Google domain for gTTS; a Latin American one gives a Latin American accent.")
@click.option("--force", is_flag=True, help="Remake every file, even current ones.")
def audio_build(engine, tld, force):
    """Make two telephone-ready WAVs per prompt, normal and slow; only what changed is remade."""
    from .. import build, tts

    app = audio_app(audio_warning=False)  # what is missing is what it makes
    line = line_of(app)
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
    slow = sum(name.endswith(" (slow)") for name in report.made)
    click.echo(
        f"made {len(report.made)} ({slow} slow), kept {len(report.kept)}, "
        f"removed {len(report.removed)} old file(s) in {line.audio.directory}"
    )
    if report.failed:
        for pid, problem in report.failed.items():
            click.echo(f"failed: {pid}: {problem}", err=True)
        raise click.ClickException(
            f"{len(report.failed)} file(s) failed: {', '.join(report.failed)}. The others are "
            f"kept; rerun `ivr audio build --engine {engine}` to retry only the failed ones."
        )


@audio.command("check")
def audio_check():
    """List prompts whose audio, normal or slow, is missing or made for other words; exit 1 if any."""
    from .. import build

    app = audio_app()
    line = line_of(app)
    problems = False
    for slow in (False, True):
        for pid, problem, engine in build.check(line.content, line.audio.directory, slow):
            click.echo(f"{problem:8} {pid} ({'slow, ' if slow else ''}engine: {engine})")
            problems = True
    s = line.audio.summary()

    def counts(s):
        return (f"{s['playable']} current ({', '.join(s['engines']) or 'none'}), "
                f"{len(s['stale'])} stale, {len(s['missing'])} missing")

    click.echo(f"{s['prompts']} prompts: {counts(s)}; slow: {counts(s['slow'])}")
    if problems:
        raise SystemExit(1)
