"""The call store on real databases: SQLite and a throwaway PostgreSQL, the same tests on both."""

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from conftest import free_port
from ivr import store as store_mod
from ivr.store import CallStatus, Store, StoreError, Turn, caller_key

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
NUMBER = "+573001234567"
#: Seconds a test waits for something before it fails (against a hang, never asserted).
GUARD = 30


def turn(call="CA1", at=NOW, place="step", step=1, input="2", action="next", outcome="step:2",
         caller=NUMBER, words=None, slow=False):
    return Turn(call, caller, at, place, step, input, words, action, outcome, slow)


def rows(store, table=store_mod.turns):
    with store.engine.connect() as c:
        return c.execute(sa.select(table).order_by(table.c.id)).mappings().all()


# -- schema ----------------------------------------------------------------------------------

def test_an_unmigrated_database_is_refused_until_upgraded(database_url):
    with pytest.raises(StoreError, match=r"has no schema: run `ivr db upgrade`"):
        store_mod.check(database_url)
    assert store_mod.upgrade(database_url) == store_mod.head() == store_mod.HEAD == "0003"
    store_mod.check(database_url)  # no error now
    assert store_mod.upgrade(database_url) == store_mod.HEAD  # twice is harmless


def test_a_database_at_another_revision_is_refused(database_url):
    store_mod.upgrade(database_url)
    engine = store_mod.create_engine(database_url)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(StoreError, match=r"at schema revision 0000, not 0003: run `ivr db upgrade`"):
        store_mod.check(engine)
    engine.dispose()


def test_an_unreachable_database_is_a_clear_error(tmp_path):
    url = f"postgresql://ivr:s3cret@/ivr?host={tmp_path}&port={free_port()}"
    with pytest.raises(StoreError) as e:
        store_mod.check(url)
    message = str(e.value)
    assert message.startswith("cannot reach the database postgresql+psycopg://ivr:***@/ivr")
    assert "s3cret" not in message and "\n" not in message


@pytest.mark.parametrize("url, expected", [
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql://u:p@h:5433/db", "postgresql+psycopg://u:p@h:5433/db"),
    ("postgresql+psycopg://h/db", "postgresql+psycopg://h/db"),
    ("sqlite:////var/ivr.sqlite3", "sqlite:////var/ivr.sqlite3"),
])
def test_database_urls_of_hosting_platforms_use_psycopg_3(url, expected):
    assert store_mod.normalize_url(url) == expected


@pytest.mark.parametrize("url", ["mysql://h/db", "not a url", "oracle://x"])
def test_other_databases_are_refused_in_one_line(url):
    with pytest.raises(StoreError, match="DATABASE_URL"):
        store_mod.create_engine(url)


def test_sqlite_runs_in_wal_mode(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'ivr.sqlite3'}"  # the folder is created too
    store_mod.upgrade(url)
    engine = store_mod.create_engine(url)
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


# -- caller numbers --------------------------------------------------------------------------

def test_caller_key_is_a_keyed_hash_and_withheld_numbers_have_none():
    key = caller_key(b"k1", NUMBER)
    assert len(key) == 64 and NUMBER[1:] not in key
    assert caller_key(b"k1", "+57 300 123 4567") == key  # the same number, spaced
    assert caller_key(b"k2", NUMBER) != key  # another line's key: unrelated
    for withheld in (None, "", "anonymous", "+266696687", "Restricted", "client:web", "sip:a@b"):
        assert caller_key(b"k1", withheld) is None
    with pytest.raises(ValueError):
        caller_key(b"", NUMBER)


def test_the_number_is_never_in_the_database(store):
    store.record(turn(caller=NUMBER))
    store.record(turn(call="CA2", caller="anonymous"))
    assert store.flush()
    written = rows(store)
    assert [r["caller_key"] for r in written] == [caller_key(b"test-secret", NUMBER), None]
    with store.engine.connect() as c:
        for table in (store_mod.turns, store_mod.statuses):
            for row in c.execute(sa.select(table)).all():
                assert not any("3001234567" in str(v) for v in row)


# -- the writer ------------------------------------------------------------------------------

def test_turns_are_written_in_batches_count_in_equals_count_out(store):
    transactions = []
    sa.event.listen(store.recorder.engine, "commit", lambda conn: transactions.append(1))
    sent = 1000
    for i in range(sent):
        store.record(turn(call=f"CA{i % 50}", at=NOW + timedelta(seconds=i), step=i % 8 + 1))
    store.record(CallStatus("CA1", "completed", 95, NOW))
    assert store.flush(10)
    assert len(rows(store)) == sent and store.recorder.written == sent + 1
    assert store.recorder.lost == 0
    assert 0 < len(transactions) <= sent // 100  # batches of up to 200, not one row at a time
    status, = rows(store, store_mod.statuses)
    assert (status["call_sid"], status["status"], status["duration_seconds"]) == ("CA1", "completed", 95)
    assert status["at"] == NOW  # a timezone-aware UTC datetime back, on both databases


