"""The read model every output format renders from: a job with its pages, results and tokens."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Sequence
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


class DocumentTotals:
    """What a document's header says about all its words, counted page by page (`add`), so that
    the pages can be rendered in the same single pass.

    `langs`: BCP 47 tags, most words first (a word counts under its own `lang`, else its page
    result's `lang_tag`; a page result's tag is listed even when its page has no words).
    `scripts`: script names (`script_of`: `Latin`, `Devanagari`) of the words, most words first.
    """

    def __init__(self) -> None:
        self.word_count = 0
        self.confidence_sum = 0.0
        self._langs: Counter[str] = Counter()
        self._scripts: Counter[str] = Counter()

    @classmethod
    def of(cls, pages: Iterable[PageView]) -> DocumentTotals:
        """The totals of `pages`, iterated once."""
        totals = cls()
        for view in pages:
            totals.add(view)
        return totals

    def add(self, view: PageView) -> None:
        """Count one page's words."""
        lang = view.result.lang_tag if view.result is not None else None
        if lang is not None:
            self._langs[lang] += 0
        for token in view.tokens:
            self.word_count += 1
            self.confidence_sum += token.confidence
            if lang is not None:
                self._langs[token.lang or lang] += 1
            if script := script_of(token.text):
                self._scripts[script] += 1

    @property
    def mean_confidence(self) -> float | None:
        """Mean word confidence (0-100, each word once) rounded to 2 decimals; None without words."""
        return round(self.confidence_sum / self.word_count, 2) if self.word_count else None

    @property
    def langs(self) -> list[str]:
        """BCP 47 tags of the words, most words first."""
        return [tag for tag, _ in self._langs.most_common()]

    @property
    def scripts(self) -> list[str]:
        """Script names of the words, most words first."""
        return [name for name, _ in self._scripts.most_common()]


@dataclass(frozen=True)
class DocumentView:
    """A job's document: the job, the run that produced it, and its pages by page number.

    `pages` may load each page's tokens as it is iterated and drop them after (the stored
    document of a long job, `services.finish`): each format renders a page at a time
    (`page_part`) and then puts the parts together with the document's `totals`
    (`assemble`), so what it needs of all pages at once is counted, not kept.
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
