"""`ivr report` for a terminal (in English; the places are named as the page names them)."""

from __future__ import annotations

from .strings import place, strings
from .summary import AFTER_NINE, CLOSED, DIAL_ENDINGS


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
    add("Per day:     calls  taken by a person  messages  call-back requests")
    for day, c in summary["per_day"].items():
        add(f"  {day}  {c['calls']:6}  {c['transfers']:17}  {c['messages']:8}  {c['callbacks']:18}")
    out.extend(_person(summary, t))
    add("")
    add(f"SMS sent: {summary['sms_sent']} (failed {summary['sms_failed']}); "
        f"sent to a person (they took the call): {summary['transfers']}; "
        f"resumed: {summary['resumed']} (of {summary['resume_offered']} offered)")
    waiting = summary["open_inbox"]
    add(f"Messages left: {summary['messages']}; call-back requests: {summary['callbacks']}; "
        f"waiting now in `ivr inbox`: {waiting['callbacks']} call backs, {waiting['messages']} messages")
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


def _person(summary: dict, t: dict[str, str]) -> list[str]:
    """Key 9: the rings of the person and how they ended, why nobody was rung, where those
    calls ended up, and where callers asked from (nothing when nobody asked)."""
    p, after = summary["person"], summary["after_nine"]
    if not (p["dialled"] or after["calls"]):
        return []
    lines = ["", f"Asked for a person (9): {after['calls']} calls",
             f"  rang the person {p['dialled']} times: "
             + ", ".join(f"{t['person_' + k]} {p[k]}" for k in DIAL_ENDINGS),
             "  " + ", ".join(f"{t['person_' + k]} {p[k]}" for k in CLOSED),
             "  ended up: " + ", ".join(f"{t['after_' + k]} {after[k]}" for k in AFTER_NINE),
             f"  {'':24} {'asked':>6} {'taken':>6} {'messages':>9} {'call backs':>11}"]
    for where, c in summary["person_per_place"].items():
        lines.append(f"  {place(where, t):24} {c['asked']:6} {c['transfers']:6} {c['messages']:9} "
                     f"{c['callbacks']:11}")
    return lines
