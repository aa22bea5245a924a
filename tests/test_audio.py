"""Building, checking and serving the prompts' audio."""

import base64
import io
import json
import logging
import re

import numpy as np
import pytest
import requests
import responses
import soundfile
from click.testing import CliRunner

from gtts import gTTS

from conftest import require, walk
from ivr import ROOT, create_app
from ivr.build import build, check, file_name, plan
from ivr.cli import cli
from ivr.content import load
from ivr.tts import EngineUnavailable, EspeakEngine, GTTSEngine

GOOGLE = "https://translate.google.com.mx/_/TranslateWebserverUi/data/batchexecute"
CONTENT = load(ROOT / "content.toml")


def mp3(seconds=0.5, rate=24000):
    """Real MP3 bytes, as Google's voice sends them (24 kHz mono)."""
    t = np.arange(int(seconds * rate)) / rate
    buf = io.BytesIO()
    soundfile.write(buf, (0.3 * np.sin(2 * np.pi * 440 * t)).astype("float32"), rate,
                    format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


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
    assert report.made == list(CONTENT.prompts) and not report.failed
    parts = {p.id: len(gTTS(p.say, lang="es", pre_processor_funcs=[]).get_bodies())
             for p in CONTENT.prompts.values()}
    assert len(google.calls) == sum(parts.values()) > len(CONTENT.prompts)
    sent = google.calls[0].request.body
    assert "f.req=" in sent and "%5C%22es%5C%22" in sent  # lang "es" in the RPC
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))
    for pid, entry in manifest["prompts"].items():
        info = soundfile.info(tmp_path / entry["file"])
        assert (info.format, info.subtype, info.samplerate, info.channels) == ("WAV", "ULAW", 8000, 1)
        assert entry["engine"] == "gtts"
        assert entry["voice"] == {"lang": "es", "tld": "com.mx"}
        assert entry["text"] == CONTENT[pid].say
        assert entry["duration"] == pytest.approx(0.5 * parts[pid], abs=0.05)
        assert re.fullmatch(rf"{pid}-[0-9a-f]{{12}}\.wav", entry["file"])


def test_rebuild_without_changes_makes_no_calls(tmp_path, google, gtts):
    build(CONTENT, tmp_path, gtts)
    google.calls.reset()
    report = build(CONTENT, tmp_path, gtts)
    assert len(google.calls) == 0
    assert report.made == [] and report.kept == list(CONTENT.prompts)


def test_force_remakes_everything(tmp_path, google, gtts):
    build(CONTENT, tmp_path, gtts)
    google.calls.reset()
    assert build(CONTENT, tmp_path, gtts, force=True).made == list(CONTENT.prompts)
    assert len(google.calls) >= len(CONTENT.prompts)


def changed_content(tmp_path, old, new):
    path = tmp_path / "content.toml"
    path.write_text((ROOT / "content.toml").read_text(encoding="utf-8").replace(old, new),
                    encoding="utf-8")
    return load(path)


def test_changed_prompt_gets_a_new_file_and_the_old_one_goes_a_build_later(tmp_path, google, gtts):
    audio = tmp_path / "audio"
    build(CONTENT, audio, gtts)
    before = json.loads((audio / "manifest.json").read_text(encoding="utf-8"))["prompts"]
    changed = changed_content(tmp_path, "¡Hasta pronto!", "¡Hasta la próxima!")
    google.calls.reset()
    report = build(changed, audio, gtts)
    assert report.made == ["goodbye"] and len(google.calls) == 1  # a short prompt: one part
    after = json.loads((audio / "manifest.json").read_text(encoding="utf-8"))["prompts"]
    assert after["goodbye"]["file"] != before["goodbye"]["file"]
    assert {k: v for k, v in after.items() if k != "goodbye"} == {
        k: v for k, v in before.items() if k != "goodbye"}
    # The running line still plays the old file until it restarts...
    assert report.removed == [] and (audio / before["goodbye"]["file"]).exists()
    # ...and the next build, which no running line can still be using, removes it.
    assert build(changed, audio, gtts).removed == [before["goodbye"]["file"]]
    assert not (audio / before["goodbye"]["file"]).exists()
    assert sorted(p.name for p in audio.glob("*.wav")) == sorted(e["file"] for e in after.values())


def test_voice_settings_are_part_of_the_name():
    say = CONTENT["goodbye"].say
    names = {file_name("goodbye", say, "gtts", {"lang": "es", "tld": tld}) for tld in ("com.mx", "com.co")}
    names.add(file_name("goodbye", say, "espeak", {"voice": "es-419", "speed": 150}))
    assert len(names) == 3


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
    assert list(report.failed) == ["paso_3"]
    assert "429" in report.failed["paso_3"]
    assert len(report.made) == len(CONTENT.prompts) - 1
    assert not list(audio.glob("paso_3-*")) and not list(audio.glob(".tmp-*"))
    assert [p for p, *_ in check(CONTENT, audio)] == ["paso_3"]


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

    def settings(self):
        return {}

    def synthesize(self, text):
        return np.zeros(800, dtype=np.float32), 8000


def test_no_network_says_so_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(tmp_path))
    monkeypatch.setattr("ivr.tts.time.sleep", lambda s: None)
    with responses.RequestsMock() as rsps:
        rsps.add(responses.POST, GOOGLE, body=requests.ConnectionError("Name or service not known"))
        result = CliRunner().invoke(cli, ["audio", "build"])
    assert result.exit_code == 1
    error = [l for l in result.output.splitlines() if l.startswith("Error:")]
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
    assert "rerun `ivr audio build --engine gtts`" in result.output


def test_cli_build_then_check(tmp_path, monkeypatch, google):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(tmp_path))
    result = CliRunner().invoke(cli, ["audio", "build"])
    assert result.exit_code == 0, result.output
    assert f"made {len(CONTENT.prompts)}, kept 0" in result.output
    result = CliRunner().invoke(cli, ["audio", "check"])
    assert result.exit_code == 0
    assert result.output.strip() == f"{len(CONTENT.prompts)} prompts: {len(CONTENT.prompts)} current (gtts), 0 stale, 0 missing"


def test_check_lists_missing_and_stale_with_engine(tmp_path, monkeypatch, audio_dir):
    changed = changed_content(tmp_path, "Tomate tu tiempo.", "Tomate todo el tiempo que necesites.")
    manifest = json.loads((audio_dir / "manifest.json").read_text(encoding="utf-8"))
    (audio_dir / manifest["prompts"]["menu"]["file"]).unlink()
    monkeypatch.setenv("IVR_AUDIO_DIR", str(audio_dir))
    monkeypatch.setenv("IVR_CONTENT", str(changed.path))
    result = CliRunner().invoke(cli, ["audio", "check"])
    assert result.exit_code == 1
    assert result.output.splitlines()[:2] == [
        "missing  menu (engine: espeak)",
        "stale    still_there (engine: espeak)",
    ]


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
    assert plan(CONTENT, ROOT / "audio", EspeakEngine()) == []


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
    assert report.made == list(CONTENT.prompts)
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["prompts"]
    entry = manifest["paso_6"]
    assert entry["engine"] == "espeak" and entry["voice"] == {"voice": "es-419", "speed": 150}
    samples, rate = soundfile.read(tmp_path / entry["file"])
    assert rate == 8000 and entry["duration"] > 5
    assert np.abs(samples).max() > 0.5  # speech, not silence


def test_espeak_missing_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("ivr.tts.shutil.which", lambda name: None)
    with pytest.raises(EngineUnavailable, match="apt-get install espeak-ng"):
        EspeakEngine().synthesize("Hola")
