"""Unicode rules for recognised words.

Two functions, two purposes:
    * `clean_word` repairs engine artefacts in a token's display text without changing what a
      reader sees: NFC, no control or format character (`domain.limits.is_unsafe_char`: an
      engine has no reason to emit one, and a form feed or a bidirectional override in a word
      would change the text and Markdown outputs), and no ZERO WIDTH (NON-)JOINER at the end
      of a word. Tesseract's
      Devanagari models emit U+200C after a word-final virama; with nothing after it to join or
      not join, the joiner has no effect on rendering (Unicode 15 §12.2, "Rendering of
      Devanagari"), so dropping it is lossless. Two DANDAs in a row (U+0964 U+0964) become the
      DOUBLE DANDA (U+0965) that the Unicode Standard encodes for that mark (§12.1, "Devanagari:
      Punctuation"); the Devanagari models read ॥ as ।। (docs/architecture.md, "Languages").
    * `normalize_for_search` gives `text_norm`: NFC + casefold with every ZWJ/ZWNJ removed, so
      a search for a word matches however the joiners were typed.
"""

from __future__ import annotations

import unicodedata

from pagesage.domain.limits import is_unsafe_char

JOINERS = "\u200c\u200d"  # ZERO WIDTH NON-JOINER, ZERO WIDTH JOINER


def clean_word(text: str) -> str:
    """A token's display text: NFC, unsafe characters, surrounding whitespace and trailing
    joiners removed, ।। as ॥."""
    text = "".join(c for c in unicodedata.normalize("NFC", text) if not is_unsafe_char(c))
    return text.strip().rstrip(JOINERS).replace("\u0964\u0964", "\u0965")


def normalize_for_search(text: str) -> str:
    """`text_norm` of a token: NFC, casefolded, ZWJ/ZWNJ removed, NFC again."""
    folded = unicodedata.normalize("NFC", text).casefold()
    return unicodedata.normalize("NFC", folded.translate({ord(c): None for c in JOINERS}))


def script_of(text: str) -> str | None:
    """`Devanagari`, `Latin` or None: the script of the first letter in `text` (Unicode name)."""
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            if name.startswith("DEVANAGARI"):
                return "Devanagari"
            if name.startswith("LATIN"):
                return "Latin"
            return None
    return None
