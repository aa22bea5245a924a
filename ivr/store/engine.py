"""Where the call store lives: database URLs, engines, and the schema's migrations.

SQLAlchemy Core on SQLite (a file in the Flask instance folder by default, WAL mode) or on
PostgreSQL through psycopg 3 (`DATABASE_URL`). The schema is versioned with Alembic; the
migrations ship inside the package (`ivr/migrations/`) and run without an alembic.ini.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
#: The SQLite file's name in the Flask instance folder, when DATABASE_URL is not set.
SQLITE_FILE = "ivr.sqlite3"


class StoreError(Exception):
    """The store cannot be used; the message says why and what to do."""



# -- URLs and engines ------------------------------------------------------------------------

def default_url(instance_path) -> str:
    """The SQLite file in the Flask instance folder."""
    return f"sqlite:///{Path(instance_path) / SQLITE_FILE}"


def normalize_url(url: str) -> str:
    """DATABASE_URL as SQLAlchemy takes it: postgres:// and postgresql:// (as hosting
    platforms write them) use psycopg 3."""
    url = url.strip()
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def masked(url) -> str:
    """The URL without its password, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<not a database URL>"


def _sqlite_pragmas(dbapi_connection, _record):
    # WAL: readers never block the writer (each gunicorn worker writes); NORMAL is durable
    # enough for WAL and far cheaper than FULL.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_engine(url: str) -> Engine:
    """An engine for `url` (normalized), with the settings the line needs: short connect
    timeouts (a call never waits on it, but the writer should notice an outage quickly) and
    WAL for SQLite (its folder is created)."""
    url = normalize_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"DATABASE_URL {url!r} is not a database URL "
                         "(e.g. postgresql://user:password@host/db or sqlite:///path/ivr.sqlite3)") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            try:
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot create the folder of {parsed.database}: {e.strerror}") from None
        engine = sa.create_engine(parsed, connect_args={"timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        try:
            return sa.create_engine(
                # A question during a call waits at most a second for a free connection.
                parsed, pool_pre_ping=True, pool_size=2, max_overflow=4, pool_timeout=1,
                connect_args={"connect_timeout": 2},  # libpq's shortest
            )
        except ImportError as e:
            raise StoreError(f"cannot use {masked(url)}: {e}") from None
    raise StoreError(f"DATABASE_URL {masked(url)}: only PostgreSQL and SQLite are supported")


@contextmanager
def writing(engine: Engine):
    """A transaction to write in (engine.begin()), whose connection is dropped from the pool
    when it fails: a connection opened during a fault can keep it after the fault ends
    (SQLite opens one read-only while its file is, PostgreSQL a read-only session on a
    standby), and would fail every write it is handed. Connection.invalidate() is
    SQLAlchemy's documented way to drop one:
    https://docs.sqlalchemy.org/en/20/core/pooling.html#more-on-invalidation
    """
    with engine.connect() as connection:
        try:
            with connection.begin():
                yield connection
        except Exception:
            connection.invalidate()
            raise


def twin(engine: Engine) -> Engine:
    """An engine like `engine` (same database, same settings) with a connection pool of its own."""
    return create_engine(engine.url.render_as_string(hide_password=False))


# -- migrations ------------------------------------------------------------------------------

def _alembic_config(connection=None):
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    """The schema revision this version of the line needs."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _unreachable(url, e) -> StoreError:
    reason = str(getattr(e, "orig", None) or e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return StoreError(f"cannot reach the database {masked(url)}: {reason}")


def upgrade(url: str | Engine) -> str:
    """Bring the database's schema to the current revision (creating it if empty); returns
    the revision. Raises StoreError if the database cannot be reached."""
    from alembic import command

    engine = url if isinstance(url, Engine) else create_engine(url)
    try:
        with _sqlite_lock(engine), engine.begin() as connection:
            command.upgrade(_alembic_config(connection), "head")
    except SQLAlchemyError as e:
        raise _unreachable(engine.url, e) from None
    finally:
        if engine is not url:
            engine.dispose()
    return head()


@contextmanager
def _sqlite_lock(engine):
    """One migration at a time on a SQLite file: gunicorn workers that each build the app
    (no --preload) start together on a new file. PostgreSQL locks its own tables."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    import fcntl

    with open(f"{database}.migrating", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


#: The schema revision this version of the line needs: alembic's head (`head()`; a test
#: keeps them equal). Written out so that starting a worker on a migrated database reads one
#: row and never imports alembic (about 10 MiB per worker).
HEAD = "0003"
#: Where alembic keeps a database's revision.
VERSION_TABLE = "alembic_version"


def revision(engine: Engine) -> str | None:
    """The database's schema revision; None when it was never migrated."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(VERSION_TABLE):
            return None
        versions = connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
    return ", ".join(versions) or None  # several only if someone branched the migrations


def check(url: str | Engine) -> None:
    """Raise StoreError when the database cannot be reached or is not at the schema this
    version of the line needs."""
    engine = url if isinstance(url, Engine) else create_engine(url)
    try:
        current = revision(engine)
    except SQLAlchemyError as e:
        raise _unreachable(engine.url, e) from None
    finally:
        if engine is not url:
            engine.dispose()
    needed = HEAD
    if current != needed:
        state = "has no schema" if current is None else f"is at schema revision {current}, not {needed}"
        raise StoreError(f"the database {masked(engine.url)} {state}: run `ivr db upgrade`")




def url_for(database_url: str, instance_path) -> tuple[str, bool]:
    """(database URL, whether it is the default SQLite file) for the DATABASE_URL setting."""
    if database_url:
        return normalize_url(database_url), False
    return default_url(instance_path), True
