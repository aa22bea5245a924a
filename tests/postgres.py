"""A throwaway PostgreSQL server for the tests: Debian's initdb and pg_ctl in a temporary
directory, listening on a unix socket only (nothing else on the machine can reach it).

PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user.
"""

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def binaries() -> Path | None:
    """Debian's PostgreSQL server programs (the newest installed), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    return Path(found[-1]).parent if found else None


def require_postgres() -> Path:
    bin_dir = binaries()
    if bin_dir is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("PostgreSQL is missing: .ci/run should install the postgresql package")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    return bin_dir


@contextlib.contextmanager
def throwaway(wanted: bool = True, **server_options):
    """For the benchmarks: a started Server, removed afterwards; None when not `wanted`. Exits
    with one line when PostgreSQL is not installed."""
    if not wanted:
        yield None
        return
    if binaries() is None:
        raise SystemExit("PostgreSQL is not installed (apt-get install postgresql), or use --no-postgresql")
    server = Server(binaries(), **server_options)
    server.start()
    try:
        yield server
    finally:
        server.remove()


class Server:
    """One PostgreSQL server: start(), stop(mode), url(database), create_database(name)."""

    def __init__(self, bin_dir: Path, port: int = 5432):
        self.bin = bin_dir
        self.port = port
        # Not under pytest's tmp_path: that is private to root, and the server runs as postgres.
        self.dir = Path(tempfile.mkdtemp(prefix="ivr-pg-"))
        self.data = self.dir / "data"
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o755)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--encoding=UTF8", "--locale=C", "--no-sync")

    def _run(self, program, *args, check=True):
        return subprocess.run([*self.as_user, str(self.bin / program), *args], check=check,
                              capture_output=True, text=True, timeout=60)

    def start(self):
        options = (f"-k {self.dir} -p {self.port} -c listen_addresses='' -c fsync=off "
                   "-c full_page_writes=off -c max_connections=60")
        r = self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"),
                      "-w", "start", check=False)
        if r.returncode:
            log = (self.dir / "log").read_text(errors="replace") if (self.dir / "log").exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {r.stderr}{log}")

    def stop(self, mode="fast"):
        """Stop the server ('immediate' is the database dying under the app)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def url(self, database="postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.dir}&port={self.port}"

    def create_database(self, name: str) -> str:
        import sqlalchemy as sa

        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        with engine.connect() as c:
            c.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.url(name)

    def remove(self):
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)
