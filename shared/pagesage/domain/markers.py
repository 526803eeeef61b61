"""Footnote markers as text: what a marker's number is, whatever way it is written.

A marker is written as superscript digits (`¹²`), plain or bracketed digits (`12`, `[5]`,
`(3)`), Devanagari digits (`१२`), a symbol of the traditional footnote sequence (`*`, `†`,
`‡`, `§`, `‖`, `¶`, also doubled: `**`, `††`) or a compound (`¹⁻³`, `1,2`). `marker_value`
reduces each to one comparable key, so a reference `¹` matches a footnote starting `1.` and
`†` matches `† Compare …` (the symbol order is the Chicago Manual of Style's, 17th ed. §14.25).
"""

from __future__ import annotations

import re

SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
DEVANAGARI_DIGITS = str.maketrans("०१२३४५६७८९", "0123456789")
SYMBOLS = "*†‡§‖¶"
"""Footnote symbols in their traditional order."""

_FOOTNOTE_START = re.compile(r"^\s*(?:[\[(]?([0-9०-९⁰¹²³⁴⁵⁶⁷⁸⁹]{1,3})[\]).:]?|([*†‡§‖¶]{1,3}))(?=\s|$|[^\w])")


def marker_value(display_text: str) -> str | None:
    """The comparable value of a marker: its number in ASCII digits (`¹²` -> "12", `[5]` ->
    "5", `१२` -> "12"), a compound as written with ASCII digits (`¹⁻³` -> "1-3"), a symbol as
    itself (`†` -> "†"); None when it is none of these."""
    text = display_text.strip().translate(SUPERSCRIPTS).translate(DEVANAGARI_DIGITS).strip("[]()")
    if re.fullmatch(r"[0-9]{1,4}", text):
        return str(int(text))
    if re.fullmatch(r"[0-9]{1,4}(?:\s*[-,–]\s*[0-9]{1,4})+", text):
        return re.sub(r"\s+", "", text).replace("–", "-")
    if text and len(text) <= 3 and all(c == text[0] for c in text) and text[0] in SYMBOLS:
        return text
    return None


def footnote_value(text: str) -> str | None:
    """The marker a footnote's text starts with, as `marker_value` gives it: "1. See …",
    "¹ See …", "[1] See …", "१ …", "* The …" -> "1", "1", "1", "1", "*"; None when the text
    starts with no marker."""
    match = _FOOTNOTE_START.match(text)
    if not match:
        return None
    return marker_value(match.group(1) or match.group(2))


def footnote_body(text: str) -> str:
    """A footnote's text without the marker it starts with ("1. See …" -> "See …"); the text
    unchanged (stripped) when it starts with none."""
    match = _FOOTNOTE_START.match(text)
    return text[match.end():].strip() if match else text.strip()


def covers(compound: str, value: str) -> bool:
    """True when the compound marker value `compound` ("1-3", "1,2") includes `value` ("2")."""
    if compound == value:
        return True
    if not value.isdigit():
        return False
    n = int(value)
    for part in compound.split(","):
        bounds = part.split("-")
        if len(bounds) == 2 and bounds[0].isdigit() and bounds[1].isdigit() and int(bounds[0]) <= n <= int(bounds[1]):
            return True
        if part == value:
            return True
    return False
