"""hOCR, plain-text and JSON renderers, on real Tesseract output of corpus pages."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from pagesage.domain.jobs import DocumentUpload, FileFormat, Job, JobStatus
from pagesage.domain.pages import BBox, EngineConfig, Page, PageResult, PageStatus, Run, Token
from pagesage.domain.languages import bcp47
from pagesage.formats.document import DocumentView, PageView
from pagesage.formats.hocr import render_hocr
from pagesage.formats.json_doc import DocumentJson, render_json
from pagesage.formats.text import render_text
from pagesage.domain.tokens import EngineWord
from pagesage.text.normalize import clean_word, normalize_for_search

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
HOCR_SPEC = Path(sys.executable).with_name("hocr-spec")
NS = {"h": "http://www.w3.org/1999/xhtml"}

# (corpus file, Tesseract model, dpi from the corpus's SOURCE.md)
ENG_PAGE = ("eng-tesseract-testing/phototest.tif", "eng", 300)
SAN_PAGE = ("san-imagessan/shreelipi-p001.png", "Devanagari", 400)


def to_tokens(words: list[EngineWord]) -> list[Token]:
    """Number and normalize engine words the way the read model stores them."""
    tokens = []
    for w in words:
        text = clean_word(w.text)
        if not text:
            continue
        x, y, width, height = w.bbox
        tokens.append(Token(
            token_no=len(tokens), text=text, text_norm=normalize_for_search(text),
            bbox=BBox(x=x, y=y, w=width, h=height), confidence=w.confidence,
            block=w.block, par=w.par, line=w.line,
        ))
    return tokens


def make_job(file_name: str = "scan.pdf") -> Job:
    upload = DocumentUpload(
        file_name=file_name, file_format=FileFormat.PDF, file_size=1234,
        content_type="application/pdf", sha256="0" * 64, original_key="originals/x/scan.pdf",
    )
    return Job(upload=upload, languages="auto", status=JobStatus.COMPLETED, page_count=2)


def make_run(job: Job, languages: str = "auto", dpi: int = 300) -> Run:
    config = EngineConfig(languages=languages, psm=3, oem=1, dpi=dpi)
    return Run(job_id=job.job_id, engine="tesseract", engine_version="5.3.0", config=config, status="completed")


def done_page(job: Job, run: Run, page_no: int, tokens: list[Token], *, size: tuple[int, int],
              languages: str, dpi: int) -> PageView:
    page = Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=page_no, status=PageStatus.DONE, width=size[0], height=size[1],
                dpi=dpi, sha256="a" * 64, image_key=f"pages/{job.job_id}/{page_no:04d}.png")
    confs = [t.confidence for t in tokens]
    result = PageResult(
        run_id=run.run_id, job_id=job.job_id, page_no=page_no,
        config=EngineConfig(languages=languages, psm=3, oem=1, dpi=dpi), lang_tag=bcp47(languages),
        mean_confidence=sum(confs) / len(confs) if confs else None, word_count=len(tokens),
    )
    return PageView(page=page, result=result, tokens=tokens)


@pytest.fixture(scope="module")
def corpus_doc() -> DocumentView:
    """Two real pages OCR'd by Tesseract: English (phototest) then Sanskrit (shreelipi p. 120)."""
    if not CORPUS.is_dir():
        pytest.skip(f"corpus not found at {CORPUS}")
    from PIL import Image

    from pagesage.engines.tesseract import TesseractEngine

    engine = TesseractEngine()
    job = make_job("corpus-pages.pdf")
    run = make_run(job)
    views = []
    for page_no, (rel, languages, dpi) in enumerate((ENG_PAGE, SAN_PAGE), start=1):
        path = CORPUS / rel
        with Image.open(path) as image:
            size = image.size
        out = engine.recognize(path, languages=languages, dpi=dpi, psm=3)
        views.append(done_page(job, run, page_no, to_tokens(out.words), size=size, languages=languages, dpi=dpi))
    return DocumentView(job=job, run=run, pages=views)


