"""Faults of a database, simulated on the connections opened while they last, as a real fault
would leave them (CI runs as root, which ignores file modes): for the tests and bench/recovery.py.

    fault = SqliteReadOnly(path)       # or SqliteDiskFull(path), PostgresqlReadOnly(url)
    fault.attach(engine)               # each engine whose new connections the fault reaches
    fault.on(); ...; fault.off()
"""

import sqlite3

import sqlalchemy as sa


class SqliteReadOnly:
    """Connections opened during the fault are read-only (a file that was not writable)."""

    def __init__(self, path):
        self.path = path
        self.url = f"sqlite:///{self.path}"
        self.active = False

    def attach(self, engine):
        @sa.event.listens_for(engine, "do_connect")
        def connect(dialect, record, cargs, cparams):
            if self.active:
                return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, **cparams)
            return None

    def on(self):
        self.active = True

    def off(self):
        self.active = False


class SqliteDiskFull(SqliteReadOnly):
    """Connections opened during the fault cannot grow the file (a full disk)."""

    def attach(self, engine):
        @sa.event.listens_for(engine, "connect")
        def connect(dbapi_connection, record):
            if self.active:
                cursor = dbapi_connection.cursor()
                pages = cursor.execute("PRAGMA page_count").fetchone()[0]
                cursor.execute(f"PRAGMA max_page_count = {pages}")
                cursor.close()


class PostgresqlReadOnly:
    """Sessions opened during the fault are read-only (a failover to a standby, say)."""

    def __init__(self, url):
        self.url = url
        self.name = sa.make_url(self.url).database

    def attach(self, engine):
        pass

    def _set(self, value):
        # From another database: this one's new sessions are read-only during the fault.
        admin = sa.create_engine(sa.make_url(self.url).set(database="postgres"),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'ALTER DATABASE "{self.name}" SET default_transaction_read_only = {value}')
        admin.dispose()

    def on(self):
        self._set("on")

    def off(self):
        self._set("off")


KINDS = {"sqlite-read-only": SqliteReadOnly, "sqlite-disk-full": SqliteDiskFull,
         "postgresql-read-only": PostgresqlReadOnly}
