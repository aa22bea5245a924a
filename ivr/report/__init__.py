"""Where callers get stuck: the call store summed up, as text, JSON or an HTML page with charts.

`summarize` (summary.py) reads the turns, call statuses and losses since a date and returns
plain numbers; `text` (text.py) and `html` (page.py, charts.py) present them, the page in the
language IVR_REPORT_LANGUAGE names (strings.py, lang/*.toml). `/report` (page.bp) serves the
page behind HTTP basic auth and a lockout against guessing (guard.py) when
IVR_REPORT_PASSWORD is set; create_app registers it then (`init_app`).
"""

from .charts import charts
from .guard import Guard
from .page import GUARD, REPORT_USER, SECTIONS, bp, html, init_app
from .strings import place, strings
from .summary import TOP_WORDS, summarize
from .text import text

__all__ = ["charts", "Guard", "GUARD", "REPORT_USER", "SECTIONS", "bp", "html", "init_app",
           "place", "strings", "TOP_WORDS", "summarize", "text"]
