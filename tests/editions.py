"""Projects to export: a synthetic three-page bilingual book (`book()`), built from the book
layer's own records, and `edition()` of it for any export configuration.

The book, page by page (reading order):
    1. running-head "THE BHAGAVAD GĪTĀ", page-number "1", heading "Chapter II",
       verse (Sanskrit, Devanagari, two lines, words with OCR tokens), transliteration (IAST),
       translation (English, a reference ¹ to footnote 1), commentary (English, corrected from
       the OCR "The prlnciple is c1ear" to "The principle² is clear", a reference ² to footnote 2
       whose text continues on page 2), footnote "1. See Śaṅkara's commentary.",
       footnote "2. Compare verse 2.11 and" (continued overleaf)
    2. footnote continuation "the gloss of Madhusūdana." (no marker: continues note 2),
       commentary with a low-confidence reading (OCR confidence 0.41, not corrected),
       a Hindi commentary box (Devanagari)
    3. heading "Chapter III", a translation with a reference ³ to a footnote "3. On karma."
"""

from __future__ import annotations

from datetime import datetime, timezone

from pagesage.book.domain import edition as editions
from pagesage.book.domain.export_config import ExportConfiguration
from pagesage.book.domain.model import (AI, BoundingBox, BoxCoordinates, ContentType, ImageMetadata, InlineReference,
                                        Language, OcrSource, PageAnnotations, PageState, Position, Project, SourceDocument,
                                        TextContent, TextCorrection, UserAttribution)
from pagesage.domain.pages import BBox, Token
from pagesage.text.normalize import normalize_for_search

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
ADA = UserAttribution(name="Ada Lovelace", user_id="ada@example.org", email="ada@example.org")
GRACE = UserAttribution(name="Grace Hopper", user_id="grace@example.org")
WIDTH, HEIGHT = 1200, 1800
PROJECT_ID = "proj_0123456789abcdef"
CT = ContentType


class _Tokens:
    """Tokens of one page result, laid out line by line from each box's top-left corner."""

    def __init__(self, result_id: str) -> None:
        self.result_id = result_id
        self.tokens: list[Token] = []
        self.lines = 0

    def box_words(self, text: str, x: int, y: int, *, conf: float = 91.0, line_height: int = 40) -> list[int]:
        """Tokens for each word of `text` ("\n" between lines); their numbers."""
        nos = []
        for line_no, line in enumerate(text.split("\n")):
            at = x
            for word in line.split():
                token = Token(token_no=len(self.tokens), text=word, text_norm=normalize_for_search(word),
                              bbox=BBox(x=at, y=y + line_no * line_height, w=18 * len(word), h=30), confidence=conf,
                              block=0, par=0, line=self.lines)
                self.tokens.append(token)
                nos.append(token.token_no)
                at += 18 * len(word) + 14
            self.lines += 1
        return nos


def _box(box_id: str, kind: ContentType, order: int, y: int, text: str, *, language: Language = Language.ENGLISH,
         script: str | None = "Latn", lines: int = 1, ocr: str | None = None, tokens: _Tokens | None = None,
         conf: float = 0.91, refs: list[InlineReference] | None = None, corrected_by: UserAttribution | None = None,
         run_id: str = "run-1") -> BoundingBox:
    source = None
    if tokens is not None:
        source = OcrSource(run_id=run_id, page_result_id=tokens.result_id,
                           token_nos=tokens.box_words(ocr if ocr is not None else text, 100, y, conf=conf * 100))
    history = []
    if corrected_by is not None:
        history = [TextCorrection(version=2, timestamp=NOW, edited_by=corrected_by, before=ocr or "", after=text)]
    return BoundingBox(
        box_id=box_id, coordinates=BoxCoordinates(x=100, y=y, width=1000, height=40 * lines), content_type=kind,
        language=language, script=script, reading_order=order, confidence=conf,
        text=TextContent(ocr=ocr if ocr is not None else text, corrected=text, ocr_confidence=conf,
                         is_corrected=corrected_by is not None, correction_history=history),
        inline_references=refs or [], created_by="ai", ocr_source=source,
        last_modified_by=corrected_by or AI, last_modified_at=NOW)


def _ref(ref_id: str, text: str, marker: str, target: str, seq: int = 1) -> InlineReference:
    return InlineReference(reference_id=ref_id, type="footnote", position=Position(char_offset=text.index(marker), length=len(marker)),
                           target_box_id=target, display_text=marker, sequence_in_text=seq, created_by="user")


def _page(number: int, boxes: list[BoundingBox], *, confidence: float = 0.9, status: str = "pending") -> PageAnnotations:
    page_id = f"{PROJECT_ID}-p{number:03d}"
    return PageAnnotations(
        page_id=page_id, page_number=number, project_id=PROJECT_ID, source_page_id=f"src_0001_p{number}",
        image=ImageMetadata(blob_key=f"projects/{PROJECT_ID}/pages/{number}.png", file_name=f"page-{number:03d}.png",
                            format="png", width=WIDTH, height=HEIGHT, dpi=300),
        current_state=PageState(bounding_boxes=boxes, confidence=confidence, review_status=status),
        version=2, commit_sha=f"{number:02d}" + "ab" * 31, created_at=NOW, updated_at=NOW)


