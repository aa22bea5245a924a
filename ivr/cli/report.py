"""`ivr report`: where callers get stuck, from the call store."""

import click

from ..content import ContentError
from .common import database_url, open_checked, settings


@click.command()
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Only calls from this day on (in IVR_TIMEZONE); default: every record kept.")
@click.option("--json", "as_json", is_flag=True, help="Print the numbers as JSON.")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Also write a self-contained HTML page with charts to FILE (in IVR_REPORT_LANGUAGE).")
@click.option("--include-checks", is_flag=True,
              help="Count check calls (ivr doctor's self-check, web phone calls) as calls.")
def report(since, as_json, html_file, include_checks):
    """Where callers get stuck: calls, steps reached, hang-ups, repeats, wrong keys, by day."""
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from .. import content as content_mod
    from .. import report as report_mod
    from .. import store

    found = settings(check=False)
    url = database_url(found)
    try:
        content = content_mod.load(found.content)
    except ContentError as e:
        raise click.ClickException(str(e)) from None
    engine = open_checked(url)
    try:
        summary = report_mod.summarize(engine, since.date() if since else None, steps=content.steps,
                                       tz=found.timezone, include_checks=include_checks,
                                       hide=content.digits.mask)
    except SQLAlchemyError as e:
        raise click.ClickException(f"cannot read {store.masked(url)}: {e.__class__.__name__}") from None
    finally:
        engine.dispose()
    if html_file:
        try:
            with open(html_file, "w", encoding="utf-8") as f:
                # No inbox given: the file says how many wait, never a number or a recording.
                f.write(report_mod.html(summary, found.report_language, tz=found.timezone))
        except OSError as e:
            raise click.ClickException(f"cannot write {html_file}: {e.strerror}") from None
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        click.echo(report_mod.text(summary), nl=False)
    if html_file:
        click.echo(f"wrote {html_file}", err=True)