@pytest.fixture
def failed_doc() -> DocumentView:
    """Hand-built: page 1 has three words (one full of markup characters), page 2 failed."""
    job = make_job("a<b>&\"c\".pdf")
    run = make_run(job, languages="eng")
    words = [("Tom", 10, 10, 0, 0, 0, 91.5), ('<&>"', 60, 10, 0, 0, 0, 12.49), ("Café", 10, 50, 0, 1, 1, 88.0)]
    tokens = [
        Token(token_no=i, text=t, text_norm=normalize_for_search(t), bbox=BBox(x=x, y=y, w=40, h=20),
              confidence=c, block=b, par=p, line=ln)
        for i, (t, x, y, b, p, ln, c) in enumerate(words)
    ]
    first = done_page(job, run, 1, tokens, size=(200, 100), languages="eng", dpi=300)
    second = PageView(page=Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=2, status=PageStatus.FAILED,
                                error_code="ocr_engine_error", error_message="tesseract failed: boom"))
    return DocumentView(job=job, run=run, pages=[first, second])


def validate(tmp_path: Path, data: bytes) -> str:
    """Write the hOCR file and return hocr-spec's report on it."""
    path = tmp_path / "out.hocr"
    path.write_bytes(data)
    proc = subprocess.run([str(HOCR_SPEC), "--profile", "standard", str(path)],
                          capture_output=True, text=True, timeout=120)
    return proc.stdout + proc.stderr


def bbox_of(element: etree._Element) -> tuple[int, ...]:
    match = re.search(r"\bbbox (\d+) (\d+) (\d+) (\d+)", element.get("title"))
    return tuple(int(v) for v in match.groups())


def check_hocr(doc: DocumentView, data: bytes, tmp_path: Path) -> etree._Element:
    """Assert the structural promises of the hOCR output; return its parsed root."""
    report = validate(tmp_path, data)
    assert "[ERROR]" not in report and "[FATAL]" not in report, report
    assert "Document is valid" in report
    root = etree.fromstring(data)  # well-formed XML, or this raises
    assert root.tag == "{http://www.w3.org/1999/xhtml}html"

    pages = root.xpath("//h:div[@class='ocr_page']", namespaces=NS)
    assert [p.get("id") for p in pages] == [f"page_{v.page.page_no}" for v in doc.pages]
    tokens = [t for v in doc.pages for t in v.tokens]
    words = root.xpath("//h:span[@class='ocrx_word']", namespaces=NS)
    assert len(words) == len(tokens)
    for word, token in zip(words, tokens):
        assert word.text == token.text
        assert bbox_of(word) == (token.bbox.x, token.bbox.y, token.bbox.x1, token.bbox.y1)
        conf = int(re.search(r"x_wconf (\d+)$", word.get("title")).group(1))
        assert 0 <= conf <= 100 and abs(conf - token.confidence) <= 0.5
    ids = root.xpath("//@id")
    assert len(ids) == len(set(ids))

    for page, view in zip(pages, doc.pages):
        assert len(page.xpath(".//h:span[@class='ocrx_word']", namespaces=NS)) == len(view.tokens)
        if view.result is not None:
            assert page.get("lang") == view.result.lang_tag
            pars = page.xpath(".//h:p[@class='ocr_par']", namespaces=NS)
            assert pars and {p.get("lang") for p in pars} == {view.result.lang_tag}
            assert len(pars) == len({t.par for t in view.tokens})
        for line in page.xpath(".//h:span[@class='ocr_line']", namespaces=NS):
            boxes = [bbox_of(w) for w in line]
            assert bbox_of(line) == (min(b[0] for b in boxes), min(b[1] for b in boxes),
                                     max(b[2] for b in boxes), max(b[3] for b in boxes))
    return root


def test_hocr_of_real_pages_is_valid_and_faithful(corpus_doc: DocumentView, tmp_path: Path) -> None:
    data = render_hocr(corpus_doc)
    root = check_hocr(corpus_doc, data, tmp_path)

    eng, san = corpus_doc.pages
    assert len(eng.tokens) > 40 and len(san.tokens) > 40
    meta = {m.get("name"): m.get("content") for m in root.xpath("//h:meta[@name]", namespaces=NS)}
    assert meta["ocr-system"] == "pagesage (tesseract 5.3.0)"
    assert meta["ocr-number-of-pages"] == "2"
    assert set(meta["ocr-langs"].split()) == {"en", "und-Deva"}
    assert set(meta["ocr-scripts"].split()) == {"Latn", "Deva"}
    for cap in ("ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word", "ocrp_lang", "ocrp_wconf"):
        assert cap in meta["ocr-capabilities"].split()
    page1 = root.xpath("//h:div[@id='page_1']", namespaces=NS)[0]
    width, height = eng.page.width, eng.page.height
    assert page1.get("title") == f'image "{eng.page.image_key}"; bbox 0 0 {width} {height}; ppageno 0; scan_res 300 300'

    # Devanagari survives the round trip byte for byte, and text extraction reads by line.
    words2 = root.xpath("//h:div[@id='page_2']//h:span[@class='ocrx_word']", namespaces=NS)
    assert [w.text for w in words2] == [t.text for t in san.tokens]
    assert any("\u0900" <= ch <= "\u097f" for t in san.tokens for ch in t.text)
    first_line = root.xpath("//h:span[@id='line_1_1']", namespaces=NS)[0]
    assert "".join(first_line.itertext()) == " ".join(t.text for t in eng.tokens if t.line == eng.tokens[0].line)
    assert "".join(page1.itertext()).split() == [t.text for t in eng.tokens]


