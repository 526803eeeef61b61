"""Use cases of the provenance API (provenance seed: navigation, full payload, fast writes).

Reads navigate source documents -> pages -> every run's results -> one result in full.
Writes come from outside engines and reviewers: register a source document and a run, then
ingest tokens, a review and links into the run's page results. Every write is validated before
the store is touched, and the store applies it all or nothing, so a bad token anywhere in a
batch changes nothing. Rules checked on every write:
    * token_no unique and contiguous: 0..n-1 for `replace`, continuing the stored tokens for
      `append` (a concurrent append that got there first -> 409);
    * a token's bbox inside its page when the page's size is known (pixels);
    * confidences 0-100, link entry ids well-formed, spans within the tokens (bodies.py);
    * review status changes allowed by `REVIEW_TRANSITIONS` (else 409).
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from pagesage.services.provenance_io import (
    FullPageResult,
    IngestBody,
    IngestResult,
    LinkIn,
    PageResults,
    ReviewIn,
    ReviewPatch,
    RunCreated,
    RunIn,
    RunResult,
    SourceDocCreated,
    SourceDocIn,
    SuggestBody,
    TokenIn,
)
from pagesage.domain.jobs import utcnow
from pagesage.domain.pages import BBox, Page, PageResult, PageStatus, Run, Token, page_id
from pagesage.domain.provenance import Link, Review, SourceDoc
from pagesage.errors import InvalidTransition, NotFound, ValidationFailed, validation_failed
from pagesage.ports import BlobStore, Store
from pagesage.text.normalize import normalize_for_search

MAX_PAGE_SIZE = 100
"""Most source documents one `GET source_docs` returns."""


# -- reads -----------------------------------------------------------------------------------

def pages_of(source_doc_id: str, store: Store) -> list[Page]:
    """The pages of a live source document. Raises `NotFound`."""
    store.get_source_doc(source_doc_id)
    return store.list_pages(source_doc_id)


def results_of_page(page_key: str, store: Store) -> PageResults:
    """Every run's result for a page, oldest first, each with its run. Raises `NotFound`."""
    page = _live_page(page_key, store)
    results = store.list_results_for_page(page.source_doc_id, page.page_no)
    return PageResults(page=page, items=[RunResult(page_result=r, run=store.get_run(r.run_id)) for r in results])


def full_result(page_result_id: str, store: Store) -> FullPageResult:
    """One page result with its run, page, tokens, review and links. Raises `NotFound`."""
    result = _live_result(page_result_id, store)
    page = None
    if result.source_doc_id:
        try:
            page = store.get_page(page_id(result.source_doc_id, result.page_no))
        except NotFound:
            pass
    return FullPageResult(page_result=result, run=store.get_run(result.run_id), page=page,
                          tokens=store.get_tokens(page_result_id), review=store.get_review(page_result_id),
                          links=store.list_links(page_result_id))


def raw_output(page_result_id: str, store: Store, blobs: BlobStore) -> tuple[bytes, str]:
    """The engine's own output for a page result (Tesseract TSV, Document AI JSON) and its
    Content-Type. Raises `NotFound` when the result or its raw output is not kept."""
    result = _live_result(page_result_id, store)
    if result.raw_key is None:
        raise NotFound("this page result keeps no raw engine output")
    with blobs.open(result.raw_key) as stream:
        return stream.read(), blobs.content_type(result.raw_key)


def run_tokens_of_page(page_key: str, run_id: str, store: Store) -> list[Token]:
    """The tokens run `run_id` produced for a page. Raises `NotFound` (naming the run)."""
    page = _live_page(page_key, store)
    for result in store.list_results_for_page(page.source_doc_id, page.page_no):
        if result.run_id == run_id:
            return store.get_tokens(result.page_result_id)
    raise NotFound(f"run {run_id} has no result for page {page_key}")


def _live_page(page_key: str, store: Store) -> Page:
    page = store.get_page(page_key)
    store.get_source_doc(page.source_doc_id)  # NotFound once the document expired
    return page


def _live_result(page_result_id: str, store: Store) -> PageResult:
    result = store.get_page_result(page_result_id)
    if result.source_doc_id:
        store.get_source_doc(result.source_doc_id)
    return result


# -- registering outside work ----------------------------------------------------------------

