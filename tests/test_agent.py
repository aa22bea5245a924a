"""The agent (ivr/agent.py), its opening hours on the line's wall clock (ivr/hours.py, fixed
clocks), and their settings as ivr/settings.py reads them."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from ivr import agent
from ivr.hours import Hours
from ivr.settings import ConfigError, Settings, defaults

BOGOTA = ZoneInfo("America/Bogota")  # UTC-5 all year
HOURS = "Mon-Fri 08:00-18:00, Sat 08:00-12:00"


def at(text: str, tz=BOGOTA) -> datetime:
    """'2026-11-30 07:59' (a Monday) in `tz`."""
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def read(**config) -> Settings:
    """The settings as the line reads them, with these values."""
    return Settings.from_config({**defaults(), "STORE": False, **config})


def parse_hours(text) -> Hours:
    return Hours(read(AGENT_NUMBER="+576015555555", AGENT_HOURS=text).agent_hours, BOGOTA)


def zone_of(value):
    return read(TIMEZONE=value).timezone


def agent_settings(config):
    return agent.from_settings(read(**config))


@pytest.fixture
def hours():
    return parse_hours(HOURS)


@pytest.mark.parametrize("now, open_", [
    ("2026-11-30 07:59", False),  # Monday, before opening
    ("2026-11-30 08:00", True),
    ("2026-11-30 17:59", True),
    ("2026-11-30 18:00", False),  # closing time is closed
    ("2026-12-04 12:30", True),  # Friday
    ("2026-12-05 11:59", True),  # Saturday morning
    ("2026-12-05 12:00", False),
    ("2026-12-06 10:00", False),  # Sunday
])
def test_is_open_on_the_lines_wall_clock(hours, now, open_):
    assert hours.is_open(at(now)) is open_


def test_is_open_converts_other_zones(hours):
    # 12:30 UTC on a Monday is 07:30 in Bogotá: closed; 13:00 UTC is 08:00: open.
    assert not hours.is_open(at("2026-11-30 12:30", UTC))
    assert hours.is_open(at("2026-11-30 13:00", UTC))
    # Saturday 02:00 in Madrid is still Friday 20:00 in Bogotá: closed.
    assert not hours.is_open(at("2026-12-05 02:00", ZoneInfo("Europe/Madrid")))


def test_a_naive_time_is_refused(hours):
    with pytest.raises(ValueError, match="aware"):
        hours.is_open(datetime(2026, 11, 30, 9, 0))


def test_the_hours_as_data_for_the_line_to_say(hours):
    [week, saturday] = hours.windows
    assert (week.first, week.last, week.days) == (0, 4, (0, 1, 2, 3, 4))
    assert (week.opens_at, week.closes_at) == ("08:00", "18:00")
    assert (saturday.days, saturday.opens_at, saturday.closes_at) == ((5,), "08:00", "12:00")
    assert str(hours) == HOURS


@pytest.mark.parametrize("now, expected", [
    ("2026-11-30 07:00", "2026-11-30 08:00"),  # Monday before opening: today
    ("2026-11-30 19:00", "2026-12-01 08:00"),  # Monday evening: Tuesday
    ("2026-12-05 13:00", "2026-12-07 08:00"),  # Saturday afternoon: Monday
    ("2026-11-30 09:00", None),  # open now
])
def test_next_opening(hours, now, expected):
    got = hours.next_opening(at(now))
    assert got == (at(expected) if expected else None)


@pytest.mark.parametrize("text, days, opens, closes", [
    ("mon 9:00-17:30", (0,), "09:00", "17:30"),
    ("Sat-Mon 10:00-24:00", (5, 6, 0), "10:00", "24:00"),  # wraps past Sunday
    ("SUN 00:00-02:00", (6,), "00:00", "02:00"),
    ("Tue - Thu 08:00 - 12:00", (1, 2, 3), "08:00", "12:00"),
])
def test_the_format_is_forgiving_about_case_and_spaces(text, days, opens, closes):
    [w] = parse_hours(text).windows
    assert (w.days, w.opens_at, w.closes_at) == (days, opens, closes)


def test_a_day_may_have_several_windows():
    hours = parse_hours("Mon-Fri 08:00-12:00, Mon-Fri 14:00-18:00")
    assert hours.is_open(at("2026-11-30 11:00"))
    assert not hours.is_open(at("2026-11-30 13:00"))
    assert hours.next_opening(at("2026-11-30 13:00")) == at("2026-11-30 14:00")


@pytest.mark.parametrize("text, message", [
    ("weekdays 8-18", "IVR_AGENT_HOURS: 'weekdays 8-18' is not 'Day HH:MM-HH:MM'"),
    ("Mon-Fri 08:00-18:00,", "IVR_AGENT_HOURS: '' is not"),
    ("Lun-Vie 08:00-18:00", "is not 'Day HH:MM-HH:MM'"),
    ("Mon 25:00-26:00", "'25:00' in 'Mon 25:00-26:00' is not a time"),
    ("Mon 08:60-09:00", "'08:60'"),
    ("Mon 24:00-24:00", "'24:00'"),
    ("Fri 22:00-02:00", "closes before it opens; a window past midnight is two entries"),
    ("Mon 08:00-08:00", "closes before it opens"),
])
def test_bad_hours_name_the_setting_and_the_entry(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("+", r"\+")):
        parse_hours(text)


@pytest.mark.parametrize("value", ["America/Bogota", "Europe/Madrid", "UTC"])
def test_timezone(value):
    assert zone_of(value) == ZoneInfo(value)


def test_timezone_defaults_to_bogota():
    assert zone_of(None) == zone_of("") == BOGOTA


@pytest.mark.parametrize("value", ["Bogota", "America/Nowhere", "../../etc/passwd", "/etc/localtime", 5])
def test_bad_timezone_names_the_setting(value):
    with pytest.raises(ConfigError, match="^IVR_TIMEZONE must be a time zone name"):
        zone_of(value)


def test_settings_off_without_a_number():
    assert agent_settings({}) is None
    assert agent_settings({"AGENT_NUMBER": "", "TIMEZONE": "UTC"}) is None


def test_settings_with_number_and_hours():
    a = agent_settings({"AGENT_NUMBER": "+576015555555", "AGENT_HOURS": HOURS,
                        "TIMEZONE": "America/Bogota"})
    assert a.number == "+576015555555"
    assert a.is_open(at("2026-11-30 09:00")) and not a.is_open(at("2026-12-06 09:00"))


def test_without_hours_the_agent_is_always_there():
    a = agent_settings({"AGENT_NUMBER": "+576015555555"})
    assert a.hours is None and a.timezone == BOGOTA
    assert a.is_open(at("2026-12-06 03:00")) and a.is_open()


@pytest.mark.parametrize("config, message", [
    ({"AGENT_NUMBER": "6015555555"}, "^IVR_AGENT_NUMBER must be a phone number in E.164"),
    ({"AGENT_NUMBER": 576015555555}, "^IVR_AGENT_NUMBER must be"),
    ({"AGENT_HOURS": HOURS}, "^IVR_AGENT_HOURS is set but IVR_AGENT_NUMBER is not"),
    ({"AGENT_NUMBER": "+576015555555", "AGENT_HOURS": "always"}, "^IVR_AGENT_HOURS: 'always'"),
    ({"AGENT_NUMBER": "+576015555555", "TIMEZONE": "Mars/Olympus"}, "^IVR_TIMEZONE"),
])
def test_bad_settings_name_the_setting(config, message):
    with pytest.raises(ConfigError, match=message):
        agent_settings(config)


# -- closed days: public holidays (IVR_HOLIDAYS) and IVR_CLOSED_DATES ---------------------------

def closed_agent(**config):
    return agent_settings({"AGENT_NUMBER": "+576015555555", "AGENT_HOURS": "Mon-Sat 08:00-18:00",
                           **config})


# Fixed days of 2026, never a count: Colombia moves most holidays to the next Monday (the
# Emiliani law), so which weekday a holiday falls on changes every year.
@pytest.mark.parametrize("day, why", [
    ("2026-12-08 10:00", agent.HOLIDAY),  # a Tuesday: the Immaculate Conception stays put
    ("2026-11-16 10:00", agent.HOLIDAY),  # Monday: Cartagena's independence (11 Nov), moved
    ("2026-11-11 10:00", None),           # the Wednesday it moved from: open
    ("2026-12-09 10:00", None),
    ("2026-12-25 10:00", agent.HOLIDAY),  # Christmas, a Friday
    ("2026-12-26 10:00", None),           # Saturday morning: open
])
def test_colombian_holidays_close_the_person_by_default(day, why):
    assert closed_agent().closed(at(day)) == why


def test_the_day_is_the_lines_own_not_utc():
    a = closed_agent()
    # 2026-12-08 03:00 UTC is still Monday 7 December, 22:00 in Bogotá: no holiday there.
    assert a.closed(datetime(2026, 12, 8, 3, 0, tzinfo=UTC)) == agent.HOURS
    # 2026-12-09 04:00 UTC is 23:00 on the 8th in Bogotá: the holiday.
    assert a.closed(datetime(2026, 12, 9, 4, 0, tzinfo=UTC)) == agent.HOLIDAY


def test_another_country_or_none():
    # 16 Sep 2026 is Mexico's independence day, a working Wednesday in Colombia.
    assert closed_agent(HOLIDAYS="MX").closed(at("2026-09-16 10:00")) == agent.HOLIDAY
    assert closed_agent().closed(at("2026-09-16 10:00")) is None
    assert closed_agent(HOLIDAYS="mx").holidays is not None  # any case
    assert closed_agent(HOLIDAYS="").closed(at("2026-12-08 10:00")) is None


def test_closed_dates_close_the_person_on_those_days_only():
    a = closed_agent(CLOSED_DATES="2026-12-24, 2026-12-31")
    assert a.closed(at("2026-12-24 09:00")) == agent.CLOSED_DAY
    assert a.closed(at("2026-12-31 17:00")) == agent.CLOSED_DAY
    assert a.closed(at("2026-12-23 09:00")) is None
    # A holiday that is also a closed date says it is a holiday.
    assert closed_agent(CLOSED_DATES="2026-12-25").closed(at("2026-12-25 09:00")) == agent.HOLIDAY
    # Without opening hours the person answers any time of an open day, never on a closed one.
    always = agent_settings({"AGENT_NUMBER": "+576015555555", "CLOSED_DATES": "2026-12-24"})
    assert always.closed(at("2026-12-24 03:00")) == agent.CLOSED_DAY
    assert always.closed(at("2026-12-23 03:00")) is None


def test_the_clock_setting_is_the_agents_clock():
    a = closed_agent(CLOCK=lambda: at("2026-12-08 10:00"))
    assert a.closed() == agent.HOLIDAY and not a.is_open()


@pytest.mark.parametrize("config, message", [
    ({"HOLIDAYS": "Colombia"}, "^IVR_HOLIDAYS must be a country code the holidays package knows"),
    ({"HOLIDAYS": "XX"}, "^IVR_HOLIDAYS must be a country code"),
    ({"CLOSED_DATES": "24/12/2026"}, r"^IVR_CLOSED_DATES: '24/12/2026' is not a date YYYY-MM-DD"),
    ({"CLOSED_DATES": "2026-12-24,"}, r"^IVR_CLOSED_DATES: '' is not a date"),
    ({"CLOSED_DATES": "2026-02-30"}, r"^IVR_CLOSED_DATES: '2026-02-30' is not a date"),
    ({"CLOSED_DATES": "2026-1-5"}, r"^IVR_CLOSED_DATES: '2026-1-5' is not a date"),
])
def test_malformed_closed_days_name_the_setting(config, message):
    with pytest.raises(ConfigError, match=message):
        closed_agent(**config)


def test_an_empty_holidays_variable_turns_them_off(monkeypatch):
    """IVR_HOLIDAYS= in the environment (or .env) means none, not the default CO."""
    from ivr.settings import from_environment

    monkeypatch.setenv("IVR_HOLIDAYS", "")
    monkeypatch.setenv("IVR_AGENT_NUMBER", "+576015555555")
    assert read(**from_environment()).holidays == ""
    monkeypatch.delenv("IVR_HOLIDAYS")
    assert read(**from_environment()).holidays == "CO"


def test_a_line_without_a_person_never_loads_the_holidays_package(no_audio, tmp_path):
    """11 MiB a worker: only a line with a person (9) has days to close, so only then is the
    country looked up (a code the package does not know waits until there is a person)."""
    import os
    import subprocess
    import sys

    code = ("import sys; from ivr import create_app; "
            f"create_app({{'AUDIO_DIR': {str(no_audio)!r}, 'STORE': False, 'HOLIDAYS': 'CO'}}); "
            f"create_app({{'AUDIO_DIR': {str(no_audio)!r}, 'STORE': False, 'HOLIDAYS': 'XX'}}); "
            "print('holidays' in sys.modules)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                            env=env)
    assert loaded.stdout.strip() == "False", loaded.stderr
