"""What callers who could not reach a person leave (ivr/store/inbox.py): call-back requests
with their numbers sealed, messages with their recordings on Twilio; `ivr inbox`, `ivr inbox
done` and retention (`ivr db prune`, deleting recordings through twilio's HTTP seam)."""

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from ivr import store as store_mod
from ivr.cli import cli
from ivr.store import inbox
from ivr.store.schema import callbacks, caller_key, messages
from twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

NUMBER, OTHER = "+573001234567", "+573009876543"
SECRET = b"test-secret"
NOW = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)


def sid(n: int, prefix="RE") -> str:
    return f"{prefix}{n:032x}"


def message(n: int, at=NOW, seconds=14, step=4) -> inbox.Message:
    return inbox.Message(call_sid=sid(n, "CA"), caller_key=None, step=step, at=at,
                         duration_seconds=seconds, recording_sid=sid(n),
                         recording_url=f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid(n)}")


def test_a_call_back_number_is_kept_sealed_and_the_inbox_opens_it(store):
    assert store.request_callback(NUMBER, "CA1", 4, NOW)
    with store.engine.connect() as c:
        [row] = c.execute(sa.select(callbacks)).all()
    assert NUMBER not in row.number_sealed and "3001234567" not in row.number_sealed
    assert row.caller_key == caller_key(SECRET, NUMBER)  # found again by its keyed hash
    assert inbox.unseal(SECRET, row.number_sealed) == NUMBER
    [item] = inbox.items(store.engine, SECRET).callbacks
    assert (item.id, item.number, item.where) == ("c1", NUMBER, "step:4")


def test_one_open_request_per_number(store):
    assert store.request_callback(NUMBER, "CA1", 4, NOW)
    assert not store.request_callback(NUMBER, "CA2", None, NOW)  # the same number again
    assert store.request_callback(OTHER, "CA3", None, NOW)
    assert [i.number for i in inbox.items(store.engine, SECRET).callbacks] == [NUMBER, OTHER]
    # Handled: deleted, number and all; the number may ask again, under a new id.
    assert inbox.close(store.engine, "c1", NOW)
    assert store.request_callback(NUMBER, "CA4", 2, NOW)
    assert [i.id for i in inbox.items(store.engine, SECRET).callbacks] == ["c2", "c3"]


def test_fernet_tokens_differ_every_time_and_need_the_secret_they_were_made_with():
    one, two = inbox.seal(SECRET, NUMBER), inbox.seal(SECRET, NUMBER)
    assert one != two and inbox.unseal(SECRET, one) == inbox.unseal(SECRET, two) == NUMBER
    assert inbox.unseal(b"another secret", one) is None
    assert inbox.unseal(SECRET, one[:-4] + "AAAA") is None  # altered
    # The sealing key is HKDF's with an info of its own: not the caller key's HMAC.
    assert inbox.SEAL_INFO not in (b"ivr caller\0",)


def test_messages_are_kept_once_and_closing_keeps_the_recording(store):
    assert store.keep_message(message(1))
    assert not store.keep_message(message(1))  # the status callback reports it again
    assert store.keep_message(message(2, step=None))
    items = inbox.items(store.engine, SECRET).messages
    assert [(i.id, i.seconds, i.where) for i in items] == [("m1", 14, "step:4"), ("m2", 14, "menu")]
    assert inbox.close(store.engine, "m1", NOW)
    assert not inbox.close(store.engine, "m1", NOW)  # closed already
    assert [i.id for i in inbox.items(store.engine, SECRET).messages] == ["m2"]
    # The closed message's recording is still known: retention deletes it, not `done`.
    assert inbox.expired_recordings(store.engine, NOW + timedelta(days=1)) == [sid(1), sid(2)]
    assert store.drop_message(sid(2)) and not store.drop_message(sid(2))


