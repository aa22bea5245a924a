"""Where the line's own words and recordings are: the shipped `content.toml` and `audio/`.

Their home is the top of the checkout. A wheel carries copies as `ivr/line/` (the build
backend maps them there; pyproject.toml), read through importlib.resources. An editable
install imports the package from the checkout, where `ivr/line/` does not exist, so the
checkout's own files are the fallback.
"""

from importlib.resources import files
from pathlib import Path

#: The checkout (or, installed, site-packages): tests, benchmarks and docs use it.
ROOT = Path(__file__).resolve().parent.parent


def line_dir() -> Path:
    """The folder that holds the shipped content.toml and audio/."""
    packaged = files("ivr") / "line"
    if packaged.is_dir():
        return Path(str(packaged))
    return ROOT


def content_file() -> Path:
    """The shipped content file (IVR_CONTENT replaces it)."""
    return line_dir() / "content.toml"


def audio_dir() -> Path:
    """The shipped audio folder with its manifest.json (IVR_AUDIO_DIR replaces it)."""
    return line_dir() / "audio"


def instance_path() -> str:
    """The Flask instance folder of the line's app (create_app's), where the default SQLite
    file lives: commands that do not build the app find it here."""
    from flask import Flask

    return Flask("ivr").instance_path
