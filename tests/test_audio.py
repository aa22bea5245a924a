"""Building, checking and serving the prompts' audio."""

import base64
import dataclasses
import io
import json
import logging
import re
import urllib.parse

import numpy as np
import pytest
import requests
import responses
import soundfile
from click.testing import CliRunner
from gtts import gTTS

from conftest import require, walk
from ivr import ROOT, create_app
from ivr.audio import AudioStore
from ivr.build import build, check, file_name, labels, plan
from ivr.cli import cli
from ivr.content import load
from ivr.player import Catalog
from ivr.tts import EngineUnavailable, EspeakEngine, GTTSEngine

GOOGLE = "https://translate.google.com.mx/_/TranslateWebserverUi/data/batchexecute"
CONTENT = load(ROOT / "content.toml")
NORMAL = list(CONTENT.prompts)
SLOW = [f"{pid} (slow)" for pid in CONTENT.prompts]


def mp3(seconds=0.5, rate=24000):
    """Real MP3 bytes, as Google's voice sends them (24 kHz mono)."""
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    soundfile.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), rate,
                    format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


def sent_parameters(request) -> list:
    """What gTTS asked Google for: [text, lang, speed, "null"], decoded from the RPC body."""
    form = urllib.parse.parse_qs(request.body)
    rpc = json.loads(form["f.req"][0])
    return json.loads(rpc[0][0][1])


def google_reply(audio: bytes) -> str:
    """The body of a batchexecute answer carrying `audio`, the way gTTS parses it."""
    payload = base64.b64encode(audio).decode()
    body = [["wrb.fr", "jQ1olc", f'["{payload}"]', None, None, None, "generic"]]
    return ")]}'\n\n" + json.dumps(body, separators=(",", ":"))


