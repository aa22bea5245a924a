"""The `ivr` command: try the line, build its audio, serve it, connect and check it,
and read what callers did. One module per command or group of commands."""

import click

from . import audio, call, db, doctor, inbox, report, serve, twilio
from .common import make_app

__all__ = ["cli", "make_app"]

SETTINGS = """\b
Where the line is (environment, or .env in this folder or above):
  IVR_CONTENT     the content file (default: the line shipped with the package)
  IVR_AUDIO_DIR   the audio folder with its manifest.json (default: the shipped one)
Every setting is in the README; `ivr doctor` checks a deployment.
"""


@click.group(context_settings={"help_option_names": ["-h", "--help"]}, epilog=SETTINGS)
@click.version_option(package_name="linea-alcanos", prog_name="ivr")
def cli():
    """Línea Alcanos: a phone line that guides callers through paying an Alcanos bill."""


cli.add_command(call.call)
cli.add_command(audio.audio)
cli.add_command(serve.serve)
cli.add_command(twilio.twilio)
cli.add_command(doctor.doctor)
cli.add_command(db.db)
cli.add_command(report.report)
cli.add_command(inbox.inbox)