def register_source_doc(body: SourceDocIn, store: Store) -> SourceDocCreated:
    """Store a source document OCR'd elsewhere and its pages, numbered 1..n without gaps.

    Raises:
        ValidationFailed: page numbers not 1..n (`field` names the first wrong one), or a
            bad `uri` (see `SourceDoc`).
    """
    for i, page in enumerate(body.pages):
        if page.page_no != i + 1:
            raise ValidationFailed(f"pages must be numbered 1..n in order; expected {i + 1}", field=f"pages[{i}].page_no")
    try:
        doc = SourceDoc(kind=body.kind, title=body.title, uri=body.uri, sha256=body.sha256, metadata=body.metadata)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    pages = [Page(source_doc_id=doc.source_doc_id, status=PageStatus.DONE, **p.model_dump()) for p in body.pages]
    store.create_source_doc(doc, pages)
    return SourceDocCreated(source_doc=doc, pages=pages)


def register_run(body: RunIn, store: Store) -> RunCreated:
    """Record an outside engine's run over a source document, with an empty page result for
    each page named (default: all); tokens then come through ingest.

    Raises:
        NotFound: no such source document. ValidationFailed: a page it does not have.
    """
    pages = {p.page_no: p for p in pages_of(body.source_doc_id, store)}
    wanted = body.pages if body.pages is not None else sorted(pages)
    for i, page_no in enumerate(wanted):
        if page_no not in pages:
            raise ValidationFailed(f"source document has no page {page_no}", field=f"pages[{i}]")
    if len(set(wanted)) != len(wanted):
        raise ValidationFailed("a page is named twice", field="pages")
    run = Run(source_doc_id=body.source_doc_id, engine=body.engine, engine_version=body.engine_version,
              config=body.config, log=body.log)
    results = [PageResult(run_id=run.run_id, source_doc_id=body.source_doc_id, page_no=n, config=body.config,
                          lang_tag=body.config.languages if body.config.languages != "auto" else "und")
               for n in wanted]
    store.create_run(run, results)
    return RunCreated(run=run, page_results=results)


# -- fast writes -----------------------------------------------------------------------------

def ingest(page_result_id: str, body: IngestBody, store: Store) -> IngestResult:
    """Write a batch of tokens, a review and links into a page result, all or nothing.

    The review change is decided inside the store's transaction, on the review as stored
    then: a concurrent PATCH is seen (and its transition checked), never overwritten.

    Raises:
        NotFound: no such page result. ValidationFailed (422): a rule of the module docstring,
            `field` naming the first offending item. InvalidTransition (409): the review change
            is not allowed, or another append came first.
    """
    result = _live_result(page_result_id, store)
    tokens = None
    if body.tokens is not None:
        start = 0 if body.mode == "replace" else (body.tokens[0].token_no if body.tokens else 0)
        tokens = check_tokens(body.tokens, start=start, page=_page_of(result, store))
        if body.mode == "append" and body.tokens and start != result.word_count:
            raise InvalidTransition(f"append must start at token_no {result.word_count}, not {start}")
    word_count = (len(tokens) if body.mode == "replace" else result.word_count + len(tokens)) if tokens is not None \
        else result.word_count
    links = check_links(body.links, page_result_id, word_count, field="links") if body.links is not None else None
    review = None
    if body.review is not None:
        change = body.review
        review = lambda current: next_review(current, page_result_id, change)  # noqa: E731 - run in the store's transaction
    written = store.ingest(page_result_id, mode=body.mode, tokens=tokens, review=review, links=links)
    return IngestResult(page_result=written, review=store.get_review(page_result_id), links=store.list_links(page_result_id))


def write_review(page_result_id: str, body: ReviewIn | ReviewPatch, store: Store, *, create: bool) -> Review:
    """POST (create: the page result has no review yet) or PATCH (change the existing one).

    Raises:
        NotFound: no such page result, or PATCH without a review. InvalidTransition (409): POST
            when a review exists, or a status change `REVIEW_TRANSITIONS` forbids.
    """
    _live_result(page_result_id, store)

    def mutate(current: Review | None) -> Review:
        if create and current is not None:
            raise InvalidTransition("this page result has a review; change it with PATCH", error_code="review_exists")
        if not create and current is None:
            raise NotFound("this page result has no review yet; create it with POST")
        return next_review(current, page_result_id, body)

    return store.update_review(page_result_id, mutate)


def next_review(current: Review | None, page_result_id: str, change: ReviewIn | ReviewPatch) -> Review:
    """The review after `change`: a new one (version 1) or the current one changed (version
    + 1), its status moved only as `REVIEW_TRANSITIONS` allows; `reviewed_by` is whoever the
    authenticated caller says it is. Raises `InvalidTransition`."""
    fields = change.model_dump(exclude_unset=True)
    if current is None:
        review = Review(page_result_id=page_result_id, review_status=fields.get("review_status", "pending"))
    else:
        review = current.model_copy(deep=True)
        review.version += 1
        review.change(fields.get("review_status", review.review_status))
    for name in ("approved_text", "review_note", "reviewed_by"):
        if name in fields:
            setattr(review, name, fields[name])
    review.reviewed_at = utcnow()
    return review


