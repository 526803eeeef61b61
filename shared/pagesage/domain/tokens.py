"""Engine words and the tokens PageSage makes of them: numbering, display text, the search
form and the language tag of each word (docs/architecture.md, "Where each rule lives").

Every engine (Tesseract's TSV, Document AI's `Document`) hands over `EngineWord`s; `build_tokens`
is the one place they become `Token`s, so every engine's words are cleaned, normalised and
tagged by the same rules.
"""

from __future__ import annotations

from pydantic import BaseModel

from pagesage.domain.languages import bcp47, tag_for_script
from pagesage.domain.pages import BBox, Token
from pagesage.text.normalize import clean_word, normalize_for_search, script_of


class EngineWord(BaseModel):
    """A word as an engine reports it, before PageSage numbers and normalizes it."""

    text: str
    bbox: tuple[int, int, int, int]  # x, y, w, h in pixels
    confidence: float  # 0-100
    block: int
    par: int
    line: int
    lang: str | None = None  # BCP 47 tag when the engine detected the word's language itself
    space_after: bool = True  # False when the next word of the line follows with no space


def build_tokens(words: list[EngineWord], model: str, *, page_tag: str | None = None) -> list[Token]:
    """Engine words -> numbered tokens with display text (`clean_word`), `text_norm` and a
    `lang` tag only where a word's language differs from its paragraph's.

    A word's language is the engine's own `word.lang` when it gives one (Document AI), else
    guessed from its script and `model`; the paragraph's is `page_tag` when given, else
    `bcp47(model)`.
    """
    paragraph_tag = page_tag or bcp47(model)
    tokens: list[Token] = []
    for word in words:
        text = clean_word(word.text)
        if not text:
            continue
        script = script_of(text)
        tag = word.lang or (tag_for_script(script, model) if script else None)
        x, y, w, h = word.bbox
        tokens.append(Token(
            token_no=len(tokens), text=text, text_norm=normalize_for_search(text),
            bbox=BBox(x=x, y=y, w=w, h=h), confidence=round(word.confidence, 2),
            block=word.block, par=word.par, line=word.line, space_after=word.space_after,
            lang=tag if tag and tag != paragraph_tag else None,
        ))
    return tokens
