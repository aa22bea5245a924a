"""The `ivr` command: try the line, build its audio, serve it."""

import logging
import os
import shlex
import shutil
import sys
from urllib.parse import urlsplit

import click

from .content import ContentError
from .player import CONFIDENCE
from .security import ConfigError

#: What Twilio sends as From when the caller withholds their number.
ANONYMOUS = "anonymous"
#: More workers than this only add memory: each call turn is a millisecond of CPU.
MAX_WORKERS = 8


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
    from . import create_app
    from .store import StoreError

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
    audio = app.extensions["ivr"].audio
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


#: Where the line is, for `ivr --help`: not a paragraph (\b), so click keeps the lines.
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
    elif event.kind == "dialed":
        talk = f", {event.seconds} s" if event.seconds is not None else ""
        click.echo(f"DIAL  ({event.text}{talk})")
    elif event.kind == "hangup":
        click.echo("END   the line hung up")
    elif event.kind == "gone":
        click.echo("END   the caller hung up")
    elif event.kind == "end":
        click.echo("END   no more TwiML: Twilio hangs up")


def in_process_url(app) -> str:
    """The URL the app sees for an incoming call, the one Twilio would sign: its public
    base URL when configured (so signatures match a server behind a tunnel), else localhost."""
    return (app.extensions["ivr"].public_base or "http://localhost") + "/voice"


def audio_commands(choice):
    """(player, speaker) commands for --player: 'auto', 'none', or a command line."""
    from .terminal import find_player, find_speaker

    if choice == "none":
        return None, None
    if choice == "auto":
        player = find_player()
        return player, (find_speaker() if player else None)
    player = shlex.split(choice)
    if not player or not shutil.which(player[0]):
        raise click.UsageError(f"--player: {choice!r} is not a command on PATH")
    return player, find_speaker()


@cli.command()
@click.option("--keys", metavar="KEYS",
              help="Scripted call: what the caller does at each prompt, comma-separated: keys, '-' for"
                   " silence, or say:WORDS to speak (say@0.3:WORDS for a low confidence);"
                   " at a transfer to a person, dial:STATUS says how it ends (completed, busy,"
                   " failed...; default no-answer); e.g. 1,2,say:siguiente,-,9,dial:busy.")
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
    from .audio import read_manifest
    from .player import (
        Call, Catalog, Event, FlaskTransport, HttpTransport, PlayerError, ScriptedKeypad,
    )
    from .sms import is_e164

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
    from . import environment_config

    config = environment_config()
    if not url:
        # A call walked in-process is a trial, not a caller: the call store keeps none of it
        # (no SQLite file made, nothing in the operator's report).
        config["STORE"] = False
    http_client = _twilio_http_client(ctx)
    if http_client is not None:
        config["TWILIO_HTTP_CLIENT"] = http_client
    app = make_app(served=False, config=config, audio_warning=not url)
    line = app.extensions["ivr"]
    # Signed as Twilio signs, so the line answers with its signature check on.
    token = app.config["TWILIO_AUTH_TOKEN"] or None
    start = url or in_process_url(app)
    if caller is None and not url and line.texter and http_client is None:
        # Texts are on and would reach Twilio's real API: key 7 must not text a stranger.
        click.echo("NOTE  texts (7) are on: this call comes from a withheld number;"
                   " --from YOUR_NUMBER to get the text")
        caller = ANONYMOUS

    if interactive:
        from .terminal import TerminalKeypad, describe

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
    """Make two telephone-ready WAVs per prompt, normal and slow; only what changed is remade."""
    from . import build, tts

    app = make_app(served=False, audio_warning=False)  # what is missing is what it makes
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
    from . import build

    app = make_app(served=False)
    line = app.extensions["ivr"]
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
    """Serve the line to Twilio with gunicorn (the production command).

    The web phone (/phone) is off here unless IVR_WEB_PHONE=1.
    """
    from . import environment_config, logs, store

    config = environment_config()
    # Checked before anything starts, so the refusal is the one line the operator sees.
    if not config.get("TWILIO_AUTH_TOKEN") and not insecure:
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


@cli.group()
def twilio():
    """Set up the Twilio side of the line through Twilio's REST API."""


def _twilio_http_client(ctx):
    """twilio's HTTP client seam: tests pass one as CliRunner's obj={'twilio_http_client': …}."""
    obj = ctx.find_object(dict)
    return obj.get("twilio_http_client") if obj else None


@twilio.command("connect")
@click.argument("number")
@click.option("--url", "base", metavar="BASE",
              help="The line's public base URL, e.g. https://ivr.example.com (default: PUBLIC_BASE_URL).")
@click.option("--dry-run", is_flag=True, help="Show the current and the new settings; change nothing.")
@click.option("--skip-check", is_flag=True,
              help="Do not check first that BASE/voice accepts a request signed with the token.")