def test_what_a_turn_holds_comes_back(store):
    store.record(turn(call="CAx", place="step", step=4, input="speech", words="más despacio " * 20,
                      action="slow", outcome="step:4", slow=True))
    store.flush()
    r, = rows(store)
    assert (r["call_sid"], r["place"], r["step"], r["input"], r["action"], r["outcome"], r["slow"]) == (
        "CAx", "step", 4, "speech", "slow", "step:4", True)
    assert r["words"] == ("más despacio " * 20)[:100] and r["at"] == NOW


def test_a_batch_is_written_within_the_wait_without_flush(store):
    store.record(turn())
    deadline = time.monotonic() + 5
    while store.recorder.written == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(rows(store)) == 1


def test_a_full_queue_drops_and_counts_without_blocking(database_url):
    store_mod.upgrade(database_url)
    s = Store.open(database_url, b"k", size=10, wait=3600)  # written only when flushed
    held, release = threading.Event(), threading.Event()

    def hold(connection):  # the writer's transaction waits until the test lets it go
        held.set()
        release.wait(GUARD)

    sa.event.listen(s.recorder.engine, "begin", hold)
    try:
        s.record(turn(call="CAheld"))
        s.flush(0)  # wakes the writer: it takes CAheld to the database, and is held there
        assert held.wait(GUARD)
        recording = threading.Thread(daemon=True, target=lambda: [
            s.record(turn(at=NOW + timedelta(microseconds=i))) for i in range(5000)])
        recording.start()
        recording.join(GUARD)  # against a hang only: a record() that waits on the database
        # All 5000 records returned while the database was still not answering the writer.
        assert not recording.is_alive() and s.recorder.written == 0
    finally:
        release.set()
    assert s.flush(10)
    # The held one, then the 10 the queue holds, not one more.
    assert (s.recorder.written, s.recorder.lost) == (11, 4990)
    assert len(rows(s)) == 11
    s.close()


def test_a_database_at_the_first_revision_is_migrated_with_its_records(database_url):
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(store_mod.engine.MIGRATIONS))
    engine = store_mod.create_engine(database_url)
    with engine.begin() as c:
        config.attributes["connection"] = c
        command.upgrade(config, "0001")
        c.execute(sa.text("INSERT INTO turns (call_sid, at, place, input, action, outcome, slow) "
                          "VALUES ('CAold', :at, 'menu', '1', 'step', 'step:1', false)"), {"at": NOW})
    assert store_mod.upgrade(engine) == store_mod.HEAD
    with engine.connect() as c:
        old, = c.execute(sa.select(store_mod.turns)).mappings().all()
        assert (old["call_sid"], old["is_check"]) == ("CAold", False)  # a caller's, as counted before
        assert c.execute(sa.select(sa.func.count()).select_from(store_mod.losses)).scalar_one() == 0
    engine.dispose()


def test_a_recorder_that_cannot_reach_its_database_counts_the_loss(tmp_path, caplog):
    s = Store.open(f"postgresql://ivr@/ivr?host={tmp_path}&port={free_port()}", b"k", wait=0.01)
    with caplog.at_level(logging.WARNING, "ivr.store"):
        for _ in range(3):
            s.record(turn())
            s.flush(10)
    assert (s.recorder.written, s.recorder.lost) == (0, 3)
    # One warning per run of failures, not one per batch.
    warnings = [r for r in caplog.records if r.name == "ivr.store"]
    assert len(warnings) == 1 and "calls go on" in warnings[0].getMessage()
    s.close()