VERSE = "धर्मक्षेत्रे कुरुक्षेत्रे समवेता युयुत्सवः ।\nमामकाः पाण्डवाश्चैव किमकुर्वत सञ्जय ॥ १ ॥"
IAST = "dharmakṣetre kurukṣetre samavetā yuyutsavaḥ"
TRANSLATION = "On the field of dharma¹ the sons of Pāṇḍu assembled."
COMMENTARY = "The principle² is clear."
HINDI = "यह सिद्धान्त स्पष्ट है।"
LOW = "Tbe rnost uncertaim readirg"
CH3 = "Action is better than inaction³ for the embodied."


def book() -> tuple[Project, list[PageAnnotations], dict[str, list[Token]]]:
    """The project, its pages and their tokens by page result id (module docstring)."""
    t1, t2, t3 = _Tokens("res-p1"), _Tokens("res-p2"), _Tokens("res-p3")
    page1 = _page(1, [
        _box("box-rh-1", CT.RUNNING_HEAD, 1, 40, "THE BHAGAVAD GĪTĀ", tokens=t1),
        _box("box-pn-1", CT.PAGE_NUMBER, 2, 40, "1", tokens=t1),
        _box("box-h-1", CT.HEADING, 3, 120, "Chapter II", tokens=t1),
        _box("box-verse-1", CT.VERSE, 4, 200, VERSE, language=Language.SANSKRIT, script="Deva", lines=2, tokens=t1, conf=0.88),
        _box("box-iast-1", CT.TRANSLITERATION, 5, 300, IAST, language=Language.IAST, tokens=t1),
        _box("box-tr-1", CT.TRANSLATION, 6, 360, TRANSLATION, tokens=t1,
             refs=[_ref("ref-1", TRANSLATION, "¹", "box-fn-1")]),
        _box("box-c-1", CT.COMMENTARY, 7, 420, COMMENTARY, ocr="The prlnciple is c1ear.", tokens=t1, corrected_by=ADA,
             refs=[_ref("ref-2", COMMENTARY, "²", "box-fn-2")]),
        _box("box-fn-1", CT.FOOTNOTE, 8, 1600, "1. See Śaṅkara's commentary.", tokens=t1),
        _box("box-fn-2", CT.FOOTNOTE, 9, 1650, "2. Compare verse 2.11 and", tokens=t1),
    ], status="approved")
    page2 = _page(2, [
        _box("box-c-2", CT.COMMENTARY, 1, 200, "He who sees inaction in action is wise.", tokens=t2),
        _box("box-low-2", CT.COMMENTARY, 2, 300, LOW, tokens=t2, conf=0.41),
        _box("box-hi-2", CT.COMMENTARY, 3, 400, HINDI, language=Language.HINDI, script="Deva", tokens=t2),
        _box("box-fn-2b", CT.FOOTNOTE, 4, 1600, "the gloss of Madhusūdana.", tokens=t2),
    ], confidence=0.62)
    page3 = _page(3, [
        _box("box-h-3", CT.HEADING, 1, 120, "Chapter III", tokens=t3),
        _box("box-tr-3", CT.TRANSLATION, 2, 200, CH3, tokens=t3, refs=[_ref("ref-3", CH3, "³", "box-fn-3")]),
        _box("box-fn-3", CT.FOOTNOTE, 3, 1600, "3. On karma.", tokens=t3),
    ])
    project = Project(project_id=PROJECT_ID, slug="bhagavad-gita", title="The Bhagavad Gītā", subtitle="With commentary",
                      authors=["Vyāsa"], publisher="Example Press", publication_year=1905,
                      languages=[Language.SANSKRIT, Language.ENGLISH, Language.HINDI],
                      source_document=SourceDocument(file_name="gita.pdf", source_doc_id="src_0001"), created_by=ADA,
                      created_at=NOW, updated_at=NOW)
    return project, [page1, page2, page3], {t.result_id: t.tokens for t in (t1, t2, t3)}


def config(format: str = "markdown-quarto", **fields) -> ExportConfiguration:
    """An export configuration of the book (`fields` in the model's JSON names or field names)."""
    body = {"exportId": "export-0001", "projectId": PROJECT_ID, "format": format, "outputFileName": "gita.out",
            "includeLowConfidence": True} | fields
    return ExportConfiguration.model_validate(body)


def edition(format: str = "markdown-quarto", **fields) -> editions.Edition:
    """The book's edition under `config(format, **fields)`."""
    project, pages, tokens = book()
    return editions.build_edition(project, pages, tokens, config(format, **fields), generated_at=NOW)


def corpus_project(http, corpus, *, name: str = "eng-oldbooks/e052.tiff", lang: str = "eng") -> str:
    """Upload a real corpus page through `http` (the local stack), wait for its OCR and make a
    project of it; the project id. The e052 page has body prose and a `*` footnote that the
    project links to its marker."""
    from conftest import upload, wait_finished

    job_id = upload(http, corpus / name, lang=lang).get_json()["job_id"]
    assert wait_finished(http, job_id)["status"] == "completed"
    created = http.post("/api/v1/projects", json={"jobId": job_id, "title": "The Corset and the Crinoline",
                                                   "authors": ["William Barry Lord"]})
    assert created.status_code == 201, created.get_json()
    return created.get_json()["project"]["projectId"]
