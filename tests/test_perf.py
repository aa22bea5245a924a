"""What keeps a worker light and its webhooks cheap: checked on the real app."""

import subprocess
import sys
import textwrap

from ivr import ROOT, create_app
from ivr import store as store_mod


def test_the_schema_revision_a_worker_expects_is_alembics_head():
    assert store_mod.head() == store_mod.HEAD


def test_a_worker_on_a_migrated_database_does_not_load_alembic(tmp_path):
    """Alembic (and mako, pygments) cost a worker about 10 MiB: only migrating needs them."""
    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    store_mod.upgrade(url)
    script = textwrap.dedent(f"""
        import sys
        from ivr import create_app
        app = create_app({{"TWILIO_AUTH_TOKEN": "t", "SECRET_KEY": "s", "STORE": True,
                           "DATABASE_URL": {url!r}, "WEB_PHONE": False}})
        assert app.extensions["ivr"].store is not None
        print(sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako")))
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


def test_no_cookie_session_is_opened_even_with_a_secret_key(audio_dir):
    """With IVR_SECRET_KEY (Flask's SECRET_KEY) set, Flask's default session interface would
    build a signing serializer on every request; the line keeps no session at all."""
    from flask import session
    from flask.sessions import NullSession

    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "SECRET_KEY": "s"})
    with app.test_request_context("/voice"):
        assert isinstance(session, NullSession)
    assert "Set-Cookie" not in app.test_client().post("/voice").headers
