"""The line with one Turn recorded per webhook, the way the webhooks will record them, for
bench/store_bench.py: `DATABASE_URL` names the store; without it nothing is recorded.

Until the webhooks record their own turns, this wraps the app: the cost measured is the
store's (a Turn, `record()`, and the writer thread sharing the worker's CPU and GIL).
"""

import os
from datetime import datetime, timezone

from ivr import create_app, logs
from ivr.store import Store, Turn

logs.configure()
app = create_app()

if os.environ.get("DATABASE_URL"):
    store = Store.open(os.environ["DATABASE_URL"], b"bench-secret")
    line_app = app.wsgi_app

    def recording(environ, start_response):
        result = line_app(environ, start_response)
        at = environ.get("QUERY_STRING", "").partition("at=")[2].partition("&")[0]
        step = int(at) if at.isdigit() else None
        store.record(Turn("CA" + "b" * 32, "+573001234567", datetime.now(timezone.utc),
                          "step" if step else at or "start", step, "2", None, "next",
                          f"step:{step}" if step else "menu", False))
        return result

    app.wsgi_app = recording
