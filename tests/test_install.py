"""Installed, not checked out: the built wheel in a fresh virtualenv finds the shipped line
(content file and audio) from any directory.

The wheel is built as a release is: `python -m build` makes the sdist from a copy of the
checkout, then the wheel from that sdist (the wheel target's mapping of content.toml and
audio/ into ivr/line/ must work from both). It is installed with `pip install --no-deps`
in a virtualenv of its own whose only other packages are this environment's, reached
through a .pth path (nothing is downloaded: the build runs without isolation, with the
hatchling of the test extras). Every command then runs in an empty directory, far from the
checkout.
"""

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
import requests

from conftest import assert_valid_twiml, stop
from ivr import ROOT
from ivr.audio import read_manifest
from ivr.content import load
from ivr.player import Call, Catalog, HttpTransport, ScriptedKeypad
from ivr.ports import free_port

# Module-scoped fixtures: the wheel is built and installed once, on one worker (`--dist loadgroup`).
pytestmark = pytest.mark.xdist_group("test_install")

#: What is not part of the source: build output, environments, caches.
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache",
    ".hypothesis", "instance", ".env", ".venv-mutation", "mutants",
)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `python -m build` makes from the sdist of the checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy: nothing the build writes lands in the checkout.
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    # No isolation: the backend is the test extras' hatchling, not one downloaded per run.
    done = run([sys.executable, "-m", "build", "--no-isolation", "-o", str(tmp / "dist"), str(source)])
    assert done.returncode == 0, done.stderr
    (found,) = (tmp / "dist").glob("linea_alcanos-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """(bin folder, environment, empty working folder) of a virtualenv with the wheel installed."""
    tmp = tmp_path_factory.mktemp("installed")
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"])
    # This environment's packages (flask, twilio, …) as a plain path: no .pth of theirs runs,
    # so the checkout's editable install of the line stays out of sight.
    Path(site.stdout.strip(), "dependencies.pth").write_text(
        sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    done = run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                "--ignore-installed", str(wheel)])
    assert done.returncode == 0, done.stderr
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IVR_", "PYTHON", "VIRTUAL_ENV"))}
    # An empty token also hides any .env above the working folder.
    env.update(TWILIO_AUTH_TOKEN="", PUBLIC_BASE_URL="",
               PATH=f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}")
    elsewhere = tmp / "elsewhere"
    elsewhere.mkdir()
    return env_dir / "bin", env, elsewhere


def ivr(installed, *args):
    bin_dir, env, cwd = installed
    return run([str(bin_dir / "ivr"), *args], env=env, cwd=cwd)


def test_the_wheel_holds_the_line_as_real_files(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    manifest = read_manifest(ROOT / "audio")
    shipped = {e["file"] for table in ("prompts", "slow") for e in manifest[table].values()}
    assert "ivr/line/content.toml" in names and "ivr/line/audio/manifest.json" in names
    assert {f"ivr/line/audio/{name}" for name in shipped} <= names
    assert {"ivr/migrations/env.py", "ivr/migrations/script.py.mako",
            "ivr/migrations/versions/0001_turns_and_statuses.py",
            "ivr/migrations/versions/0002_checks_losses_logins.py",
            "ivr/migrations/versions/0003_messages_callbacks_screenings.py",
            "ivr/templates/phone.html", "ivr/templates/report.html", "ivr/templates/report/cards.html",
            "ivr/report/lang/es.toml", "ivr/report/lang/en.toml",
            "ivr/static/phone.js", "ivr/static/player.js", "ivr/static/phone.css"} <= names
    with zipfile.ZipFile(wheel) as z:
        assert z.read("ivr/line/content.toml") == (ROOT / "content.toml").read_bytes()
        assert json.loads(z.read("ivr/line/audio/manifest.json")) == manifest
    # Only the package: no tests, bench or top-level copies.
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"ivr"}


def test_the_installed_package_is_not_the_checkout(installed):
    bin_dir, env, cwd = installed
    done = run([str(bin_dir / "python"), "-c",
                "import ivr, ivr.paths; print(ivr.__file__); print(ivr.paths.content_file())"],
               env=env, cwd=cwd)
    where, content = done.stdout.split()
    assert Path(where).is_relative_to(bin_dir.parent) and not Path(where).is_relative_to(ROOT)
    assert Path(content) == Path(where).parent / "line" / "content.toml"


def test_version_and_help(installed):
    done = ivr(installed, "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"ivr, version {version('linea-alcanos')}\n"
    short, long = ivr(installed, "-h"), ivr(installed, "--help")
    assert short.returncode == long.returncode == 0
    assert short.stdout == long.stdout and "IVR_CONTENT" in long.stdout


def test_a_scripted_call_hears_the_shipped_line(installed):
    done = ivr(installed, "call", "--keys", "1,2,-")
    assert done.returncode == 0, done.stderr
    heard = [line.split("]")[0].removeprefix("LINE  [") for line in done.stdout.splitlines()
             if line.startswith("LINE")]
    assert heard[:2] == ["welcome", "intro"]
    assert "paso_1" in heard and "paso_2" in heard
    assert done.stdout.splitlines()[-1] == "END   the caller hung up"
    # The shipped audio was found: no word of a missing folder or manifest.
    assert "does not exist" not in done.stderr and "no usable" not in done.stderr


def test_audio_check_finds_every_shipped_file_current(installed):
    done = ivr(installed, "audio", "check")
    assert done.returncode == 0, done.stdout + done.stderr
    prompts = len(load(ROOT / "content.toml").prompts)
    assert done.stdout.splitlines()[-1].startswith(f"{prompts} prompts: {prompts} current (")
    assert f"slow: {prompts} current (" in done.stdout


def test_serve_answers_with_the_shipped_audio(installed):
    bin_dir, env, cwd = installed
    port = free_port()
    log = cwd / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(bin_dir / "ivr"), "serve", "--insecure", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "1"],
            env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(base + "/healthz", timeout=10)
                break
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy starting
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"ivr serve did not start:\n{log.read_text()}")
            time.sleep(0.1)
        assert health.status_code == 200
        summary = health.json()
        assert summary["content"]["file"] == "content.toml"
        assert summary["audio"]["playable"] == summary["content"]["prompts"]
        assert summary["audio"]["missing"] == [] and summary["audio"]["stale"] == []

        content = load(ROOT / "content.toml")
        manifest = read_manifest(ROOT / "audio")
        events = []
        with HttpTransport() as transport:
            call = Call(transport, url=base + "/voice", keypad=ScriptedKeypad("1,2,-"),
                        catalog=Catalog(content, manifest), on_event=events.append,
                        on_document=lambda url, body: assert_valid_twiml(body))
            call.run()
        played = {e.prompt: e for e in events if e.kind == "play"}
        for pid in ("welcome", "paso_1", "paso_2"):
            # Played from a file, fetched over HTTP: the very bytes the checkout ships.
            assert played[pid].audio == (ROOT / "audio" / manifest["prompts"][pid]["file"]).read_bytes()
    finally:
        stop(proc)


def test_doctor_and_report_find_the_shipped_line(installed):
    # No deployment to reach here: doctor fails on that, but finds the content and audio.
    doctor = ivr(installed, "doctor", "--url", "http://127.0.0.1:9", "--timeout", "0.5")
    lines = doctor.stdout.splitlines()
    assert any(line.startswith("OK") and "content.toml" in line for line in lines), doctor.stdout
    assert not any("content" in line and line.startswith("FAIL") for line in lines), doctor.stdout
    # The call store's default SQLite file lives beside the virtualenv, not in a checkout.
    upgrade = ivr(installed, "db", "upgrade")
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    report = ivr(installed, "report", "--json")
    assert report.returncode == 0, report.stdout + report.stderr
    summary = json.loads(report.stdout)
    # Only the calls served above (a trial `ivr call` records nothing), over the line's 8 steps.
    assert isinstance(summary["calls"], int) and set(summary["reached_step"]) == {str(n) for n in range(1, 9)}
