"""The report page's words, one file per language (lang/es.toml, lang/en.toml), and the
names it gives the places of a call ("Paso 2", "Conclusión"), the same in charts and tables."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from ..settings import REPORT_LANGUAGES
from ..states import PERSON_PLACES

LANG = Path(__file__).resolve().parent / "lang"


@cache
def strings(language: str) -> dict[str, str]:
    """Every string of the page in `language` (one of settings.REPORT_LANGUAGES)."""
    if language not in REPORT_LANGUAGES:
        raise ValueError(f"no report strings for {language!r}")
    with (LANG / f"{language}.toml").open("rb") as f:
        return tomllib.load(f)


def place(where: str, t: dict[str, str]) -> str:
    """A place of a call as the report names it: step:2 -> "Paso 2", end -> "Conclusión",
    offer:4 -> "Opciones sin persona (Paso 4)", offer -> "Opciones sin persona (Menú
    principal)"; a place it does not know, as it is."""
    kind, _, n = where.partition(":")
    if kind in ("step", "resume") and n:
        return t[f"place_{kind}"].format(n=n)
    if kind in PERSON_PLACES:  # after a 9: where the caller asked from (none: the menu)
        return t[f"place_{kind}"].format(place=t["place_step"].format(n=n) if n else t["place_menu"])
    return t.get(f"place_{where}", where)
