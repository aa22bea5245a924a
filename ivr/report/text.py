"""`ivr report` for a terminal (in English; the places are named as the page names them)."""

from __future__ import annotations

from .strings import place, strings


def text(summary: dict) -> str:
    """The report for a terminal."""
    t = strings("en")
    out = []
    add = out.append
    since = f"since {summary['since'][:10]}" if summary["since"] else "(all records kept)"
    add(f"Database: {summary['database']}")
    add(f"Calls {since}: {summary['calls']}")
    add(f"Completed (heard the conclusion): {summary['completed']}")
    add(_checks(summary))
    lost = summary["not_recorded"]
    if lost["turns"] or lost["statuses"]:
        add(f"{lost['turns']} turns not recorded ({lost['statuses']} call statuses), "
            f"{lost['first'][:16]} to {lost['last'][:16]} UTC: the database was failing or the "
            "writer's queue full; the numbers below miss them")
    calls = summary["calls"] or 1
    add("")
    add("Reached each step (calls):")
    for s, n in summary["reached_step"].items():
        add(f"  {place(f'step:{s}', t):8}  {n:6}  {100 * n / calls:5.1f}%  {'#' * round(40 * n / calls)}")
    add("")
    add("Where calls ended (last place):")
    for where, n in summary["ended_at"].items():
        add(f"  {place(where, t):24} {n:6}")
    add(f"  (the line hung up on {summary['line_hung_up']} of them: silence, wrong keys, goodbye)")
    add("")
    add("Per step:")
    add(f"  {'':8}  {'repeat':>6} {'back':>6} {'slow':>6} {'silence':>7} {'wrong':>6} {'median s':>9}")
    for s, c in summary["per_step"].items():
        m = "-" if c["median_seconds"] is None else f"{c['median_seconds']:.1f}"
        add(f"  {place(f'step:{s}', t):8}  {c['repeat']:6} {c['back']:6} {c['slow']:6} {c['silence']:7} "
            f"{c['wrong']:6} {m:>9}")
    if summary["wrong_per_place"]:
        add("")
        add("Wrong keys / words not understood, per place:")
        for where, c in summary["wrong_per_place"].items():
            add(f"  {place(where, t):24} {c.get('wrong_keys', 0):6} keys {c.get('not_understood', 0):6} words")
    if summary["words_not_understood"]:
        add("")
        add("Words not understood (most frequent; long numbers hidden):")
        for words, n in summary["words_not_understood"].items():
            add(f"  {n:6}  {words}")
    add("")
    add("Calls per day:")
    for day, counts in summary["per_day"].items():
        add(f"  {day}  {counts['calls']:6}")
    add("")
    add(f"SMS sent: {summary['sms_sent']} (failed {summary['sms_failed']}); "
        f"transfers to a person: {summary['transfers']}; "
        f"resumed: {summary['resumed']} (of {summary['resume_offered']} offered)")
    if summary["call_status"]:
        statuses_text = ", ".join(f"{k} {v}" for k, v in summary["call_status"].items())
        add(f"How calls ended (Twilio): {statuses_text}; median length "
            f"{summary['median_call_seconds'] if summary['median_call_seconds'] is not None else '-'} s")
    return "\n".join(out) + "\n"


def _checks(summary: dict) -> str:
    n = summary["checks"]
    if summary["include_checks"]:
        return f"Checks (doctor's self-check, web phone calls): {n}, counted above"
    return f"Checks (doctor's self-check, web phone calls): {n}, not counted (--include-checks counts them)"
