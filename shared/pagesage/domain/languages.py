"""Tesseract language specs (a domain rule: what a job may ask for and how a page's model is
chosen): validation, the `auto` choice per detected script, BCP 47 tags.

A spec is `auto` or `+`-joined model names (`eng`, `san+eng`); `script/Devanagari` names the
script model, which Debian installs as `Devanagari` (`tesseract-ocr-script-deva`).
"""

from __future__ import annotations

import re

from pagesage.errors import InvalidLanguage

AUTO = "auto"
_MODEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")

LATIN_ENG = "Latin_eng"
"""The Latin script model's network and character set with the English dictionary, built from
Debian's `Latin` and `eng` models at install time (docs/architecture.md, "Languages")."""

SCRIPT_MODELS = {"Latin": (LATIN_ENG, "eng"), "Devanagari": ("Devanagari", "san", "hin")}
"""OSD script -> candidate models, best first. On the corpus's English pages `Latin_eng` makes
fewer errors than `eng` (and reads IAST's diacritics, which `eng` cannot), for 1.5-1.6x the
recognition time; on its Sanskrit pages the Devanagari script model beats `san` on every page
(docs/architecture.md, "Languages")."""

_BCP47 = {"eng": "en", LATIN_ENG: "en", "san": "sa", "hin": "hi", "mar": "mr", "nep": "ne", "Devanagari": "und-Deva", "Latin": "und-Latn"}


def parse_spec(spec: str, installed: set[str]) -> str:
    """The canonical `-l` value of a spec, or `auto`.

    Raises:
        InvalidLanguage: a part is malformed or names a model that is not installed.
    """
    spec = (spec or AUTO).strip()
    if spec == AUTO:
        return AUTO
    models = []
    for part in spec.split("+"):
        name = part.strip().removeprefix("script/")
        if not _MODEL_NAME.match(name):
            raise InvalidLanguage(f"malformed language {part[:100]!r}: a model name is letters, digits, `_` and `-`")
        if name not in installed or name == "osd":
            have = ", ".join(sorted(installed - {"osd"}))
            raise InvalidLanguage(f"language model {name!r} is not installed (installed: {have})")
        if name not in models:
            models.append(name)
    return "+".join(models)


def model_for_script(script: str | None, installed: set[str]) -> tuple[str, str | None]:
    """The model to use for an OSD-detected script (None: OSD found too little text), and a
    warning when it is not the script's own: the first installed of the script's SCRIPT_MODELS,
    else the first installed Latin one (`eng` when none is)."""
    for model in SCRIPT_MODELS.get(script or "", ()):
        if model in installed:
            return model, None
    fallback = next((model for model in SCRIPT_MODELS["Latin"] if model in installed), "eng")
    if script is None:
        return fallback, f"too little text for orientation and script detection; used {fallback}"
    return fallback, f"no installed model for script {script!r}; used {fallback}"


def bcp47(model: str) -> str:
    """BCP 47 tag of a Tesseract model (first model of a `+` spec), `und` when unknown."""
    return _BCP47.get(model.split("+")[0], "und")


def tag_for_script(script: str, models: str) -> str:
    """BCP 47 tag for a word of `script` recognised with `models` (e.g. Latin under san+eng -> en)."""
    for model in models.split("+"):
        if script == "Latin" and model in SCRIPT_MODELS["Latin"]:
            return "en"
        if script == "Devanagari" and model in SCRIPT_MODELS["Devanagari"]:
            return bcp47(model)
    return _BCP47[script]