def test_postgresql_killed_mid_way_calls_go_on_and_the_loss_is_counted(caplog):
    """A server of its own, stopped the hard way while the line records, then back."""
    from postgres import Server, require_postgres

    server = Server(require_postgres())
    server.start()
    try:
        url = server.url()
        store_mod.upgrade(url)
        s = Store.open(url, b"k", wait=0.02)
        for i in range(100):
            s.record(turn(call="CAbefore", at=NOW + timedelta(seconds=i)))
        assert s.flush(10) and s.recorder.written == 100

        server.stop("immediate")
        with caplog.at_level(logging.WARNING, "ivr.store"):
            # A call never waits for the database: record() only queues (the held-writer
            # test above proves it without a clock).
            for i in range(100):
                s.record(turn(call="CAduring", at=NOW + timedelta(seconds=i)))
            s.flush(20)
            assert (s.recorder.written, s.recorder.lost) == (100, 100)

            server.start()
            for i in range(100):
                s.record(turn(call="CAafter", at=NOW + timedelta(seconds=i)))
            assert s.flush(20)
        assert (s.recorder.written, s.recorder.lost) == (200, 100)
        messages = [r.getMessage() for r in caplog.records if r.name == "ivr.store"]
        assert len(messages) == 2 and "dropped" in messages[0]
        assert "writing again" in messages[1] and "100 event(s) lost" in messages[1]
        with s.engine.connect() as c:
            calls = dict(c.execute(sa.select(store_mod.turns.c.call_sid, sa.func.count())
                                   .group_by(store_mod.turns.c.call_sid)).all())
        assert calls == {"CAbefore": 100, "CAafter": 100}
        s.close()
    finally:
        server.remove()


def test_sqlite_file_broken_mid_way_calls_go_on_and_the_loss_is_counted(tmp_path):
    path = tmp_path / "ivr.sqlite3"
    store_mod.upgrade(f"sqlite:///{path}")
    s = Store.open(f"sqlite:///{path}", b"k", wait=0.02)
    s.record(turn())
    assert s.flush() and s.recorder.written == 1
    s.engine.dispose()
    s.recorder.engine.dispose()  # the writer's connections are its own
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 100)
    for _ in range(10):
        s.record(turn())
    s.flush(10)
    assert (s.recorder.written, s.recorder.lost) == (1, 10)
    s.close()


def test_close_writes_what_is_queued_and_later_events_are_counted_lost(database_url):
    store_mod.upgrade(database_url)
    s = Store.open(database_url, b"k", wait=3600)  # nothing would be written for an hour
    for i in range(10):
        s.record(turn(at=NOW + timedelta(seconds=i)))
    # True: written within close's 10 s, so by close itself, not by the writer's hourly timer.
    assert s.recorder.close(10)
    assert len(rows(s)) == 10
    s.record(turn())
    assert s.recorder.lost == 1
    s.close()


def test_a_forked_worker_records_with_its_own_thread(database_url):
    """gunicorn forks its workers after create_app: the writer starts in the worker."""
    store_mod.upgrade(database_url)
    s = Store.open(database_url, b"k", wait=0.02)
    assert s.recorder._thread is None  # nothing recorded yet: no thread to lose in a fork
    pid = os.fork()
    if pid == 0:  # the worker
        code = 1
        try:
            for i in range(20):
                s.record(turn(call="CAchild", at=NOW + timedelta(seconds=i)))
            code = 0 if s.flush(10) and s.recorder.written == 20 else 3
        finally:
            os._exit(code)
    for i in range(5):
        s.record(turn(call="CAparent", at=NOW + timedelta(seconds=i)))
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s.flush() and s.recorder.written == 5
    assert sorted(r["call_sid"] for r in rows(s)).count("CAchild") == 20
    assert len(rows(s)) == 25
    s.close()


# -- gunicorn --------------------------------------------------------------------------------

WSGI = textwrap.dedent("""
    import os
    import time
    from datetime import datetime, timezone
    from ivr.store import Store, Turn

    store = Store.open(os.environ["DATABASE_URL"], b"k", wait=5)  # long: only shutdown flushes
    MEET = os.environ["MEET_DIR"]

    def meet():
        # Held until both workers hold a /meet: a worker answers one request at a time, so the
        # other /meet is the other worker's. (Polled, with a bound only against a hang.)
        open(os.path.join(MEET, str(os.getpid())), "w").close()
        deadline = time.monotonic() + 30
        while len(os.listdir(MEET)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)

    def app(environ, start_response):
        n = environ["PATH_INFO"].strip("/")
        if n.startswith("meet"):
            meet()
        store.record(Turn("CA" + n, "+573001234567", datetime.now(timezone.utc), "step", 1, "2",
                          None, "next", "step:2", False))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
""")


@pytest.mark.parametrize("preload, hook", [(False, True), (True, True), (False, False)],
                         ids=["preload-off", "preload-on", "atexit-only"])