def add_links(page_result_id: str, links: list[LinkIn], store: Store) -> list[Link]:
    """Append links to a page result. Raises `NotFound`, `ValidationFailed`."""
    result = _live_result(page_result_id, store)
    checked = check_links(links, page_result_id, result.word_count, field="links")
    store.ingest(page_result_id, mode="append", tokens=None, review=None, links=checked)
    return checked


def suggest(page_result_id: str, body: SuggestBody, store: Store) -> tuple[list[Link], int]:
    """Propose `candidate_entry` links by matching the page result's normalized token n-grams
    against the caller's dictionary (`services/linking.py`); with `save`, store them.
    Returns (links, how many were saved). Raises `NotFound`, `ValidationFailed`."""
    from pagesage.services.linking import load_dictionary, suggest_links

    result = _live_result(page_result_id, store)
    if (body.entries is None) == (body.csv is None):
        raise ValidationFailed("give the dictionary as exactly one of `entries` or `csv`", field="entries")
    if body.entries is not None:
        data, fmt = json.dumps([e.model_dump() for e in body.entries]).encode(), "json"
    else:
        data, fmt = body.csv.encode(), "csv"
    dictionary = load_dictionary(data, format=fmt)
    found = suggest_links(store.get_tokens(page_result_id), dictionary, max_ngram=body.max_ngram, min_score=body.min_score)
    links = [Link(page_result_id=result.page_result_id, fk_entry_id=s.fk_entry_id, link_kind="candidate_entry",
                  link_conf=s.link_conf, note=s.note, token_start=s.token_start, token_end=s.token_end) for s in found]
    if body.save and links:
        store.ingest(page_result_id, mode="append", tokens=None, review=None, links=links)
    return links, len(links) if body.save else 0


# -- validation ------------------------------------------------------------------------------

def check_tokens(tokens: list[TokenIn], *, start: int, page: Page | None) -> list[Token]:
    """Tokens numbered `start`, `start`+1, ... in order, each inside the page (when its size
    is known); `text_norm` defaults to `normalize_for_search(text)`.

    Raises:
        ValidationFailed: `field` = `tokens[i].token_no` or `tokens[i].bbox`.
    """
    checked = []
    for i, t in enumerate(tokens):
        if t.token_no != start + i:
            raise ValidationFailed(f"token_no must be {start + i} (unique and contiguous from {start})",
                                   field=f"tokens[{i}].token_no")
        if page is not None and page.width and page.height and not _inside(t.bbox, page):
            raise ValidationFailed(f"bbox {t.bbox.x},{t.bbox.y} {t.bbox.w}x{t.bbox.h} is outside the "
                                   f"{page.width}x{page.height} page", field=f"tokens[{i}].bbox")
        checked.append(Token(token_no=t.token_no, text=t.text, text_norm=t.text_norm if t.text_norm is not None
                             else normalize_for_search(t.text), bbox=t.bbox, confidence=t.confidence, kind=t.kind,
                             block=t.block, par=t.par, line=t.line, lang=t.lang, space_after=t.space_after))
    return checked


def check_links(links: list[LinkIn], page_result_id: str, word_count: int, *, field: str) -> list[Link]:
    """Links of a page result, each span (token_start..token_end, inclusive) within its
    `word_count` tokens. Raises `ValidationFailed` naming the link."""
    checked = []
    for i, link in enumerate(links):
        for end in ("token_start", "token_end"):
            value = getattr(link, end)
            if value is not None and value >= word_count:
                raise ValidationFailed(f"{end} {value} is past the page result's {word_count} tokens", field=f"{field}[{i}].{end}")
        if link.token_start is not None and link.token_end is not None and link.token_end < link.token_start:
            raise ValidationFailed("token_end is before token_start", field=f"{field}[{i}].token_end")
        checked.append(Link(page_result_id=page_result_id, **link.model_dump()))
    return checked


def _page_of(result: PageResult, store: Store) -> Page | None:
    if not result.source_doc_id:
        return None
    try:
        return store.get_page(page_id(result.source_doc_id, result.page_no))
    except NotFound:
        return None


def _inside(box: BBox, page: Page) -> bool:
    return box.x + box.w <= page.width and box.y + box.h <= page.height
