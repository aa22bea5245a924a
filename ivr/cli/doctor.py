"""`ivr doctor`: check a deployment the way Twilio will meet it."""

import click


@click.command()
@click.option("--url", "base", metavar="BASE",
              help="The public base URL to check (default: PUBLIC_BASE_URL), e.g. a tunnel's.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10, show_default=True,
              help="Seconds to wait for the line's answers.")
@click.pass_context
def doctor(ctx, base, timeout):
    """Check the deployment the way Twilio will meet it; exit 1 if anything must be fixed.

    One line per check: OK, WARN (works, but worth fixing) or FAIL (what to fix). Reads the
    settings as `ivr serve` does (environment and .env), calls the running line at its
    public URL with a request signed as Twilio signs it and, with the account's
    credentials, reads Twilio's alerts of the last 24 h.
    """
    from .. import doctor as d
    from .. import settings as settings_mod
    from .common import clock, twilio_http_client

    config = settings_mod.from_environment()
    config.setdefault("WEB_PHONE", False)  # as under `ivr serve`
    findings = d.run(d.Deployment(config, base, timeout, twilio_http_client(ctx), clock(ctx)))
    for finding in findings:
        click.echo(str(finding))
    failed = sum(f.level == d.FAIL for f in findings)
    warned = sum(f.level == d.WARN for f in findings)
    click.echo(f"{failed} to fix, {warned} warning(s)" if failed or warned else "all good")
    if failed:
        raise SystemExit(1)
