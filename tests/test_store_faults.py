"""The call store through faults: recording comes back when the fault ends, what was lost is
written down for the report, /healthz says which worker is degraded, the queue's cap holds.

Faults are simulated on the connections (tests/faults.py; CI runs as root, which ignores file
modes): a connection opened read-only (SQLite `mode=ro`, PostgreSQL's
default_transaction_read_only) or with no room left (SQLite's `max_page_count`), as a
connection opened during a real fault would be. Everything is driven by events (flush),
never by waiting on the writer's timer.
"""

import contextlib
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

import faults
from conftest import TOKEN
from ivr import create_app
from ivr import store as store_mod
from ivr.store import CallStatus, Store, Turn

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
BATCH = 50


def turn(call, at=NOW, words="x" * 100):
    return Turn(call, "+573001234567", at, "step", 1, "speech", words, "wrong", "step:1", False)


@pytest.fixture(params=list(faults.KINDS))
def fault(request, tmp_path):
    kind = faults.KINDS[request.param]
    if request.param.startswith("postgresql"):
        made = kind(request.getfixturevalue("postgres").create_database(f"faults{next(_databases)}"))
    else:
        made = kind(tmp_path / "ivr.sqlite3")
    store_mod.upgrade(made.url)
    return made


_databases = iter(range(1_000_000))


@pytest.fixture
def faulty(fault):
    """A Store on the fault's database; the writer writes when flushed (its timer is an hour)."""
    engine = store_mod.create_engine(fault.url)
    fault.attach(engine)
    store = Store(engine, b"k", wait=3600)
    fault.attach(store.recorder.engine)  # the writer's connections are its own
    yield store
    fault.off()
    store.close()


def record_batch(store, call, n=BATCH, at=NOW):
    for i in range(n):
        store.record(turn(call, at + timedelta(seconds=i)))
    assert store.flush(30)


def calls_written(store) -> dict:
    with store.engine.connect() as c:
        t = store_mod.turns
        return dict(c.execute(sa.select(t.c.call_sid, sa.func.count()).group_by(t.c.call_sid)).all())


def start_fault(fault, store, connections=3):
    """The fault begins, and the worker opens connections while it lasts: its pools are
    renewed (a worker started then), and questions asked at once take several."""
    fault.on()
    store.engine.dispose()
    store.recorder.engine.dispose()
    held = [store.engine.connect() for _ in range(connections)]
    for c in held:
        c.execute(sa.select(sa.func.count()).select_from(store_mod.turns)).scalar_one()
    for c in held:
        c.close()


def test_every_turn_is_recorded_again_once_the_fault_ends(fault, faulty, caplog):
    record_batch(faulty, "CAbefore")
    start_fault(fault, faulty)
    with caplog.at_level(logging.WARNING, "ivr.store"):
        record_batch(faulty, "CAduring")
        assert faulty.recorder.failing and faulty.recorder.lost == BATCH
        fault.off()
        for n in range(8):  # more batches than the pool holds connections
            record_batch(faulty, f"CAafter{n}")
    assert faulty.recorder.lost == BATCH and not faulty.recorder.failing
    assert calls_written(faulty) == {"CAbefore": BATCH, **{f"CAafter{n}": BATCH for n in range(8)}}
    messages = [r.getMessage() for r in caplog.records if r.name == "ivr.store"]
    assert len(messages) == 2 and "dropped" in messages[0] and "writing again" in messages[1]


def test_the_loss_is_written_down_when_the_database_comes_back(fault, faulty):
    record_batch(faulty, "CAbefore")
    start_fault(fault, faulty)
    faulty.record(CallStatus("CAduring", "completed", 30, NOW + timedelta(minutes=5)))
    record_batch(faulty, "CAduring", at=NOW + timedelta(minutes=1))
    with faulty.engine.connect() as c:
        assert c.execute(sa.select(store_mod.losses)).all() == []  # nothing to say it with yet
    fault.off()
    record_batch(faulty, "CAafter", n=1)
    with faulty.engine.connect() as c:
        loss, = c.execute(sa.select(store_mod.losses)).mappings().all()
    assert (loss["turns"], loss["statuses"]) == (BATCH, 1)
    assert loss["first_at"] == NOW + timedelta(minutes=1)  # the lost events' own times
    assert loss["last_at"] == NOW + timedelta(minutes=5)
    host, _, pid = loss["worker"].rpartition(":")
    assert host and int(pid) > 0
    record_batch(faulty, "CAlater", n=1)
    with faulty.engine.connect() as c:  # written once
        assert c.execute(sa.select(sa.func.count()).select_from(store_mod.losses)).scalar_one() == 1


def test_a_loss_with_nothing_else_to_write_is_written_on_its_own(tmp_path):
    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    store_mod.upgrade(url)
    s = Store.open(url, b"k", size=2, wait=3600)
    for i in range(5):  # the queue holds 2: 3 are dropped
        s.record(turn("CAfull", NOW + timedelta(seconds=i)))
    assert s.flush(10) and (s.recorder.written, s.recorder.lost) == (2, 3)
    assert s.flush(10)  # nothing queued now: the loss goes alone
    with s.engine.connect() as c:
        assert c.execute(sa.select(store_mod.losses.c.turns)).scalars().all() == [3]
    s.close()


def test_the_queue_holds_exactly_its_size(tmp_path):
    """The cap holds when threads record at once: each checks for room and appends as one
    step. Two threads are made to look at the length together, as they would when the
    interpreter switches between them there."""
    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    store_mod.upgrade(url)
    size = 10
    s = Store.open(url, b"k", size=size, wait=3600)
    together = threading.Barrier(2, timeout=1)

    class LengthTogether(type(s.recorder._queue)):
        def __len__(self):
            n = super().__len__()
            if threading.current_thread().name.startswith("recording"):
                # Both threads read the length before either appends; if the other cannot come
                # (it waits for the lock), the wait ends and it reads the length after this one appends.
                with contextlib.suppress(threading.BrokenBarrierError):
                    together.wait()
            return n

    s.recorder._queue = LengthTogether()  # before the writer starts, and takes it
    for i in range(size - 1):
        s.record(turn("CA", NOW + timedelta(seconds=i)))
    threads = [threading.Thread(target=s.record, args=(turn(f"CAt{n}"),), name=f"recording{n}")
               for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(100):
        s.record(turn("CAmore", NOW + timedelta(seconds=i)))
    assert (s.recorder.queued, s.recorder.lost) == (size, 101)
    assert s.flush(10) and s.recorder.written == size
    s.close()


# -- /healthz --------------------------------------------------------------------------------

def test_healthz_names_the_worker_and_says_degraded_while_its_store_fails(fault, no_audio):
    import os

    app = create_app({"TESTING": True, "AUDIO_DIR": str(no_audio), "TWILIO_AUTH_TOKEN": TOKEN,
                      "STORE": True, "DATABASE_URL": fault.url, "SECRET_KEY": "s"})
    store = app.extensions["ivr"].store
    fault.attach(store.engine)
    fault.attach(store.recorder.engine)
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 200
    assert (health.json["status"], health.json["pid"]) == ("ok", os.getpid())
    start_fault(fault, store)
    record_batch(store, "CAduring")
    health = client.get("/healthz")
    assert health.status_code == 200  # the worker still takes calls
    assert health.json["status"] == "degraded"
    assert health.json["store"]["lost"] == BATCH
    fault.off()
    record_batch(store, "CAafter", n=1)
    assert client.get("/healthz").json["status"] == "ok"
    store.close()
