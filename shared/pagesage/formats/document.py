"""The read model every output format renders from: a job with its pages, results and tokens."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from pagesage.domain.jobs import Job
from pagesage.domain.pages import Page, PageResult, Run, Token
from pagesage.text.normalize import script_of


def line_text(tokens: list[Token]) -> str:
    """The words of one line joined as they were printed: one space after each word, none after
    a word whose `space_after` is false (punctuation an engine split off) or after the last."""
    return "".join(t.text + (" " if t.space_after and i < len(tokens) - 1 else "") for i, t in enumerate(tokens))


@dataclass(frozen=True)
class PageView:
    """One page: its record, the page result shown (None when the page failed) and its tokens."""

    page: Page
    result: PageResult | None = None
    tokens: list[Token] = field(default_factory=list)


@dataclass(frozen=True)
class DocumentTotals:
    """What a document's header says about all its words, counted in one pass over its pages.

    `langs`: BCP 47 tags, most words first (a word counts under its own `lang`, else its page
    result's `lang_tag`; a page result's tag is listed even when its page has no words).
    `scripts`: script names (`script_of`: `Latin`, `Devanagari`) of the words, most words first.
    """

    word_count: int
    confidence_sum: float
    langs: tuple[str, ...]
    scripts: tuple[str, ...]

    @property
    def mean_confidence(self) -> float | None:
        """Mean word confidence (0-100, each word once) rounded to 2 decimals; None without words."""
        return round(self.confidence_sum / self.word_count, 2) if self.word_count else None

    @classmethod
    def of(cls, pages: Sequence[PageView]) -> DocumentTotals:
        """The totals of `pages`, iterated once."""
        words, confidence = 0, 0.0
        langs: Counter[str] = Counter()
        scripts: Counter[str] = Counter()
        for view in pages:
            if view.result is not None:
                langs[view.result.lang_tag] += 0
            for token in view.tokens:
                words += 1
                confidence += token.confidence
                if view.result is not None:
                    langs[token.lang or view.result.lang_tag] += 1
                if script := script_of(token.text):
                    scripts[script] += 1
        return cls(word_count=words, confidence_sum=confidence, langs=tuple(t for t, _ in langs.most_common()),
                   scripts=tuple(s for s, _ in scripts.most_common()))


@dataclass(frozen=True)
class DocumentView:
    """A job's document: the job, the run that produced it, and its pages by page number.

    `pages` may load each page's tokens as it is iterated and drop them after (the stored
    document of a long job, `services.finish`): renderers iterate it once per output, and what
    they need of all pages at once is in `totals`, counted once.
    """

    job: Job
    run: Run | None
    pages: Sequence[PageView]
    system: str = "pagesage"

    @functools.cached_property
    def totals(self) -> DocumentTotals:
        """Word count, confidence, languages and scripts of all pages (one pass, then kept)."""
        return DocumentTotals.of(self.pages)

    @property
    def word_count(self) -> int:
        """Tokens over all pages."""
        return self.totals.word_count