@pytest.mark.parametrize("bad", ["1", "x1", "c", "c-1", "cc1", "m1.5", ""])
def test_inbox_ids_name_their_kind(bad):
    with pytest.raises(ValueError, match="is not an inbox id"):
        inbox.parse_id(bad)
    assert inbox.parse_id(" M12 ") == ("m", 12)


def test_counts_by_day_and_step_for_the_report(store):
    """Messages, call backs and accepted transfers by day in the line's zone and by step,
    from the turns (a call back handled and deleted since still counts)."""
    bogota = ZoneInfo("America/Bogota")
    for at, step, action in [
        (datetime(2026, 12, 1, 15, 0, tzinfo=UTC), 4, "message"),
        (datetime(2026, 12, 1, 16, 0, tzinfo=UTC), 4, "message"),
        (datetime(2026, 12, 2, 2, 0, tzinfo=UTC), None, "message"),  # 21:00 on the 1st in Bogotá
        (datetime(2026, 12, 2, 15, 0, tzinfo=UTC), 2, "callback"),
        (datetime(2026, 12, 2, 15, 5, tzinfo=UTC), 2, "dial_accepted"),
        (datetime(2026, 12, 2, 15, 6, tzinfo=UTC), 2, "dial_declined"),
    ]:
        store.record(store_mod.Turn(sid(at.hour, "CA"), None, at, "offer", step, "-", None, action,
                                    "menu"))
    store.flush()
    counts = inbox.by_day_and_step(store.engine, tz=bogota)
    assert counts == {
        "messages": {"2026-12-01": {"step:4": 2, "menu": 1}},
        "callbacks": {"2026-12-02": {"step:2": 1}},
        "accepted_transfers": {"2026-12-02": {"step:2": 1}},
    }
    since = datetime(2026, 12, 2, 0, 0, tzinfo=bogota)
    assert inbox.by_day_and_step(store.engine, since, bogota)["messages"] == {}


# -- the commands ----------------------------------------------------------------------------

@pytest.fixture
def line_db(monkeypatch, tmp_path):
    """A migrated SQLite store the commands read through DATABASE_URL and IVR_SECRET_KEY."""
    url = f"sqlite:///{tmp_path / 'ivr.sqlite3'}"
    store_mod.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("IVR_SECRET_KEY", SECRET.decode())
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "IVR_RETENTION_DAYS", "IVR_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    s = store_mod.Store.open(url, SECRET, wait=0.05)
    yield s
    s.close()


def run(*args, api=None):
    return CliRunner().invoke(cli, list(args), obj={"twilio_http_client": api} if api else None)


def test_ivr_inbox_lists_both_kinds_and_done_closes_one(line_db):
    line_db.request_callback(NUMBER, "CA1", 4, NOW)
    line_db.keep_message(message(1, step=None))
    result = run("inbox", "--json")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert listed["callbacks"] == [{"id": "c1", "number": NUMBER, "at": "2026-12-03T10:00:00-05:00",
                                    "where": "step:4"}]
    [m] = listed["messages"]
    assert (m["id"], m["seconds"], m["where"], m["recording_url"]) == (
        "m1", 14, "menu", message(1).recording_url)
    text = run("inbox").output
    assert f"c1     2026-12-03 10:00  {NUMBER}  from step:4" in text
    assert "m1     2026-12-03 10:00   14 s  from menu" in text
    assert run("inbox", "done", "c1").output == "closed c1\n"
    again = run("inbox", "done", "c1")
    assert again.exit_code == 1 and "Error: c1 is not open in the inbox" in again.output
    assert run("inbox", "done", "M1").exit_code == 0
    assert json.loads(run("inbox", "--json").output) == {"callbacks": [], "messages": []}
    wrong = run("inbox", "done", "7")
    assert wrong.exit_code == 1 and "'7' is not an inbox id" in wrong.output