def test_hocr_escapes_markup_and_keeps_failed_page(failed_doc: DocumentView, tmp_path: Path) -> None:
    data = render_hocr(failed_doc)
    assert b'<&>"' not in data and b"&lt;&amp;&gt;" in data
    root = check_hocr(failed_doc, data, tmp_path)

    assert root.findtext("h:head/h:title", namespaces=NS) == 'a<b>&"c".pdf'
    failed = root.xpath("//h:div[@id='page_2']", namespaces=NS)[0]
    assert failed.get("title") == "bbox 0 0 0 0; ppageno 1"
    assert len(failed) == 0 and failed.get("lang") is None
    assert root.xpath("//h:div[@id='page_1']", namespaces=NS)[0].get("title").startswith('image "pages/')
    word = root.xpath("//h:span[@id='word_1_2']", namespaces=NS)[0]
    assert word.text == '<&>"' and word.get("title") == "bbox 60 10 100 30; x_wconf 12"
    assert root.xpath("//h:span[@id='word_1_1']/@title", namespaces=NS) == ["bbox 10 10 50 30; x_wconf 92"]
    assert root.xpath("//h:p[@id='par_1_2']/@title", namespaces=NS) == ["bbox 10 50 50 70"]
    assert root.get("lang") == "en"


def test_hocr_word_language_differing_from_paragraph(failed_doc: DocumentView, tmp_path: Path) -> None:
    view = failed_doc.pages[0]
    tokens = [t.model_copy(update={"lang": "fr"}) if t.text == "Café" else t for t in view.tokens]
    doc = DocumentView(job=failed_doc.job, run=failed_doc.run,
                       pages=[PageView(page=view.page, result=view.result, tokens=tokens)])
    data = render_hocr(doc)
    root = check_hocr(doc, data, tmp_path)
    word = root.xpath("//h:span[@id='word_1_3']", namespaces=NS)[0]
    assert word.get("lang") == "fr"
    assert root.xpath("//h:span[@id='word_1_1']/@lang", namespaces=NS) == []
    meta = root.xpath("//h:meta[@name='ocr-langs']/@content", namespaces=NS)[0]
    assert meta.split() == ["en", "fr"]


def test_text_of_real_pages(corpus_doc: DocumentView) -> None:
    text = render_text(corpus_doc)
    assert text.endswith("\n") and text.count("\f") == len(corpus_doc.pages) - 1
    for page_text, view in zip(text.split("\f"), corpus_doc.pages):
        assert page_text.split() == [t.text for t in view.tokens]
        lines = [ln for ln in page_text.split("\n") if ln]
        assert len(lines) == len({t.line for t in view.tokens})
        assert page_text.count("\n\n") == len({t.par for t in view.tokens}) - 1
    eng = corpus_doc.pages[0].tokens
    assert text.startswith(" ".join(t.text for t in eng if t.line == 0) + "\n")


def test_text_separates_failed_page(failed_doc: DocumentView) -> None:
    assert render_text(failed_doc) == 'Tom <&>"\n\nCafé\n\f\n'
    empty = DocumentView(job=failed_doc.job, run=None,
                         pages=[failed_doc.pages[1], failed_doc.pages[0], failed_doc.pages[1]])
    text = render_text(empty)
    assert text == '\fTom <&>"\n\nCafé\n\f\n' and text.count("\f") + 1 == 3


def test_json_of_real_pages_round_trips(corpus_doc: DocumentView) -> None:
    data = render_json(corpus_doc)
    assert "श्री".encode() in data and b"\\u09" not in data
    parsed = DocumentJson.model_validate_json(data)
    assert parsed.page_count == 2 and parsed.word_count == corpus_doc.word_count
    assert sum(len(p.tokens) for p in parsed.pages) == corpus_doc.word_count
    assert [p.tokens for p in parsed.pages] == [v.tokens for v in corpus_doc.pages]
    confs = [t.confidence for v in corpus_doc.pages for t in v.tokens]
    assert parsed.mean_confidence == pytest.approx(sum(confs) / len(confs), abs=0.005)
    assert parsed.run.engine == "tesseract" and parsed.run.run_id == corpus_doc.run.run_id
    assert [p.result.lang for p in parsed.pages] == ["en", "und-Deva"]
    assert parsed.pages[1].result.config.languages == "Devanagari"
    assert data == parsed.model_dump_json().encode()  # written page by page as the whole model dumps


