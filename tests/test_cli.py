"""The `ivr` command, through click's CliRunner."""

import pytest
from click.testing import CliRunner

from ivr.cli import cli


@pytest.mark.parametrize("token", ["", "a-token"])
def test_scripted_call_prints_the_transcript(monkeypatch, no_audio, token, caplog):
    monkeypatch.setenv("IVR_AUDIO_DIR", str(no_audio))
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)  # with a token, the call is signed
    result = CliRunner().invoke(cli, ["call", "--keys", "2,5,-"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("LINE  [welcome] Hola")
    assert "KEYS  2" in lines
    assert any(l.startswith("LINE  [paso_5] Paso cinco.") for l in lines)
    assert "KEYS  (silence)" in lines
    assert lines[-1] == "END   the caller hung up"
    # Nothing is served, so there is no unauthenticated webhook to warn about.
    assert "NOT authenticated" not in caplog.text


def test_broken_content_is_one_readable_line(monkeypatch, tmp_path):
    bad = tmp_path / "content.toml"
    bad.write_text("[prompts.welcome]\n", encoding="utf-8")
    monkeypatch.setenv("IVR_CONTENT", str(bad))
    result = CliRunner().invoke(cli, ["call", "--keys", "1"])
    assert result.exit_code == 1
    assert result.output == f"Error: {bad}: prompt 'welcome' has no text\n"