def test_gunicorn_workers_each_write_and_shutdown_flushes(database_url, tmp_path, preload, hook):
    """With or without --preload, each worker writes; on shutdown gunicorn's worker_exit hook
    (or, without it, atexit) writes what is still queued."""
    store_mod.upgrade(database_url)
    (tmp_path / "recording_app.py").write_text(WSGI)
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}",
               "--worker-tmp-dir", str(tmp_path), "--graceful-timeout", "15",
               "-c", str(tmp_path / "hooks.py"), "recording_app:app"]
    hooks = "from ivr.store import worker_exit\n" if hook else ""
    if "control_socket_disable" in _gunicorn_settings():
        hooks += "control_socket_disable = True\n"
    (tmp_path / "hooks.py").write_text(hooks)
    if preload:
        command.insert(3, "--preload")
    (tmp_path / "meet").mkdir()
    env = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(tmp_path),
           "MEET_DIR": str(tmp_path / "meet")}
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                # A worker booting on a busy machine may take seconds to answer its first.
                requests.get(base + "/warmup", timeout=15)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting
                assert time.monotonic() < deadline and server.poll() is None, server.stdout.read()
                time.sleep(0.1)
        with ThreadPoolExecutor(8) as pool:
            # Two that meet: each worker answers one (and records it).
            pids = set(pool.map(lambda i: requests.get(f"{base}/meet{i}", timeout=60).text, range(2)))
            # Then many at once, answered by whichever worker is free.
            pids |= set(pool.map(lambda i: requests.get(f"{base}/{i}", timeout=10).text, range(200)))
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    s = Store.open(database_url)
    recorded = [r["call_sid"] for r in rows(s)]
    s.close()
    assert len(pids) == 2  # both workers answered
    # Every request recorded once, although only shutdown flushed the workers' queues.
    assert sorted(recorded) == sorted(["CAwarmup", "CAmeet0", "CAmeet1"] + [f"CA{i}" for i in range(200)])


def _gunicorn_settings():
    from gunicorn.config import Config

    return Config().settings


# -- the line's questions --------------------------------------------------------------------

def a_call(store, sid, outcomes, caller=NUMBER, start=NOW, actions=None):
    """Record a call whose turns lead to `outcomes` in order (one turn a minute)."""
    actions = actions or {}
    for i, outcome in enumerate(outcomes):
        action = actions.get(i, "start" if i == 0 else "next")
        store.record(turn(call=sid, caller=caller, at=start + timedelta(minutes=i), action=action,
                          outcome=outcome, place="start" if i == 0 else "step"))


def test_last_unfinished_is_the_step_of_the_latest_call(store):
    key = store.key(NUMBER)
    since = NOW - timedelta(hours=48)
    assert store.last_unfinished(key, since) is None  # a caller never seen
    a_call(store, "CA1", ["menu", "step:1", "step:2", "step:3"], start=NOW - timedelta(hours=3))
    a_call(store, "CA2", ["menu", "step:1", "step:2", "step:5", "step:4"], start=NOW - timedelta(hours=1))
    store.flush()
    assert store.last_unfinished(key, since) == 4  # where the caller left off, in the latest call
    assert store.last_unfinished(key, NOW - timedelta(minutes=30)) is None  # too long ago
    assert store.last_unfinished(store.key("+573009999999"), since) is None  # someone else
    assert store.last_unfinished(None, since) is None  # withheld number


def test_a_call_under_way_is_not_the_last_call(store):
    key = store.key(NUMBER)
    a_call(store, "CA1", ["menu", "step:1", "step:6"], start=NOW - timedelta(hours=1))
    a_call(store, "CAnow", ["menu"], start=NOW)  # the new call's first turn, already written
    store.flush()
    since = NOW - timedelta(hours=48)
    assert store.last_unfinished(key, since) is None  # the latest call reached no step
    assert store.last_unfinished(key, since, exclude_call="CAnow") == 6


def test_a_caller_who_heard_the_conclusion_is_not_offered_a_step(store):
    a_call(store, "CA1", ["menu", "step:7", "step:8", "end", "step:1"],
           actions={3: "conclusion", 4: "next"}, start=NOW - timedelta(hours=1))
    store.flush()
    assert store.last_unfinished(store.key(NUMBER), NOW - timedelta(hours=48)) is None


def test_sms_count_counts_sent_messages_of_the_number_since(store):
    for i, action in enumerate(["sms_sent", "sms_failed", "sms_sent", "sms_sent"]):
        store.record(turn(call=f"CA{i}", at=NOW - timedelta(hours=i * 10), action=action))
    store.record(turn(call="CAx", caller="+573009999999", action="sms_sent"))
    store.flush()
    key = store.key(NUMBER)
    assert store.sms_count(key, NOW - timedelta(hours=24)) == 2  # 0 h and 20 h ago
    assert store.sms_count(key, NOW - timedelta(days=2)) == 3
    assert store.sms_count(None, NOW - timedelta(days=2)) == 0


