"""The page's charts: matplotlib bars as inline SVG (text kept as text, nothing fetched)."""

from __future__ import annotations

import io

from .strings import place


def _svg(figure, name: str) -> str:
    """A matplotlib figure as inline SVG (ids unique to this chart)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": name}):
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def bars(name, labels, values, title, color, horizontal=False) -> str:
    """A bar chart of counts: its value axis has whole numbers only (no "0.5 calls")."""
    from matplotlib.figure import Figure  # the Agg-free object API: no pyplot, no global state
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(7.5, 3.2), layout="constrained")
    ax = figure.add_subplot()
    if horizontal:
        drawn = ax.barh(labels, values, color=color)
        ax.invert_yaxis()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    else:
        drawn = ax.bar(labels, values, color=color)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.bar_label(drawn, padding=2, fontsize=8)
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    if not horizontal and len(labels) > 6:
        ax.tick_params(axis="x", labelrotation=45, labelsize=8)
    return _svg(figure, name)


def charts(summary: dict, t: dict[str, str]) -> dict[str, str]:
    """The page's charts as inline SVG, in the language of `t`: funnel, where calls ended,
    calls per day."""
    funnel_labels = [place(f"step:{s}", t) for s in summary["reached_step"]] + [place("end", t)]
    funnel_values = list(summary["reached_step"].values()) + [summary["completed"]]
    ended = {place(where, t): n for where, n in summary["ended_at"].items()}
    per_day = {day: counts["calls"] for day, counts in summary["per_day"].items()}
    return {
        "funnel": bars("funnel", funnel_labels, funnel_values, t["chart_funnel"], "#2b6cb0",
                       horizontal=True),
        "dropoff": bars("dropoff", list(ended), list(ended.values()), t["chart_ended"], "#c05621"),
        "per_day": bars("per_day", list(per_day), list(per_day.values()), t["chart_per_day"],
                        "#2f855a"),
    }