def test_a_finished_job_renders_as_the_loaded_document_reading_each_page_once(corpus_doc, tmp_path):
    from pagesage.adapters.local_blobs import LocalBlobStore
    from pagesage.adapters.sqlite_store import SqliteStore
    from pagesage.formats.markdown import render_markdown
    from pagesage.services.finish import finish_job, load_document, result_key

    class CountingStore(SqliteStore):
        reads: list[str] = []

        def get_tokens(self, page_result_id):
            self.reads.append(page_result_id)
            return super().get_tokens(page_result_id)

    store, blobs = CountingStore(tmp_path / "db.sqlite"), LocalBlobStore(tmp_path / "blobs")
    job = corpus_doc.job.model_copy(update={"status": JobStatus.PROCESSING, "pages_done": 2})
    store.create_job(job)
    store.put_pages([view.page for view in corpus_doc.pages])
    store.put_run(corpus_doc.run)
    for view in corpus_doc.pages:
        store.put_page_result(view.result, view.tokens)
    stored = load_document(job.job_id, store)
    assert store.reads == [] and len(stored.pages) == 2  # nothing read before the pages are
    ids = [view.result.page_result_id for view in corpus_doc.pages]
    assert [view.tokens for view in stored.pages] == [view.tokens for view in corpus_doc.pages]
    assert store.reads == ids

    store.reads.clear()
    finish_job(job.job_id, store=store, blobs=blobs)
    assert store.reads == ids  # every format from one pass over the pages
    assert store.get_job(job.job_id).status is JobStatus.COMPLETED

    def stored_result(fmt: str) -> bytes:
        with blobs.open(result_key(job.job_id, fmt)) as stream:
            return stream.read()

    assert stored_result("hocr") == render_hocr(corpus_doc)
    assert stored_result("text") == render_text(corpus_doc).encode()
    assert stored_result("markdown") == render_markdown(corpus_doc).encode()
    body, expected = json.loads(stored_result("json")), json.loads(render_json(corpus_doc))
    assert body["status"] == "completed" and body["run"]["status"] == "completed"
    assert {k: v for k, v in body.items() if k != "run"} == {k: v for k, v in expected.items() if k != "run"}


def test_json_of_failed_page(failed_doc: DocumentView) -> None:
    body = json.loads(render_json(failed_doc))
    assert body["status"] == "completed" and body["file_name"] == 'a<b>&"c".pdf'
    assert body["word_count"] == 3 and body["mean_confidence"] == pytest.approx((91.5 + 12.49 + 88.0) / 3, abs=0.005)
    failed = body["pages"][1]
    assert failed["status"] == "failed" and failed["result"] is None and failed["tokens"] == []
    assert failed["error_code"] == "ocr_engine_error" and failed["width"] is None
    assert body["pages"][0]["tokens"][1]["text"] == '<&>"'
    DocumentJson.model_validate(body)

    no_words = DocumentView(job=failed_doc.job, run=None, pages=[failed_doc.pages[1]])
    assert json.loads(render_json(no_words))["mean_confidence"] is None


def test_json_schema_describes_every_field() -> None:
    schema = DocumentJson.model_json_schema()
    assert schema["title"] == "DocumentJson"
    for name in ("DocumentJson", "PageJson", "PageResultJson", "RunJson"):
        model = schema if name == "DocumentJson" else schema["$defs"][name]
        for field, spec in model["properties"].items():
            assert spec.get("description"), f"{name}.{field} has no description"


def test_words_split_by_the_engine_are_joined_as_printed():
    from pagesage.formats.text import page_text

    def word(no: int, text: str, space_after: bool = True) -> Token:
        return Token(token_no=no, text=text, text_norm=text.lower(), bbox=BBox(x=10 * no, y=0, w=9, h=9),
                     confidence=90, block=0, par=0, line=0, space_after=space_after)

    assert page_text([word(0, "DATE", False), word(1, ":"), word(2, "01/01/1970", False)]) == "DATE: 01/01/1970\n"