@pytest.fixture
def google():
    """gTTS's HTTP layer mocked: every request answers real MP3 audio."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, GOOGLE, body=google_reply(mp3()))
        yield rsps


def no_sleep(seconds):
    no_sleep.calls.append(seconds)


@pytest.fixture
def gtts():
    no_sleep.calls = []
    return GTTSEngine(tld="com.mx", sleep=no_sleep)


def test_gtts_build_makes_telephone_wav_per_prompt(tmp_path, google, gtts):
    report = build(CONTENT, tmp_path, gtts)
    # Normal files first (the ones the line needs most), then the slow ones.
    assert report.made == NORMAL + SLOW and not report.failed
    parts = {p.id: len(gTTS(p.say, lang="es", pre_processor_funcs=[]).get_bodies())
             for p in CONTENT.prompts.values()}
    assert len(google.calls) == 2 * sum(parts.values()) > 2 * len(CONTENT.prompts)
    assert sent_parameters(google.calls[0].request)[1] == "es"
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["prompts"]) == sorted(manifest["slow"]) == sorted(NORMAL)
    for table, voice, name in [
        ("prompts", {"lang": "es", "tld": "com.mx"}, r"{pid}-[0-9a-f]{{12}}\.wav"),
        ("slow", {"lang": "es", "tld": "com.mx", "slow": True}, r"{pid}-slow-[0-9a-f]{{12}}\.wav"),
    ]:
        for pid, entry in manifest[table].items():
            info = soundfile.info(tmp_path / entry["file"])
            assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "ULAW", 8000, 1)
            assert entry["engine"] == "gtts"
            assert entry["voice"] == voice
            assert entry["text"] == CONTENT[pid].say
            assert entry["duration"] == pytest.approx(0.5 * parts[pid], abs=0.05)
            assert re.fullmatch(name.format(pid=pid), entry["file"])
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == sorted(
        e["file"] for table in ("prompts", "slow") for e in manifest[table].values())


def test_gtts_asks_google_for_its_slow_voice(tmp_path, google, gtts):
    gtts.synthesize("Hola", slow=True)
    gtts.synthesize("Hola")
    # gTTS sends speed true for slow=True and null for its normal voice.
    assert [sent_parameters(c.request) for c in google.calls] == [
        ["Hola", "es", True, "null"], ["Hola", "es", None, "null"]]
    google.calls.reset()
    build(CONTENT, tmp_path, gtts)
    speeds = {}
    for c in google.calls:
        text, _, speed, _ = sent_parameters(c.request)
        speeds.setdefault(speed, []).append(text)
    assert set(speeds) == {True, None}
    assert speeds[True] == speeds[None]  # every part of every prompt, once at each pace


def test_rebuild_without_changes_makes_no_calls(tmp_path, google, gtts):
    build(CONTENT, tmp_path, gtts)
    google.calls.reset()
    report = build(CONTENT, tmp_path, gtts)
    assert len(google.calls) == 0
    assert report.made == [] and report.kept == NORMAL + SLOW == labels(CONTENT)


def test_force_remakes_everything(tmp_path, google, gtts):
    build(CONTENT, tmp_path, gtts)
    google.calls.reset()
    assert build(CONTENT, tmp_path, gtts, force=True).made == NORMAL + SLOW
    assert len(google.calls) >= 2 * len(CONTENT.prompts)


def changed_content(tmp_path, old, new):
    path = tmp_path / "content.toml"
    path.write_text((ROOT / "content.toml").read_text(encoding="utf-8").replace(old, new),
                    encoding="utf-8")
    return load(path)


def test_changed_prompt_gets_a_new_file_and_the_old_one_goes_a_build_later(tmp_path, google, gtts):
    audio = tmp_path / "audio"
    build(CONTENT, audio, gtts)
    before = json.loads((audio / "manifest.json").read_text(encoding="utf-8"))
    changed = changed_content(tmp_path, "¡Hasta pronto!", "¡Hasta la próxima!")
    google.calls.reset()
    report = build(changed, audio, gtts)
    # A short prompt: one part, once at each pace.
    assert report.made == ["goodbye", "goodbye (slow)"] and len(google.calls) == 2
    after = json.loads((audio / "manifest.json").read_text(encoding="utf-8"))
    old = [before[table]["goodbye"]["file"] for table in ("prompts", "slow")]
    for table in ("prompts", "slow"):
        assert after[table]["goodbye"]["file"] not in old
        assert {k: v for k, v in after[table].items() if k != "goodbye"} == {
            k: v for k, v in before[table].items() if k != "goodbye"}
    # The running line still plays the old files until it restarts...
    assert report.removed == [] and all((audio / name).exists() for name in old)
    # ...and the next build, which no running line can still be using, removes them.
    assert sorted(build(changed, audio, gtts).removed) == sorted(old)
    assert not any((audio / name).exists() for name in old)
    assert sorted(p.name for p in audio.glob("*.wav")) == sorted(
        e["file"] for table in ("prompts", "slow") for e in after[table].values())


def test_voice_settings_are_part_of_the_name():
    say = CONTENT["goodbye"].say
    names = {file_name("goodbye", say, "gtts", {"lang": "es", "tld": tld}) for tld in ("com.mx", "com.co")}
    names.add(file_name("goodbye", say, "espeak", {"voice": "es-419", "speed": 150}))
    assert len(names) == 3


def test_slowness_is_part_of_the_name():
    say, espeak = CONTENT["goodbye"].say, EspeakEngine()
    normal = file_name("goodbye", say, "espeak", espeak.settings())
    slow = file_name("goodbye", say, "espeak", espeak.settings(slow=True), slow=True)
    assert re.fullmatch(r"goodbye-slow-[0-9a-f]{12}\.wav", slow)
    # Even with the same voice settings, the slow flag alone makes another file.
    same_settings = file_name("goodbye", say, "espeak", espeak.settings(), slow=True)
    assert len({normal, slow, same_settings}) == 3
    assert normal.split("-")[-1] != same_settings.split("-")[-1]
    # The normal name is the one it was before slow files existed: shipped files keep their URLs.
    manifest = json.loads((ROOT / "audio" / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["prompts"]["goodbye"]["file"] == normal
    assert manifest["slow"]["goodbye"]["file"] == slow


def test_http_429_is_retried_with_backoff(tmp_path, gtts):
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, GOOGLE, status=429)
        rsps.add(responses.POST, GOOGLE, status=429)
        rsps.add(responses.POST, GOOGLE, body=google_reply(mp3()))
        samples, rate = gtts.synthesize("Hola")
    assert rate == 24000 and samples.size
    assert no_sleep.calls == [1.0, 2.0]


def test_failed_prompt_leaves_no_file_and_keeps_the_others(tmp_path, gtts):
    audio = tmp_path / "audio"
    assert [p.id for p in CONTENT.prompts.values() if "registrate" in p.say] == ["paso_3"]

    def answer(request):
        if "registrate" in requests.utils.unquote(request.body):
            return (429, {}, "")
        return (200, {}, google_reply(mp3()))

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.POST, GOOGLE, callback=answer)
        report = build(CONTENT, audio, gtts)
    assert list(report.failed) == ["paso_3", "paso_3 (slow)"]
    assert "429" in report.failed["paso_3 (slow)"]
    assert len(report.made) == 2 * len(CONTENT.prompts) - 2
    assert not list(audio.glob("paso_3-*")) and not list(audio.glob(".tmp-*"))
    assert [p for p, *_ in check(CONTENT, audio)] == ["paso_3"]
    assert [p for p, *_ in check(CONTENT, audio, slow=True)] == ["paso_3"]


def test_build_interrupted_mid_file_leaves_no_partial_file(tmp_path, monkeypatch):
    class Boom(Exception):
        pass

    def explode(path, *a, **kw):
        with open(path, "wb") as f:
            f.write(b"RIFF half a file")
        raise Boom

    monkeypatch.setattr("ivr.build.soundfile.write", explode)
    with pytest.raises(Boom):
        build(CONTENT, tmp_path, EspeakEngineStub())
    assert not list(tmp_path.glob("*.wav")) and not list(tmp_path.glob(".tmp-*"))


class EspeakEngineStub:
    """Stands in for a speech engine where only the file writing is under test."""

    name = "stub"

    def settings(self, slow=False):
        return {}

    def synthesize(self, text, slow=False):
        return np.zeros(800, dtype=np.float32), 8000


def test_no_network_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(tmp_path))
    monkeypatch.setattr("ivr.tts.time.sleep", lambda s: None)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, GOOGLE, body=requests.ConnectionError("Name or service not known"))
        result = CliRunner().invoke(cli, ["audio", "build"])
    assert result.exit_code == 1
    error = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert error == ["Error: no network: cannot reach translate.google.com.mx. "
                     "Build offline with: ivr audio build --engine espeak"]
    assert not list(tmp_path.glob("*.wav"))


def test_cli_names_failed_prompts_and_how_to_rerun(tmp_path, monkeypatch):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(tmp_path))
    monkeypatch.setattr("ivr.tts.time.sleep", lambda s: None)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, GOOGLE, status=503)
        result = CliRunner().invoke(cli, ["audio", "build", "--tld", "com.mx"])
    assert result.exit_code == 1
    assert "failed: welcome: 503" in result.output
    assert "failed: welcome (slow): 503" in result.output
    assert "rerun `ivr audio build --engine gtts`" in result.output


def test_cli_build_then_check(tmp_path, monkeypatch, google):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["audio", "build"])
    assert result.exit_code == 0, result.output
    n = len(CONTENT.prompts)
    assert f"made {2 * n} ({n} slow), kept 0" in result.output
    result = CliRunner().invoke(cli, ["audio", "check"])
    assert result.exit_code == 0
    assert result.output.strip() == (
        f"{n} prompts: {n} current (gtts), 0 stale, 0 missing; slow: {n} current (gtts), 0 stale, 0 missing")


def test_check_lists_missing_and_stale_with_engine(tmp_path, monkeypatch, audio_dir):
    changed = changed_content(tmp_path, "Tomate tu tiempo.", "Tomate todo el tiempo que necesites.")
    manifest = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
    (audio_dir / manifest["prompts"]["menu"]["file"]).unlink()
    monkeypatch.setenv("IVR_AUDIO_DIR", str(audio_dir))
    monkeypatch.setenv("IVR_CONTENT", str(changed.path))
    result = CliRunner().invoke(cli, ["audio", "check"])
    assert result.exit_code == 1
    n = len(CONTENT.prompts)
    assert result.output.splitlines() == [
        "missing  menu (engine: espeak)",
        "stale    still_there (engine: espeak)",
        "stale    still_there (slow, engine: espeak)",
        f"{n} prompts: {n - 2} current (espeak), 1 stale, 1 missing; "
        f"slow: {n - 1} current (espeak), 1 stale, 0 missing",
    ]


def test_check_reports_missing_slow_files(tmp_path, monkeypatch, audio_dir):
    manifest = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
    (audio_dir / manifest["slow"]["paso_2"]["file"]).unlink()
    monkeypatch.setenv("IVR_AUDIO_DIR", str(audio_dir))
    result = CliRunner().invoke(cli, ["audio", "check"])
    assert result.exit_code == 1
    assert result.output.splitlines()[0] == "missing  paso_2 (slow, engine: espeak)"
    assert check(CONTENT, audio_dir) == []
    assert check(CONTENT, audio_dir, slow=True) == [("paso_2", "missing", "espeak")]


def test_stale_prompt_is_said_not_played(tmp_path, audio_dir):
    changed = changed_content(tmp_path, "Tomate tu tiempo.", "Tomate todo el tiempo que necesites.")
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "CONTENT": str(changed.path)})
    c = walk(app, "1,-")
    heard = {e.prompt: e for e in c.events if e.kind in ("say", "play")}
    assert heard["still_there"].kind == "say"
    assert heard["still_there"].text == "¿Seguís ahí? Tomate todo el tiempo que necesites."
    assert heard["step_keys"].kind == "play"
    assert heard["paso_1"].kind == "play"


def test_startup_logs_one_audio_summary(tmp_path, audio_dir, caplog):
    changed = changed_content(tmp_path, "Tomate tu tiempo.", "Tomate todo el tiempo que necesites.")
    with caplog.at_level(logging.INFO, logger="ivr"):
        create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir), "CONTENT": str(changed.path)})
    lines = [r.getMessage() for r in caplog.records if "audio:" in r.getMessage()]
    assert len(lines) == 1
    n = len(CONTENT.prompts)
    assert f"audio: {n - 1} playable (espeak), 0 missing, 1 stale" in lines[0]


def test_committed_audio_is_current_for_the_content():
    assert check(CONTENT, ROOT / "audio") == []
    assert check(CONTENT, ROOT / "audio", slow=True) == []
    assert plan(CONTENT, ROOT / "audio", EspeakEngine()) == []  # normal and slow


def test_file_for_gives_the_slow_file_only_when_slow(audio_dir):
    manifest = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
    store = AudioStore(audio_dir, CONTENT)
    for pid in CONTENT.prompts:
        assert store.file_for(pid) == manifest["prompts"][pid]["file"]
        assert store.file_for(pid, slow=True) == manifest["slow"][pid]["file"]
        assert store.file_for(pid, slow=True) != store.file_for(pid)
    assert store.file_for("nope", slow=True) is None
    n = len(CONTENT.prompts)
    assert store.summary()["slow"] == {"playable": n, "engines": ["espeak"], "missing": [], "stale": []}


def test_missing_or_stale_slow_file_means_say_slowly_not_the_normal_file(tmp_path, audio_dir):
    manifest = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
    (audio_dir / manifest["slow"]["paso_1"]["file"]).unlink()
    changed = changed_content(tmp_path, "Tomate tu tiempo.", "Tomate todo el tiempo que necesites.")
    store = AudioStore(audio_dir, changed)
    assert store.file_for("paso_1", slow=True) is None
    assert store.file_for("paso_1") == manifest["prompts"]["paso_1"]["file"]
    assert store.file_for("still_there", slow=True) is None
    s = store.summary()
    assert s["slow"]["missing"] == ["paso_1"] and s["slow"]["stale"] == ["still_there"]
    assert s["missing"] == [] and s["stale"] == ["still_there"]
    assert s["slow"]["playable"] == len(CONTENT.prompts) - 2


def test_manifest_from_before_slow_files_still_plays_and_builds_only_slow_ones(tmp_path, audio_dir):
    path = audio_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for entry in manifest.pop("slow").values():
        (audio_dir / entry["file"]).unlink()
    path.write_text(json.dumps(manifest), encoding="utf-8")
    store = AudioStore(audio_dir, CONTENT)
    assert store.playable == {pid: e["file"] for pid, e in manifest["prompts"].items()}
    assert store.slow_playable == {} and store.slow_missing == NORMAL
    assert store.summary()["slow"]["engines"] == []
    require("espeak-ng", "espeak-ng")
    report = build(CONTENT, audio_dir, EspeakEngine())
    assert report.made == SLOW and report.kept == NORMAL
    after = json.loads(path.read_text(encoding="utf-8"))
    assert after["prompts"] == manifest["prompts"] and sorted(after["slow"]) == sorted(NORMAL)


def test_garbage_slow_table_drops_only_the_slow_files(audio_dir, caplog):
    path = audio_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["slow"] = ["not", "a", "table"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="ivr"):
        store = AudioStore(audio_dir, CONTENT)
    assert "no valid 'slow' table" in caplog.text
    assert len(store.playable) == len(CONTENT.prompts) and store.slow_playable == {}
    assert store.slow_missing == NORMAL


def test_audio_route_serves_wav_with_long_cache_and_validators(client, app):
    name = app.extensions["ivr"].audio.file_for("welcome")
    r = client.get(f"/audio/{name}")
    assert r.status_code == 200
    assert r.mimetype == "audio/wav"
    assert r.cache_control.max_age >= 30 * 24 * 3600
    assert r.cache_control.public and r.headers["Last-Modified"]
    assert r.headers["ETag"] == f'"{name.removesuffix(".wav")}"'  # the same on every machine
    assert soundfile.info(io.BytesIO(r.data)).subtype == "ULAW"
    r.close()
    with client.get(f"/audio/{name}", headers={"If-None-Match": r.headers["ETag"]}) as again:
        assert again.status_code == 304 and again.data == b""
    with client.get(f"/audio/{name}", headers={"If-Modified-Since": r.headers["Last-Modified"]}) as since:
        assert since.status_code == 304


def test_audio_route_serves_slow_files(client, app):
    name = app.extensions["ivr"].audio.file_for("paso_1", slow=True)
    assert "-slow-" in name
    with client.get(f"/audio/{name}") as r:
        assert r.status_code == 200 and r.mimetype == "audio/wav"
        assert r.headers["ETag"] == f'"{name.removesuffix(".wav")}"'
        info = soundfile.info(io.BytesIO(r.data))
        assert (info.subtype, info.samplerate) == ("ULAW", 8000)
    with client.get(f"/audio/{name}", headers={"If-None-Match": r.headers["ETag"]}) as again:
        assert again.status_code == 304


def test_transcripts_name_slow_files(app):
    line = app.extensions["ivr"]
    catalog = Catalog(line.content, line.audio.manifest)
    name = line.audio.file_for("paso_1", slow=True)
    assert catalog.play(f"https://example.com/audio/{name}") == ("paso_1", CONTENT["paso_1"].say)


@pytest.mark.parametrize(
    "path",
    ["/audio/nope.wav", "/audio/manifest.json", "/audio/welcome-000000000000.wav", "/audio/"],
)
def test_audio_route_serves_nothing_the_manifest_does_not_list(client, path):
    assert client.get(path).status_code == 404


def test_audio_manifest_that_is_garbage_means_say(audio_dir):
    (audio_dir / "manifest.json").write_text("{not json", encoding="utf-8")
    app = create_app({"TESTING": True, "AUDIO_DIR": str(audio_dir)})
    assert app.extensions["ivr"].audio.playable == {}
    c = walk(app, "1")
    assert {e.kind for e in c.events if e.kind in ("say", "play")} == {"say"}


def test_espeak_builds_offline_for_real(tmp_path):
    require("espeak-ng", "espeak-ng")
    report = build(CONTENT, tmp_path, EspeakEngine())
    assert report.made == NORMAL + SLOW
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["prompts"]
    entry = manifest["paso_6"]
    assert entry["engine"] == "espeak" and entry["voice"] == {"voice": "es-419", "speed": 150}
    samples, rate = soundfile.read(tmp_path / entry["file"])
    assert rate == 8000 and entry["duration"] > 5
    assert np.abs(samples).max() > 0.5  # speech, not silence
    slow = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["slow"]["paso_6"]
    assert slow["engine"] == "espeak" and slow["voice"] == {"voice": "es-419", "speed": 110}


def seconds(path) -> float:
    """A WAV file's length, read from the file itself."""
    info = soundfile.info(path)
    return info.frames / info.samplerate


