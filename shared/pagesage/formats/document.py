"""The read model every output format renders from: a job with its pages, results and tokens."""

from __future__ import annotations

from dataclasses import dataclass, field

from pagesage.domain.jobs import Job
from pagesage.domain.pages import Page, PageResult, Run, Token


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
class DocumentView:
    """A job's document: the job, the run that produced it, and its pages by page number."""

    job: Job
    run: Run | None
    pages: list[PageView]
    system: str = "pagesage"

    @property
    def word_count(self) -> int:
        """Tokens over all pages."""
        return sum(len(p.tokens) for p in self.pages)