@click.pass_context
def twilio_connect(ctx, number, base, dry_run, skip_check):
    """Point the Twilio number NUMBER (+573001234567 or its PN… SID) at the line.

    Sets its voice URL to BASE/voice, its fallback URL to BASE/voice/fallback and its status
    callback to BASE/voice/status, all POST. First it POSTs to BASE/voice a request signed
    with TWILIO_AUTH_TOKEN as Twilio signs it, and stops unless the line answers with TwiML.
    Needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (environment or .env).
    """
    from . import connect as c, environment_config
    from .sms import check_account_sid

    config = environment_config()
    try:
        sid = check_account_sid(config.get("TWILIO_ACCOUNT_SID"))
        token = config.get("TWILIO_AUTH_TOKEN")
        if not token:
            raise ConfigError("TWILIO_AUTH_TOKEN is not set (Twilio console, Account info)")
        base = base or config.get("PUBLIC_BASE_URL")
        if not base:
            raise click.UsageError("give the line's public address with --url BASE, or set PUBLIC_BASE_URL")
        base = c.base_url(base)
        api = c.client(sid, token, _twilio_http_client(ctx))
        found = c.find_number(api, number)
        if not skip_check:
            check = c.self_check(base, token, sid, found.phone_number)
            if not check.ok:
                raise click.ClickException(f"not connected: {check.message}")
            click.echo(f"check: {check.message}")
        if base.startswith("http://"):
            click.echo(f"warning: {base} is not https: what callers press travels in the clear",
                       err=True)
        rows = c.changes(found, base)
        width = max(len(now) for _, now, _ in rows) + 2
        click.echo(f"{found.phone_number} ({found.sid}):")
        click.echo(f"  {'setting':17}{'now':{width}}new")
        for label, now, new in rows:
            click.echo(f"  {label:17}{now or '-':{width}}{new}{'' if now != new else '  (same)'}")
        problem = c.blocker(found)
        if dry_run:
            if problem:
                click.echo(f"warning: {problem}", err=True)
            click.echo("dry run: nothing changed")
            return
        c.connect(found, base)
    except (ConfigError, c.ConnectError) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"connected: calls to {found.phone_number} now reach {base}/voice")


@cli.command()
@click.option("--url", "base", metavar="BASE",
              help="The public base URL to check (default: PUBLIC_BASE_URL), e.g. a tunnel's.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10, show_default=True,
              help="Seconds to wait for the line's answers.")
def doctor(base, timeout):
    """Check the deployment the way Twilio will meet it; exit 1 if anything must be fixed.

    One line per check: OK, WARN (works, but worth fixing) or FAIL (what to fix). Reads the
    settings as `ivr serve` does (environment and .env) and calls the running line at its
    public URL with a request signed as Twilio signs it.
    """
    from . import doctor as d, environment_config

    config = environment_config()
    config.setdefault("WEB_PHONE", False)  # as under `ivr serve`
    findings = d.run(d.Deployment(config, base, timeout))
    for finding in findings:
        click.echo(str(finding))
    failed = sum(f.level == d.FAIL for f in findings)
    warned = sum(f.level == d.WARN for f in findings)
    click.echo(f"{failed} to fix, {warned} warning(s)" if failed or warned else "all good")
    if failed:
        raise SystemExit(1)


# -- the call store --------------------------------------------------------------------------

def store_settings():
    """(settings, database URL) as create_app would use them, without building the app (so
    `ivr db upgrade` works on a database the app would refuse)."""
    from flask import Flask

    from . import environment_config, store

    config = environment_config()
    if os.environ.get("DATABASE_URL"):
        config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    for name, value in store.DEFAULTS.items():
        config.setdefault(name, value)
    # The instance folder create_app's Flask(__name__) uses, for the default SQLite file.
    url, _ = store.url_for(config, Flask("ivr").instance_path)
    return config, url


def open_checked(url):
    """An engine on a migrated database, or a one-line error."""
    from . import store

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


@cli.group()
def db():
    """The call store: DATABASE_URL, or a SQLite file in the instance folder."""


@db.command("upgrade")
def db_upgrade():
    """Create or migrate the call store's tables to this version's schema."""
    from . import store

    _, url = store_settings()
    try:
        revision = store.upgrade(url)
    except store.StoreError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{store.masked(url)}: schema at revision {revision}")


@db.command("prune")
@click.option("--days", type=click.IntRange(min=1), default=None,
              show_default="$IVR_RETENTION_DAYS or 90", help="Keep this many days of records.")
def db_prune(days):
    """Delete recorded calls older than the retention period (run it daily)."""
    from datetime import datetime, timedelta, timezone

    from sqlalchemy.exc import SQLAlchemyError

    from . import store

    config, url = store_settings()
    try:
        days = days or store.whole(config, "RETENTION_DAYS", 90)
    except store.StoreError as e:
        raise click.ClickException(str(e)) from None
    engine = open_checked(url)
    before = datetime.now(timezone.utc) - timedelta(days=days)
    try:
        gone = store.prune(engine, before)
    except SQLAlchemyError as e:
        raise click.ClickException(f"cannot prune {store.masked(url)}: {e.__class__.__name__}") from None
    finally:
        engine.dispose()
    click.echo(f"deleted {gone} record(s) older than {before:%Y-%m-%d %H:%M} UTC ({days} days)")


@cli.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only calls from this day on (in IVR_TIMEZONE); default: every record kept.")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Also write a self-contained HTML page with charts to FILE.")
def report(since, as_json, html_file):
    """Where callers get stuck: calls, steps reached, hang-ups, repeats, wrong keys, by day."""
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from . import LINE, content as content_mod, report as report_mod, store

    config, url = store_settings()
    try:
        steps = content_mod.load(config.get("CONTENT") or LINE / "content.toml").steps
    except ContentError as e:
        raise click.ClickException(str(e)) from None
    engine = open_checked(url)
    try:
        summary = report_mod.summarize(engine, since.date() if since else None, steps=steps,
                                       tz=report_mod.line_timezone(config))
    except SQLAlchemyError as e:
        raise click.ClickException(f"cannot read {store.masked(url)}: {e.__class__.__name__}") from None
    finally:
        engine.dispose()
    if html_file:
        try:
            with open(html_file, "w", encoding="utf-8") as f:
                f.write(report_mod.html(summary))
        except OSError as e:
            raise click.ClickException(f"cannot write {html_file}: {e.strerror}") from None
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(report_mod.text(summary), nl=False)
    if html_file:
        click.echo(f"wrote {html_file}", err=True)