def test_prune_deletes_what_is_older_than_the_cutoff(store):
    for days in (100, 91, 89, 1):
        store.record(turn(call=f"CA{days}", at=NOW - timedelta(days=days)))
        store.record(CallStatus(f"CA{days}", "completed", 60, NOW - timedelta(days=days)))
    store.flush()
    with store.engine.begin() as c:
        for days in (100, 1):
            c.execute(store_mod.losses.insert(), {
                "at": NOW, "first_at": NOW - timedelta(days=days), "last_at": NOW - timedelta(days=days),
                "turns": 3, "statuses": 0, "worker": "web:1"})
            c.execute(store_mod.login_failures.insert(), {"address": "192.0.2.1", "at": NOW - timedelta(days=days)})
    assert store.prune(NOW - timedelta(days=90)) == 6  # two turns, two statuses, a loss, a failed login
    assert sorted(r["call_sid"] for r in rows(store)) == ["CA1", "CA89"]
    assert sorted(r["call_sid"] for r in rows(store, store_mod.statuses)) == ["CA1", "CA89"]
    assert len(rows(store, store_mod.losses)) == len(rows(store, store_mod.login_failures)) == 1
    assert store.prune(NOW - timedelta(days=90)) == 0


def test_questions_during_an_outage_answer_at_once(tmp_path, caplog):
    """No resume offered and no SMS count while the database is down, without waiting."""
    s = Store.open(f"postgresql://ivr@/ivr?host={tmp_path}&port={free_port()}", b"k")
    key = s.key(NUMBER)
    with caplog.at_level(logging.WARNING, "ivr.store"):
        assert s.last_unfinished(key, NOW) is None
    assert "no resume offered: cannot reach the database" in caplog.text
    with pytest.raises(StoreError, match="not answering"):
        s.sms_count(key, NOW)  # the next questions are not even asked for a while
    attempts = []
    sa.event.listen(s.engine, "do_connect", lambda *args: attempts.append(args))
    for _ in range(100):
        assert s.last_unfinished(key, NOW) is None
    assert attempts == []  # answered without trying the database, so without waiting for it
    s.close()


def test_postgresql_questions_have_a_time_limit(postgres):
    url = postgres.create_database("questions")
    store_mod.upgrade(url)
    s = Store.open(url, b"k")
    s.QUESTION_MS = 50
    with s.engine.begin() as c:  # a question that waits on a lock longer than its limit
        # Against a hang only: without its limit the question would end on this, and say so.
        c.execute(sa.text(f"ALTER DATABASE {s.engine.url.database} SET lock_timeout = '30s'"))
    s.engine.dispose()  # new sessions take the database's setting
    with s.engine.begin() as c:
        c.execute(sa.text("LOCK TABLE turns IN ACCESS EXCLUSIVE MODE"))
        # Ended by the question's own limit (statement_timeout), not by waiting the lock out.
        with pytest.raises(StoreError, match="canceling statement due to statement timeout"):
            s.sms_count(s.key(NUMBER), NOW)
    s.close()


def test_workers_starting_together_on_a_new_sqlite_file_all_get_the_schema(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite3'}"
    # All at the same moment, once imported: each says it is ready, then waits for its stdin
    # to end, which the test does for all four at once (a barrier, not a moment on the clock).
    code = (f"import sys; from ivr import store; print('ready', flush=True); sys.stdin.read(); "
            f"print(store.upgrade({url!r}))")
    workers = [subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    assert [w.stdout.readline() for w in workers] == ["ready\n"] * 4
    for w in workers:
        w.stdin.close()
    results = []
    for w in workers:
        with w.stdout, w.stderr:
            results.append((w.stdout.read(), w.stderr.read()))
        w.wait(60)
    assert [w.returncode for w in workers] == [0] * 4, results
    assert [out.strip() for out, _ in results] == [store_mod.HEAD] * 4
    store_mod.check(url)


def test_whatever_the_network_sends_is_written(store):
    """NUL (PostgreSQL refuses it), lone surrogates, tabs and backslashes, huge values: the
    batch is written, not lost."""
    odd = "a\tb\nc\\d\x00e\ud800f ñ" * 20
    store.record(turn(call=odd, input=odd, words=odd, caller=odd, place=odd, action=odd, outcome=odd))
    store.record(turn(call="CAok"))
    store.record(CallStatus(odd, odd, 10**12, NOW))
    assert store.flush() and store.recorder.lost == 0
    first, second = rows(store)
    assert first["words"].startswith("a\tb\nc\\de?f ñ") and len(first["words"]) <= 100
    assert first["caller_key"] is None and second["call_sid"] == "CAok"
    status, = rows(store, store_mod.statuses)
    assert status["duration_seconds"] is None