@pytest.mark.parametrize("pid", ["paso_1", "paso_5", "goodbye"])
def test_espeak_slow_step_is_clearly_slower_for_real(tmp_path, pid):
    require("espeak-ng", "espeak-ng")
    one = dataclasses.replace(CONTENT, prompts={pid: CONTENT[pid]})  # just this prompt
    report = build(one, tmp_path / "audio", EspeakEngine())
    assert report.made == [pid, f"{pid} (slow)"]
    manifest = json.loads((tmp_path / "audio" / "manifest.json").read_text(encoding="utf-8"))
    normal = seconds(tmp_path / "audio" / manifest["prompts"][pid]["file"])
    slow = seconds(tmp_path / "audio" / manifest["slow"][pid]["file"])
    assert normal > 2
    assert slow >= 1.25 * normal, f"{pid}: slow {slow:.2f} s, normal {normal:.2f} s"
    # The manifest's durations are the files' own.
    assert manifest["prompts"][pid]["duration"] == pytest.approx(normal, abs=0.01)
    assert manifest["slow"][pid]["duration"] == pytest.approx(slow, abs=0.01)
    # Slower, not padded: the slow file is speech over the same share of its length.
    loud = [np.mean(np.abs(soundfile.read(tmp_path / "audio" / manifest[t][pid]["file"])[0]) > 0.05)
            for t in ("prompts", "slow")]
    assert loud[1] == pytest.approx(loud[0], rel=0.15)


def test_shipped_slow_steps_are_clearly_slower():
    manifest = json.loads((ROOT / "audio" / "manifest.json").read_text(encoding="utf-8"))
    for n in range(1, CONTENT.steps + 1):
        pid = f"paso_{n}"
        normal = seconds(ROOT / "audio" / manifest["prompts"][pid]["file"])
        slow = seconds(ROOT / "audio" / manifest["slow"][pid]["file"])
        assert slow >= 1.25 * normal, f"{pid}: slow {slow:.2f} s, normal {normal:.2f} s"


def test_espeak_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("ivr.tts.shutil.which", lambda name: None)
    with pytest.raises(EngineUnavailable, match="apt-get install espeak-ng"):
        EspeakEngine().synthesize("Hola")