def test_ivr_inbox_needs_the_secret_key_and_says_when_it_changed(line_db, monkeypatch):
    line_db.request_callback(NUMBER, "CA1", 4, NOW)
    monkeypatch.setenv("IVR_SECRET_KEY", "another")
    assert json.loads(run("inbox", "--json").output)["callbacks"][0]["number"] == inbox.UNREADABLE
    monkeypatch.delenv("IVR_SECRET_KEY")
    result = run("inbox")
    assert result.exit_code == 1 and "Error: IVR_SECRET_KEY is not set" in result.output


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    return FakeTwilio(recordings={sid(n) for n in (1, 2, 3, 9)})


def test_prune_deletes_expired_messages_recordings_on_twilio_and_nothing_else(line_db, api):
    old = datetime.now(UTC) - timedelta(days=100)
    line_db.keep_message(message(1, at=old))
    line_db.keep_message(message(2, at=old))
    line_db.keep_message(message(5, at=old))  # its recording is gone from Twilio already
    line_db.keep_message(message(3, at=datetime.now(UTC)))  # recent: kept
    line_db.request_callback(NUMBER, "CA1", 4, old)
    line_db.request_callback(OTHER, "CA2", 4, datetime.now(UTC))
    result = run("db", "prune", api=api)
    assert result.exit_code == 0, result.output
    assert "and 3 recording(s) on Twilio" in result.output
    # Only the store's expired recordings were asked for: 9 is the account's, not the line's.
    assert api.recordings == {sid(3), sid(9)}
    assert sorted(p for m, p in api.calls("DELETE")) == sorted(
        f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid(n)}.json" for n in (1, 2, 5))
    items = inbox.items(line_db.engine, SECRET)
    assert [i.id for i in items.messages] == ["m4"] and [i.number for i in items.callbacks] == [OTHER]


@pytest.mark.parametrize("code, problem", [
    (20003, "cannot delete recording {sid} on Twilio (error 20003: wrong TWILIO_ACCOUNT_SID or TWILIO_AUTH_TOKEN)"),
    (20429, "cannot delete recording {sid} on Twilio (error 20429: Unable to delete record: Too Many Requests)"),
])
def test_prune_keeps_a_message_whose_recording_twilio_would_not_delete(line_db, api, code, problem):
    old = datetime.now(UTC) - timedelta(days=100)
    line_db.keep_message(message(1, at=old))
    api.recording_errors[sid(1)] = code
    result = run("db", "prune", api=api)
    assert result.exit_code == 1
    assert f"Error: {problem.format(sid=sid(1))}; its message is kept: try again later" in result.output
    assert "Traceback" not in result.output
    assert inbox.expired_recordings(line_db.engine, datetime.now(UTC)) == [sid(1)]


def test_prune_without_credentials_says_so_and_keeps_the_messages(line_db):
    old = datetime.now(UTC) - timedelta(days=100)
    line_db.keep_message(message(1, at=old))
    line_db.request_callback(NUMBER, "CA1", 4, old)
    result = run("db", "prune")
    assert result.exit_code == 1
    assert ("Error: 1 expired message(s) keep their recordings on Twilio: set TWILIO_ACCOUNT_SID "
            "and TWILIO_AUTH_TOKEN so prune can delete them") in result.output
    assert inbox.expired_recordings(line_db.engine, datetime.now(UTC)) == [sid(1)]
    assert inbox.items(line_db.engine, SECRET).callbacks == []  # the rest was pruned


def test_prune_with_nothing_expired_asks_twilio_nothing(line_db, api):
    line_db.keep_message(message(1))
    assert run("db", "prune", api=api).exit_code == 0
    assert api.requests == []


def test_handled_call_backs_leave_no_number_in_the_database(line_db):
    line_db.request_callback(NUMBER, "CA1", 4, NOW)
    inbox.close(line_db.engine, "c1", NOW)
    with line_db.engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(callbacks)).scalar() == 0
        assert c.execute(sa.select(sa.func.count()).select_from(messages)).scalar() == 0
